"""The run issue 13 is judged by, written once and run in two settings (tests/test_product_run.py on
the normal stack with local storage, tests/test_scale_out.py with the API and the worker on hosts of
their own and S3 storage):

1. a product photo (a JPEG) is uploaded in a GraphQL multipart request (``uploadDriveFile``), a logo
   (a PNG with transparency) with ``createUpload``, a PUT of its bytes to the URL answered (on S3 a
   presigned URL of the bucket) and ``completeUpload``; one more upload is created and never sent;
2. the photo becomes a video on every video provider that takes a start image (the ``providers``
   query's ``startImage``), beside a voice-over (TTS); every job is followed on ``jobUpdated``;
3. a Creatomate RenderScript composites one of the videos, the logo and the voice-over;
4. every job's ``outputs`` are named and measured, their files and thumbnails download through the
   API, and the credits charged are exactly the jobs' costs;
5. the composite plays in Chromium's ``<video>`` element and is scrubbed (three seeks, each awaited
   on ``seeked``), every media response a 206 with a Content-Range; a screenshot is kept;
6. another team tries every id the run made (files, folders, jobs, the pending upload) on every
   query, mutation, subscription and REST route that takes one, and gets exactly what a missing id
   gets; the first team's Drive, jobs and credits are unchanged afterwards.

Everything goes through the API's public interfaces (GraphQL over HTTP and websockets, REST, the
signed file links); the test process only creates the two teams."""

from __future__ import annotations

import asyncio
import io
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
from PIL import Image, ImageChops, ImageDraw, ImageStat

from tests.browser import BrowserPage
from tests.media import check_output
from tests.stack import Stack, Team
from tests.test_browser_media import LOAD, PLAYER, SEEK, WAIT_MS, media_exchanges

# The video providers that take a start image (imageFileId): the providers query must list exactly these.
START_IMAGE_VIDEO_PROVIDERS = ["KLING_2_6", "KLING_3_0", "LUMA_RAY3", "RUNWAY_GEN4", "VEO_3_1"]
COMPOSITED = "RUNWAY_GEN4"  # whose video the composite takes
# Long enough to scrub: seeks far apart, each to a frame unlike the others' (the simulator's clip is
# about 20 KB a second, 12 frames a second, its index at the end of the file).
COMPOSITE_SECONDS = 30
SCRUB_TO = (24.0, 10.5, 3.0)  # seconds: forward, back, back again
WAIT_SECONDS = 60.0
HEYGEN_VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"  # a voice of HeyGen's library (simulator and stand-ins)

FILE = """id name kind source contentType sizeBytes width height durationSeconds url thumbnailUrl
jobId folder { id path }"""
ERRORS = "userErrors { code field message }"
UPLOAD = f"""mutation ($file: Upload!, $folderId: ID) {{
  uploadDriveFile(file: $file, folderId: $folderId) {{ file {{ {FILE} }} {ERRORS} }} }}"""
CREATE_UPLOAD = f"""mutation ($input: CreateUploadInput!) {{ createUpload(input: $input) {{
  upload {{ fileId url method headers {{ name value }} sizeBytes }} {ERRORS} }} }}"""
COMPLETE_UPLOAD = f"mutation ($id: ID!) {{ completeUpload(fileId: $id) {{ file {{ {FILE} }} {ERRORS} }} }}"
CREATE_FOLDER = f"""mutation ($name: String!, $parentId: ID) {{
  createDriveFolder(name: $name, parentId: $parentId) {{ folder {{ id path }} {ERRORS} }} }}"""
PROVIDERS = """{ providers(type: VIDEO) { provider available durationsSeconds aspectRatios
  startImage { contentTypes maxBytes minSidePixels } } }"""
JOB = "id type status provider costCents estimatedCostCents resultUrls driveFolderId version"
GENERATE = {
    kind: f"mutation ($input: Generate{name}Input!) {{ generate{name}(input: $input) "
    f"{{ job {{ {JOB} }} {ERRORS} }} }}"
    for kind, name in (
        ("image", "Image"),
        ("video", "Video"),
        ("avatar", "Avatar"),
        ("tts", "Tts"),
        ("composite", "Composite"),
    )
}
FOLLOW = f"subscription ($id: ID!) {{ jobUpdated(id: $id) {{ {JOB} outputs {{ {FILE} }} }} }}"
BALANCE = "{ creditBalance { balanceCents availableCents heldCents } }"
# What the first team has, compared before and after the other team's tries.
SNAPSHOT = f"""{{
  driveFiles(first: 100) {{ totalCount nodes {{ {FILE} }} }}
  driveFolders {{ id name parentId path fileCount sizeBytes children {{ id name path fileCount sizeBytes }} }}
  driveUsage {{ usedBytes }}
  jobs(first: 100) {{ nodes {{ {JOB} }} }}
  creditBalance {{ balanceCents availableCents heldCents }}
}}"""
LISTED = "{ jobs(first: 100) { nodes { id } } driveFiles(first: 100) { totalCount nodes { id } } }"


