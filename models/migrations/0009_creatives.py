"""Creatives (models/creatives.py): a graph of jobs submitted at once. Its nodes (key, job id,
dependencies) are a JSON list on the creative row; each job records its creative in metadata."""

import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0008_job_progress")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Creative",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="creatives",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("user_id", fields.UUIDField()),
                ("recipe", fields.CharField(null=True, max_length=32)),
                (
                    "nodes",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("estimated_cost_cents", fields.BigIntField(default=0)),
                ("idempotency_key", fields.CharField(null=True, max_length=255)),
                ("request_hash", fields.CharField(null=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "creative",
                "app": "models",
                "unique_together": (("team", "idempotency_key"),),
                "indexes": [Index(fields=["team_id", "created_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
