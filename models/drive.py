"""The team's Drive: a tree of folders, the files in them (generated outputs and uploads), and the
team's storage usage. Every operation is scoped to a team: another team's id reads exactly like a
missing one (NOT_FOUND).

Usage is a counter on the team (``Team.drive_bytes``), changed in the same transaction as the file
rows it counts. A SUM over the team's files would be exact without bookkeeping, but it costs a scan
per read, and it cannot enforce a quota under concurrency: two uploads that each fit would both
pass a check of the sum. A guarded ``UPDATE team SET drive_bytes = drive_bytes + n WHERE
drive_bytes + n <= quota`` admits exactly what fits, in one statement. :func:`recount_usage`
recomputes it from the rows (for an audit or a repair).

Bytes live in storage, rows in the database; they cannot change in one transaction. Bytes are
written before their row (a row never points at nothing; a failed insert removes its bytes) and
removed after the row's deletion committed (a crash leaves unreferenced bytes, never a broken row).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import secrets
import tempfile
import unicodedata
import uuid
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, BinaryIO

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import media
from models.errors import DomainError, ErrorCode
from models.media import MediaKind, MediaRefused
from models.teams import Team
from models.tenancy import require_team_row, team_row
from storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)

DEFAULT_FOLDER_NAME = "AI Generations"
NAME_MAX = 200  # characters of a file or folder name (the column holds 255)
PENDING_TTL = timedelta(days=1)  # an upload not completed by then is removed by cleanup_pending
# How long after its last URL expired an incoming key is still left alone: a PUT started just before
# the expiry may still be writing (the store checks the signature when the request starts).
PUT_MARGIN = timedelta(hours=1)
# The longest a check may take by default (the worker passes CH_UPLOAD_CHECK_TIMEOUT_SECONDS): the
# keys it writes are recorded for the sweep until then (plus PUT_MARGIN), in case it dies half way.
CHECK_TIMEOUT = timedelta(minutes=15)
INCOMING_PREFIX = "incoming"  # storage keys of pending uploads' bytes (see _incoming_key)
SPOOL_PREFIX = "upload-"  # a check's temporary file: upload-<pid>-<random> (see remove_stale_spools)
SLUG_WORDS = 6
SLUG_MAX = 40


class FileKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class FileSource(StrEnum):
    GENERATED = "generated"
    UPLOADED = "uploaded"


class FileStatus(StrEnum):
    READY = "ready"
    PENDING = "pending"  # an upload whose bytes are not yet checked (create_upload -> complete_upload)


class DriveFolder(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="folders")
    team_id: uuid.UUID
    parent: fields.ForeignKeyNullableRelation[DriveFolder] = fields.ForeignKeyField(
        "models.DriveFolder", related_name="children", null=True
    )
    parent_id: uuid.UUID | None
    # The parent's id, or the team's id for a top-level folder: names are unique among siblings, and
    # a unique index treats NULL parents as all different, so it needs a column that is never NULL
    # (nullable only for the migration's sake; every write sets it).
    scope_id = fields.UUIDField(null=True)
    name = fields.CharField(max_length=255)
    is_default = fields.BooleanField(default=False)
    # Set to the team id on the default folder only, so the database allows one default per team.
    default_of = fields.UUIDField(null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "drive_folder"
        unique_together = (("scope_id", "name"),)


class DriveFile(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="files")
    team_id: uuid.UUID
    folder: fields.ForeignKeyRelation[DriveFolder] = fields.ForeignKeyField(
        "models.DriveFolder", related_name="files"
    )
    folder_id: uuid.UUID
    job_id = fields.UUIDField(null=True)
    # The output's position in its job (0-based); a re-run of the job's last step finds the file by it.
    job_index = fields.IntField(null=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100)
    kind = fields.CharEnumField(FileKind, max_length=16, default=FileKind.IMAGE, db_default=FileKind.IMAGE)
    source = fields.CharEnumField(
        FileSource, max_length=16, default=FileSource.GENERATED, db_default=FileSource.GENERATED
    )
    status = fields.CharEnumField(
        FileStatus, max_length=16, default=FileStatus.READY, db_default=FileStatus.READY
    )
    size_bytes = fields.BigIntField()
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    duration_seconds = fields.FloatField(null=True)
    storage_key = fields.CharField(max_length=500)
    thumbnail_key = fields.CharField(max_length=500, null=True)
    expires_at = fields.DatetimeField(null=True)  # pending uploads only
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "drive_file"
        # One file per job output: storing the same output twice yields the same file.
        unique_together = (("job_id", "job_index"),)
        indexes = (
            Index(fields=["folder_id", "created_at", "id"]),  # a folder's files, newest first
            Index(fields=["team_id", "created_at", "id"]),  # all files (and name search), newest first
            Index(fields=["team_id", "kind", "created_at", "id"]),  # by kind, newest first
            Index(fields=["status", "expires_at"]),  # pending uploads past their time
        )

    def snapshot(self) -> dict[str, Any]:
        """The file as clients see it (snake_case JSON, the GraphQL DriveFile's facts): the REST
        form and resolvers/outputs.py both read it; the signed URLs are added by the caller
        (services.auth.file_links, from ``id`` and ``has_thumbnail``)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "kind": FileKind(self.kind).value,
            "source": FileSource(self.source).value,
            "width": self.width,
            "height": self.height,
            "duration_seconds": self.duration_seconds,
            "has_thumbnail": bool(self.thumbnail_key),
            "job_id": str(self.job_id) if self.job_id else None,
            "folder_id": str(self.folder_id),
            "created_at": self.created_at.isoformat(),
        }


class DriveIncoming(Model):
    """A key that may hold bytes no file counts, deleted with this row by the sweep
    (:func:`cleanup_incoming`) once ``delete_after`` is past. Two uses:

    - where an upload URL may still write (``incoming/``, id = the upload's file id) until every URL
      handed out for it has expired (plus :data:`PUT_MARGIN`): a presigned PUT cannot be revoked, so
      a PUT after the upload was completed, refused or cancelled leaves bytes there;
    - each key a check writes (the checked file, its thumbnail; a fresh id each), recorded before
      the write and removed in the transaction that makes the file ready: a check that dies in
      between (killed, timed out, the database gone) leaves bytes that the sweep still finds."""

    id = fields.UUIDField(primary_key=True)  # the upload's file id, or a fresh one per checked key
    storage_key = fields.CharField(max_length=500)
    delete_after = fields.DatetimeField(db_index=True)

    class Meta:
        table = "drive_incoming"


