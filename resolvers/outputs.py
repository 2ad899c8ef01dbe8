"""How rows become GraphQL objects: a job and a Drive file with their signed URLs, a folder tree
with its counts. Relations that cost a query (``CreativeJob.outputs``, ``DriveFile.job`` and
``DriveFile.folder``) are loaders run only when selected, and batched: a page of 100 jobs selecting
their outputs reads them in one query (a DataLoader per request and relation, without a cache, so a
websocket's context that lives across events never answers from an older read)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from models import drive
from models.jobs import CreativeJob as JobRow
from schema.context import Context
from schema.drive import DriveFile, DriveFolder
from schema.types import CreativeJob
from services.auth import signed_file_url, signed_result_urls
from services.settings import Settings

Key = tuple[str, str]  # (team id, row id)


def _loader(
    context: Context, name: str, batch: Callable[[Context, list[Key]], Awaitable[Sequence[Any]]]
) -> Any:
    loaders = context.loaders
    if name not in loaders:

        async def load(keys: list[Key]) -> Sequence[Any]:
            return await batch(context, keys)

        loaders[name] = DataLoader(load_fn=load, cache=False)
    return loaders[name]


def _by_team(keys: Iterable[Key]) -> dict[str, list[str]]:
    teams: dict[str, list[str]] = {}
    for team, row in keys:
        teams.setdefault(team, []).append(row)
    return teams


# ---------------------------------------------------------------------------------------------
# Jobs


def job_output(snap: dict[str, Any], settings: Settings) -> CreativeJob:
    """A job as the API shows it: its outputs as signed, expiring URLs, and as Drive files when
    ``outputs`` is selected (a job without results reads nothing)."""
    key = (str(snap["team_id"]), str(snap["id"]))

    async def outputs(context: Context) -> list[DriveFile]:
        files: list[DriveFile] = await _loader(context, "job_outputs", _job_outputs).load(key)
        return files

    return CreativeJob.from_snapshot(
        snap,
        signed_result_urls(snap["result_urls"], settings),
        load_outputs=outputs if snap["result_urls"] else None,
    )


async def _job_outputs(context: Context, keys: list[Key]) -> list[list[DriveFile]]:
    settings = context.services.settings
    found: dict[Key, list[DriveFile]] = {}
    for team, job_ids in _by_team(keys).items():
        rows = await drive.DriveFile.filter(
            team_id=team, job_id__in=job_ids, status=drive.FileStatus.READY
        ).order_by("job_index", "created_at")
        for row in rows:
            found.setdefault((team, str(row.job_id)), []).append(drive_file_output(row, settings))
    return [found.get(key, []) for key in keys]


async def _jobs(context: Context, keys: list[Key]) -> list[CreativeJob | None]:
    settings = context.services.settings
    found: dict[Key, CreativeJob] = {}
    for team, job_ids in _by_team(keys).items():
        for row in await JobRow.filter(team_id=team, id__in=job_ids):
            found[(team, str(row.id))] = job_output(row.snapshot(), settings)
    return [found.get(key) for key in keys]


# ---------------------------------------------------------------------------------------------
# Drive


def drive_file_output(row: drive.DriveFile, settings: Settings) -> DriveFile:
    """A Drive file as the API shows it: signed, expiring URLs of its bytes and its thumbnail; its
    job and folder read when selected."""
    file_id, team = str(row.id), str(row.team_id)
    folder_key = (team, str(row.folder_id))
    job_key = (team, str(row.job_id)) if row.job_id else None

    async def job(context: Context) -> CreativeJob | None:
        found: CreativeJob | None = await _loader(context, "jobs", _jobs).load(job_key)
        return found

    async def folder(context: Context) -> DriveFolder:
        found: DriveFolder | None = await _loader(context, "folders", _folders).load(folder_key)
        if found is None:
            raise LookupError("the file's folder was deleted meanwhile")
        return found

    return DriveFile(
        id=strawberry.ID(file_id),
        name=row.name,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        kind=drive.FileKind(row.kind),
        source=drive.FileSource(row.source),
        width=row.width,
        height=row.height,
        duration_seconds=row.duration_seconds,
        url=signed_file_url(file_id, settings),
        thumbnail_url=signed_file_url(file_id, settings, thumbnail=True) if row.thumbnail_key else None,
        job_id=strawberry.ID(str(row.job_id)) if row.job_id else None,
        folder_id=strawberry.ID(str(row.folder_id)),
        created_at=row.created_at,
        load_job=job if job_key else None,
        load_folder=folder,
    )


def drive_folder_output(node: drive.FolderNode, parent_path: str = "") -> DriveFolder:
    """A folder of the tree with its counts, its path and its subfolders."""
    folder = node.folder
    path = f"{parent_path}/{folder.name}"
    return DriveFolder(
        id=strawberry.ID(str(folder.id)),
        name=folder.name,
        parent_id=strawberry.ID(str(folder.parent_id)) if folder.parent_id else None,
        path=path,
        is_default=folder.is_default,
        file_count=node.file_count,
        size_bytes=node.size_bytes,
        total_file_count=node.total_file_count,
        total_size_bytes=node.total_size_bytes,
        created_at=folder.created_at,
        children=[drive_folder_output(child, path) for child in node.children],
    )


def drive_folders_output(tree: list[drive.FolderNode]) -> list[DriveFolder]:
    return [drive_folder_output(node) for node in tree]


def flatten(folders: Iterable[DriveFolder]) -> dict[str, DriveFolder]:
    """Every folder of a tree, by id."""
    out: dict[str, DriveFolder] = {}
    stack = list(folders)
    while stack:
        folder = stack.pop()
        out[str(folder.id)] = folder
        stack.extend(folder.children)
    return out


async def folder_output(team_id: uuid.UUID | str, folder_id: uuid.UUID | str) -> DriveFolder:
    """One folder as the tree shows it (its path and counts: the tree's two queries)."""
    return flatten(drive_folders_output(await drive.folder_tree(team_id)))[str(folder_id)]


async def _folders(context: Context, keys: list[Key]) -> list[DriveFolder | None]:
    found: dict[Key, DriveFolder] = {}
    for team in _by_team(keys):
        for folder_id, folder in flatten(drive_folders_output(await drive.folder_tree(team))).items():
            found[(team, folder_id)] = folder
    return [found.get(key) for key in keys]
