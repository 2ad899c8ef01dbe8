"""models.drive in-process on a migrated database (SQLite, and PostgreSQL when reachable): the folder tree, files, uploads, usage
and quota, generated outputs, each scoped to its team (another team's ids read as missing)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models import drive
from models.drive import DriveFile, FileKind, FileSource, FileStatus, QuotaExceeded
from models.errors import DomainError, ErrorCode
from models.teams import create_team
from resolvers.pagination import paginate
from services import db
from services.settings import Settings
from storage import ObjectInfo, ObjectNotFound, check_key
from tests.conftest import POSTGRES_URL, _admin_pg
from tests.standins import media as make

QUOTA = 1_000_000
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"


class MemoryStorage:
    """The part of storage.Storage the Drive domain uses, in a dict; keys checked as the backends do."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.reads = 0  # whole-object reads (get)

    async def put(
        self, key: str, data: bytes | AsyncIterable[bytes] | BinaryIO, content_type: str
    ) -> ObjectInfo:
        check_key(key)
        if isinstance(data, AsyncIterable):  # streamed: stored whole at the end, as the backends do
            data = b"".join([chunk async for chunk in data])
        elif not isinstance(data, bytes):  # a file object, read from where it is
            data = data.read()
        self.objects[key] = data
        return await self.stat(key)

    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        await self.stat(key)
        data = self.objects[key][start : None if end is None else end + 1]
        for offset in range(0, len(data), 64 * 1024):
            yield data[offset : offset + 64 * 1024]

    async def stat(self, key: str) -> ObjectInfo:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return ObjectInfo(len(self.objects[key]), '"x"', datetime.now(UTC).replace(microsecond=0), "")

    async def get(self, key: str) -> bytes:
        await self.stat(key)
        self.reads += 1
        return self.objects[key]

    async def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[None]:
    tmp: Path = tmp_path_factory.mktemp("drive")
    url, pg_name = f"sqlite://{tmp / 'drive.sqlite3'}", None
    if request.param == "postgres":
        pg_name = f"ch_test_{uuid.uuid4().hex[:10]}"
        try:
            await _admin_pg(f'CREATE DATABASE "{pg_name}"')
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    settings = Settings(env="development", data_dir=tmp, database_url=url)
    EXECUTOR_CACHE.clear()  # tortoise caches statements by connection name ("default"), not by dialect
    await db.migrate(settings)
    await db.init(settings)
    try:
        yield
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()
        if pg_name:
            await _admin_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture
async def team(database: None) -> uuid.UUID:
    return (await create_team("drive")).team.id


@pytest.fixture
async def other(database: None) -> uuid.UUID:
    return (await create_team("other")).team.id


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


async def used(team: uuid.UUID) -> int:
    return (await drive.usage(team, QUOTA)).used_bytes


async def upload(storage: MemoryStorage, team: uuid.UUID, name: str, data: bytes, **kw: Any) -> DriveFile:
    return await drive.upload_file(
        storage, team, name=name, data=data, quota_bytes=kw.pop("quota", QUOTA), **kw
    )