# ---------------------------------------------------------------------------------------------
# Names


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SEPARATORS = re.compile(r"[/\\]+")
_KNOWN_EXTENSIONS = frozenset(media.EXTENSIONS.values()) | {"jpeg", "bin"}


def sanitize_name(name: str, *, extension: str | None = None, field_path: list[str] | None = None) -> str:
    """A name safe to show and to put in a Content-Disposition: Unicode NFC, no control or
    direction-changing characters, no slashes or dot segments (``../a/../b`` -> ``a_b``), no leading
    dots, at most :data:`NAME_MAX` characters keeping the extension. With ``extension`` (the one
    the content has), a different media extension is replaced and a missing one added.
    An empty result is a VALIDATION_FAILED DomainError."""
    clean = unicodedata.normalize("NFC", name)
    clean = re.sub(r"[\t\n\r\v\f]", " ", clean)
    clean = _CONTROL.sub("", clean)
    # Path segments that are only dots (``..``) go; the others are joined by ``_``.
    segments = [s for s in _SEPARATORS.split(clean) if s.strip(". ")]
    clean = " ".join("_".join(segments).split())  # runs of whitespace to single spaces, trimmed
    clean = clean.lstrip(". ").rstrip(". ")
    stem, dot, ext = clean.rpartition(".")
    if not dot or not stem:
        stem, ext = clean, ""
    if extension:
        if ext.lower() in _KNOWN_EXTENSIONS and ext.lower() != extension:
            ext = ""  # logo.jpg holding a PNG becomes logo.png
        if ext.lower() != extension:
            stem = f"{stem}.{ext}" if ext else stem
            ext = extension
    if not stem.strip("._ "):
        if not extension:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                "the name is empty once unsafe characters are removed",
                field_path or ["name"],
            )
        stem = "file"
    suffix = f".{ext}" if ext else ""
    if len(suffix) > 16:  # not an extension worth keeping whole
        stem, suffix = stem + suffix, ""
    stem = stem[: NAME_MAX - len(suffix)].rstrip(". ")
    return f"{stem}{suffix}"


