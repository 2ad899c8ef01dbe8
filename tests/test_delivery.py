"""GET /files/{id} as a media player uses it (web/delivery.py): byte ranges and seeks, 416,
validators and conditional requests, the headers of a signed link, streaming, and with S3 the
redirect to a presigned GET. The app in-process (httpx's ASGI transport) on a real database,
over both storage backends (S3: the session's SeaweedFS)."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from models import drive
from models.teams import create_team
from services import db
from services.auth import sign_file_path
from services.settings import Settings
from storage import CHUNK_SIZE, ObjectInfo, Storage, content_disposition, open_storage
from tests.s3_server import S3Server
from web.app import create_app

VIDEO = os.urandom(700_000)
SECRET = "delivery-test-secret-" + "x" * 32


class CountingLimiter:
    """The download budget as the route spends it: whose, how often."""

    def __init__(self) -> None:
        self.downloads: list[tuple[str, Any]] = []

    async def download(self, team_id: object, api_key_id: object | None = None) -> None:
        self.downloads.append((str(team_id), api_key_id))


@dataclass
class World:
    backend: str
    settings: Settings
    storage: Storage
    limiter: CountingLimiter
    app: Any
    team_key: str
    other_key: str
    team_id: str
    files: dict[str, str] = field(default_factory=dict)
    infos: dict[str, ObjectInfo] = field(default_factory=dict)

    def client(self, **settings: Any) -> httpx.AsyncClient:
        for name, value in settings.items():
            setattr(self.settings, name, value)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://api")

    def signed(self, name: str, ttl: int = 3600) -> str:
        return sign_file_path(self.files[name], SECRET, ttl)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.team_key}"}


async def _add_file(world: World, name: str, data: bytes, content_type: str, display: str) -> None:
    key = f"{world.team_id}/uploads/{uuid.uuid4().hex}"
    world.infos[name] = await world.storage.put(key, data, content_type)
    folder = await drive.default_folder(world.team_id)
    row = await drive.DriveFile.create(
        team_id=world.team_id,
        folder_id=folder.id,
        name=display,
        content_type=content_type,
        size_bytes=len(data),
        storage_key=key,
    )
    world.files[name] = str(row.id)


@pytest.fixture(scope="module", params=["local", "s3"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp(f"delivery-{request.param}")
    options: dict[str, Any] = {}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        options = dict(
            storage_url=f"s3://{server.bucket}/delivery-{uuid.uuid4().hex[:8]}",
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            aws_region=server.region,
            aws_endpoint_url=server.endpoint,
        )
    settings = Settings(
        env="development",
        data_dir=tmp,
        database_url=f"sqlite://{tmp / 'delivery.sqlite3'}",
        secret_key=SECRET,
        **options,
    )
    await db.migrate(settings)
    await db.init(settings)
    try:
        async with open_storage(settings.storage_url, local_root=tmp / "drive", s3=settings.s3) as storage:
            team = await create_team("delivery")
            other = await create_team("another")
            limiter = CountingLimiter()
            front = create_app(settings)
            front.app.state.services = SimpleNamespace(settings=settings, storage=storage, limiter=limiter)
            world = World(
                request.param,
                settings,
                storage,
                limiter,
                front,
                team.api_key,
                other.api_key,
                str(team.team.id),
            )
            await _add_file(world, "video", VIDEO, "video/mp4", "Clip «one».mp4")
            await _add_file(
                world, "svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", "logo.svg"
            )
            await _add_file(world, "empty", b"", "audio/mpeg", "silence.mp3")
            yield world
    finally:
        await db.close()


@pytest.fixture(autouse=True)
def _no_redirect(world: World) -> None:
    world.settings.storage_redirect = False


def max_age(response: httpx.Response) -> int:
    match = re.fullmatch(r"private, max-age=(\d+), immutable", response.headers["cache-control"])
    assert match, response.headers["cache-control"]
    return int(match.group(1))


async def test_a_whole_file_through_a_signed_link(world: World) -> None:
    info = world.infos["video"]
    async with world.client() as client:
        answer = await client.get(world.signed("video", ttl=600))
    assert answer.status_code == 200 and answer.content == VIDEO
    h = answer.headers
    assert h["content-type"] == "video/mp4"
    assert h["content-length"] == str(len(VIDEO))
    assert h["accept-ranges"] == "bytes"
    assert h["etag"] == info.etag
    assert h["last-modified"] == format_datetime(info.last_modified, usegmt=True)
    assert h["content-disposition"] == content_disposition("video/mp4", "Clip «one».mp4")
    assert h["content-disposition"].startswith("inline; ")
    assert h["x-content-type-options"] == "nosniff"
    assert 590 <= max_age(answer) <= 600  # no longer than the link lives
    assert "content-range" not in h
    assert world.limiter.downloads[-1] == (
        world.team_id,
        None,
    )  # a shared link spends the file's team's budget


async def test_with_credentials_the_cache_policy_is_unchanged(world: World) -> None:
    async with world.client() as client:
        answer = await client.get(f"/files/{world.files['svg']}", headers=world.auth)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "private, max-age=300"
    assert answer.headers["content-disposition"] == content_disposition("image/svg+xml", "logo.svg")
    assert answer.headers["content-disposition"].startswith("attachment; ")


async def test_seeks_answer_206_with_the_right_bytes(world: World) -> None:
    size = len(VIDEO)
    seeks = {
        "bytes=0-1": (0, 1),
        "bytes=1000-1999": (1000, 1999),
        "bytes=500000-": (500000, size - 1),
        "bytes=-100": (size - 100, size - 1),
        "bytes=-9999999": (0, size - 1),
        "bytes=0-": (0, size - 1),
        "bytes=699990-800000": (699990, size - 1),
        "bytes=12345-12345": (12345, 12345),
    }
    url = world.signed("video")
    async with world.client() as client:
        for header, (first, last) in seeks.items():
            answer = await client.get(url, headers={"Range": header})
            assert answer.status_code == 206, header
            assert answer.content == VIDEO[first : last + 1], header
            assert answer.headers["content-range"] == f"bytes {first}-{last}/{size}", header
            assert answer.headers["content-length"] == str(last - first + 1), header
            assert answer.headers["etag"] == world.infos["video"].etag
            assert answer.headers["content-disposition"] == content_disposition("video/mp4", "Clip «one».mp4")


async def test_ranges_not_served_as_such(world: World) -> None:
    size = len(VIDEO)
    url = world.signed("video")
    async with world.client() as client:
        for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
            answer = await client.get(url, headers={"Range": header})
            assert answer.status_code == 416, header
            assert answer.headers["content-range"] == f"bytes */{size}"
            assert answer.content == b""
        # Several ranges, another unit, bad syntax: the whole file (a server may ignore Range).
        for header in ("bytes=0-1,5-9", "items=0-1", "bytes=9-5", "bytes=abc"):
            answer = await client.get(url, headers={"Range": header})
            assert (answer.status_code, answer.content) == (200, VIDEO), header
        empty = await client.get(world.signed("empty"))
        assert (empty.status_code, empty.content, empty.headers["content-length"]) == (200, b"", "0")
        assert (await client.get(world.signed("empty"), headers={"Range": "bytes=0-"})).status_code == 416


async def test_conditional_requests(world: World) -> None:
    info = world.infos["video"]
    etag = info.etag
    modified = format_datetime(info.last_modified, usegmt=True)
    earlier = format_datetime(info.last_modified.replace(year=2000), usegmt=True)
    url = world.signed("video")
    async with world.client() as client:

        async def status(**headers: str) -> tuple[int, bytes]:
            answer = await client.get(url, headers=headers)
            if answer.status_code == 304:
                assert answer.headers["etag"] == etag and answer.headers["last-modified"] == modified
                assert answer.headers["cache-control"].startswith("private, max-age=")
            return answer.status_code, answer.content

        assert await status(**{"If-None-Match": etag}) == (304, b"")
        assert await status(**{"If-None-Match": f'"other", {etag}'}) == (304, b"")
        assert await status(**{"If-None-Match": f"W/{etag}"}) == (304, b"")  # weak comparison
        assert await status(**{"If-None-Match": "*"}) == (304, b"")
        assert await status(**{"If-None-Match": '"other"'}) == (200, VIDEO)
        assert await status(**{"If-Modified-Since": modified}) == (304, b"")
        assert await status(**{"If-Modified-Since": earlier}) == (200, VIDEO)
        assert await status(**{"If-Modified-Since": "not a date"}) == (200, VIDEO)
        # If-None-Match wins over If-Modified-Since.
        assert await status(**{"If-None-Match": '"other"', "If-Modified-Since": modified}) == (200, VIDEO)
        # If-Range: the range only while the representation is the one named.
        assert await status(**{"Range": "bytes=0-9", "If-Range": etag}) == (206, VIDEO[:10])
        assert await status(**{"Range": "bytes=0-9", "If-Range": modified}) == (206, VIDEO[:10])
        assert await status(**{"Range": "bytes=0-9", "If-Range": '"stale"'}) == (200, VIDEO)
        assert await status(**{"Range": "bytes=0-9", "If-Range": f"W/{etag}"}) == (200, VIDEO)
        assert await status(**{"Range": "bytes=0-9", "If-Range": earlier}) == (200, VIDEO)
        # If-Match / If-Unmodified-Since: 412 when the file is not the one named.
        assert (await status(**{"If-Match": '"stale"'}))[0] == 412
        assert await status(**{"If-Match": etag, "Range": "bytes=5-6"}) == (206, VIDEO[5:7])
        assert (await status(**{"If-Unmodified-Since": earlier}))[0] == 412


async def test_head_answers_the_headers_only(world: World) -> None:
    async with world.client() as client:
        whole = await client.head(world.signed("video"))
        part = await client.head(world.signed("video"), headers={"Range": "bytes=10-19"})
    assert (whole.status_code, whole.content, whole.headers["content-length"]) == (200, b"", str(len(VIDEO)))
    assert whole.headers["etag"] == world.infos["video"].etag
    assert (part.status_code, part.headers["content-range"]) == (206, f"bytes 10-19/{len(VIDEO)}")


async def test_the_body_is_streamed_in_chunks(world: World) -> None:
    """Sent as storage reads it: many body messages, none larger than a storage chunk."""
    path, _, query = world.signed("video").partition("?")
    messages: list[dict[str, Any]] = []
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"api")],
        "client": ("127.0.0.1", 1),
        "server": ("api", 80),
        "app": world.app.app,
    }
    await world.app.app(scope, receive, send)
    bodies = [m["body"] for m in messages if m["type"] == "http.response.body" and m.get("body")]
    assert messages[0]["status"] == 200 and b"".join(bodies) == VIDEO
    assert len(bodies) >= len(VIDEO) // CHUNK_SIZE and max(map(len, bodies)) <= CHUNK_SIZE


async def test_refusals_are_unchanged(world: World) -> None:
    missing = {"error": {"code": "NOT_FOUND", "message": "file not found", "field": None}}
    async with world.client() as client:
        # Another team's file reads like a missing one.
        theirs = await client.get(
            f"/files/{world.files['video']}", headers={"Authorization": f"Bearer {world.other_key}"}
        )
        nobody = await client.get(f"/files/{uuid.uuid4()}", headers=world.auth)
        assert (theirs.status_code, theirs.json()) == (nobody.status_code, nobody.json()) == (404, missing)
        # A signature is for one file and one expiry.
        other = world.signed("svg").split("?")[1]
        forged = await client.get(f"/files/{world.files['video']}?{other}")
        expired = await client.get(sign_file_path(world.files["video"], SECRET, -10))
        assert forged.status_code == expired.status_code == 403
        assert (await client.get(f"/files/{world.files['video']}")).status_code == 401
        # The row is there but its bytes are not: a missing file, not a server error.
        gone = f"{world.team_id}/uploads/gone"
        folder = await drive.default_folder(world.team_id)
        row = await drive.DriveFile.create(
            team_id=world.team_id,
            folder_id=folder.id,
            name="gone.png",
            content_type="image/png",
            size_bytes=1,
            storage_key=gone,
        )
        lost = await client.get(sign_file_path(str(row.id), SECRET, 60))
        assert (lost.status_code, lost.json()) == (404, missing)


async def test_a_signed_link_redirects_to_the_store_when_asked(world: World) -> None:
    url = world.signed("video", ttl=900)
    async with world.client(storage_redirect=True) as client:
        answer = await client.get(url, headers={"Range": "bytes=0-9"})
        with_key = await client.get(f"/files/{world.files['video']}", headers=world.auth)
    assert (with_key.status_code, with_key.content) == (200, VIDEO)  # credentials: served by the API
    if world.backend == "local":  # no store to send the client to: served as without the flag
        assert (answer.status_code, answer.content) == (206, VIDEO[:10])
        return
    assert answer.status_code == 307 and answer.content == b""
    location = answer.headers["location"]
    assert location.startswith(world.settings.aws_endpoint_url or "") and "X-Amz-Signature=" in location
    assert answer.headers["cache-control"].startswith("private, max-age=")
    assert int(answer.headers["cache-control"].rsplit("=", 1)[1]) <= 900
    expires = re.search(r"X-Amz-Expires=(\d+)", location)
    assert expires and 890 <= int(expires.group(1)) <= 900
    async with httpx.AsyncClient(timeout=10) as store:
        whole = await store.get(location)
        seek = await store.get(location, headers={"Range": "bytes=100-199"})
    assert (whole.status_code, whole.content) == (200, VIDEO)
    assert whole.headers["content-disposition"] == content_disposition("video/mp4", "Clip «one».mp4")
    assert whole.headers["content-type"] == "video/mp4"
    assert (seek.status_code, seek.content) == (206, VIDEO[100:200])
    # Refusals come before any redirect.
    async with world.client(storage_redirect=True) as client:
        expired = await client.get(sign_file_path(world.files["video"], SECRET, -10))
    assert expired.status_code == 403
    assert time.time() < int(url.split("expires=")[1].split("&")[0])


async def test_a_signed_link_to_an_upload_not_yet_completed_reads_as_missing(world: World) -> None:
    """A pending upload's bytes were never checked (complete_upload inspects them): no link serves
    them, signed or not."""
    unchecked = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    pending = await drive.create_upload(
        world.team_id,
        name="later.png",
        size_bytes=len(unchecked),
        content_type="image/png",
        quota_bytes=10**9,
    )
    await world.storage.put(pending.storage_key, unchecked, "image/png")
    async with world.client() as client:
        signed = await client.get(sign_file_path(str(pending.id), SECRET, 60))
        bearer = await client.get(f"/files/{pending.id}", headers=world.auth)
    assert signed.status_code == bearer.status_code == 404
