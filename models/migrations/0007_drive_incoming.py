"""Where upload URLs may still write (drive_incoming): the sweep deletes what a PUT left under
incoming/ after its upload was completed, refused or cancelled, once every URL has expired."""

from uuid import uuid4

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0006_drive_tree_and_uploads")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DriveIncoming",
            fields=[
                ("id", fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ("storage_key", fields.CharField(max_length=500)),
                ("delete_after", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "drive_incoming",
                "app": "models",
                "pk_attr": "id",
                "table_description": "Where an upload URL may still write: ``storage_key`` (under ``incoming/``) until",
            },
            bases=["Model"],
        ),
    ]