def slug(text: str, max_words: int = SLUG_WORDS, max_len: int = SLUG_MAX) -> str:
    """Lower-case ASCII words joined by ``-``: ``"A 4K sunrise, over Kyoto!"`` -> ``a-4k-sunrise-over-kyoto``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())[:max_words]
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > max_len:
            break
        out = candidate
    return out or (words[0][:max_len] if words else "")


def output_name(
    job_type: str, provider: str, prompt: str, index: int, content_type: str, *, take: str = ""
) -> str:
    """``<type>-<provider>-<short prompt>[-<take>]-<n>.<ext>``, e.g. ``video-veo_3_1-a-4k-sunrise-1.mp4``;
    ``take`` tells apart the jobs of one request (:func:`take_of`: ``reels-v2``)."""
    parts = [job_type, provider, slug(prompt), take, str(index + 1)]
    return sanitize_name("-".join(p for p in parts if p) + f".{media.extension_for(content_type)}")


def take_of(placement: str | None, variant: int | None, variants: int | None = None) -> str:
    """What tells apart the outputs of one generate request (variants x placements) in a name: the
    placement, and the variant where the request asked for several (``feed-v1``, ``feed-v2``,
    ``v3``; a job recorded without ``variants`` is marked from its second variant on); empty for a
    lone job, and no variant mark where each placement was made once (``feed``)."""
    several = (variants or 0) > 1 or (variant or 0) > 1
    parts = [
        placement.lower().replace("_", "-") if placement else "",
        f"v{variant}" if variant and several else "",
    ]
    return "-".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------
# Reading rows of a team


async def default_folder(team_id: uuid.UUID | str) -> DriveFolder:
    folder = await DriveFolder.get_or_none(default_of=team_id)
    if folder:
        return folder
    try:
        return await DriveFolder.create(
            team_id=team_id, name=DEFAULT_FOLDER_NAME, is_default=True, default_of=team_id, scope_id=team_id
        )
    except IntegrityError:  # created concurrently, or the team already has a top-level folder of that name
        folder = await DriveFolder.get_or_none(default_of=team_id)
        if folder:
            return folder
        await DriveFolder.filter(team_id=team_id, scope_id=team_id, name=DEFAULT_FOLDER_NAME).update(
            is_default=True, default_of=team_id
        )
        return await DriveFolder.get(default_of=team_id)


async def team_folder(team_id: uuid.UUID | str, folder_id: uuid.UUID | str) -> DriveFolder | None:
    return await team_row(DriveFolder, team_id, folder_id)


async def team_file(team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile | None:
    """A ready file of the team (an upload not yet completed is not a file anyone may read)."""
    file = await team_row(DriveFile, team_id, file_id)
    return file if file is not None and file.status == FileStatus.READY else None


async def ready_file(file_id: uuid.UUID | str) -> DriveFile | None:
    """A ready file of whichever team, for a signed link (its signature is the authority; a pending
    upload or a malformed id is None)."""
    try:
        return await DriveFile.get_or_none(id=uuid.UUID(str(file_id)), status=FileStatus.READY)
    except ValueError:
        return None


async def missing_files(team_id: uuid.UUID | str, file_ids: Iterable[str]) -> list[str]:
    """Of ``file_ids``, those that are not ready files of the team (deleted, pending, another
    team's, malformed), in their order; one query."""
    wanted: dict[str, uuid.UUID | None] = {}
    for file_id in file_ids:
        try:
            wanted[file_id] = uuid.UUID(str(file_id))
        except ValueError:
            wanted[file_id] = None
    ids = [value for value in wanted.values() if value is not None]
    found = set(
        await DriveFile.filter(team_id=team_id, id__in=ids, status=FileStatus.READY).values_list(
            "id", flat=True
        )
        if ids
        else []
    )
    return [file_id for file_id, value in wanted.items() if value is None or value not in found]


async def require_folder(team_id: uuid.UUID | str, folder_id: uuid.UUID | str) -> DriveFolder:
    return await require_team_row(DriveFolder, team_id, folder_id, "folder")


async def require_file(team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile:
    file = await team_file(team_id, file_id)
    if file is None:
        raise DomainError(ErrorCode.NOT_FOUND, "file not found", ["id"])
    return file


async def _lock_team(conn: BaseDBAsyncClient, team_id: uuid.UUID | str) -> None:
    """Serialises the team's tree changes (a move racing a move could otherwise close a cycle).
    Every transaction that changes both file rows and the usage counter takes it first: taking the
    two in different orders, two of them deadlock on PostgreSQL. On SQLite every write transaction
    is already exclusive (services.sqlite_backend)."""
    await Team.filter(id=team_id).using_db(conn).select_for_update().values_list("id", flat=True)


# ---------------------------------------------------------------------------------------------
# Folders


@dataclass
class FolderNode:
    """A folder in the tree: its path (its names from the top, ``/Campaigns/Spring``), its own
    files (``file_count``, ``size_bytes``) and its whole subtree's."""

    folder: DriveFolder
    file_count: int = 0
    size_bytes: int = 0
    total_file_count: int = 0
    total_size_bytes: int = 0
    children: list[FolderNode] = field(default_factory=list)
    path: str = ""

    def snapshot(self) -> dict[str, Any]:
        """The folder and its subfolders as clients see them (snake_case JSON, the GraphQL
        DriveFolder's fields): the REST form and resolvers/outputs.py both read it."""
        folder = self.folder
        return {
            "id": str(folder.id),
            "name": folder.name,
            "parent_id": str(folder.parent_id) if folder.parent_id else None,
            "path": self.path,
            "is_default": folder.is_default,
            "file_count": self.file_count,
            "size_bytes": self.size_bytes,
            "total_file_count": self.total_file_count,
            "total_size_bytes": self.total_size_bytes,
            "created_at": folder.created_at.isoformat(),
            "children": [child.snapshot() for child in self.children],
        }


async def folder_tree(team_id: uuid.UUID | str) -> list[FolderNode]:
    """The team's folders as a tree (top-level folders, each with its children), names in order;
    the default folder always exists. Two queries whatever the size of the tree."""
    await default_folder(team_id)
    folders = await DriveFolder.filter(team_id=team_id).order_by("name", "id")
    stats = (
        await DriveFile.filter(team_id=team_id, status=FileStatus.READY)
        .group_by("folder_id")
        .annotate(count=Count("id"), bytes=Sum("size_bytes"))
        .values("folder_id", "count", "bytes")
    )
    by_folder = {str(s["folder_id"]): (int(s["count"]), int(s["bytes"] or 0)) for s in stats}
    nodes = {f.id: FolderNode(f, *by_folder.get(str(f.id), (0, 0))) for f in folders}
    roots: list[FolderNode] = []
    for node in nodes.values():
        parent = nodes.get(node.folder.parent_id) if node.folder.parent_id else None
        (parent.children if parent else roots).append(node)

    def total(node: FolderNode, parent_path: str = "") -> None:
        node.path = f"{parent_path}/{node.folder.name}"
        node.total_file_count, node.total_size_bytes = node.file_count, node.size_bytes
        for child in node.children:
            total(child, node.path)
            node.total_file_count += child.total_file_count
            node.total_size_bytes += child.total_size_bytes

    for root in roots:
        total(root)
    return roots


def _name_taken(name: str) -> DomainError:
    return DomainError(ErrorCode.CONFLICT, f"a folder named {name!r} already exists there", ["name"])


async def _parent(team_id: uuid.UUID | str, parent_id: uuid.UUID | str | None) -> DriveFolder | None:
    if parent_id is None:
        return None
    parent = await team_folder(team_id, parent_id)
    if parent is None:
        raise DomainError(ErrorCode.NOT_FOUND, "parent folder not found", ["parentId"])
    return parent


async def create_folder(
    team_id: uuid.UUID | str, name: str, parent_id: uuid.UUID | str | None = None
) -> DriveFolder:
    clean = sanitize_name(name)
    parent = await _parent(team_id, parent_id)
    try:
        return await DriveFolder.create(
            team_id=team_id,
            parent_id=parent.id if parent else None,
            scope_id=parent.id if parent else team_id,
            name=clean,
        )
    except IntegrityError:
        raise _name_taken(clean) from None


async def rename_folder(team_id: uuid.UUID | str, folder_id: uuid.UUID | str, name: str) -> DriveFolder:
    folder = await require_folder(team_id, folder_id)
    clean = sanitize_name(name)
    try:
        await DriveFolder.filter(id=folder.id).update(name=clean)
    except IntegrityError:
        raise _name_taken(clean) from None
    folder.name = clean
    return folder


async def move_folder(
    team_id: uuid.UUID | str, folder_id: uuid.UUID | str, parent_id: uuid.UUID | str | None
) -> DriveFolder:
    """Into ``parent_id`` (None: to the top level). Never into itself or its own subtree."""
    folder = await require_folder(team_id, folder_id)
    async with in_transaction() as conn:
        await _lock_team(conn, team_id)
        parent = await _parent(team_id, parent_id)
        cursor = parent
        while cursor is not None:  # the chain up from the new parent must not pass the folder
            if cursor.id == folder.id:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    "a folder cannot be moved into itself or into one of its own subfolders",
                    ["parentId"],
                )
            cursor = (
                await DriveFolder.get_or_none(id=cursor.parent_id, using_db=conn)
                if cursor.parent_id
                else None
            )
        scope = parent.id if parent else uuid.UUID(str(team_id))
        try:
            await (
                DriveFolder.filter(id=folder.id)
                .using_db(conn)
                .update(parent_id=parent.id if parent else None, scope_id=scope)
            )
        except IntegrityError:
            raise _name_taken(folder.name) from None
    folder.parent_id, folder.scope_id = (parent.id if parent else None), scope
    return folder


@dataclass(frozen=True)
class Deleted:
    folders: int
    files: int
    size_bytes: int


async def _subtree(conn: BaseDBAsyncClient, team_id: uuid.UUID | str, root: uuid.UUID) -> list[uuid.UUID]:
    """The folder and every folder under it, parents before children."""
    rows = await DriveFolder.filter(team_id=team_id).using_db(conn).values_list("id", "parent_id")
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for fid, pid in rows:
        if pid is not None:
            children.setdefault(pid, []).append(fid)
    order, queue = [], [root]
    while queue:
        current = queue.pop()
        order.append(current)
        queue.extend(children.get(current, []))
    return order


async def delete_folder(
    storage: Storage, team_id: uuid.UUID | str, folder_id: uuid.UUID | str, *, recursive: bool = False
) -> Deleted:
    """Delete an empty folder; one with files or subfolders only with ``recursive`` (then everything
    under it, pending uploads included). The bytes are removed once the rows are gone."""
    folder = await require_folder(team_id, folder_id)
    async with in_transaction() as conn:
        await _lock_team(conn, team_id)
        folders = await _subtree(conn, team_id, folder.id)
        # A check turning one of these ready holds the team's lock too (complete_upload): its keys
        # are committed before they are read here, or its update finds the row gone.
        files = (
            await DriveFile.filter(folder_id__in=folders)
            .using_db(conn)
            .values("id", "size_bytes", "storage_key", "thumbnail_key")
        )
        if (len(folders) > 1 or files) and not recursive:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"the folder is not empty ({len(files)} files, {len(folders) - 1} folders); "
                "delete it with recursive to delete everything in it",
                ["recursive"],
            )
        freed = sum(int(f["size_bytes"]) for f in files)
        await DriveFile.filter(id__in=[f["id"] for f in files]).using_db(conn).delete()
        for fid in reversed(folders):  # children before parents
            await DriveFolder.filter(id=fid).using_db(conn).delete()
        await _add_usage(conn, team_id, -freed)
    await _remove_bytes(storage, _keys(files))
    return Deleted(folders=len(folders), files=len(files), size_bytes=freed)


