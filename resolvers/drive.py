"""The team's Drive: its folder tree, its files (filtered, paged), its usage; creating, renaming,
moving and deleting folders and files. Reads need the ``read`` scope, changes ``generate``; every
rule is models/drive.py's (another team's id reads exactly like a missing one)."""

from __future__ import annotations

from typing import Any

import strawberry

from models import drive
from resolvers.errors import query_errors, user_errors
from resolvers.outputs import drive_file_output as drive_file_output
from resolvers.outputs import drive_folders_output, folder_output
from resolvers.pagination import paginate
from schema.context import Context, Info
from schema.drive import (
    DeleteDrivePayload,
    DriveFile,
    DriveFileConnection,
    DriveFilePayload,
    DriveFolder,
    DriveFolderPayload,
    DriveUsage,
)
from schema.inputs import DriveFileFilter


def _id(value: strawberry.ID | None) -> str | None:
    return None if value is None else str(value)


@query_errors
async def drive_folders(info: Info) -> list[DriveFolder]:
    principal = info.context.require("read")
    return drive_folders_output(await drive.folder_tree(principal.team_id))


@query_errors
async def drive_files(
    info: Info,
    folder_id: strawberry.ID | None = None,
    filter: DriveFileFilter | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> DriveFileConnection:
    principal = info.context.require("read")
    settings = info.context.services.settings
    query = await drive.files_query(
        principal.team_id,
        folder_id=_id(folder_id),
        kind=filter.kind if filter else None,
        job_id=_id(filter.job_id) if filter else None,
        name_contains=filter.name if filter else None,
    )
    page = await paginate(query, first, after, lambda row: drive_file_output(row, settings))

    async def total(context: Context) -> int:
        return await query.count()

    return DriveFileConnection(edges=page.edges, page_info=page.page_info, load_total=total)


@query_errors
async def drive_file(info: Info, id: strawberry.ID) -> DriveFile | None:
    principal = info.context.require("read")
    row = await drive.team_file(principal.team_id, str(id))
    return drive_file_output(row, info.context.services.settings) if row else None


@query_errors
async def drive_usage(info: Info) -> DriveUsage:
    principal = info.context.require("read")
    used = await drive.usage(principal.team_id, info.context.services.settings.drive_quota_bytes)
    return DriveUsage(
        used_bytes=used.used_bytes, quota_bytes=used.quota_bytes, available_bytes=used.available_bytes
    )


async def _folder_payload(team_id: Any, folder: drive.DriveFolder) -> DriveFolderPayload:
    return DriveFolderPayload(folder=await folder_output(team_id, folder.id))


@user_errors(DriveFolderPayload)
async def create_drive_folder(
    info: Info, name: str, parent_id: strawberry.ID | None = None
) -> DriveFolderPayload:
    principal = info.context.require("generate")
    folder = await drive.create_folder(principal.team_id, name, _id(parent_id))
    return await _folder_payload(principal.team_id, folder)


@user_errors(DriveFolderPayload)
async def rename_drive_folder(info: Info, id: strawberry.ID, name: str) -> DriveFolderPayload:
    principal = info.context.require("generate")
    folder = await drive.rename_folder(principal.team_id, str(id), name)
    return await _folder_payload(principal.team_id, folder)


@user_errors(DriveFolderPayload)
async def move_drive_folder(
    info: Info, id: strawberry.ID, parent_id: strawberry.ID | None = None
) -> DriveFolderPayload:
    principal = info.context.require("generate")
    folder = await drive.move_folder(principal.team_id, str(id), _id(parent_id))
    return await _folder_payload(principal.team_id, folder)


@user_errors(DeleteDrivePayload)
async def delete_drive_folder(info: Info, id: strawberry.ID, recursive: bool = False) -> DeleteDrivePayload:
    principal = info.context.require("generate")
    deleted = await drive.delete_folder(
        info.context.services.storage, principal.team_id, str(id), recursive=recursive
    )
    return DeleteDrivePayload(
        deleted_id=id,
        deleted_files=deleted.files,
        deleted_folders=deleted.folders,
        freed_bytes=deleted.size_bytes,
    )


@user_errors(DriveFilePayload)
async def rename_drive_file(info: Info, id: strawberry.ID, name: str) -> DriveFilePayload:
    principal = info.context.require("generate")
    row = await drive.rename_file(principal.team_id, str(id), name)
    return DriveFilePayload(file=drive_file_output(row, info.context.services.settings))


@user_errors(DriveFilePayload)
async def move_drive_file(info: Info, id: strawberry.ID, folder_id: strawberry.ID) -> DriveFilePayload:
    principal = info.context.require("generate")
    row = await drive.move_file(principal.team_id, str(id), str(folder_id))
    return DriveFilePayload(file=drive_file_output(row, info.context.services.settings))


@user_errors(DeleteDrivePayload)
async def delete_drive_file(info: Info, id: strawberry.ID) -> DeleteDrivePayload:
    principal = info.context.require("generate")
    deleted = await drive.delete_file(info.context.services.storage, principal.team_id, str(id))
    return DeleteDrivePayload(deleted_id=id, deleted_files=deleted.files, freed_bytes=deleted.size_bytes)
