"""The team's Drive: folders and the files generated outputs are copied into."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from models.teams import Team
from models.tenancy import team_row
from storage import Storage

DEFAULT_FOLDER_NAME = "AI Generations"

_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/aac": "aac",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
}


class DriveFolder(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="folders")
    name = fields.CharField(max_length=255)
    is_default = fields.BooleanField(default=False)
    # Set to the team id on the default folder only, so the database allows one default per team.
    default_of = fields.UUIDField(null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "drive_folder"


class DriveFile(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="files")
    team_id: uuid.UUID
    folder: fields.ForeignKeyRelation[DriveFolder] = fields.ForeignKeyField(
        "models.DriveFolder", related_name="files"
    )
    job_id = fields.UUIDField(null=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100)
    size_bytes = fields.BigIntField()
    storage_key = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "drive_file"
        # One output per (job, position): copying the same output twice yields the same file.
        unique_together = (("job_id", "name"),)


async def default_folder(team_id: uuid.UUID | str) -> DriveFolder:
    folder = await DriveFolder.get_or_none(default_of=team_id)
    if folder:
        return folder
    try:
        return await DriveFolder.create(
            team_id=team_id, name=DEFAULT_FOLDER_NAME, is_default=True, default_of=team_id
        )
    except IntegrityError:  # created concurrently
        return await DriveFolder.get(default_of=team_id)


async def team_folder(team_id: uuid.UUID | str, folder_id: uuid.UUID | str) -> DriveFolder | None:
    return await team_row(DriveFolder, team_id, folder_id)


async def team_file(team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile | None:
    return await team_row(DriveFile, team_id, file_id)


async def store_output(
    storage: Storage,
    *,
    team_id: uuid.UUID | str,
    folder_id: uuid.UUID | str,
    job_id: uuid.UUID,
    index: int,
    data: bytes,
    content_type: str,
) -> DriveFile:
    """Copy one job output into the folder. Idempotent per (job, index): a re-run reuses the file."""
    name = f"{job_id}-{index + 1}.{_EXTENSIONS.get(content_type, 'bin')}"
    existing = await DriveFile.get_or_none(job_id=job_id, name=name)
    if existing:
        return existing
    key = f"{team_id}/{job_id}/{name}"
    await storage.put(key, data, content_type)
    try:
        return await DriveFile.create(
            team_id=team_id,
            folder_id=folder_id,
            job_id=job_id,
            name=name,
            content_type=content_type,
            size_bytes=len(data),
            storage_key=key,
        )
    except IntegrityError:
        return await DriveFile.get(job_id=job_id, name=name)