# ---------------------------------------------------------------------------------------------
# Files


async def rename_file(team_id: uuid.UUID | str, file_id: uuid.UUID | str, name: str) -> DriveFile:
    """A new name; the extension follows the content (renaming a PNG to ``logo`` gives ``logo.png``)."""
    file = await require_file(team_id, file_id)
    clean = sanitize_name(name, extension=media.extension_for(file.content_type))
    await DriveFile.filter(id=file.id).update(name=clean)
    file.name = clean
    return file


async def move_file(
    team_id: uuid.UUID | str, file_id: uuid.UUID | str, folder_id: uuid.UUID | str
) -> DriveFile:
    file = await require_file(team_id, file_id)
    folder = await team_folder(team_id, folder_id)
    if folder is None:
        raise DomainError(ErrorCode.NOT_FOUND, "folder not found", ["folderId"])
    await DriveFile.filter(id=file.id).update(folder_id=folder.id)
    file.folder_id = folder.id
    return file


async def delete_file(storage: Storage, team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> Deleted:
    """The file, its thumbnail and its bytes; what it freed (nothing when deleted concurrently).
    A pending upload is cancelled: its reservation and whatever was PUT are gone (a check running
    on it removes what it wrote and answers NOT_FOUND)."""
    file = await team_row(DriveFile, team_id, file_id)
    if file is None:
        raise DomainError(ErrorCode.NOT_FOUND, "file not found", ["id"])
    if file.status == FileStatus.PENDING:
        if await _drop_pending(storage, file):
            return Deleted(folders=0, files=1, size_bytes=file.size_bytes)
        file = await require_file(team_id, file_id)  # completed meanwhile: delete the file
    async with in_transaction() as conn:
        await _lock_team(conn, team_id)  # first, as every change of files and usage does
        if not await DriveFile.filter(id=file.id).using_db(conn).delete():
            return Deleted(folders=0, files=0, size_bytes=0)  # deleted concurrently: the other counted it
        await _add_usage(conn, team_id, -file.size_bytes)
    await _remove_bytes(storage, [file.storage_key, file.thumbnail_key])
    return Deleted(folders=0, files=1, size_bytes=file.size_bytes)


async def files_query(
    team_id: uuid.UUID | str,
    *,
    folder_id: uuid.UUID | str | None = None,
    kind: FileKind | str | None = None,
    job_id: uuid.UUID | str | None = None,
    name_contains: str | None = None,
) -> QuerySet[DriveFile]:
    """The team's ready files matching every filter given, for resolvers.pagination.paginate
    (newest first by (created_at, id)) and ``.count()`` (the total). A folder that is not the team's
    is NOT_FOUND; a job id that is not the team's simply matches nothing."""
    query = DriveFile.filter(team_id=team_id, status=FileStatus.READY)
    if folder_id is not None:
        folder = await team_folder(team_id, folder_id)
        if folder is None:
            raise DomainError(ErrorCode.NOT_FOUND, "folder not found", ["folderId"])
        query = query.filter(folder_id=folder.id)
    if kind is not None:
        try:
            query = query.filter(kind=FileKind(str(kind).lower()))
        except ValueError:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, "kind must be image, video or audio", ["kind"]
            ) from None
    if job_id is not None:
        try:
            query = query.filter(job_id=uuid.UUID(str(job_id)))
        except ValueError:
            query = query.filter(id__in=[])
    if name_contains:
        query = query.filter(name__icontains=name_contains)
    return query


async def job_outputs(team_id: uuid.UUID | str, job_id: uuid.UUID | str) -> list[DriveFile]:
    """A job's outputs in their order (for ``CreativeJob.outputs``)."""
    return await (await files_query(team_id, job_id=job_id)).order_by("job_index", "created_at")


# ---------------------------------------------------------------------------------------------
# Usage and quota


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    quota_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)


class QuotaExceeded(DomainError):
    """The file does not fit the team's Drive quota (code VALIDATION_FAILED)."""

    def __init__(self, used: int, quota: int, needed: int) -> None:
        super().__init__(
            ErrorCode.VALIDATION_FAILED,
            f"Drive quota exceeded: {_size(used)} of {_size(quota)} used, and this file needs {_size(needed)}; "
            "delete files to make room",
            ["sizeBytes"],
        )
        self.used_bytes, self.quota_bytes, self.needed_bytes = used, quota, needed


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


async def _used(team_id: uuid.UUID | str, conn: BaseDBAsyncClient | None = None) -> int:
    rows = await Team.filter(id=team_id).using_db(conn).values("drive_bytes")
    return int(rows[0]["drive_bytes"]) if rows else 0


