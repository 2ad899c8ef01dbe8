"""GraphQL types of the Drive: files, folders, usage. They hold data only; resolvers/outputs.py
builds them from models.drive rows (signing the URLs).

A relation that costs a query (a file's ``job`` and ``folder``, a job's ``outputs``, a page's
``totalCount``) is a private loader set by the resolver and called only when the field is selected:
an object nobody asks the relation of costs nothing more (the realtime push path runs
``CreativeJob`` per event). Loaders receive the request's context (resolvers batch through it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NewType, TypeAlias

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

from schema.enums import DriveFileKind, DriveFileSource
from schema.types import Connection, UserError

if TYPE_CHECKING:
    from schema.types import CreativeJob

# GraphQL's Int is 32 bits; a Drive's bytes are not. A JSON number, exact up to 2^53.
# (For mypy an int: a NewType would refuse the ints it is built from.)
if TYPE_CHECKING:
    BigInt: TypeAlias = int
else:
    BigInt = NewType("BigInt", int)
BIG_INT_MAX = 2**53  # what a JSON number (a JavaScript double) holds exactly


def _big_int(value: object) -> int:
    """An input BigInt: a whole JSON number within ±2^53; nothing else is converted (no strings,
    no booleans, no 1.5 rounded down)."""
    if isinstance(value, int) and not isinstance(value, bool) and -BIG_INT_MAX <= value <= BIG_INT_MAX:
        return value
    # A GraphQLError, so a literal in the document is reported as the client's mistake (graphql-core
    # wraps any other exception from a literal's parse as a fault, which the API masks).
    raise GraphQLError(f"BigInt must be a whole number between -2^53 and 2^53, not {value!r}"[:200])


SCALARS: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number that may exceed 32 bits (byte counts), as a JSON number",
        serialize=int,
        parse_value=_big_int,
    )
}
"""The schema's scalar_map (web/graphql.py build_schema)."""

Loader = Callable[[Any], Awaitable[Any]]
"""Given the request's context, the value of a relation (resolvers/outputs.py makes them)."""


@strawberry.type(description="A folder of the team's Drive")
class DriveFolder:
    id: strawberry.ID
    name: str
    parent_id: strawberry.ID | None = strawberry.field(description="Null for a top-level folder")
    path: str = strawberry.field(description="Its names from the top, e.g. /Campaigns/Spring")
    is_default: bool = strawberry.field(description="Where outputs go when a job names no folder")
    file_count: int = strawberry.field(description="Files directly in this folder")
    size_bytes: BigInt = strawberry.field(description="Bytes of the files directly in this folder")
    total_file_count: int = strawberry.field(description="Files in this folder and every folder under it")
    total_size_bytes: BigInt = strawberry.field(description="Bytes of this folder and every folder under it")
    created_at: datetime
    children: list[DriveFolder] = strawberry.field(description="Its subfolders, by name")


@strawberry.type(description="A file in the team's Drive: a job's output or an upload")
class DriveFile:
    id: strawberry.ID
    name: str
    content_type: str
    size_bytes: BigInt
    kind: DriveFileKind
    source: DriveFileSource
    width: int | None = strawberry.field(description="Pixels, for images and videos")
    height: int | None
    duration_seconds: float | None = strawberry.field(description="For videos and audio")
    url: str = strawberry.field(description="Signed, expiring URL of the bytes (Range requests welcome)")
    thumbnail_url: str | None = strawberry.field(
        description="Signed, expiring URL of a small WebP: the image reduced, or a video's poster frame"
    )
    job_id: strawberry.ID | None = strawberry.field(description="The job that made it; null for an upload")
    folder_id: strawberry.ID
    created_at: datetime
    load_job: strawberry.Private[Loader | None] = None
    load_folder: strawberry.Private[Loader | None] = None

    @strawberry.field(description="The job that made it (null for an upload, or a job no longer there)")  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
    async def job(
        self, info: strawberry.Info
    ) -> Annotated[CreativeJob, strawberry.lazy("schema.types")] | None:
        if self.load_job is None:
            return None
        job: CreativeJob | None = await self.load_job(info.context)
        return job

    @strawberry.field(description="The folder it is in")  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
    async def folder(self, info: strawberry.Info) -> DriveFolder:
        assert self.load_folder is not None, "resolvers set load_folder"
        folder: DriveFolder = await self.load_folder(info.context)
        return folder


@strawberry.type(description="A page of Drive files, newest first")
class DriveFileConnection(Connection[DriveFile]):
    load_total: strawberry.Private[Loader]

    @strawberry.field(description="Files matching the filter, over every page")  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
    async def total_count(self, info: strawberry.Info) -> int:
        total: int = await self.load_total(info.context)
        return total


@strawberry.type(description="The team's Drive storage: what its files take, and its quota")
class DriveUsage:
    used_bytes: BigInt
    quota_bytes: BigInt
    available_bytes: BigInt = strawberry.field(
        description="What uploads may still use: quotaBytes - usedBytes, never below 0 (outputs of "
        "jobs are always kept, so usedBytes may pass the quota)"
    )


@strawberry.type
class DriveFolderPayload:
    folder: DriveFolder | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DriveFilePayload:
    file: DriveFile | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteDrivePayload:
    deleted_id: strawberry.ID | None = None
    deleted_files: int = strawberry.field(default=0, description="Files deleted with it")
    deleted_folders: int = strawberry.field(default=0, description="Folders deleted (itself included)")
    freed_bytes: BigInt = strawberry.field(default=0, description="What the team's usage went down by")
    user_errors: list[UserError] = strawberry.field(default_factory=list)
