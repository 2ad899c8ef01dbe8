"""Uploads to the Drive: ``uploadDriveFile`` (a small file in the GraphQL multipart request itself)
and ``createUpload`` + ``completeUpload`` (a large file PUT straight to the object store, or to the
API on local storage: web/uploads.py). The rules are models.drive's; this binds them to GraphQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

import strawberry
from strawberry.file_uploads import Upload

from models import drive
from models.drive import DriveFile as FileRow
from models.errors import DomainError, ErrorCode
from resolvers.errors import user_errors
from resolvers.outputs import drive_file_output
from schema.context import Info
from schema.drive import DriveFilePayload
from schema.uploads import CreateUploadInput, CreateUploadPayload, UploadHeader, UploadTarget
from services.auth import sign_upload_path
from services.container import Services


@contextlib.contextmanager
def _fields(prefix: list[str], renamed: dict[str, str] | None = None) -> Iterator[None]:
    """The domain's error fields as this mutation's argument paths (``sizeBytes`` -> ``input.sizeBytes``)."""
    try:
        yield
    except DomainError as exc:
        if exc.field:
            exc.field = [*prefix, *((renamed or {}).get(exc.field[0], exc.field[0]), *exc.field[1:])]
        raise


def _part(file: Any, cap: int) -> BinaryIO:
    """The part's file (a starlette UploadFile spools it to disk past 1 MB), at most ``cap`` bytes;
    never read into memory here."""
    body = getattr(file, "file", None)
    if body is None:  # a string in the variables instead of a multipart part
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "send the file as a part of a multipart request (the GraphQL multipart request spec)",
            ["file"],
        )
    size = body.seek(0, 2)
    body.seek(0)
    if size > cap:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"uploadDriveFile takes files of at most {cap} bytes; upload larger ones with createUpload",
            ["file"],
        )
    return cast(BinaryIO, body)


@user_errors(DriveFilePayload)
async def upload_drive_file(
    info: Info,
    file: Upload,
    folder_id: strawberry.ID | None = None,
    name: str | None = None,
) -> DriveFilePayload:
    """A small file in one request. Checked by its content (not its name or declared type) on a
    worker as completeUpload does, counted against the team's quota; refused, nothing is stored."""
    principal = info.context.require("generate")
    services = info.context.services
    settings = services.settings
    if folder_id is not None:  # before the file: a folder not the team's reads as missing, whatever came
        with _fields([], {"id": "folderId"}):
            await drive.require_folder(principal.team_id, folder_id)
    body = _part(file, settings.max_upload_bytes)
    with _fields([], {"sizeBytes": "file", "id": "file"}):  # over quota: the file is what does not fit
        row = await services.upload_file(
            principal.team_id,
            name=name if name is not None else (getattr(file, "filename", None) or "upload"),
            body=body,
            folder_id=folder_id,
        )
    return DriveFilePayload(file=drive_file_output(row, settings))


@user_errors(CreateUploadPayload)
async def create_upload(info: Info, input: CreateUploadInput) -> CreateUploadPayload:
    """A large upload, step one: the size is reserved against the quota (refused here, before any byte
    moves, when it does not fit) and the caller gets where to PUT the bytes."""
    principal = info.context.require("generate")
    services = info.context.services
    with _fields(["input"]):
        row = await drive.create_upload(
            principal.team_id,
            name=input.name,
            size_bytes=input.size_bytes,
            content_type=input.content_type,
            quota_bytes=services.settings.drive_quota_bytes,
            folder_id=input.folder_id,
        )
    return CreateUploadPayload(upload=await _target(services, row))


async def _target(services: Services, row: FileRow) -> UploadTarget:
    settings = services.settings
    now = datetime.now(UTC)
    until = now + timedelta(seconds=settings.upload_url_ttl_seconds)
    if row.expires_at is not None:
        until = min(until, row.expires_at)
    ttl = max(1, int((until - now).total_seconds()))
    presigned = await services.storage.presigned_put(
        row.storage_key, ttl=ttl, content_type=row.content_type, size=row.size_bytes
    )
    if presigned is not None:  # S3: straight to the bucket (it checks the signed type and length)
        url, headers = presigned.url, presigned.headers
        until = now + timedelta(seconds=presigned.expires_in)
    else:  # local storage: to the API (web/uploads.py), which enforces the declared size itself
        expires = int(now.timestamp()) + ttl
        until = datetime.fromtimestamp(expires, UTC)
        url = settings.public_url + sign_upload_path(str(row.id), settings.secret, expires)
        headers = {"Content-Type": row.content_type, "Content-Length": str(row.size_bytes)}
    return UploadTarget(
        file_id=strawberry.ID(str(row.id)),
        url=url,
        method="PUT",
        headers=[UploadHeader(name=k, value=v) for k, v in headers.items()],
        size_bytes=row.size_bytes,
        expires_at=until,
    )


@user_errors(DriveFilePayload)
async def complete_upload(info: Info, file_id: strawberry.ID) -> DriveFilePayload:
    """A large upload, step two: the bytes PUT are checked by content, on a worker (Services.complete_upload).
    Accepted, the file is ready; refused (or expired), the file, its reservation and its bytes are
    gone: start again. Completing a completed upload answers the file again; one whose check takes
    longer than the wait answers IN_PROGRESS (ask again)."""
    principal = info.context.require("generate")
    services = info.context.services
    with _fields([], {"id": "fileId"}):
        row = await services.complete_upload(principal.team_id, file_id)
    return DriveFilePayload(file=drive_file_output(row, services.settings))