async def usage(team_id: uuid.UUID | str, quota_bytes: int) -> Usage:
    """The team's usage: one column read (``driveUsage``)."""
    return Usage(used_bytes=await _used(team_id), quota_bytes=quota_bytes)


async def recount_usage(team_id: uuid.UUID | str) -> int:
    """Set the counter to the sum of the team's file rows; the corrected value."""
    async with in_transaction() as conn:
        await _lock_team(conn, team_id)
        rows = (
            await DriveFile.filter(team_id=team_id).using_db(conn).annotate(s=Sum("size_bytes")).values("s")
        )
        value = int(rows[0]["s"] or 0) if rows else 0
        await Team.filter(id=team_id).using_db(conn).update(drive_bytes=value)
    return value


async def _add_usage(conn: BaseDBAsyncClient, team_id: uuid.UUID | str, delta: int) -> None:
    if delta:
        await Team.filter(id=team_id).using_db(conn).update(drive_bytes=F("drive_bytes") + delta)


async def _reserve(conn: BaseDBAsyncClient, team_id: uuid.UUID | str, size: int, quota_bytes: int) -> None:
    """Count ``size`` more bytes if they fit the quota, in one guarded statement; else QuotaExceeded."""
    fits = await (
        Team.filter(id=team_id, drive_bytes__lte=quota_bytes - size)
        .using_db(conn)
        .update(drive_bytes=F("drive_bytes") + size)
    )
    if not fits:
        raise QuotaExceeded(await _used(team_id, conn), quota_bytes, size)


async def _remove_bytes(storage: Storage, keys: Iterable[str | None]) -> None:
    """Best effort, after the rows are gone: a failure leaves unreferenced bytes, logged."""
    for key in keys:
        if not key:
            continue
        try:
            await storage.delete(key)
        except Exception:
            log.warning("could not delete %s from storage", key, exc_info=True)


def _keys(rows: Iterable[dict[str, Any]]) -> list[str | None]:
    return [k for row in rows for k in (row["storage_key"], row["thumbnail_key"])]


# ---------------------------------------------------------------------------------------------
# Uploads


def _kinds(expect: Iterable[FileKind | MediaKind | str] | None) -> set[MediaKind] | None:
    return {MediaKind(str(k)) for k in expect} if expect else None


def _refused(reason: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, f"the upload was refused: {reason}", ["file"])


async def _inspect(source: Path, expect: set[MediaKind] | None) -> tuple[media.MediaInfo, bytes | None]:
    def work() -> tuple[media.MediaInfo, bytes | None]:
        info = media.inspect(source, expect=expect)
        return info, media.thumbnail(source, info.kind)

    try:
        return await asyncio.to_thread(work)
    except MediaRefused as exc:
        raise _refused(exc.reason) from None


def _upload_key(team_id: uuid.UUID | str, file_id: uuid.UUID) -> str:
    """The checked file's key: a new one per check, so two checks of one upload (or a check racing a
    delete) never write over each other's bytes; the loser removes its own."""
    return f"{team_id}/uploads/{file_id}-{secrets.token_hex(4)}"


def _incoming_key(team_id: uuid.UUID | str, file_id: uuid.UUID) -> str:
    """Where a pending upload's bytes are PUT (its ``storage_key`` until completed). Not the final
    key: a presigned PUT URL cannot be revoked, and one still valid after completion would otherwise
    overwrite the checked file with unchecked bytes. What a late PUT leaves there is deleted by the
    sweep once the URL has expired (:class:`DriveIncoming`)."""
    return f"{INCOMING_PREFIX}/{team_id}/{file_id}"


def _thumb_key(key: str) -> str:
    return f"{key}.thumb.webp"


async def _folder_or_default(team_id: uuid.UUID | str, folder_id: uuid.UUID | str | None) -> DriveFolder:
    if folder_id is None:
        return await default_folder(team_id)
    folder = await team_folder(team_id, folder_id)
    if folder is None:
        raise DomainError(ErrorCode.NOT_FOUND, "folder not found", ["folderId"])
    return folder


async def start_upload(
    storage: Storage,
    team_id: uuid.UUID | str,
    *,
    name: str,
    body: BinaryIO,
    quota_bytes: int,
    folder_id: uuid.UUID | str | None = None,
    expect: Iterable[FileKind | str] | None = None,
) -> DriveFile:
    """A small upload whose bytes came with the request (the GraphQL multipart ``Upload``, spooled
    to a file by the web server): typed by its first bytes (junk is refused before anything is
    stored), its size reserved against the quota, its bytes streamed to the incoming key. A pending
    upload, checked by :func:`complete_upload` like one PUT to an upload URL."""
    head = body.read(media.HEAD_BYTES)
    size = body.seek(0, 2)
    body.seek(0)
    try:
        _kind, content_type = media.check_head(head, size, expect=_kinds(expect))
    except MediaRefused as exc:
        raise _refused(exc.reason) from None
    pending = await create_upload(
        team_id,
        name=name,
        size_bytes=size,
        content_type=content_type,
        quota_bytes=quota_bytes,
        folder_id=folder_id,
        record_incoming=False,
    )
    try:
        await storage.put(pending.storage_key, body, content_type)
    except BaseException:
        await _drop_pending(storage, pending)
        raise
    return pending


async def upload_file(
    storage: Storage,
    team_id: uuid.UUID | str,
    *,
    name: str,
    data: bytes,
    quota_bytes: int,
    folder_id: uuid.UUID | str | None = None,
    expect: Iterable[FileKind | str] | None = None,
) -> DriveFile:
    """A small upload in one step, in this process: :func:`start_upload` then
    :func:`complete_upload` (the API runs the second on a worker). A refusal stores nothing."""
    pending = await start_upload(
        storage,
        team_id,
        name=name,
        body=io.BytesIO(data),
        quota_bytes=quota_bytes,
        folder_id=folder_id,
        expect=expect,
    )
    return await complete_upload(storage, team_id, pending.id, expect=expect)


def _facts(info: media.MediaInfo) -> dict[str, Any]:
    return {
        "content_type": info.content_type,
        "kind": FileKind(info.kind.value),
        "width": info.width,
        "height": info.height,
        "duration_seconds": info.duration_seconds,
    }


