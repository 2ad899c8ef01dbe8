"""Videos in Drive scrubbed in a real browser's ``<video>`` element (Chromium, tests/browser.py),
played from their signed ``/files/{id}`` links and seeked to 1.5 s, 3.2 s and 0.5 s, each seek
awaited on its ``seeked`` event.

- A fast-start H.264 MP4 stored in a team's Drive as an upload is (models/drive.upload_file, in
  the stack's database and storage): the browser reads it in Range requests the
  server answers with 206 (seeks read from the middle of the file); each seek lands and shows the
  frame of its second (its colour, on a screenshot of the element); the duration the browser reads
  is the one Drive recorded. On local storage through the API, and on S3 with
  ``CH_STORAGE_REDIRECT``: a 307 to a presigned GET, the ranges then answered by the store.
- A video job's output as the worker stored it (the simulator's clip), from the job's result link.

Screenshots after the last seek: var/screenshots/."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageStat

from models import drive
from services.auth import sign_file_path
from services.settings import Settings
from storage import S3Settings, open_storage
from tests.browser import BrowserPage
from tests.conftest import _redis_for
from tests.media import SECOND_COLOURS, check_output, seekable_mp4
from tests.s3_server import S3Server
from tests.stack import Stack, backend_env, follow_job, running

SECONDS, FPS = 5, 10
SEEKS = (1.5, 3.2, 0.5)
# Large enough (about 2 MB: noise compresses badly) that Chromium reads it in ranges, not at once.
VIDEO = seekable_mp4(SECONDS, FPS, size=(640, 360), noise=60)
WAIT_MS = 10_000
GENERATE = "/api/v1/creative-hub/generate/"

PLAYER = """<!doctype html>
<html><head><meta charset="utf-8"><title>player</title><link rel="icon" href="data:,">
<style>body { margin: 0; background: #222; } video { display: block; width: 640px; height: 360px; }</style>
</head><body><video id="player" muted playsinline preload="metadata"></video></body></html>"""

# Sets the source and resolves with the metadata the element read (rejects on an error or timeout).
LOAD = """([src, ms]) => new Promise((resolve, reject) => {
  const video = document.getElementById("player");
  const timer = setTimeout(() => reject(new Error(`no loadedmetadata within ${ms} ms`)), ms);
  video.addEventListener("loadedmetadata", () => {
    clearTimeout(timer);
    resolve({duration: video.duration, width: video.videoWidth, height: video.videoHeight});
  }, {once: true});
  video.addEventListener("error", () => {
    clearTimeout(timer);
    reject(new Error(`media error ${video.error && video.error.code}: ${video.error && video.error.message}`));
  }, {once: true});
  video.src = src;
})"""

# Seeks; resolves at `seeked` with where the element is and how much it has there (rejects on a timeout).
SEEK = """([to, ms]) => new Promise((resolve, reject) => {
  const video = document.getElementById("player");
  const timer = setTimeout(() => reject(new Error(`no seeked to ${to} within ${ms} ms`)), ms);
  video.addEventListener("seeked", () => {
    clearTimeout(timer);
    resolve({currentTime: video.currentTime, readyState: video.readyState, seeking: video.seeking});
  }, {once: true});
  video.currentTime = to;
})"""


def _storage_of(stack: Stack) -> tuple[str | None, Path, S3Settings]:
    env = stack.env
    s3 = S3Settings(
        endpoint_url=env.get("AWS_ENDPOINT_URL_S3"),
        region=env.get("AWS_REGION"),
        access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
    )
    return env.get("CH_STORAGE_URL"), Path(env["CH_DATA_DIR"]) / "drive", s3


def store_video(stack: Stack, team_id: str, name: str, data: bytes) -> tuple[str, float]:
    """``data`` uploaded into the team's Drive as the API's upload does (models/drive.upload_file,
    checked by content), in the stack's database and storage; a signed link and Drive's duration."""
    storage_url, local_root, s3 = _storage_of(stack)

    async def upload() -> drive.DriveFile:
        async with open_storage(storage_url, local_root=local_root, s3=s3) as storage:
            return await drive.upload_file(storage, team_id, name=name, data=data, quota_bytes=10**9)

    stored = stack.database.run(upload)
    assert stored.content_type == "video/mp4" and stored.duration_seconds is not None
    secret = Settings(
        database_url=stack.env["CH_DATABASE_URL"], data_dir=Path(stack.env["CH_DATA_DIR"])
    ).secret
    return stack.url + sign_file_path(str(stored.id), secret, 600), float(stored.duration_seconds)


def colour_shown(png: bytes) -> tuple[int, int, int]:
    """The mean colour of a patch near the top left of a screenshot of the video (clear of the time
    drawn at the centre and of the noise at the bottom)."""
    with Image.open(io.BytesIO(png)) as shot:
        rgb = shot.convert("RGB")
        w, h = rgb.size
        mean = ImageStat.Stat(rgb.crop((w // 10, h // 8, w // 10 + 20, h // 8 + 20))).mean
    return round(mean[0]), round(mean[1]), round(mean[2])


def close(colour: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


async def shows_colour(
    page: BrowserPage, expected: tuple[int, int, int], within: float = 5.0
) -> tuple[int, int, int]:
    """Screenshots of the element until it shows ``expected`` (the frame a seek decoded reaches the
    screen by the next paint, not necessarily at ``seeked``); fails with the colour seen last."""
    deadline = time.monotonic() + within
    while True:
        colour = colour_shown(await page.page.locator("#player").screenshot())
        if close(colour, expected):
            return colour
        assert time.monotonic() < deadline, f"the video shows {colour}, not {expected}"


async def scrub(
    page: BrowserPage, link: str, duration: float, *, coloured: bool = True
) -> list[dict[str, Any]]:
    """Open a player page (an origin of its own, as a web app's), load ``link`` in it and seek
    through SEEKS; what the browser saw. ``coloured``: the clip is :func:`seekable_mp4`'s, whose
    frames say which second they are. The browser's HTTP cache is off: a range read again would
    otherwise be revalidated (a 304 on the wire) and served from the cache, not by the server."""
    await page.disable_cache()
    await page.show(PLAYER, "player")
    meta = await page.page.evaluate(LOAD, [link, WAIT_MS])
    assert abs(meta["duration"] - duration) < 0.05, (meta, duration)
    assert meta["width"] > 0 and meta["height"] > 0, meta
    seen: list[dict[str, Any]] = []
    for to in SEEKS:
        landed = await page.page.evaluate(SEEK, [to, WAIT_MS])
        assert not landed["seeking"] and abs(landed["currentTime"] - to) < 1 / FPS, (to, landed)
        assert landed["readyState"] >= 2, landed  # HAVE_CURRENT_DATA: the frame there is decoded
        if coloured:
            landed["colour"] = await shows_colour(page, SECOND_COLOURS[int(to)])
        seen.append(landed)
    return seen


async def media_exchanges(page: BrowserPage) -> list[dict[str, Any]]:
    """The responses to the video element's requests (redirects included) in order, with the
    Range each asked for: the headers as sent and as received on the wire."""
    found = []
    for response in page.responses:
        if response.request.resource_type != "media":
            continue
        sent = await response.request.all_headers()  # .headers has only the provisional ones
        received = await response.all_headers()
        found.append(
            {
                "url": response.url,
                "status": response.status,
                "range": sent.get("range"),
                "content-range": received.get("content-range"),
                "location": received.get("location"),
            }
        )
    return found


def assert_scrubbed_in_ranges(exchanges: list[dict[str, Any]], size: int) -> None:
    """Every answer with bytes is a 206 to a Range request, with a Content-Range of the file's size,
    and the seeks read from the middle of the file (a range starting past the index at the front)."""
    answered = [e for e in exchanges if e["status"] != 307]
    assert answered, exchanges
    starts = []
    for e in answered:
        assert e["range"] and e["range"].startswith("bytes="), e
        assert e["status"] == 206 and e["content-range"], e
        span, _, total = e["content-range"].removeprefix("bytes ").partition("/")
        assert int(total) == size, e
        starts.append(int(span.partition("-")[0]))
    assert any(first > 0 for first in starts), json.dumps(exchanges, indent=1)


def test_the_clip_is_fast_start() -> None:
    """The index (moov) comes before the media data (mdat): the player reads it from the first
    bytes, then seeks with ranges (without, it would first read to the end of the file)."""
    assert 0 < VIDEO.index(b"moov") < VIDEO.index(b"mdat")


async def test_a_video_in_drive_scrubs_in_the_browser(page: BrowserPage, stack: Stack) -> None:
    team = stack.create_team(0)
    link, duration = store_video(stack, team.team_id, "scrub.mp4", VIDEO)
    assert abs(duration - SECONDS) < 0.05
    await scrub(page, link, duration)
    await page.screenshot("after-last-seek")
    exchanges = await media_exchanges(page)
    assert all(e["url"].startswith(stack.url + "/files/") for e in exchanges), exchanges
    assert_scrubbed_in_ranges(exchanges, len(VIDEO))


async def test_a_generated_video_plays_and_seeks_in_the_browser(page: BrowserPage, stack: Stack) -> None:
    """A video job's output, as the worker stored it (the simulator's clip: its index at the end of
    the file), played from the job's signed result link."""
    team = stack.create_team(5_000)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        submitted = await client.post(
            GENERATE + "video", json={"prompt": "waves at dawn", "durationSeconds": 5}, headers=team.headers
        )
        assert submitted.status_code == 202, submitted.text
        final = (await follow_job(stack, team, submitted.json()["job_id"]))[-1]
        assert final["status"] == "COMPLETED", final
        [link] = final["resultUrls"]
        facts = check_output("video/mp4", (await client.get(link)).content)
    seen = await scrub(page, link, facts["duration"], coloured=False)
    assert [round(s["currentTime"], 1) for s in seen] == list(SEEKS)
    await page.screenshot("after-last-seek")
    exchanges = await media_exchanges(page)
    assert exchanges and all(e["url"].startswith(stack.url + "/files/") for e in exchanges), exchanges
    assert all(e["status"] == 206 and e["range"] and e["content-range"] for e in exchanges), exchanges


@pytest.fixture(scope="module")
def s3_redirect_stack(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The service on S3 storage with signed links redirecting to presigned GETs (no simulator: no
    job runs here)."""
    tmp: Path = tmp_path_factory.mktemp("browser_s3")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(s3_server.env(f"browser-{uuid.uuid4().hex[:8]}"), CH_STORAGE_REDIRECT="1")
    with running(env, tmp, simulator=False) as stack:
        yield stack


async def test_a_video_on_s3_scrubs_in_the_browser_through_a_redirect(
    page: BrowserPage, s3_redirect_stack: Stack, s3_server: S3Server
) -> None:
    stack = s3_redirect_stack
    team = stack.create_team(0)
    link, duration = store_video(stack, team.team_id, "scrub.mp4", VIDEO)
    await scrub(page, link, duration)
    await page.screenshot("after-last-seek")
    exchanges = await media_exchanges(page)
    # The signed link answers 307 to a presigned GET of the store ...
    redirects = [e for e in exchanges if e["status"] == 307]
    assert redirects and all(e["url"].startswith(stack.url + "/files/") for e in redirects), exchanges
    assert all(e["location"].startswith(s3_server.endpoint) for e in redirects), redirects
    # ... and the bytes come from the store, in ranges: the API only signs.
    assert all(e["url"].startswith(s3_server.endpoint) for e in exchanges if e["status"] != 307), exchanges
    assert_scrubbed_in_ranges(exchanges, len(VIDEO))
