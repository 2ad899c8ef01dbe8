"""How rows become GraphQL objects: a job and a Drive file with their signed URLs, a folder tree
with its counts. Relations that cost a query (``CreativeJob.outputs``, ``DriveFile.job`` and
``DriveFile.folder``) are loaders run only when selected, and batched: a page of 100 jobs selecting
their outputs reads them in one query (a DataLoader per request and relation, without a cache, so a
websocket's context that lives across events never answers from an older read)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from models import drive
from models.jobs import CreativeJob as JobRow
from models.teams import Membership, Role, User
from schema.context import Context
from schema.drive import DriveFile, DriveFolder
from schema.enums import TeamRole
from schema.types import CreativeJob, TeamMember
from services.auth import file_links, signed_result_urls
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

    async def submitted_by(context: Context) -> TeamMember | None:
        found: TeamMember | None = await _loader(context, "members", _members).load(
            (str(snap["team_id"]), str(snap["user_id"]))
        )
        return found

    return CreativeJob.from_snapshot(
        snap,
        signed_result_urls(snap["result_urls"], settings),
        load_outputs=outputs if snap["result_urls"] else None,
        load_submitted_by=submitted_by,
    )


def team_member_output(user: User, role: Role | None) -> TeamMember:
    return TeamMember(
        id=strawberry.ID(str(user.id)),
        user_id=strawberry.ID(str(user.id)),
        name=user.name,
        email=user.email,
        role=TeamRole(role.value) if role is not None else None,
    )


async def _members(context: Context, keys: list[Key]) -> list[TeamMember | None]:
    """People by (team, user id), from jobs of that team: members with their role; someone who
    has left the team keeps their name on the jobs they submitted (no role)."""
    found: dict[Key, TeamMember] = {}
    for team, user_ids in _by_team(keys).items():
        wanted = sorted(set(user_ids))
        for membership in await Membership.filter(team_id=team, user_id__in=wanted).select_related("user"):
            found[(team, str(membership.user.id))] = team_member_output(membership.user, membership.role)
        gone = [u for u in wanted if (team, u) not in found]
        if gone:
            # only ids that jobs of this team carry (the caller's keys): the team's own past members
            for user in await User.filter(id__in=gone):
                found[(team, str(user.id))] = team_member_output(user, None)
    return [found.get(key) for key in keys]


def ledger_job_loader(
    team_id: str, job_id: str | None
) -> Callable[[Context], Awaitable[CreativeJob | None]] | None:
    """A ledger row's job, read when selected (batched per request)."""
    if job_id is None:
        return None

    async def job(context: Context) -> CreativeJob | None:
        found: CreativeJob | None = await _loader(context, "jobs", _jobs).load((team_id, job_id))
        return found

    return job


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
    """A Drive file as the API shows it (the row's snapshot, as the REST form shows it too):
    signed, expiring URLs of its bytes and its thumbnail; its job and folder read when selected."""
    snap = row.snapshot()
    url, thumbnail_url = file_links(snap["id"], snap["has_thumbnail"], settings)
    team = str(row.team_id)
    folder_key = (team, snap["folder_id"])
    job_key = (team, snap["job_id"]) if snap["job_id"] else None

    async def job(context: Context) -> CreativeJob | None:
        found: CreativeJob | None = await _loader(context, "jobs", _jobs).load(job_key)
        return found

    async def folder(context: Context) -> DriveFolder:
        found: DriveFolder | None = await _loader(context, "folders", _folders).load(folder_key)
        if found is None:
            raise LookupError("the file's folder was deleted meanwhile")
        return found

    return DriveFile(
        id=strawberry.ID(snap["id"]),
        name=snap["name"],
        content_type=snap["content_type"],
        size_bytes=snap["size_bytes"],
        kind=drive.FileKind(snap["kind"]),
        source=drive.FileSource(snap["source"]),
        width=snap["width"],
        height=snap["height"],
        duration_seconds=snap["duration_seconds"],
        url=url,
        thumbnail_url=thumbnail_url,
        job_id=strawberry.ID(snap["job_id"]) if snap["job_id"] else None,
        folder_id=strawberry.ID(snap["folder_id"]),
        created_at=datetime.fromisoformat(snap["created_at"]),
        load_job=job if job_key else None,
        load_folder=folder,
    )


def drive_folder_output(snap: dict[str, Any]) -> DriveFolder:
    """A folder of the tree with its counts, its path and its subfolders, from its snapshot
    (``drive.FolderNode.snapshot``, what the REST form shows)."""
    return DriveFolder(
        id=strawberry.ID(snap["id"]),
        name=snap["name"],
        parent_id=strawberry.ID(snap["parent_id"]) if snap["parent_id"] else None,
        path=snap["path"],
        is_default=snap["is_default"],
        file_count=snap["file_count"],
        size_bytes=snap["size_bytes"],
        total_file_count=snap["total_file_count"],
        total_size_bytes=snap["total_size_bytes"],
        created_at=datetime.fromisoformat(snap["created_at"]),
        children=[drive_folder_output(child) for child in snap["children"]],
    )


def drive_folders_output(tree: list[drive.FolderNode]) -> list[DriveFolder]:
    return [drive_folder_output(node.snapshot()) for node in tree]


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