async def create_upload(
    team_id: uuid.UUID | str,
    *,
    name: str,
    size_bytes: int,
    content_type: str,
    quota_bytes: int,
    folder_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    record_incoming: bool = True,
) -> DriveFile:
    """A large upload, step one: a pending file that reserves ``size_bytes`` of the quota until it is
    completed, cancelled (:func:`delete_file`) or expires (a day). The client then PUTs the bytes to
    ``storage_key`` (a presigned URL) and calls :func:`complete_upload`. The declared type only picks
    the size cap; the content decides. With ``record_incoming`` (an upload URL will be handed out) the
    incoming key is recorded for the sweep until the upload's expiry, past which no URL is valid, plus
    :data:`PUT_MARGIN` for a PUT started just before it."""
    content_type = content_type.split(";")[0].strip().lower()
    kind = media.kind_of(content_type) if content_type in media.EXTENSIONS else None
    if kind is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"{content_type[:100]!r} is not an accepted type; upload {media.ACCEPTED}",
            ["contentType"],
        )
    cap = media.LIMITS[kind].max_bytes
    if not 0 < size_bytes <= cap:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"sizeBytes must be between 1 and {cap} for {kind} files",
            ["sizeBytes"],
        )
    folder = await _folder_or_default(team_id, folder_id)
    clean = sanitize_name(name, extension=media.extension_for(content_type))
    file_id = uuid.uuid4()
    expires_at = (now or datetime.now(UTC)) + PENDING_TTL
    key = _incoming_key(team_id, file_id)
    async with in_transaction() as conn:
        await _reserve(conn, team_id, size_bytes, quota_bytes)
        if record_incoming:
            await DriveIncoming.create(
                id=file_id, storage_key=key, delete_after=expires_at + PUT_MARGIN, using_db=conn
            )
        return await DriveFile.create(
            id=file_id,
            team_id=team_id,
            folder_id=folder.id,
            name=clean,
            content_type=content_type,
            kind=FileKind(kind.value),
            source=FileSource.UPLOADED,
            status=FileStatus.PENDING,
            size_bytes=size_bytes,
            storage_key=key,
            expires_at=expires_at,
            using_db=conn,
        )


