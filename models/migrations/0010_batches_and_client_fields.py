"""Batches (one request, several jobs: variants × placements), a job's batch and rating, and the
caller's clientReference / clientMetadata on every job, with an index to find them by reference."""

import functools
from json import dumps, loads
from uuid import uuid4

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0009_creatives")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Batch",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                (
                    "team",
                    fields.ForeignKeyField(
                        "models.Team",
                        source_field="team_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="batches",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("user_id", fields.UUIDField()),
                ("type", fields.CharField(max_length=16)),
                ("variants", fields.IntField(default=1)),
                (
                    "placements",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("job_count", fields.IntField(default=1)),
                ("client_reference", fields.CharField(null=True, max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "creative_batch",
                "app": "models",
                "indexes": [Index(fields=["team_id", "created_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="batch_id",
            field=fields.UUIDField(null=True, db_index=True),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="client_metadata",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="client_reference",
            field=fields.CharField(null=True, max_length=255),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="rating",
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddIndex(
            model_name="CreativeJob",
            index=Index(fields=["team_id", "client_reference"]),
        ),
    ]
