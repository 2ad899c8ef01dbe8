import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.webhooks import DeliveryStatus


class Migration(migrations.Migration):
    dependencies = [("models", "0002_ledger_invariants")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WebhookEndpoint",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="webhooks",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("url", fields.CharField(max_length=2048)),
                ("description", fields.CharField(default="", max_length=500)),
                (
                    "events",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("secret_version", fields.IntField(default=1)),
                (
                    "previous_version_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("enabled", fields.BooleanField(default=True)),
                ("disabled_reason", fields.TextField(null=True, unique=False)),
                ("disabled_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("failing_since", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "webhook_endpoint", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookDelivery",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "endpoint",
                    fields.ForeignKeyField(
                        "models.WebhookEndpoint",
                        source_field="endpoint_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("team_id", fields.UUIDField()),
                (
                    "event",
                    fields.ForeignKeyField(
                        "models.TeamEvent",
                        source_field="event_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="deliveries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("event_type", fields.CharField(max_length=64)),
                ("payload", fields.TextField(unique=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=DeliveryStatus.PENDING,
                        description="PENDING: pending\nSUCCEEDED: succeeded\nFAILED: failed",
                        enum_type=DeliveryStatus,
                        max_length=16,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("last_status_code", fields.IntField(null=True)),
                ("last_error", fields.TextField(null=True, unique=False)),
                (
                    "attempt_log",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("delivered_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "webhook_delivery",
                "app": "models",
                "unique_together": (("endpoint", "event"),),
                "indexes": [
                    Index(fields=["status", "next_attempt_at"]),
                    Index(fields=["endpoint_id", "created_at"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="TeamEvent",
            name="dispatched_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name="TeamEvent",
            index=Index(fields=["dispatched_at", "created_at"]),
        ),
    ]
