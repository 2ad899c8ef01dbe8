"""Drive as a tree of folders with files that know what they are: folder parents (names unique
among siblings: ``scope_id`` is the parent's id, or the team's for a top-level folder), file facts
(kind, source, status, size in pixels and seconds, thumbnail), pending uploads, outputs keyed by
their position in the job, listing indexes, and the team's usage counter."""

import re
import uuid

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_editor.sqlite import SqliteSchemaEditor
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps

from models.drive import FileKind, FileSource, FileStatus

_OUTPUT_NAME = re.compile(r"-(\d+)\.[A-Za-z0-9]+$")  # the names outputs had: <job id>-<n>.<ext>


class RemoveUniqueTogether(ops.RemoveConstraint):
    """tortoise drops a ``unique_together`` by its index name, but SQLite keeps it inside the table's
    definition (no index of that name exists): there the table is remade without it."""

    async def database_forward(
        self,
        app_label: str,
        old_state: State,
        new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is not None and isinstance(state_editor, SqliteSchemaEditor):
            await state_editor._remake_table(new_state.apps.get_model(f"{app_label}.{self.model_name}"))
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


async def backfill(apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    """Existing folders are top-level; kinds follow content types; outputs get their position from
    their name (or their order); each team's usage is the sum of its files."""
    client = schema_editor.client
    await client.execute_script("UPDATE drive_folder SET scope_id = team_id WHERE parent_id IS NULL")
    await client.execute_script("UPDATE drive_file SET kind = 'video' WHERE content_type LIKE 'video/%'")
    await client.execute_script("UPDATE drive_file SET kind = 'audio' WHERE content_type LIKE 'audio/%'")
    rows = await client.execute_query_dict(
        "SELECT id, job_id, name FROM drive_file WHERE job_id IS NOT NULL ORDER BY job_id, created_at, id"
    )
    taken: dict[str, set[int]] = {}
    for row in rows:
        match = _OUTPUT_NAME.search(str(row["name"]))
        used = taken.setdefault(str(row["job_id"]), set())
        index = int(match.group(1)) - 1 if match else -1
        if index < 0 or index in used:
            index = max(used, default=-1) + 1
        used.add(index)
        file_id = uuid.UUID(str(row["id"]))  # a UUID: safe to write into the statement
        await client.execute_script(f"UPDATE drive_file SET job_index = {index} WHERE id = '{file_id}'")
    await client.execute_script(
        "UPDATE team SET drive_bytes = COALESCE("
        "(SELECT SUM(size_bytes) FROM drive_file WHERE drive_file.team_id = team.id), 0)"
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0005_user_tokens_valid_after")]

    initial = False

    operations = [
        RemoveUniqueTogether(
            model_name="DriveFile",
            name=None,
            fields=["job_id", "name"],
        ),
        ops.AddField(
            model_name="DriveFile",
            name="duration_seconds",
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="expires_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="height",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="job_index",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="kind",
            field=fields.CharEnumField(
                default=FileKind.IMAGE,
                db_default=FileKind.IMAGE,
                description="IMAGE: image\nVIDEO: video\nAUDIO: audio",
                enum_type=FileKind,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="source",
            field=fields.CharEnumField(
                default=FileSource.GENERATED,
                db_default=FileSource.GENERATED,
                description="GENERATED: generated\nUPLOADED: uploaded",
                enum_type=FileSource,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="status",
            field=fields.CharEnumField(
                default=FileStatus.READY,
                db_default=FileStatus.READY,
                description="READY: ready\nPENDING: pending",
                enum_type=FileStatus,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="thumbnail_key",
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.AddField(
            model_name="DriveFile",
            name="width",
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(
            model_name="DriveFile",
            index=Index(fields=["folder_id", "created_at", "id"]),
        ),
        ops.AddIndex(
            model_name="DriveFile",
            index=Index(fields=["team_id", "created_at", "id"]),
        ),
        ops.AddIndex(
            model_name="DriveFile",
            index=Index(fields=["team_id", "kind", "created_at", "id"]),
        ),
        ops.AddIndex(
            model_name="DriveFile",
            index=Index(fields=["status", "expires_at"]),
        ),
        ops.AddConstraint(
            model_name="DriveFile",
            constraint=UniqueConstraint(fields=("job_id", "job_index"), name=None),
        ),
        ops.AddField(
            model_name="DriveFolder",
            name="parent",
            field=fields.ForeignKeyField(
                "models.DriveFolder",
                source_field="parent_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="children",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddField(
            model_name="DriveFolder",
            name="scope_id",
            field=fields.UUIDField(null=True),
        ),
        ops.AddConstraint(
            model_name="DriveFolder",
            constraint=UniqueConstraint(fields=("scope_id", "name"), name=None),
        ),
        ops.AddField(
            model_name="Team",
            name="drive_bytes",
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.RunPython(backfill),
    ]