async def refused(code: ErrorCode, call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.mark.parametrize(
    ("raw", "extension", "clean"),
    [
        ("../../etc/passwd", None, "etc_passwd"),
        ("..\\..\\boot.ini", None, "boot.ini"),
        ("a/../b.png", "png", "a_b.png"),
        ("a/b\\c.png", "png", "a_b_c.png"),
        ("re\x00po\x1frt\u202e.png", "png", "report.png"),
        ("  spaced\tout\n name .png ", "png", "spaced out name.png"),
        ("logo.jpg", "png", "logo.png"),  # a PNG named .jpg gets the extension of its content
        ("notes.v2", "png", "notes.v2.png"),
        ("logo", "png", "logo.png"),
        ("...", "png", "file.png"),
        ("x" * 500 + ".webm", "webm", "x" * 195 + ".webm"),
    ],
)
def test_names_are_sanitised(raw: str, extension: str | None, clean: str) -> None:
    assert drive.sanitize_name(raw, extension=extension) == clean


def test_a_name_of_nothing_but_unsafe_characters_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        drive.sanitize_name("../\x00/..")
    assert caught.value.code == ErrorCode.VALIDATION_FAILED and caught.value.field == ["name"]


def test_generated_outputs_have_readable_names() -> None:
    name = drive.output_name(
        "video", "veo_3_1", "A 4K sunrise, over Kyoto's río — slowly panning left", 0, "video/mp4"
    )
    assert name == "video-veo_3_1-a-4k-sunrise-over-kyoto-s-1.mp4"
    assert drive.output_name("tts", "elevenlabs_v3", "", 1, "audio/mpeg") == "tts-elevenlabs_v3-2.mp3"
    assert drive.output_name("image", "flux", "../../x", 2, "image/png") == "image-flux-x-3.png"


def test_the_outputs_of_one_request_have_names_that_tell_them_apart() -> None:
    # 3 variants x 2 placements of one prompt: each name says its placement and variant
    names = {
        drive.output_name(
            "video", "kling_2_6", "A runner at dawn", 0, "video/mp4", take=drive.take_of(placement, variant)
        )
        for placement in ("REELS", "IN_STREAM")
        for variant in (1, 2, 3)
    }
    assert len(names) == 6
    assert "video-kling_2_6-a-runner-at-dawn-reels-1.mp4" in names
    assert "video-kling_2_6-a-runner-at-dawn-in-stream-v3-1.mp4" in names
    assert drive.take_of(None, None) == "" and drive.take_of(None, 2) == "v2"


def test_the_first_take_of_several_variants_is_marked_like_the_others() -> None:
    """Was: take 1 of 3 named without its mark (``video-…-1.mp4`` beside ``…-v2-1.mp4``)."""
    assert [drive.take_of(None, v, 3) for v in (1, 2, 3)] == ["v1", "v2", "v3"]
    assert [drive.take_of("REELS", v, 2) for v in (1, 2)] == ["reels-v1", "reels-v2"]
    assert drive.take_of("FEED", 1, None) == "feed", "one take per placement: the placement tells them apart"


async def test_the_tree_counts_files_and_bytes_per_folder_and_subtree(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    shoots = await drive.create_folder(team, "Shoots")
    spring = await drive.create_folder(team, "Spring", parent_id=shoots.id)
    png, jpeg = make.image("png", 40, 30), make.image("jpeg", 64, 64)
    await upload(storage, team, "a.png", png, folder_id=shoots.id)
    await upload(storage, team, "b.jpg", jpeg, folder_id=spring.id)
    tree = {node.folder.name: node for node in await drive.folder_tree(team)}
    assert set(tree) == {"AI Generations", "Shoots"}  # the default folder always exists
    top = tree["Shoots"]
    assert (top.file_count, top.size_bytes) == (1, len(png))
    assert (top.total_file_count, top.total_size_bytes) == (2, len(png) + len(jpeg))
    [child] = top.children
    assert (child.folder.id, child.file_count, child.size_bytes) == (spring.id, 1, len(jpeg))
    assert await used(team) == len(png) + len(jpeg)


async def test_names_are_unique_among_siblings_only(team: uuid.UUID) -> None:
    a = await drive.create_folder(team, "A")
    b = await drive.create_folder(team, "B")
    await drive.create_folder(team, "Same", parent_id=a.id)
    same_b = await drive.create_folder(team, "Same", parent_id=b.id)
    await refused(ErrorCode.CONFLICT, drive.create_folder(team, "A"))
    await refused(ErrorCode.CONFLICT, drive.rename_folder(team, b.id, "A"))
    await refused(ErrorCode.CONFLICT, drive.move_folder(team, same_b.id, a.id))
    assert (await drive.rename_folder(team, b.id, "B/../C")).name == "B_C"


async def test_a_folder_cannot_move_into_itself_or_its_subtree(team: uuid.UUID) -> None:
    a = await drive.create_folder(team, "A")
    b = await drive.create_folder(team, "B", parent_id=a.id)
    c = await drive.create_folder(team, "C", parent_id=b.id)
    for target in (a.id, b.id, c.id):
        error = await refused(ErrorCode.VALIDATION_FAILED, drive.move_folder(team, a.id, target))
        assert "into itself or into one of its own subfolders" in error.message
    moved = await drive.move_folder(team, c.id, None)  # to the top level
    assert moved.parent_id is None
    assert (await drive.move_folder(team, a.id, c.id)).parent_id == c.id
    tree = {n.folder.name: n for n in await drive.folder_tree(team)}
    assert [n.folder.name for n in tree["C"].children] == ["A"]


async def test_deleting_a_folder_with_contents_takes_an_explicit_flag_and_removes_the_bytes(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    a = await drive.create_folder(team, "A")
    b = await drive.create_folder(team, "B", parent_id=a.id)
    kept = await upload(storage, team, "kept.png", make.image("png", 8, 8))
    gone = await upload(storage, team, "gone.png", make.image("png", 400, 400), folder_id=b.id)
    pending = await drive.create_upload(
        team, name="big.mp4", size_bytes=5_000, content_type="video/mp4", quota_bytes=QUOTA, folder_id=a.id
    )
    assert (
        gone.thumbnail_key in storage.objects
        and await used(team) == kept.size_bytes + gone.size_bytes + 5_000
    )
    error = await refused(ErrorCode.CONFLICT, drive.delete_folder(storage, team, a.id))
    assert "recursive" in error.message
    await refused(ErrorCode.CONFLICT, drive.delete_folder(storage, team, b.id))

    deleted = await drive.delete_folder(storage, team, a.id, recursive=True)
    assert (deleted.folders, deleted.files) == (2, 2)
    assert await drive.team_folder(team, b.id) is None and await DriveFile.get_or_none(id=pending.id) is None
    assert set(storage.objects) == {kept.storage_key, kept.thumbnail_key}
    assert await used(team) == kept.size_bytes == await drive.recount_usage(team)
    empty = await drive.create_folder(team, "Empty")
    assert (await drive.delete_folder(storage, team, empty.id)).folders == 1


async def test_another_teams_ids_read_as_missing(
    team: uuid.UUID, other: uuid.UUID, storage: MemoryStorage
) -> None:
    folder = await drive.create_folder(other, "Theirs")
    file = await upload(storage, other, "theirs.png", make.image("png", 8, 8), folder_id=folder.id)
    pending = await drive.create_upload(
        other, name="p.png", size_bytes=10, content_type="image/png", quota_bytes=QUOTA
    )
    mine = await drive.create_folder(team, "Mine")
    for fid in (folder.id, "not-a-uuid", uuid.uuid4()):
        await refused(ErrorCode.NOT_FOUND, drive.rename_folder(team, fid, "x"))
        await refused(ErrorCode.NOT_FOUND, drive.move_folder(team, fid, None))
        await refused(ErrorCode.NOT_FOUND, drive.move_folder(team, mine.id, fid))
        await refused(ErrorCode.NOT_FOUND, drive.delete_folder(storage, team, fid, recursive=True))
        await refused(ErrorCode.NOT_FOUND, drive.create_folder(team, "x", parent_id=fid))
        await refused(ErrorCode.NOT_FOUND, drive.files_query(team, folder_id=fid))
        await refused(
            ErrorCode.NOT_FOUND, upload(storage, team, "x.png", make.image("png", 8, 8), folder_id=fid)
        )
    for fid in (file.id, pending.id, "nope", uuid.uuid4()):
        await refused(ErrorCode.NOT_FOUND, drive.rename_file(team, fid, "x"))
        await refused(ErrorCode.NOT_FOUND, drive.move_file(team, fid, mine.id))
        await refused(ErrorCode.NOT_FOUND, drive.delete_file(storage, team, fid))
        await refused(ErrorCode.NOT_FOUND, drive.complete_upload(storage, team, fid))
        assert await drive.team_file(team, fid) is None
    mine_file = await upload(storage, team, "m.png", make.image("png", 8, 8))
    await refused(ErrorCode.NOT_FOUND, drive.move_file(team, mine_file.id, folder.id))
    assert await (await drive.files_query(team, job_id=uuid.uuid4())).count() == 0
    assert file.storage_key in storage.objects and await DriveFile.exists(id=pending.id)  # untouched


async def test_files_are_listed_newest_first_with_filters_pages_and_a_total(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    folder = await drive.create_folder(team, "Mixed")
    made = [
        await upload(storage, team, f"shot-{i}.png", make.image("png", 8 + i, 8), folder_id=folder.id)
        for i in range(3)
    ]
    song = await upload(storage, team, "Jingle.wav", make.audio("wav", 0.5), folder_id=folder.id)
    await drive.create_upload(
        team, name="later.png", size_bytes=10, content_type="image/png", quota_bytes=QUOTA
    )
    everything = await drive.files_query(team)
    assert await everything.count() == 4  # the pending upload is not a file yet
    page = await paginate(await drive.files_query(team, folder_id=folder.id), 3, None, lambda f: f.name)
    assert [e.node for e in page.edges] == ["Jingle.wav", "shot-2.png", "shot-1.png"]
    rest = await paginate(
        await drive.files_query(team, folder_id=folder.id), 3, page.page_info.end_cursor, lambda f: f.name
    )
    assert [e.node for e in rest.edges] == ["shot-0.png"] and not rest.page_info.has_next_page
    images = await drive.files_query(team, kind="image")
    assert await images.count() == 3 and {f.id for f in await images.all()} == {f.id for f in made}
    assert [f.id for f in await (await drive.files_query(team, kind=FileKind.AUDIO)).all()] == [song.id]
    assert [f.name for f in await (await drive.files_query(team, name_contains="JING")).all()] == [
        "Jingle.wav"
    ]
    for wildcard in ("%", "_"):  # searched for as characters, not as LIKE patterns
        assert await (await drive.files_query(team, name_contains=wildcard)).count() == 0
    await refused(ErrorCode.VALIDATION_FAILED, drive.files_query(team, kind="pdf"))


async def test_files_are_renamed_moved_and_deleted(team: uuid.UUID, storage: MemoryStorage) -> None:
    file = await upload(storage, team, "logo.png", make.image("png", 600, 300))
    folder = await drive.create_folder(team, "Brand")
    assert (await drive.rename_file(team, file.id, "../brand\x07 logo")).name == "brand logo.png"
    assert (await drive.move_file(team, file.id, folder.id)).folder_id == folder.id
    assert (await drive.require_file(team, file.id)).name == "brand logo.png"
    await drive.delete_file(storage, team, file.id)
    assert storage.objects == {} and await used(team) == 0
    await refused(ErrorCode.NOT_FOUND, drive.delete_file(storage, team, file.id))


async def test_an_upload_is_checked_by_content_and_a_refusal_leaves_nothing(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    video = make.mp4(320, 180, 1.0)
    file = await upload(storage, team, "clip.mov", video)
    assert (file.kind, file.content_type, file.name, file.source) == (
        FileKind.VIDEO,
        "video/mp4",
        "clip.mp4",
        FileSource.UPLOADED,
    )
    assert (file.width, file.height) == (256, 144) and file.duration_seconds == pytest.approx(1.0, abs=0.2)
    assert file.thumbnail_key is not None and storage.objects[file.thumbnail_key][8:12] == b"WEBP"
    before, stored = await used(team), dict(storage.objects)
    error = await refused(ErrorCode.VALIDATION_FAILED, upload(storage, team, "start.png", PDF))
    assert (
        error.message
        == "the upload was refused: the file is a PDF document; expected an image, video or audio file (PNG, JPEG, WebP, GIF, MP4, WebM, MOV, MP3, WAV, AAC, OGG or FLAC)"
    )
    error = await refused(
        ErrorCode.VALIDATION_FAILED, upload(storage, team, "start.png", video, expect=["image"])
    )
    assert "expected an image" in error.message
    assert storage.objects == stored and await used(team) == before


async def test_the_quota_refuses_uploads_that_do_not_fit_and_counts_reservations(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    png = make.image("png", 64, 64)
    await upload(storage, team, "one.png", png, quota=len(png) + 100)
    error = await refused(
        ErrorCode.VALIDATION_FAILED, upload(storage, team, "two.png", png, quota=len(png) + 100)
    )
    assert isinstance(error, QuotaExceeded) and error.message.startswith("Drive quota exceeded")
    assert (error.used_bytes, error.needed_bytes) == (len(png), len(png))
    assert len(storage.objects) == 2  # the first file and its thumbnail; nothing of the second
    await drive.create_upload(
        team, name="r.mp4", size_bytes=90, content_type="video/mp4", quota_bytes=len(png) + 100
    )
    await refused(
        ErrorCode.VALIDATION_FAILED,
        drive.create_upload(
            team, name="s.mp4", size_bytes=20, content_type="video/mp4", quota_bytes=len(png) + 100
        ),
    )
    assert (await drive.usage(team, len(png) + 100)).available_bytes == 10
    await refused(
        ErrorCode.VALIDATION_FAILED,
        drive.create_upload(
            team, name="d.pdf", size_bytes=20, content_type="application/pdf", quota_bytes=QUOTA
        ),
    )


async def test_a_large_upload_is_reserved_then_completed_or_dropped(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    png = make.image("png", 500, 250)
    pending = await drive.create_upload(
        team, name="hero.png", size_bytes=len(png) + 500, content_type="image/png", quota_bytes=QUOTA
    )
    assert pending.status == FileStatus.PENDING and await used(team) == len(png) + 500
    assert (await drive.pending_upload(team, pending.id)).storage_key == pending.storage_key
    error = await refused(ErrorCode.VALIDATION_FAILED, drive.complete_upload(storage, team, pending.id))
    assert "PUT the bytes first" in error.message  # still pending: the client may retry
    storage.objects[pending.storage_key] = png  # the client's PUT
    done = await drive.complete_upload(storage, team, pending.id)
    assert (done.status, done.kind, done.width, done.height, done.expires_at) == (
        FileStatus.READY,
        FileKind.IMAGE,
        500,
        250,
        None,
    )
    assert done.thumbnail_key in storage.objects and await used(team) == len(png)  # the real size
    assert (await drive.complete_upload(storage, team, pending.id)).id == done.id  # twice: the same file

    bad = await drive.create_upload(
        team, name="cover.png", size_bytes=100, content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[bad.storage_key] = PDF
    await refused(ErrorCode.VALIDATION_FAILED, drive.complete_upload(storage, team, bad.id, expect=["image"]))
    assert bad.storage_key not in storage.objects and not await DriveFile.exists(id=bad.id)
    assert await used(team) == len(png)

    small = await drive.create_upload(
        team, name="s.png", size_bytes=100, content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[small.storage_key] = png  # more than declared (and reserved)
    error = await refused(ErrorCode.VALIDATION_FAILED, drive.complete_upload(storage, team, small.id))
    assert "more than the 100 declared" in error.message
    assert small.storage_key not in storage.objects and await used(team) == len(png)


async def test_a_completed_upload_is_out_of_reach_of_its_upload_url(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    """The bytes are PUT to an incoming key and moved to the file's own key when checked: a presigned
    PUT URL cannot be revoked, and one still valid afterwards must not replace the checked file."""
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team, name="logo.png", size_bytes=len(png), content_type="image/png", quota_bytes=QUOTA
    )
    assert pending.storage_key.startswith(f"{drive.INCOMING_PREFIX}/{team}/")
    storage.objects[pending.storage_key] = png
    done = await drive.complete_upload(storage, team, pending.id)
    assert done.storage_key.startswith(f"{team}/uploads/{pending.id}-")
    assert storage.objects[done.storage_key] == png
    assert pending.storage_key not in storage.objects
    storage.objects[pending.storage_key] = PDF  # a late PUT to the old URL
    assert (await drive.require_file(team, done.id)).storage_key == done.storage_key
    assert storage.objects[done.storage_key] == png
    # What the late PUT left is counted by nothing: the sweep deletes it once no URL is valid.
    await drive.cleanup_incoming(storage)  # the URL may still be used
    assert storage.objects[pending.storage_key] == PDF
    in_time = datetime.now(UTC) + drive.PENDING_TTL  # a PUT started just before the expiry may go on
    await drive.cleanup_incoming(storage, now=in_time)
    assert storage.objects[pending.storage_key] == PDF
    assert await drive.cleanup_incoming(storage, now=in_time + drive.PUT_MARGIN) >= 1
    assert pending.storage_key not in storage.objects
    assert set(storage.objects) == {done.storage_key, done.thumbnail_key}


async def test_a_put_after_a_refusal_or_a_cancel_is_swept_too(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    refused_upload = await drive.create_upload(
        team, name="doc.png", size_bytes=len(PDF), content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[refused_upload.storage_key] = PDF
    await refused(ErrorCode.VALIDATION_FAILED, drive.complete_upload(storage, team, refused_upload.id))
    cancelled = await drive.create_upload(
        team, name="clip.mp4", size_bytes=100, content_type="video/mp4", quota_bytes=QUOTA
    )
    await drive.delete_file(storage, team, cancelled.id)
    storage.objects[refused_upload.storage_key] = PDF  # late PUTs to both URLs
    storage.objects[cancelled.storage_key] = b"x" * 100
    assert await used(team) == 0
    later = datetime.now(UTC) + drive.PENDING_TTL + drive.PUT_MARGIN + timedelta(seconds=1)
    assert await drive.cleanup_incoming(storage, now=later) >= 2
    assert storage.objects == {}
    assert await drive.cleanup_incoming(storage, now=later) == 0  # each record is swept once


async def test_deleting_a_pending_upload_cancels_it(team: uuid.UUID, storage: MemoryStorage) -> None:
    """A mistaken createUpload does not hold the quota for a day: deleteDriveFile drops it."""
    pending = await drive.create_upload(
        team, name="big.mp4", size_bytes=QUOTA, content_type="video/mp4", quota_bytes=QUOTA
    )
    storage.objects[pending.storage_key] = b"\0" * 10
    assert await used(team) == QUOTA
    deleted = await drive.delete_file(storage, team, pending.id)
    assert (deleted.files, deleted.size_bytes) == (1, QUOTA)
    assert await used(team) == 0 == await drive.recount_usage(team)
    assert storage.objects == {}
    error = await refused(ErrorCode.NOT_FOUND, drive.complete_upload(storage, team, pending.id))
    assert error.field == ["id"]
    await refused(ErrorCode.NOT_FOUND, drive.delete_file(storage, team, pending.id))


class ReadCounting(MemoryStorage):
    """Counts the bytes read back, and runs ``hook`` once when a checked upload is written."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0
        self.hook: Any = None

    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        async for chunk in super().open_range(key, start, end):
            self.read += len(chunk)
            yield chunk

    async def get(self, key: str) -> bytes:
        await self.stat(key)
        self.read += len(self.objects[key])
        return self.objects[key]

    async def put(self, key: str, data: Any, content_type: str) -> ObjectInfo:
        info = await super().put(key, data, content_type)
        if self.hook and "/uploads/" in key:
            hook, self.hook = self.hook, None
            await hook()
        return info


async def test_junk_is_refused_from_its_first_bytes_without_reading_the_rest(team: uuid.UUID) -> None:
    storage = ReadCounting()
    size = 20 * 1024 * 1024
    pending = await drive.create_upload(
        team, name="junk.mp4", size_bytes=size, content_type="video/mp4", quota_bytes=10**9
    )
    storage.objects[pending.storage_key] = b"\0" * size
    error = await refused(ErrorCode.VALIDATION_FAILED, drive.complete_upload(storage, team, pending.id))
    assert "not a file of a kind this service accepts" in error.message
    assert storage.read <= 64, f"{storage.read} bytes read to refuse junk"
    assert storage.objects == {} and await used(team) == 0


async def test_a_large_upload_is_checked_with_bounded_memory(team: uuid.UUID, tmp_path: Path) -> None:
    """A 60 MB video (a real clip with a 60 MB second mdat box) goes through a temporary file: the check
    never holds it in memory."""
    import tracemalloc

    from storage import LocalStorage

    clip = make.mp4(64, 48, 1.0)
    pad = 60 * 1024 * 1024
    storage = LocalStorage(tmp_path / "drive")
    pending = await drive.create_upload(
        team, name="clip.mp4", size_bytes=len(clip) + pad, content_type="video/mp4", quota_bytes=10**9
    )
    path = storage.root / pending.storage_key
    path.parent.mkdir(parents=True)
    with path.open("wb") as out:
        out.write(clip)
        out.write(pad.to_bytes(4, "big") + b"mdat")
        out.truncate(len(clip) + pad)  # the box's body: zeros, without writing them
    tracemalloc.start()
    try:
        done = await drive.complete_upload(storage, team, pending.id, spool_dir=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.status == FileStatus.READY and done.size_bytes == len(clip) + pad
    assert done.duration_seconds == pytest.approx(1.0, abs=0.2)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for a {pad / 2**20:.0f} MiB upload"
    assert (await storage.stat(done.storage_key)).size == done.size_bytes
    assert not await storage.exists(pending.storage_key)
    assert (
        await asyncio.to_thread(lambda: list(tmp_path.glob("upload-*"))) == []
    )  # the temporary file is gone


async def test_an_upload_completed_while_its_folder_is_deleted_leaves_nothing(team: uuid.UUID) -> None:
    """The check writes the file's bytes, then its folder is deleted (recursively) before the row
    turns ready: NOT_FOUND, and no bytes left that no row counts."""
    storage = ReadCounting()
    folder = await drive.create_folder(team, "Campaign")
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team,
        name="logo.png",
        size_bytes=len(png),
        content_type="image/png",
        quota_bytes=QUOTA,
        folder_id=folder.id,
    )
    storage.objects[pending.storage_key] = png

    async def delete_folder() -> None:
        await drive.delete_folder(storage, team, folder.id, recursive=True)

    storage.hook = delete_folder
    await refused(ErrorCode.NOT_FOUND, drive.complete_upload(storage, team, pending.id))
    assert storage.objects == {}
    assert await used(team) == 0 == await drive.recount_usage(team)


async def test_an_upload_completed_twice_at_once_is_one_file(team: uuid.UUID, storage: MemoryStorage) -> None:
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team, name="logo.png", size_bytes=len(png), content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[pending.storage_key] = png
    a, b = await asyncio.gather(
        drive.complete_upload(storage, team, pending.id), drive.complete_upload(storage, team, pending.id)
    )
    assert a.id == b.id == pending.id and a.storage_key == b.storage_key
    assert set(storage.objects) == {a.storage_key, a.thumbnail_key}  # the loser removed what it wrote
    assert await used(team) == len(png) == await drive.recount_usage(team)


async def test_an_output_stored_while_its_folder_is_deleted_lands_in_the_default_folder(
    team: uuid.UUID,
) -> None:
    storage = ReadCounting()
    folder = await drive.create_folder(team, "Campaign")
    deleted = False

    async def delete_folder() -> None:
        nonlocal deleted
        await drive.delete_folder(storage, team, folder.id, recursive=True)
        deleted = True

    class Hooked(MemoryStorage):
        async def put(self, key: str, data: Any, content_type: str) -> ObjectInfo:
            info = await super().put(key, data, content_type)
            if not deleted:
                await delete_folder()
            return info

    hooked = Hooked()
    png = make.image("png", 64, 32)
    file = await drive.store_output(
        hooked, team_id=team, folder_id=folder.id, job_id=uuid.uuid4(), job_type="image",
        provider="flux_2_pro", prompt="a logo", index=0, data=png, content_type="image/png",
    )  # fmt: skip
    assert deleted
    assert file.folder_id == (await drive.default_folder(team)).id
    assert await used(team) == len(png) == await drive.recount_usage(team)


async def _body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_an_upload_put_must_be_exactly_the_declared_size(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    pending = await drive.create_upload(
        team, name="clip.mp4", size_bytes=10, content_type="video/mp4", quota_bytes=QUOTA
    )
    for length, chunks in ((None, [b"0123456789"]), (9, [b"012345678"]), (10, [b"0123456789", b"x"])):
        error = await refused(
            ErrorCode.VALIDATION_FAILED,
            drive.receive_upload(storage, pending.id, _body(*chunks), length=length),
        )
        assert "declared" in error.message or "Content-Length" in error.message
        assert storage.objects == {}
    await refused(  # the body ends short of what its Content-Length said
        ErrorCode.VALIDATION_FAILED, drive.receive_upload(storage, pending.id, _body(b"01234"), length=10)
    )
    assert storage.objects == {}
    await drive.receive_upload(storage, pending.id, _body(b"01234", b"56789"), length=10)
    assert storage.objects == {pending.storage_key: b"0123456789"}
    for missing in (uuid.uuid4(), "not-an-id"):
        await refused(ErrorCode.NOT_FOUND, drive.receive_upload(storage, missing, _body(b"x"), length=1))
    later = datetime.now(UTC) + drive.PENDING_TTL
    await refused(
        ErrorCode.NOT_FOUND,
        drive.receive_upload(storage, pending.id, _body(b"0123456789"), length=10, now=later),
    )


async def test_uploads_never_completed_are_cleaned_up_after_a_day(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    old = await drive.create_upload(
        team,
        name="old.mp4",
        size_bytes=700,
        content_type="video/mp4",
        quota_bytes=QUOTA,
        now=datetime.now(UTC) - timedelta(days=1, minutes=1),
    )
    fresh = await drive.create_upload(
        team, name="new.mp4", size_bytes=300, content_type="video/mp4", quota_bytes=QUOTA
    )
    storage.objects[old.storage_key] = b"half an upload"
    assert await used(team) == 1000
    await refused(ErrorCode.NOT_FOUND, drive.complete_upload(storage, team, old.id))  # expired
    assert await drive.cleanup_pending(storage) == 0  # completing it already dropped it
    stale = await drive.create_upload(
        team, name="s.mp4", size_bytes=50, content_type="video/mp4", quota_bytes=QUOTA
    )
    assert await drive.cleanup_pending(storage, now=datetime.now(UTC) + timedelta(days=1, seconds=1)) >= 2
    assert not await DriveFile.filter(id__in=[old.id, fresh.id, stale.id]).exists()
    assert storage.objects == {} and await used(team) == 0


async def test_generated_outputs_are_named_inspected_thumbnailed_and_counted(
    team: uuid.UUID, storage: MemoryStorage
) -> None:
    job_id = uuid.uuid4()
    folder = await drive.create_folder(team, "Campaign")
    video = make.mp4(1280, 720, 1.0)

    async def store(index: int, data: bytes, content_type: str, folder_id: Any = folder.id) -> DriveFile:
        return await drive.store_output(
            storage,
            team_id=team,
            folder_id=folder_id,
            job_id=job_id,
            job_type="video",
            provider="kling_3_0",
            prompt="A product shot: the bottle spins",
            index=index,
            data=data,
            content_type=content_type,
        )

    first = await store(0, video, "video/mp4")
    assert first.name == "video-kling_3_0-a-product-shot-the-bottle-spins-1.mp4"
    assert (first.kind, first.source, first.width, first.height) == (
        FileKind.VIDEO,
        FileSource.GENERATED,
        256,
        144,
    )
    assert first.duration_seconds == pytest.approx(1.0, abs=0.2) and first.thumbnail_key in storage.objects
    assert (await store(0, video, "video/mp4")).id == first.id  # a re-run stores nothing twice
    await drive.rename_file(team, first.id, "keeper")
    assert (await store(0, video, "video/mp4")).id == first.id  # found by position, not by name
    # Over the quota is still stored (the job is paid for); a folder deleted meanwhile means the default one.
    await drive.delete_folder(storage, team, folder.id, recursive=True)
    raw = await store(1, b"\x00" * 4096, "audio/pcm")  # does not inspect: kept without facts
    assert (
        raw.folder_id == (await drive.default_folder(team)).id
        and raw.width is None
        and raw.thumbnail_key is None
    )
    assert [f.id for f in await drive.job_outputs(team, job_id)] == [raw.id]
    assert await used(team) == 4096 == await drive.recount_usage(team)
    tiny_quota = await drive.usage(team, 1000)
    assert tiny_quota.used_bytes > tiny_quota.quota_bytes and tiny_quota.available_bytes == 0


async def test_concurrent_reservations_never_exceed_the_quota(team: uuid.UUID) -> None:
    async def reserve(i: int) -> bool:
        try:
            await drive.create_upload(
                team, name=f"{i}.mp4", size_bytes=400, content_type="video/mp4", quota_bytes=1000
            )
        except QuotaExceeded:
            return False
        return True

    results = await asyncio.gather(*(reserve(i) for i in range(6)))
    assert sum(results) == 2 and await used(team) == 800 == await drive.recount_usage(team)


async def test_a_top_level_folder_named_like_the_default_becomes_the_default(team: uuid.UUID) -> None:
    mine = await drive.create_folder(team, drive.DEFAULT_FOLDER_NAME)
    assert (await drive.default_folder(team)).id == mine.id
    assert [n.folder.id for n in await drive.folder_tree(team)] == [mine.id]


async def test_a_check_that_dies_before_its_file_turns_ready_leaves_nothing_after_the_sweep(
    team: uuid.UUID, storage: MemoryStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checked copy and its thumbnail are written, then the database goes away before the row
    turns ready (or the worker is killed): the sweep finds them once the check's time is past."""
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team, name="logo.png", size_bytes=len(png), content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[pending.storage_key] = png

    async def database_gone(*_args: Any) -> None:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(drive, "_add_usage", database_gone)
        with pytest.raises(ConnectionError):
            await drive.complete_upload(storage, team, pending.id)
    written = {key for key in storage.objects if "/uploads/" in key}
    assert len(written) == 2  # the checked copy and its thumbnail, counted by no file
    await drive.cleanup_incoming(storage)  # the check may still be running: left alone
    assert written <= set(storage.objects)
    after_the_check = datetime.now(UTC) + drive.CHECK_TIMEOUT + drive.PUT_MARGIN + timedelta(seconds=1)
    assert await drive.cleanup_incoming(storage, now=after_the_check) >= 2
    assert set(storage.objects) == {pending.storage_key}  # the upload itself is still pending
    a_day_later = datetime.now(UTC) + drive.PENDING_TTL + drive.PUT_MARGIN + timedelta(seconds=1)
    await drive.cleanup_pending(storage, now=a_day_later)
    await drive.cleanup_incoming(storage, now=a_day_later)
    assert storage.objects == {} and await used(team) == 0


async def test_a_check_running_past_its_time_never_points_a_file_at_swept_bytes(team: uuid.UUID) -> None:
    """The sweep deletes what a check wrote while the check still runs (past its timeout): the
    upload stays pending (IN_PROGRESS: ask again), and checking it again makes it ready."""
    storage = ReadCounting()
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team, name="logo.png", size_bytes=len(png), content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[pending.storage_key] = png
    after_the_check = datetime.now(UTC) + drive.CHECK_TIMEOUT + drive.PUT_MARGIN + timedelta(seconds=1)

    async def sweep() -> None:
        assert await drive.cleanup_incoming(storage, now=after_the_check) >= 2

    storage.hook = sweep
    await refused(ErrorCode.IN_PROGRESS, drive.complete_upload(storage, team, pending.id))
    assert set(storage.objects) == {pending.storage_key}
    assert await drive.still_pending(pending.id) and await used(team) == len(png)
    done = await drive.complete_upload(storage, team, pending.id)
    assert set(storage.objects) == {done.storage_key, done.thumbnail_key}
    assert storage.objects[done.storage_key] == png


async def test_a_file_deleted_right_after_its_check_is_not_found_and_leaves_nothing(
    team: uuid.UUID,
) -> None:
    """A delete that lands between the check's commit and its answer: NOT_FOUND (a user error, not a
    worker failure), and no bytes left."""
    png = make.image("png", 64, 32)

    class DeleteWhenIncomingGoes(MemoryStorage):
        async def delete(self, key: str) -> None:
            await super().delete(key)
            if key == pending.storage_key:
                assert (await drive.delete_file(self, team, pending.id)).files == 1

    storage = DeleteWhenIncomingGoes()
    pending = await drive.create_upload(
        team, name="logo.png", size_bytes=len(png), content_type="image/png", quota_bytes=QUOTA
    )
    storage.objects[pending.storage_key] = png
    await refused(ErrorCode.NOT_FOUND, drive.complete_upload(storage, team, pending.id))
    assert storage.objects == {} and await used(team) == 0


async def test_a_folder_deleted_while_a_check_commits_takes_the_checked_bytes(team: uuid.UUID) -> None:
    """deleteDriveFolder reads its files' keys while a check's ready update is not yet committed: it
    waits for it and removes the checked copy and thumbnail, not only the incoming key. (PostgreSQL:
    SQLite runs one write transaction at a time.)"""
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect != "postgres":
        pytest.skip("needs concurrent transactions (PostgreSQL)")
    storage = MemoryStorage()
    folder = await drive.create_folder(team, "Campaign")
    png = make.image("png", 64, 32)
    pending = await drive.create_upload(
        team,
        name="logo.png",
        size_bytes=len(png),
        content_type="image/png",
        quota_bytes=QUOTA,
        folder_id=folder.id,
    )
    storage.objects[pending.storage_key] = png
    real_add_usage = drive._add_usage
    deleting: list[asyncio.Task[drive.Deleted]] = []

    async def delete_folder_meanwhile(db: Any, team_id: Any, delta: int) -> None:
        # Inside the check's transaction, after its ready update: the delete runs on another
        # connection; wait (up to 4 s) until it waits on a lock, or is done.
        if not deleting:
            deleting.append(
                asyncio.create_task(drive.delete_folder(storage, team, folder.id, recursive=True))
            )
            for _ in range(200):
                rows = await conn.execute_query_dict(
                    "SELECT count(*) AS n FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if rows[0]["n"] or deleting[0].done():
                    break
                await asyncio.sleep(0.02)
        await real_add_usage(db, team_id, delta)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drive, "_add_usage", delete_folder_meanwhile)
        try:  # the file, or NOT_FOUND when the folder's deletion went first
            answer: Any = (await drive.complete_upload(storage, team, pending.id)).id
        except DomainError as exc:
            answer = exc.code
        deleted = await asyncio.wait_for(deleting[0], timeout=10)
    assert deleted.files == 1 and answer in (pending.id, ErrorCode.NOT_FOUND)
    assert storage.objects == {}, f"left behind: {sorted(storage.objects)}"
    assert await used(team) == 0 == await drive.recount_usage(team)


def test_temporary_files_of_checks_that_cannot_be_running_are_removed(tmp_path: Path) -> None:
    """A worker killed mid-check (SIGKILL runs no cleanup) leaves its temporary file: the next
    worker removes those of processes that are gone (or its own pid's, as after a container restart),
    and any older than a check may run; never a live process's."""
    import os
    import subprocess
    import sys
    import time

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(gone.stdout)
    live_pid = os.getppid()
    names = {
        "dead": f"upload-{dead_pid}-abc",
        "ours": f"upload-{os.getpid()}-def",
        "live": f"upload-{live_pid}-ghi",
        "old": "upload-xyz",
        "recent": "upload-uvw",
        "other": "notes.txt",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"spooled")
    an_hour_ago = time.time() - 3600
    os.utime(tmp_path / names["old"], (an_hour_ago, an_hour_ago))
    removed = drive.remove_stale_spools(tmp_path, older_than=timedelta(minutes=30))
    left = {path.name for path in tmp_path.iterdir()}
    assert left == {names["live"], names["recent"], names["other"]}
    assert removed == 3
