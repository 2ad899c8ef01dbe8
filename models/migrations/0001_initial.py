import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.credits import Kind
from models.jobs import JobStatus
from models.teams import Role, all_scopes


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Team",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=200)),
                ("balance_cents", fields.BigIntField(default=0)),
                ("available_cents", fields.BigIntField(default=0)),
                ("low_balance_threshold_cents", fields.BigIntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "team", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CreativeJob",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="jobs",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("user_id", fields.UUIDField()),
                ("type", fields.CharField(max_length=16)),
                (
                    "status",
                    fields.CharEnumField(
                        default=JobStatus.PENDING,
                        description="PENDING: pending\nPROCESSING: processing\nCOMPLETED: completed\nFAILED: failed\nCANCELED: canceled",
                        enum_type=JobStatus,
                        max_length=16,
                    ),
                ),
                ("provider", fields.CharField(max_length=32)),
                ("prompt", fields.TextField(null=True, unique=False)),
                (
                    "settings",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                (
                    "result_urls",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("cost_cents", fields.BigIntField(default=0)),
                ("estimated_cost_cents", fields.BigIntField(default=0)),
                ("drive_folder_id", fields.UUIDField(null=True)),
                (
                    "metadata",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("error_message", fields.TextField(null=True, unique=False)),
                ("version", fields.IntField(default=1)),
                ("provider_task_id", fields.CharField(null=True, max_length=255)),
                (
                    "provider_state",
                    fields.JSONField(
                        default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("idempotency_key", fields.CharField(null=True, max_length=255)),
                ("request_hash", fields.CharField(null=True, max_length=64)),
                ("deadline_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("completed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "creative_job",
                "app": "models",
                "unique_together": (("team", "idempotency_key"),),
                "indexes": [Index(fields=["team_id", "created_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CreditTransaction",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="transactions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("job_id", fields.UUIDField(null=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="TOP_UP: TOP_UP\nHOLD: HOLD\nCAPTURE: CAPTURE\nRELEASE: RELEASE\nREFUND: REFUND\nADJUSTMENT: ADJUSTMENT",
                        enum_type=Kind,
                        max_length=16,
                    ),
                ),
                ("amount_cents", fields.BigIntField()),
                ("balance_after_cents", fields.BigIntField()),
                ("available_after_cents", fields.BigIntField()),
                ("description", fields.CharField(null=True, max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "credit_transaction",
                "app": "models",
                "unique_together": (("job_id", "kind"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DriveFolder",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="folders",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=255)),
                ("is_default", fields.BooleanField(default=False)),
                ("default_of", fields.UUIDField(null=True, unique=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "drive_folder", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="DriveFile",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="files",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "folder",
                    fields.ForeignKeyField(
                        "models.DriveFolder",
                        source_field="folder_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="files",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("job_id", fields.UUIDField(null=True)),
                ("name", fields.CharField(max_length=255)),
                ("content_type", fields.CharField(max_length=100)),
                ("size_bytes", fields.BigIntField()),
                ("storage_key", fields.CharField(max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "drive_file",
                "app": "models",
                "unique_together": (("job_id", "name"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ("email", fields.CharField(unique=True, max_length=320)),
                ("name", fields.CharField(default="", max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "app_user", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiKey",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(default="default", max_length=200)),
                ("prefix", fields.CharField(max_length=16)),
                ("key_hash", fields.CharField(unique=True, max_length=64)),
                (
                    "scopes",
                    fields.JSONField(
                        default=all_scopes,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("last_used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "api_key", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Membership",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="memberships",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="memberships",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "role",
                    fields.CharEnumField(
                        default=Role.MEMBER,
                        description="OWNER: owner\nADMIN: admin\nMEMBER: member",
                        enum_type=Role,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "team_membership",
                "app": "models",
                "unique_together": (("team", "user"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