async def pending_upload(team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile:
    """The team's pending upload (for signing its PUT URL); NOT_FOUND otherwise."""
    file = await team_row(DriveFile, team_id, file_id)
    if file is None or file.status != FileStatus.PENDING:
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found", ["id"])
    return file


async def upload_row(team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile | None:
    """The team's file or pending upload (None when it is neither): what ``completeUpload`` looks at
    before handing the check to a worker."""
    return await team_row(DriveFile, team_id, file_id)


async def still_pending(file_id: uuid.UUID | str) -> bool:
    """Whether the upload is still pending (a check that answered an error left it to be retried:
    nothing was PUT yet)."""
    return await DriveFile.filter(id=file_id, status=FileStatus.PENDING).exists()


def _too_large(size: int, declared: int) -> DomainError:
    return DomainError(
        ErrorCode.VALIDATION_FAILED,
        f"the upload is {size} bytes, more than the {declared} declared; start it again",
        ["sizeBytes"],
    )


async def _close(stream: AsyncIterator[bytes]) -> None:
    """Close an ``open_range`` iterator left early (an async generator in every backend)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


async def _spool(storage: Storage, key: str, out: IO[bytes], cap: int) -> int:
    """The object's bytes written to ``out``, stopping past ``cap``: how many were read."""
    received = 0
    stream = storage.open_range(key)
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > cap:
                break
            await asyncio.to_thread(out.write, chunk)
    finally:
        await _close(stream)
    await asyncio.to_thread(out.flush)
    return received


async def _head(storage: Storage, key: str) -> bytes:
    stream = storage.open_range(key, 0, media.HEAD_BYTES - 1)
    try:
        return b"".join([chunk async for chunk in stream])
    finally:
        await _close(stream)


async def complete_upload(
    storage: Storage,
    team_id: uuid.UUID | str,
    file_id: uuid.UUID | str,
    *,
    expect: Iterable[FileKind | str] | None = None,
    now: datetime | None = None,
    spool_dir: Path | None = None,
    check_timeout: timedelta = CHECK_TIMEOUT,
) -> DriveFile:
    """A pending upload's bytes checked by content (the worker runs this for ``completeUpload``).
    Accepted, the file is ready with its facts and thumbnail, and the quota counts its real size;
    refused (or expired), the file, its reservation and its bytes are gone. Completing a completed
    upload returns the file; one deleted meanwhile is NOT_FOUND and leaves nothing behind.

    Memory stays bounded whatever the size: the first :data:`media.HEAD_BYTES` decide whether the
    rest is read at all (junk is refused there); the rest is streamed to a temporary file (in
    ``spool_dir``, the system's by default) that the decode reads and the final object is written
    from: the bytes checked are the bytes kept, whatever a late PUT does to the incoming key.
    The keys it writes are recorded for the sweep first (:class:`DriveIncoming`, until
    ``check_timeout`` plus :data:`PUT_MARGIN`) and the records dropped when the file turns ready."""
    started = now or datetime.now(UTC)
    file = await team_row(DriveFile, team_id, file_id)
    if file is None:
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found", ["id"])
    if file.status == FileStatus.READY:
        return file
    if file.expires_at is not None and file.expires_at <= started:
        await _drop_pending(storage, file)
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found (it expired)", ["id"])
    kinds = _kinds(expect)
    try:
        stored = await storage.stat(file.storage_key)
        head = await _head(storage, file.storage_key) if stored.size else b""
    except ObjectNotFound:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "nothing was uploaded for this file yet: PUT the bytes first", ["id"]
        ) from None
    if stored.size > file.size_bytes:  # checked before the bytes are read
        await _drop_pending(storage, file)
        raise _too_large(stored.size, file.size_bytes)
    try:
        media.check_head(head, stored.size, expect=kinds)
    except MediaRefused as exc:
        await _drop_pending(storage, file)
        raise _refused(exc.reason) from None
    key = _upload_key(file.team_id, file.id)
    with tempfile.NamedTemporaryFile(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=spool_dir) as spooled:
        try:
            received = await _spool(storage, file.storage_key, spooled, file.size_bytes)
        except ObjectNotFound:  # deleted since the stat (a cancel): the row says what happened
            received = -1
        if received < 0 or received > file.size_bytes:  # replaced between the stat and the read
            await _drop_pending(storage, file)
            if received < 0:
                raise DomainError(ErrorCode.NOT_FOUND, "upload not found", ["id"])
            raise _too_large(received, file.size_bytes)
        try:
            info, thumb = await _inspect(Path(spooled.name), kinds)
        except DomainError:
            await _drop_pending(storage, file)
            raise
        thumb_key = _thumb_key(key) if thumb else None
        guards = await _guard_keys([key, thumb_key], started + check_timeout + PUT_MARGIN)
        try:
            await asyncio.to_thread(spooled.seek, 0)
            await storage.put(key, spooled, info.content_type)
            if thumb and thumb_key:
                await storage.put(thumb_key, thumb, media.THUMBNAIL_TYPE)
        except BaseException:
            await _remove_bytes(storage, [key, thumb_key])
            raise
    try:
        async with in_transaction() as conn:
            # Taken first, as every change of files and usage does: a folder deleted meanwhile reads
            # this commit's keys (or this update finds its row gone), and no two such transactions
            # wait on each other's rows (a cancel, a folder's deletion and this would deadlock).
            await _lock_team(conn, file.team_id)
            won = (
                await DriveFile.filter(id=file.id, status=FileStatus.PENDING)
                .using_db(conn)
                .update(
                    status=FileStatus.READY,
                    name=sanitize_name(file.name, extension=info.extension),
                    size_bytes=received,
                    storage_key=key,
                    thumbnail_key=thumb_key,
                    expires_at=None,
                    **_facts(info),
                )
            )
            if won:
                # A record the sweep took (the check ran past its time) means bytes are gone: the
                # file must not turn ready pointing at nothing (raising rolls the update back).
                if await DriveIncoming.filter(id__in=guards).using_db(conn).delete() != len(guards):
                    raise _CheckTooLate
                await _add_usage(
                    conn, file.team_id, received - file.size_bytes
                )  # the reservation becomes the size
    except _CheckTooLate:
        await _remove_bytes(storage, [key, thumb_key])
        raise DomainError(
            ErrorCode.IN_PROGRESS, "the check ran past its time: complete the upload again", ["id"]
        ) from None
    if not won:  # completed by another check, or deleted (cancelled, its folder deleted) meanwhile
        await _remove_bytes(storage, [key, thumb_key])
        await DriveIncoming.filter(id__in=guards).delete()
        current = await team_file(team_id, file.id)
        if current is None:
            raise DomainError(ErrorCode.NOT_FOUND, "upload not found (it was deleted)", ["id"])
        return current
    await _remove_bytes(storage, [file.storage_key])
    done = await team_file(team_id, file.id)
    if done is None:  # deleted between the commit and this read: as if deleted a moment earlier
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found (it was deleted)", ["id"])
    return done


def remove_stale_spools(spool_dir: Path | None = None, *, older_than: timedelta) -> int:
    """Remove checks' temporary files that no running check can be using: a worker killed mid-check
    (SIGKILL, the OOM killer) runs no cleanup, and each file is up to the upload's size. Those of a
    process that is gone, of this one (call it before this process runs a check: a container's
    worker restarts with the same pid), and any older than ``older_than`` (the longest a check may
    run); how many. Blocking: call it in a thread."""
    directory = spool_dir or Path(tempfile.gettempdir())
    removed = 0
    cutoff = datetime.now(UTC).timestamp() - older_than.total_seconds()
    for path in directory.glob(f"{SPOOL_PREFIX}*"):
        pid = path.name[len(SPOOL_PREFIX) :].split("-", 1)[0]
        try:
            stale = path.stat().st_mtime < cutoff or (
                pid.isdigit() and (int(pid) == os.getpid() or not _process_exists(int(pid)))
            )
            if stale and path.is_file():
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed meanwhile (its check ended)
            continue
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _CheckTooLate(Exception):
    """The sweep removed what a check wrote before the check could record the file as ready."""


async def _guard_keys(keys: Iterable[str | None], delete_after: datetime) -> list[uuid.UUID]:
    """Record ``keys`` for the sweep (:class:`DriveIncoming`) before bytes are written there."""
    ids = []
    async with in_transaction() as conn:
        for key in keys:
            if key:
                record = await DriveIncoming.create(
                    id=uuid.uuid4(), storage_key=key, delete_after=delete_after, using_db=conn
                )
                ids.append(record.id)
    return ids


async def receive_upload(
    storage: Storage,
    file_id: uuid.UUID | str,
    body: AsyncIterable[bytes],
    *,
    length: int | None,
    now: datetime | None = None,
) -> DriveFile:
    """The bytes of a pending upload, PUT to the API itself (local storage; the caller checked the
    URL's signature, which names the file). ``length`` (the request's Content-Length) must be the
    declared size, and the body is cut off past it; a body that ends short stores nothing. The
    content is checked by :func:`complete_upload`. Another PUT replaces the bytes."""
    try:
        file = await DriveFile.get_or_none(id=uuid.UUID(str(file_id)), status=FileStatus.PENDING)
    except ValueError:
        file = None
    if file is None:
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found (or already completed)", ["id"])
    if file.expires_at is not None and file.expires_at <= (now or datetime.now(UTC)):
        raise DomainError(ErrorCode.NOT_FOUND, "upload not found (it expired)", ["id"])
    if length is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"send Content-Length: {file.size_bytes} (the size declared in createUpload)",
            ["Content-Length"],
        )
    if length != file.size_bytes:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"the body is {length} bytes but {file.size_bytes} were declared in createUpload; "
            "start a new upload with the right size",
            ["sizeBytes"],
        )
    received = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal received
        async for chunk in body:
            received += len(chunk)
            if received > file.size_bytes:
                raise _size_mismatch(file.size_bytes, f"more than {file.size_bytes}")
            yield chunk

    try:
        await storage.put(file.storage_key, counted(), file.content_type)
    except BaseException:
        await _remove_bytes(storage, [file.storage_key])
        raise
    if received != file.size_bytes:
        await _remove_bytes(storage, [file.storage_key])
        raise _size_mismatch(file.size_bytes, str(received))
    return file


