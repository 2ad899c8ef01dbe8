"""Spend caps per member and per API key (models/spend_caps.py), the API key a job was submitted
with (creative_job.api_key_id, with the indexes a period's spend is summed by), and billing
contacts with the outbox of low-balance emails to them (models/billing.py)."""

import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import CheckConstraint

from models.billing import EmailStatus
from models.spend_caps import Period


class Migration(migrations.Migration):
    dependencies = [("models", "0010_batches_and_client_fields")]

    initial = False

    operations = [
        ops.CreateModel(
            name="BillingContact",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="billing_contacts",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("email", fields.CharField(max_length=254)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "billing_contact",
                "app": "models",
                "unique_together": (("team", "email"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="BillingEmail",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="billing_emails",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "event",
                    fields.ForeignKeyField(
                        "models.TeamEvent",
                        source_field="event_id",
                        unique=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="emails",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "recipients",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=EmailStatus.PENDING,
                        description="PENDING: pending\nSENT: sent\nFAILED: failed",
                        enum_type=EmailStatus,
                        max_length=16,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "billing_email",
                "app": "models",
                "indexes": [Index(fields=["status", "next_attempt_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SpendCap",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="spend_caps",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("subject", fields.CharField(max_length=64)),
                ("user_id", fields.UUIDField(null=True)),
                ("api_key_id", fields.UUIDField(null=True)),
                (
                    "period",
                    fields.CharEnumField(
                        description="DAY: DAY\nMONTH: MONTH", enum_type=Period, max_length=8
                    ),
                ),
                ("limit_cents", fields.BigIntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "spend_cap",
                "app": "models",
                "unique_together": (("team", "subject", "period"),),
                "constraints": [
                    CheckConstraint(check="limit_cents >= 0", name="spend_cap_limit_not_negative")
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="api_key_id",
            field=fields.UUIDField(null=True),
        ),
        ops.AddIndex(
            model_name="CreativeJob",
            index=Index(fields=["team_id", "user_id", "created_at"]),
        ),
        ops.AddIndex(
            model_name="CreativeJob",
            index=Index(fields=["team_id", "api_key_id", "created_at"]),
        ),
    ]