def product_photo() -> bytes:
    """A product photo as a camera makes one: a 1280×720 JPEG (a bottle on a gradient)."""
    img = Image.new("RGB", (1280, 720))
    img.putdata([(40 + x * 180 // 1280, 60 + y * 120 // 720, 150) for y in range(720) for x in range(1280)])
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((560, 180, 720, 620), radius=40, fill=(20, 110, 60))
    draw.rectangle((610, 100, 670, 190), fill=(200, 170, 60))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def logo_png() -> bytes:
    """A 300×300 logo: an orange ring on a transparent background (RGBA)."""
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((20, 20, 280, 280), fill=(255, 140, 0, 255))
    draw.ellipse((90, 90, 210, 210), fill=(0, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def composite_source() -> dict[str, Any]:
    """A RenderScript: the video fills the frame, the logo in a corner, the voice-over under it."""
    return {
        "output_format": "mp4",
        "width": 640,
        "height": 360,
        "frame_rate": 24,
        "duration": COMPOSITE_SECONDS,
        "elements": [
            {"name": "Product", "type": "video", "track": 1, "fit": "cover"},
            {
                "name": "Logo",
                "type": "image",
                "track": 2,
                "width": "18%",
                "height": "32%",
                "x": "88%",
                "y": "18%",
            },
            {"name": "VoiceOver", "type": "audio", "track": 3},
        ],
    }


@dataclass
class Run:
    """What the run made, for the setting's own checks."""

    owner: Team
    other: Team
    photo: dict[str, Any] = field(default_factory=dict)
    logo: dict[str, Any] = field(default_factory=dict)
    pending_id: str = ""
    folder_id: str = ""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> final state
    seconds_asked: dict[str, int] = field(default_factory=dict)  # video provider -> durationSeconds
    media: list[dict[str, Any]] = field(default_factory=list)  # the browser's media exchanges
    tried: int = 0  # (id, operation) pairs the other team tried
    seconds: dict[str, float] = field(default_factory=dict)


def unsigned(value: Any) -> Any:
    """``value`` with the signatures and expiry times of its links cut off (they change by the second)."""
    return json.loads(re.sub(r"\?expires=\d+&signature=[0-9a-f]+", "", json.dumps(value)))


# -- small clients --------------------------------------------------------------------------------


async def post_graphql(
    client: httpx.AsyncClient, stack: Stack, who: Team, query: str, variables: dict[str, Any] | None = None
) -> tuple[int, Any]:
    response = await client.post(
        f"{stack.url}/graphql", json={"query": query, "variables": variables or {}}, headers=who.headers
    )
    return response.status_code, response.json()


async def data(
    client: httpx.AsyncClient, stack: Stack, who: Team, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    status, body = await post_graphql(client, stack, who, query, variables)
    assert status == 200 and "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


async def multipart_upload(
    client: httpx.AsyncClient, stack: Stack, who: Team, payload: bytes, filename: str, **variables: Any
) -> tuple[int, Any]:
    """uploadDriveFile as the GraphQL multipart request spec sends it (operations, map, the file)."""
    operations = {"query": UPLOAD, "variables": {"file": None, **variables}}
    response = await client.post(
        f"{stack.url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, payload, "application/octet-stream")},
        headers=who.headers,
    )
    return response.status_code, response.json()


async def follow(stack: Stack, who: Team, job_id: str) -> list[dict[str, Any]]:
    """Every state ``jobUpdated`` yields (the current one first), until the server completes it."""
    states: list[dict[str, Any]] = []
    async with stack.subscription(who, FOLLOW, {"id": job_id}) as queue:
        async with asyncio.timeout(WAIT_SECONDS):
            while (payload := await queue.get()) is not None:
                assert "errors" not in payload, payload
                states.append(payload["data"]["jobUpdated"])
    assert states and states[-1]["status"] == "COMPLETED", states[-1:]
    return states


async def subscription_frames(stack: Stack, who: Team, job_id: str) -> list[dict[str, Any] | None]:
    """What ``jobUpdated`` answers ``who`` for ``job_id`` until it ends (or 5 s of nothing)."""
    frames: list[dict[str, Any] | None] = []
    async with stack.subscription(who, FOLLOW, {"id": job_id}) as queue:
        try:
            async with asyncio.timeout(5):
                while True:
                    frame = await queue.get()
                    frames.append(frame)
                    if frame is None or "errors" in frame:
                        break
        except TimeoutError:
            frames.append({"timeout": "no end within 5 s"})
    return frames


# -- the run --------------------------------------------------------------------------------------


async def product_run(stack: Stack, page: BrowserPage, *, put_prefix: str) -> Run:
    """The judged run against ``stack`` (the API at ``stack.url``); ``put_prefix``: where the logo's
    upload URL must lead (the API's /uploads/ on local storage, the bucket on S3)."""
    started = time.monotonic()
    run = Run(owner=stack.create_team(30_000), other=stack.create_team(5_000))
    owner = run.owner
    async with httpx.AsyncClient(timeout=60) as client:
        await _upload(client, stack, run, put_prefix)
        run.seconds["uploads"] = time.monotonic() - started
        await _generate(client, stack, run)
        run.seconds["jobs"] = time.monotonic() - started
        await _check_outputs(client, stack, run)
        run.seconds["outputs"] = time.monotonic() - started
        await _scrub(client, stack, page, run)
        run.seconds["browser"] = time.monotonic() - started
        snapshot = unsigned(await data(client, stack, owner, SNAPSHOT))
        await _other_team_tries_every_id(client, stack, run)
        # The first team's Drive, jobs, usage and credits are as they were; its files still download.
        assert unsigned(await data(client, stack, owner, SNAPSHOT)) == snapshot
        for file in (run.photo, run.logo, *run.jobs["composite"]["outputs"]):
            fresh = await data(
                client, stack, owner, "query ($id: ID!) { driveFile(id: $id) { url } }", {"id": file["id"]}
            )
            got = await client.get(fresh["driveFile"]["url"], headers={"Range": "bytes=0-99"})
            assert got.status_code == 206 and len(got.content) == 100, got.text[:200]
        run.seconds["other team"] = time.monotonic() - started
    return run


async def _upload(client: httpx.AsyncClient, stack: Stack, run: Run, put_prefix: str) -> None:
    owner = run.owner
    folder = (await data(client, stack, owner, CREATE_FOLDER, {"name": "Brand assets"}))["createDriveFolder"]
    assert folder["userErrors"] == [] and folder["folder"]["path"] == "/Brand assets", folder
    run.folder_id = folder["folder"]["id"]

    # The photo: one multipart request.
    photo = product_photo()
    status, body = await multipart_upload(
        client, stack, owner, photo, "product photo.jpg", folderId=run.folder_id
    )
    assert status == 200 and "errors" not in body, body
    answer = body["data"]["uploadDriveFile"]
    assert answer["userErrors"] == [], answer
    run.photo = answer["file"]
    assert {
        k: run.photo[k] for k in ("name", "kind", "source", "contentType", "sizeBytes", "width", "height")
    } == {
        "name": "product photo.jpg",
        "kind": "IMAGE",
        "source": "UPLOADED",
        "contentType": "image/jpeg",
        "sizeBytes": len(photo),
        "width": 1280,
        "height": 720,
    }
    assert run.photo["folder"] == {"id": run.folder_id, "path": "/Brand assets"}

    # The logo: createUpload, a PUT of the bytes where it says, completeUpload.
    logo = logo_png()
    created = (
        await data(
            client,
            stack,
            owner,
            CREATE_UPLOAD,
            {
                "input": {
                    "name": "logo.png",
                    "contentType": "image/png",
                    "sizeBytes": len(logo),
                    "folderId": run.folder_id,
                }
            },
        )
    )["createUpload"]
    assert created["userErrors"] == [], created
    target = created["upload"]
    assert target["method"] == "PUT" and target["url"].startswith(put_prefix), (target["url"], put_prefix)
    sent = await client.request(
        "PUT", target["url"], content=logo, headers={h["name"]: h["value"] for h in target["headers"]}
    )
    assert sent.status_code in (200, 201, 204), sent.text[:300]
    done = (await data(client, stack, owner, COMPLETE_UPLOAD, {"id": target["fileId"]}))["completeUpload"]
    assert done["userErrors"] == [], done
    run.logo = done["file"]
    assert (run.logo["name"], run.logo["contentType"], run.logo["source"]) == (
        "logo.png",
        "image/png",
        "UPLOADED",
    )
    assert (run.logo["width"], run.logo["height"], run.logo["sizeBytes"]) == (300, 300, len(logo))
    stored = (await client.get(run.logo["url"])).content
    assert stored == logo
    with Image.open(io.BytesIO(stored)) as shown:
        assert shown.mode == "RGBA" and shown.getchannel("A").getpixel((150, 150)) == 0  # see-through

    # One more upload, created and never sent: pending.
    pending = (
        await data(
            client,
            stack,
            owner,
            CREATE_UPLOAD,
            {"input": {"name": "later.png", "contentType": "image/png", "sizeBytes": 1000}},
        )
    )["createUpload"]
    assert pending["userErrors"] == [], pending
    run.pending_id = pending["upload"]["fileId"]


async def _submit(
    client: httpx.AsyncClient, stack: Stack, who: Team, kind: str, input: dict[str, Any]
) -> str:
    payload = (await data(client, stack, who, GENERATE[kind], {"input": input}))[f"generate{kind.title()}"]
    assert payload["userErrors"] == [] and payload["job"]["status"] == "PENDING", payload
    return str(payload["job"]["id"])


async def _generate(client: httpx.AsyncClient, stack: Stack, run: Run) -> None:
    owner = run.owner
    providers = (await data(client, stack, owner, PROVIDERS))["providers"]
    takers = sorted(p["provider"] for p in providers if p["startImage"] is not None)
    assert takers == START_IMAGE_VIDEO_PROVIDERS, takers
    by_name = {p["provider"]: p for p in providers}
    for name in takers:
        assert by_name[name]["available"] and "image/jpeg" in by_name[name]["startImage"]["contentTypes"]

    before = (await data(client, stack, owner, BALANCE))["creditBalance"]
    submitted: dict[str, str] = {}
    for name in takers:
        info = by_name[name]
        run.seconds_asked[name] = min(info["durationsSeconds"])
        submitted[name] = await _submit(
            client,
            stack,
            owner,
            "video",
            {
                "prompt": "the bottle turns slowly in warm light",
                "provider": name,
                "imageFileId": run.photo["id"],
                "durationSeconds": run.seconds_asked[name],
                "aspectRatio": "16:9" if "16:9" in info["aspectRatios"] else None,
            },
        )
    submitted["tts"] = await _submit(
        client, stack, owner, "tts", {"text": "Meet the bottle that keeps your coffee hot all day."}
    )
    finals = await asyncio.gather(*(follow(stack, owner, job_id) for job_id in submitted.values()))
    run.jobs = {label: states[-1] for label, states in zip(submitted, finals, strict=True)}
    for name in takers:
        job = run.jobs[name]
        assert job["provider"] == name and job["type"] == "VIDEO", job

    composite_id = await _submit(
        client,
        stack,
        owner,
        "composite",
        {
            "source": composite_source(),
            "inputs": [
                {"name": "Product", "jobId": run.jobs[COMPOSITED]["id"]},
                {"name": "Logo", "fileId": run.logo["id"]},
                {"name": "VoiceOver", "jobId": run.jobs["tts"]["id"]},
            ],
        },
    )
    # Completed: the provider (the simulator, as Creatomate does) fetched each element's source
    # through its signed link and found a video, an image and audio there (else the render fails).
    run.jobs["composite"] = (await follow(stack, owner, composite_id))[-1]

    # Charged exactly the jobs' costs, nothing held.
    after = (await data(client, stack, owner, BALANCE))["creditBalance"]
    costs = [job["costCents"] for job in run.jobs.values()]
    assert all(0 < job["costCents"] <= job["estimatedCostCents"] for job in run.jobs.values()), run.jobs
    assert before["balanceCents"] - after["balanceCents"] == sum(costs), (before, after, costs)
    assert after["heldCents"] == 0 and after["availableCents"] == after["balanceCents"], after


async def _check_outputs(client: httpx.AsyncClient, stack: Stack, run: Run) -> None:
    for label, job in run.jobs.items():
        outputs = job["outputs"]
        assert len(outputs) == len(job["resultUrls"]) == 1, job
        [out] = outputs
        assert (
            out["jobId"] == job["id"] and out["source"] == "GENERATED" and out["id"] in job["resultUrls"][0]
        )
        assert out["folder"]["id"] == job["driveFolderId"], out
        kind = {"tts": "AUDIO"}.get(label, "VIDEO")
        # <type>-<provider>-<short prompt>-<n>.<ext> (a composite has no prompt)
        prefix = {"tts": "tts-openai_tts-meet-the-", "composite": "composite-creatomate"}.get(
            label, f"video-{label.lower()}-the-bottle-"
        )
        assert out["kind"] == kind, out
        assert re.fullmatch(re.escape(prefix) + r"[a-z0-9-]*-1\.(mp4|mp3)", out["name"]), out
        body = await client.get(out["url"])
        assert body.status_code == 200 and len(body.content) == out["sizeBytes"], (out, body.status_code)
        assert body.headers["content-type"].split(";")[0] == out["contentType"]
        assert body.headers["content-disposition"].find(out["name"]) >= 0, body.headers
        facts = check_output(out["contentType"], body.content)
        assert out["durationSeconds"] and out["durationSeconds"] > 0, out
        assert math.isclose(facts["duration"], out["durationSeconds"], abs_tol=0.15), (facts, out)
        if kind == "AUDIO":
            assert out["thumbnailUrl"] is None and out["width"] is None, out
            continue
        assert (facts["width"], facts["height"]) == (out["width"], out["height"]), (facts, out)
        assert out["width"] > out["height"], out  # 16:9 asked, or the RenderScript's 640×360
        if label == "composite":
            # 16:9 as the RenderScript's 640×360 (the simulator renders videos 320 px on the long side)
            assert out["width"] * 9 == out["height"] * 16, out
            assert math.isclose(out["durationSeconds"], COMPOSITE_SECONDS, abs_tol=0.15), out
        else:
            assert math.isclose(out["durationSeconds"], run.seconds_asked[label], abs_tol=0.15), out
        # The poster frame, through the API.
        thumb = await client.get(out["thumbnailUrl"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp", thumb.text[:200]
        assert check_output("image/webp", thumb.content)["width"] > 0
    # The uploads' thumbnails too.
    for file in (run.photo, run.logo):
        fresh = (
            await data(
                client,
                stack,
                run.owner,
                f"query ($id: ID!) {{ driveFile(id: $id) {{ {FILE} }} }}",
                {"id": file["id"]},
            )
        )["driveFile"]
        thumb = await client.get(fresh["thumbnailUrl"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp", thumb.text[:200]
        width, height = check_output("image/webp", thumb.content).values()
        assert (
            0 < width
            and 0 < height
            and math.isclose(width / height, fresh["width"] / fresh["height"], rel_tol=0.05)
        )


async def _scrub(client: httpx.AsyncClient, stack: Stack, page: BrowserPage, run: Run) -> None:
    """The composite in a <video> element: its metadata, then SCRUB_TO seeks, each awaited on
    ``seeked`` (the page's HTTP cache off: every byte the element reads is a server's answer)."""
    [out] = run.jobs["composite"]["outputs"]
    await page.disable_cache()
    await page.show(PLAYER, "player")
    meta = await page.page.evaluate(LOAD, [out["url"], WAIT_MS])
    assert math.isclose(meta["duration"], out["durationSeconds"], abs_tol=0.1), (meta, out)
    assert (meta["width"], meta["height"]) == (out["width"], out["height"]), meta
    frames = decoded_frames((await client.get(out["url"])).content)
    for to in SCRUB_TO:
        landed = await page.page.evaluate(SEEK, [to, WAIT_MS])
        assert not landed["seeking"] and abs(landed["currentTime"] - to) < 0.1, (to, landed)
        assert landed["readyState"] >= 2, landed  # HAVE_CURRENT_DATA: the frame there is decoded
        # The element shows the frame of that time (the frame reaches the screen by the next paint).
        expected = max(i for i, (at, _) in enumerate(frames) if at <= to + 1e-6)
        await shows_frame(page, frames, expected)
    await page.screenshot("composite-after-last-seek")
    run.media = await media_exchanges(page)
    redirecting = bool(stack.env.get("CH_STORAGE_REDIRECT"))
    answered = [e for e in run.media if e["status"] != 307]
    assert answered, run.media
    for e in run.media:
        if e["status"] == 307:
            assert redirecting and e["url"].startswith(stack.url + "/files/"), e
            continue
        assert e["url"].startswith(stack.url + "/files/") or redirecting, e
        assert e["status"] == 206 and e["range"] and e["range"].startswith("bytes="), e
        span, _, total = (e["content-range"] or "").removeprefix("bytes ").partition("/")
        assert span and int(total) == out["sizeBytes"], e
    # How many ranges Chromium asks for is its own choice: the whole clip (about 600 KB, its index at
    # the end: the simulator's MP4 is not fast-start) often arrives in the first response; when it
    # does not, the index and the data after it are read by ranges of their own. Either way each
    # seek above showed the frame of its time. (tests/test_browser_media.py shows seeks reading
    # from the middle of a larger, fast-start file.)


def decoded_frames(video: bytes) -> list[tuple[float, Image.Image]]:
    """Every frame of ``video`` (its time in seconds, its picture), in order."""
    with av.open(io.BytesIO(video), "r") as container:
        stream = container.streams.video[0]
        return [(float(f.time or 0.0), f.to_image()) for f in container.decode(stream)]  # type: ignore[no-untyped-call]  # PyAV leaves to_image unannotated


def _same_picture(a: Image.Image, b: Image.Image) -> bool:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) < 1.0


def nearest_frame(png: bytes, frames: list[tuple[float, Image.Image]]) -> int:
    """The index of the frame a screenshot of the element looks most like (mean pixel difference)."""
    with Image.open(io.BytesIO(png)) as shot:
        shown = shot.convert("RGB").resize(frames[0][1].size)
    differences = [sum(ImageStat.Stat(ImageChops.difference(shown, picture)).mean) for _, picture in frames]
    return differences.index(min(differences))


async def shows_frame(
    page: BrowserPage, frames: list[tuple[float, Image.Image]], expected: int, within: float = 5.0
) -> None:
    """Screenshots of the element until it shows frame ``expected`` (or its neighbour: the decoder's
    rounding; or a frame with the same picture: a render longer than its video holds the video's
    last frame, as the simulated Creatomate does); fails with the frame seen last."""
    deadline = time.monotonic() + within
    while True:
        seen = nearest_frame(await page.page.locator("#player").screenshot(), frames)
        if abs(seen - expected) <= 1 or _same_picture(frames[seen][1], frames[expected][1]):
            return
        assert time.monotonic() < deadline, f"the video shows frame {seen}, not {expected}"


# -- another team tries every id ------------------------------------------------------------------

Probe = Callable[[str], Awaitable[tuple[Any, ...]]]


def _without(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with each id replaced by its label (so A's id and a missing one compare equal)."""
    text = json.dumps(value, sort_keys=True)
    for raw, label in ids.items():
        text = text.replace(raw, label)
    return json.loads(text)


def _absent(answer: tuple[Any, ...]) -> bool:
    """Whether an answer refuses: a null or empty read, a NOT_FOUND, a 404 (401/403 without a credential)."""
    text = json.dumps(answer)
    return (
        '"NOT_FOUND"' in text
        or '"data": {"driveFile": null}' in text
        or '"data": {"job": null}' in text
        or '"nodes": []' in text
        or (isinstance(answer[0], int) and answer[0] in (401, 403, 404))
        or text.endswith("null]]")  # a subscription that ended without a frame
    )


async def _other_team_tries_every_id(client: httpx.AsyncClient, stack: Stack, run: Run) -> None:
    other = run.other
    own_folder = (await data(client, stack, other, CREATE_FOLDER, {"name": "Ours"}))["createDriveFolder"][
        "folder"
    ]["id"]
    status, body = await multipart_upload(client, stack, other, logo_png(), "ours.png", folderId=own_folder)
    assert status == 200 and body["data"]["uploadDriveFile"]["userErrors"] == [], body
    own_file = body["data"]["uploadDriveFile"]["file"]["id"]
    own_signature = urlsplit(body["data"]["uploadDriveFile"]["file"]["url"]).query
    assert own_signature.startswith("expires="), own_signature
    own_balance = (await data(client, stack, other, BALANCE))["creditBalance"]

    def graphql(query: str, variables: Callable[[str], dict[str, Any]]) -> Probe:
        async def probe(some_id: str) -> tuple[Any, ...]:
            return await post_graphql(client, stack, other, query, variables(some_id))

        return probe

    def rest(
        method: str, path: str, json_body: Callable[[str], Any] | None = None, auth: bool = True
    ) -> Probe:
        async def probe(some_id: str) -> tuple[Any, ...]:
            response = await client.request(
                method,
                stack.url + path.format(id=some_id),
                json=json_body(some_id) if json_body else None,
                headers=other.headers if auth else {},
                follow_redirects=False,
            )
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            return response.status_code, body

        return probe

    async def upload_into(some_id: str) -> tuple[Any, ...]:
        return await multipart_upload(client, stack, other, logo_png(), "logo.png", folderId=some_id)

    async def subscribe(some_id: str) -> tuple[Any, ...]:
        return ("subscription", await subscription_frames(stack, other, some_id))

    m = "mutation"
    file_probes: dict[str, Probe] = {
        "driveFile": graphql("query ($id: ID!) { driveFile(id: $id) { id name } }", lambda i: {"id": i}),
        "renameDriveFile": graphql(
            f'{m} ($id: ID!) {{ renameDriveFile(id: $id, name: "mine.png") {{ file {{ id }} {ERRORS} }} }}',
            lambda i: {"id": i},
        ),
        "moveDriveFile": graphql(
            f"{m} ($id: ID!, $to: ID!) {{ moveDriveFile(id: $id, folderId: $to) {{ file {{ id }} {ERRORS} }} }}",
            lambda i: {"id": i, "to": own_folder},
        ),
        "deleteDriveFile": graphql(
            f"{m} ($id: ID!) {{ deleteDriveFile(id: $id) {{ deletedId deletedFiles deletedFolders freedBytes {ERRORS} }} }}",
            lambda i: {"id": i},
        ),
        "completeUpload": graphql(COMPLETE_UPLOAD, lambda i: {"id": i}),
        "generateVideo.imageFileId": graphql(
            GENERATE["video"],
            lambda i: {"input": {"prompt": "x", "provider": "RUNWAY_GEN4", "imageFileId": i}},
        ),
        "generateImage.referenceFileIds": graphql(
            GENERATE["image"], lambda i: {"input": {"prompt": "x", "referenceFileIds": [i]}}
        ),
        "generateAvatar.portraitFileId": graphql(
            GENERATE["avatar"],
            lambda i: {"input": {"script": "Hello", "voiceId": HEYGEN_VOICE, "portraitFileId": i}},
        ),
        "generateComposite.inputs.fileId": graphql(
            GENERATE["composite"],
            lambda i: {"input": {"source": composite_source(), "inputs": [{"name": "Logo", "fileId": i}]}},
        ),
        "GET /files/{id}": rest("GET", "/files/{id}"),
        # The signature of a link to the other team's own file, on the first team's id.
        "GET /files/{id}?<our signature>": rest("GET", "/files/{id}?" + own_signature, auth=False),
        "GET /files/{id}/thumbnail?<our signature>": rest(
            "GET", "/files/{id}/thumbnail?" + own_signature, auth=False
        ),
        "GET /files/{id}/thumbnail": rest("GET", "/files/{id}/thumbnail"),
        "GET /api/v1/drive/files/{id}": rest("GET", "/api/v1/drive/files/{id}"),
        "POST generate/video image_file_id": rest(
            "POST",
            "/api/v1/creative-hub/generate/video",
            lambda i: {"prompt": "x", "provider": "runway_gen4", "image_file_id": i},
        ),
        "POST generate/composite inputs file_id": rest(
            "POST",
            "/api/v1/creative-hub/generate/composite",
            lambda i: {"source": composite_source(), "inputs": [{"name": "Logo", "file_id": i}]},
        ),
    }
    job_probes: dict[str, Probe] = {
        "job": graphql("query ($id: ID!) { job(id: $id) { id status } }", lambda i: {"id": i}),
        "cancelJob": graphql(
            f"{m} ($id: ID!) {{ cancelJob(id: $id) {{ job {{ id status }} {ERRORS} }} }}", lambda i: {"id": i}
        ),
        "driveFiles.filter.jobId": graphql(
            "query ($id: ID!) { driveFiles(filter: {jobId: $id}) { totalCount nodes { id } } }",
            lambda i: {"id": i},
        ),
        "generateComposite.inputs.jobId": graphql(
            GENERATE["composite"],
            lambda i: {"input": {"source": composite_source(), "inputs": [{"name": "Product", "jobId": i}]}},
        ),
        "GET /api/v1/creative-hub/jobs/{id}": rest("GET", "/api/v1/creative-hub/jobs/{id}"),
        "jobUpdated": subscribe,
    }
    folder_probes: dict[str, Probe] = {
        "driveFiles.folderId": graphql(
            "query ($id: ID!) { driveFiles(folderId: $id) { totalCount nodes { id } } }", lambda i: {"id": i}
        ),
        "renameDriveFolder": graphql(
            f'{m} ($id: ID!) {{ renameDriveFolder(id: $id, name: "Mine") {{ folder {{ id }} {ERRORS} }} }}',
            lambda i: {"id": i},
        ),
        "moveDriveFolder": graphql(
            f"{m} ($id: ID!, $to: ID) {{ moveDriveFolder(id: $id, parentId: $to) {{ folder {{ id }} {ERRORS} }} }}",
            lambda i: {"id": i, "to": own_folder},
        ),
        "moveDriveFolder.parentId": graphql(
            f"{m} ($id: ID!, $to: ID) {{ moveDriveFolder(id: $id, parentId: $to) {{ folder {{ id }} {ERRORS} }} }}",
            lambda i: {"id": own_folder, "to": i},
        ),
        "deleteDriveFolder": graphql(
            f"{m} ($id: ID!) {{ deleteDriveFolder(id: $id, recursive: true) {{ deletedId deletedFiles deletedFolders freedBytes {ERRORS} }} }}",
            lambda i: {"id": i},
        ),
        "createDriveFolder.parentId": graphql(CREATE_FOLDER, lambda i: {"name": "Inside", "parentId": i}),
        "moveDriveFile.folderId": graphql(
            f"{m} ($id: ID!, $to: ID!) {{ moveDriveFile(id: $id, folderId: $to) {{ file {{ id }} {ERRORS} }} }}",
            lambda i: {"id": own_file, "to": i},
        ),
        "uploadDriveFile.folderId": upload_into,
        "createUpload.folderId": graphql(
            CREATE_UPLOAD,
            lambda i: {
                "input": {"name": "a.png", "contentType": "image/png", "sizeBytes": 100, "folderId": i}
            },
        ),
        "generateImage.driveFolderId": graphql(
            GENERATE["image"], lambda i: {"input": {"prompt": "x", "driveFolderId": i}}
        ),
        "generateTts.driveFolderId": graphql(
            GENERATE["tts"], lambda i: {"input": {"text": "x", "driveFolderId": i}}
        ),
        "GET /api/v1/drive/files?folder_id": rest("GET", "/api/v1/drive/files?folder_id={id}"),
    }

    files = [
        run.photo["id"],
        run.logo["id"],
        run.pending_id,
        *(j["outputs"][0]["id"] for j in run.jobs.values()),
    ]
    folders = sorted({run.folder_id, *(j["driveFolderId"] for j in run.jobs.values())})
    jobs = [j["id"] for j in run.jobs.values()]
    tries = [
        (kind, some_id, label, probe)
        for kind, ids, probes in (
            ("file", files, file_probes),
            ("job", jobs, job_probes),
            ("folder", folders, folder_probes),
        )
        for some_id in ids
        for label, probe in probes.items()
    ]
    limit = asyncio.Semaphore(8)

    async def attempt(kind: str, some_id: str, label: str, probe: Probe) -> str | None:
        missing = str(uuid.uuid4())
        async with limit:
            foreign = await probe(some_id)
            absent = await probe(missing)
        if not _absent(absent):
            return f"{label} ({kind}): a missing id does not answer 'not found': {absent}"
        if _without(foreign, {some_id: "<id>"}) != _without(absent, {missing: "<id>"}):
            return (
                f"{label} with the first team's {kind} {some_id}:\n  got      {foreign}\n  missing: {absent}"
            )
        return None

    found = await asyncio.gather(*(attempt(*t) for t in tries))
    problems = [p for p in found if p]
    assert not problems, f"{len(problems)} of {len(tries)} tries differ from a missing id:\n" + "\n".join(
        problems
    )
    run.tried = len(tries)

    # The other team holds none of the first team's things, and spent nothing.
    listed = await data(client, stack, other, LISTED)
    assert listed["jobs"]["nodes"] == [] and [n["id"] for n in listed["driveFiles"]["nodes"]] == [own_file], (
        listed
    )
    assert (await data(client, stack, other, BALANCE))["creditBalance"] == own_balance