def _size_mismatch(declared: int, got: str) -> DomainError:
    return DomainError(
        ErrorCode.VALIDATION_FAILED,
        f"the body was {got} bytes but {declared} were declared; nothing was stored, PUT it again",
        ["sizeBytes"],
    )


async def _drop_pending(storage: Storage, file: DriveFile) -> bool:
    """Delete a pending upload, its reservation and its incoming bytes (a check in flight notices
    and removes what it wrote); False when it was not pending any more."""
    async with in_transaction() as conn:
        await _lock_team(conn, file.team_id)  # first, as every change of files and usage does
        gone = await DriveFile.filter(id=file.id, status=FileStatus.PENDING).using_db(conn).delete()
        if gone:
            await _add_usage(conn, file.team_id, -file.size_bytes)
    if gone:
        await _remove_bytes(storage, [file.storage_key, file.thumbnail_key])
    return bool(gone)


async def cleanup_pending(storage: Storage, *, now: datetime | None = None, limit: int = 500) -> int:
    """Remove uploads still pending past their expiry (a day), their reservations and any bytes
    they left; how many. For a periodic task (every team)."""
    expired = await DriveFile.filter(
        status=FileStatus.PENDING, expires_at__lte=now or datetime.now(UTC)
    ).limit(limit)
    removed = 0
    for file in expired:
        removed += await _drop_pending(storage, file)
    return removed


async def cleanup_incoming(storage: Storage, *, now: datetime | None = None, limit: int = 500) -> int:
    """Delete what upload URLs may have written under ``incoming/`` once none of them is valid any
    more, and what checks that died wrote (:class:`DriveIncoming`): bytes a PUT left after its upload
    was completed, refused or cancelled, a checked copy and thumbnail no file points at. Run after
    :func:`cleanup_pending` (which removes the uploads themselves); how many keys."""
    at = now or datetime.now(UTC)
    due = await DriveIncoming.filter(delete_after__lte=at).limit(limit).values_list("id", flat=True)
    removed = 0
    for record_id in due:
        # Locked while its bytes go: a check recording its file as ready waits, then finds the
        # record gone (complete_upload), rather than pointing a file at deleted bytes.
        async with in_transaction() as conn:
            record = (
                await DriveIncoming.filter(id=record_id, delete_after__lte=at)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if record is None:  # taken by a check or another sweep meanwhile
                continue
            await _remove_bytes(storage, [record.storage_key])
            await DriveIncoming.filter(id=record.id).using_db(conn).delete()
            removed += 1
    return removed


# ---------------------------------------------------------------------------------------------
# Generated outputs


# Decoding an output and drawing its thumbnail is CPU work in a thread: at most this many at once
# per process. When many jobs finish together, the rest wait their turn (work not yet started);
# unbounded, every run shared the cores, all of them outran the job timeout at once, and the
# threads of the cancelled runs went on burning CPU for nothing (seen with 24 image jobs at once).
OUTPUT_MEDIA_CONCURRENCY = 2
_output_media_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _output_media_slot() -> asyncio.Semaphore:
    """This event loop's limit on output decoding (a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    slot = _output_media_slots.get(loop)
    if slot is None:
        slot = _output_media_slots[loop] = asyncio.Semaphore(OUTPUT_MEDIA_CONCURRENCY)
    return slot


async def store_output(
    storage: Storage,
    *,
    team_id: uuid.UUID | str,
    folder_id: uuid.UUID | str | None,
    job_id: uuid.UUID,
    job_type: str,
    provider: str,
    prompt: str,
    index: int,
    data: bytes,
    content_type: str,
    take: str = "",
) -> DriveFile:
    """Copy one job output into the folder (the default one if the job's folder was deleted meanwhile),
    with a readable name, its facts and its thumbnail or poster frame. Idempotent per (job, index).

    It counts towards the team's usage but is never refused for the quota: the job is paid for, and
    losing its output would charge for nothing. Usage may go over the quota; uploads are then refused
    until files are deleted. Bytes that do not inspect (a format the checks do not know) are kept
    without facts or thumbnail, for the same reason."""
    existing = await DriveFile.get_or_none(job_id=job_id, job_index=index)
    if existing:
        return existing
    folder = (await team_folder(team_id, folder_id) if folder_id else None) or await default_folder(team_id)
    ext = media.extension_for(content_type)
    key = f"{team_id}/{job_id}/{index + 1}.{ext}"
    facts: dict[str, Any] = {
        "content_type": content_type,
        "kind": FileKind(media.kind_of(content_type) or "image"),
    }
    thumb = None
    try:
        async with _output_media_slot():
            info = await asyncio.to_thread(media.inspect, data, limits=media.OUTPUT_LIMITS)
            thumb = await asyncio.to_thread(media.thumbnail, data, info.kind)
        facts = {
            **_facts(info),
            "content_type": content_type,
        }  # the type the provider's download was checked as
    except MediaRefused as exc:
        log.warning(
            "job %s output %d (%s) did not inspect: %s; stored without facts",
            job_id,
            index,
            content_type,
            exc.reason,
        )
    await storage.put(key, data, content_type)
    thumb_key = None
    if thumb:
        thumb_key = _thumb_key(key)
        await storage.put(thumb_key, thumb, media.THUMBNAIL_TYPE)

    async def insert(folder_id: uuid.UUID) -> DriveFile:
        async with in_transaction() as conn:
            await _lock_team(conn, team_id)  # first, as every change of files and usage does
            file = await DriveFile.create(
                team_id=team_id,
                folder_id=folder_id,
                job_id=job_id,
                job_index=index,
                name=output_name(job_type, provider, prompt, index, content_type, take=take),
                source=FileSource.GENERATED,
                size_bytes=len(data),
                storage_key=key,
                thumbnail_key=thumb_key,
                **facts,
                using_db=conn,
            )
            await _add_usage(conn, team_id, len(data))
            return file

    try:
        return await insert(folder.id)
    except IntegrityError:
        # Stored concurrently by another run of the same step (same key, same bytes), or the folder
        # was deleted between the look-up and the insert (a foreign key violation): then the
        # default folder takes it, as it would have had the folder been gone before.
        existing = await DriveFile.get_or_none(job_id=job_id, job_index=index)
        if existing:
            return existing
        if await DriveFolder.exists(id=folder.id):
            raise
        return await insert((await default_folder(team_id)).id)
