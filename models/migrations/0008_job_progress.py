"""A job's progress, its place among the jobs waiting for a provider slot, and when it should be
done (models/progress.py): nullable columns, so rows of earlier versions read as "not yet known"."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0007_drive_incoming")]

    initial = False

    operations = [
        ops.AddField(
            model_name="CreativeJob",
            name="expected_completion_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="progress",
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="progress_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="CreativeJob",
            name="queue_position",
            field=fields.IntField(null=True),
        ),
    ]
