"""Uploads through the real interfaces: a GraphQL multipart request (uploadDriveFile) and the large
path (createUpload, a PUT to the URL it answers, completeUpload), on local storage (the PUT goes to
the API) and on S3 (a presigned PUT straight to the session's SeaweedFS). Every refusal is a clear
error that stores nothing and leaves the team's usage as it was; another team's upload reads as
missing."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from models import drive
from models.teams import Team as TeamRow
from services.auth import sign_upload_path
from services.settings import Settings
from storage import open_storage
from tests.conftest import _redis_for
from tests.s3_server import S3Server
from tests.stack import Stack, Team, backend_env, running
from tests.standins import media as make
from tests.test_media import png_header_only

FILE = "id name contentType sizeBytes kind source width height durationSeconds url thumbnailUrl folderId"
ERRORS = "userErrors { code message field }"
UPLOAD = f"""mutation ($file: Upload!, $name: String, $folderId: ID) {{
  uploadDriveFile(file: $file, name: $name, folderId: $folderId) {{ file {{ {FILE} }} {ERRORS} }} }}"""
CREATE = f"""mutation ($input: CreateUploadInput!) {{
  createUpload(input: $input) {{ upload {{ fileId url method headers {{ name value }} sizeBytes expiresAt }}
  {ERRORS} }} }}"""
COMPLETE = f"mutation ($id: ID!) {{ completeUpload(fileId: $id) {{ file {{ {FILE} }} {ERRORS} }} }}"
# The stacks run with these (tests.stack.backend_env sets none of them).
DEFAULTS = {
    name: Settings.model_fields[name].default
    for name in ("max_upload_bytes", "max_body_bytes", "drive_quota_bytes")
}
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n" * 20


@functools.cache
def noise_mp4(width: int = 640, height: int = 360, frames: int = 12, fps: int = 6) -> bytes:
    """An H.264 MP4 of random frames: incompressible, so a few MB (larger than any JSON body may be)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
            frame = av.VideoFrame.from_image(noise)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


async def multipart(
    stack: Stack, team: Team | None, data: bytes, filename: str, content_type: str, **variables: Any
) -> httpx.Response:
    """uploadDriveFile as the GraphQL multipart request spec sends it: operations, map, the file part."""
    operations = {"query": UPLOAD, "variables": {"file": None, **variables}}
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(
            f"{stack.url}/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
            files={"0": (filename, data, content_type)},
            headers=team.headers if team else {},
        )


async def uploaded(stack: Stack, team: Team, data: bytes, filename: str, **variables: Any) -> dict[str, Any]:
    response = await multipart(stack, team, data, filename, "application/octet-stream", **variables)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["uploadDriveFile"]
    return payload


def usage(stack: Stack, team: Team) -> int:
    async def read() -> int:
        return int((await TeamRow.get(id=team.team_id)).drive_bytes)

    return stack.database.run(read)


def set_usage(stack: Stack, team: Team, value: int) -> None:
    async def write() -> None:
        await TeamRow.filter(id=team.team_id).update(drive_bytes=value)

    stack.database.run(write)


def stored(stack: Stack, team: Team) -> set[str]:
    """The team's objects in the stack's local storage (files being written and type records aside),
    with the token each check adds to a file's key left out (``<file id>-<token>`` -> ``<file id>``)."""
    root = Path(stack.env["CH_DATA_DIR"]) / "drive"
    return {
        untokened(str(p.relative_to(root)))
        for p in root.rglob("*")
        if p.is_file() and team.team_id in p.parts and not p.relative_to(root).parts[0].startswith(".")
    }


def untokened(key: str) -> str:
    return re.sub(r"(/uploads/[0-9a-f-]{36})-[0-9a-f]{8}", r"\1", key)


async def create(stack: Stack, team: Team, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await stack.data(team, CREATE, {"input": fields}))["createUpload"]
    return payload


async def complete(stack: Stack, team: Team, file_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await stack.data(team, COMPLETE, {"id": file_id}))["completeUpload"]
    return payload


async def put(target: dict[str, Any], body: bytes, **headers: str) -> httpx.Response:
    sent = {h["name"]: h["value"] for h in target["headers"]}
    sent.update(headers)
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.request(target["method"], target["url"], content=body, headers=sent)


async def download(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    return response.content


# -- the small path: one multipart request --------------------------------------------------------


async def test_a_small_image_uploads_in_one_multipart_request(stack: Stack, team: Team) -> None:
    png = make.image("png", 640, 360)
    payload = await uploaded(stack, team, png, "../../etc/evil.jpg")
    assert payload["userErrors"] == [], payload
    file = payload["file"]
    # Named safely, typed by its content (a PNG sent as .jpg with a generic type), measured.
    assert (file["name"], file["contentType"], file["kind"], file["source"]) == (
        "etc_evil.png",
        "image/png",
        "IMAGE",
        "UPLOADED",
    )
    assert (file["width"], file["height"], file["sizeBytes"]) == (640, 360, len(png))
    assert file["thumbnailUrl"] and await download(file["url"]) == png
    assert usage(stack, team) == len(png)
    assert stored(stack, team) == {
        f"{team.team_id}/uploads/{file['id']}",
        f"{team.team_id}/uploads/{file['id']}.thumb.webp",
    }
    named = await uploaded(stack, team, png, "x.png", name="../secret/\x07lo\u202ego\x00.png")
    assert named["file"]["name"] == "secret_logo.png"  # control and direction characters gone


async def test_a_refused_multipart_upload_stores_nothing(stack: Stack, team: Team) -> None:
    async def refused(data: bytes, filename: str, content_type: str, **variables: Any) -> dict[str, Any]:
        response = await multipart(stack, team, data, filename, content_type, **variables)
        assert response.status_code == 200, response.text
        payload = response.json()["data"]["uploadDriveFile"]
        assert payload["file"] is None, payload
        [error] = payload["userErrors"]
        return dict(error)

    error = await refused(PDF, "logo.png", "image/png")  # a PDF, whatever its name and type say
    assert error["code"] == "VALIDATION_FAILED" and error["field"] == ["file"]
    assert "PDF" in error["message"], error
    bomb = png_header_only(11_000, 10_000)  # a few KB claiming 110 megapixels: refused from its header
    assert len(bomb) < 10_000
    error = await refused(bomb, "bomb.png", "image/png")
    assert "megapixels" in error["message"], error
    truncated = make.mp4(640, 360, 3.0)
    error = await refused(truncated[: len(truncated) // 2], "cut.mp4", "video/mp4")
    assert "truncated" in error["message"], error
    error = await refused(make.image("png", 8, 8), "a.png", "image/png", folderId=str(uuid.uuid4()))
    assert (error["code"], error["field"]) == ("NOT_FOUND", ["folderId"])
    assert usage(stack, team) == 0 and stored(stack, team) == set()

    # Without a credential (a cross-site form cannot send one): nothing is read or stored.
    anonymous = await multipart(stack, None, make.image("png", 8, 8), "a.png", "image/png")
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_uploading_needs_the_generate_scope(stack: Stack, team: Team) -> None:
    created = await stack.data(
        team,
        'mutation { createApiKey(input: {name: "viewer", scopes: [READ]}) { secret userErrors { code } } }',
    )
    reader = Team(team.team_id, team.user_id, created["createApiKey"]["secret"])
    small = await multipart(stack, reader, make.image("png", 8, 8), "a.png", "image/png")
    large = await stack.gql(
        reader, CREATE, {"input": {"name": "a.png", "contentType": "image/png", "sizeBytes": 9}}
    )
    for body in (small.json(), large):
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert usage(stack, team) == 0 and stored(stack, team) == set()


async def test_a_file_over_the_multipart_cap_is_pointed_to_create_upload(stack: Stack, team: Team) -> None:
    cap = DEFAULTS["max_upload_bytes"]
    over = make.image("png", 8, 8) + b"\0" * (cap - 50)  # a body the middleware lets through
    error = (await multipart(stack, team, over, "big.png", "image/png")).json()["data"]["uploadDriveFile"]
    assert error["userErrors"][0]["field"] == ["file"] and "createUpload" in error["userErrors"][0]["message"]
    much = over + b"\0" * (DEFAULTS["max_body_bytes"] + 100)  # a request over the multipart body cap
    response = await multipart(stack, team, much, "big.png", "image/png")
    assert response.status_code == 413 and "createUpload" in response.json()["error"]["message"]
    assert usage(stack, team) == 0 and stored(stack, team) == set()


async def test_an_upload_over_quota_is_refused_before_any_byte_is_accepted(stack: Stack, team: Team) -> None:
    quota = DEFAULTS["drive_quota_bytes"]
    full = quota - 100
    set_usage(stack, team, full)
    png = make.image("png", 200, 200)
    assert len(png) > 100
    response = await multipart(stack, team, png, "a.png", "image/png")
    [error] = response.json()["data"]["uploadDriveFile"]["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["file"])
    assert "quota" in error["message"]
    answer = await create(stack, team, name="v.mp4", contentType="video/mp4", sizeBytes=5000)
    assert answer["upload"] is None
    assert (
        answer["userErrors"][0]["field"] == ["input", "sizeBytes"]
        and "quota" in answer["userErrors"][0]["message"]
    )
    assert usage(stack, team) == full and stored(stack, team) == set()


# -- the large path: createUpload, PUT, completeUpload --------------------------------------------


async def test_a_large_video_is_put_to_the_api_then_completed(stack: Stack, team: Team) -> None:
    video = noise_mp4()
    assert len(video) > DEFAULTS["max_body_bytes"]  # more than any JSON request may carry
    answer = await create(stack, team, name="launch film.mp4", contentType="video/mp4", sizeBytes=len(video))
    assert answer["userErrors"] == []
    target = answer["upload"]
    assert target["url"].startswith(f"{stack.url}/uploads/{target['fileId']}?") and target["method"] == "PUT"
    assert {h["name"]: h["value"] for h in target["headers"]} == {
        "Content-Type": "video/mp4",
        "Content-Length": str(len(video)),
    }
    assert usage(stack, team) == len(video)  # reserved before the bytes move
    sent = await put(target, video)  # no Authorization: the URL is the authorisation
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "received"
    done = await complete(stack, team, target["fileId"])
    assert done["userErrors"] == [], done
    file = done["file"]
    assert (file["id"], file["name"], file["kind"], file["width"], file["height"]) == (
        target["fileId"],
        "launch film.mp4",
        "VIDEO",
        640,
        360,
    )
    assert file["durationSeconds"] == pytest.approx(2.0, abs=0.3) and file["thumbnailUrl"]
    assert await download(file["url"]) == video
    assert usage(stack, team) == len(video)
    assert (await complete(stack, team, target["fileId"]))["file"]["id"] == file["id"]  # again: the same
    late = await put(target, video)  # a completed upload takes no more bytes
    assert late.status_code == 404 and late.json()["error"]["code"] == "NOT_FOUND"
    assert stored(stack, team) == {
        f"{team.team_id}/uploads/{file['id']}",
        f"{team.team_id}/uploads/{file['id']}.thumb.webp",
    }


async def test_a_put_that_does_not_match_its_url_or_size_is_refused(stack: Stack, team: Team) -> None:
    png = make.image("png", 64, 64)
    target = (await create(stack, team, name="a.png", contentType="image/png", sizeBytes=len(png)))["upload"]
    base, _, query = target["url"].partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))

    short = await put(target, png[:-10], **{"Content-Length": str(len(png) - 10)})
    assert short.status_code == 400, short.text
    assert short.json()["error"]["field"] == ["sizeBytes"] and "declared" in short.json()["error"]["message"]
    forged = await put({**target, "url": f"{base}?expires={params['expires']}&signature={'0' * 64}"}, png)
    assert forged.status_code == 403 and "invalid" in forged.json()["error"]["message"]
    accented = await put(
        {**target, "url": f"{base}?expires={params['expires']}&signature=%C3%A9t%C3%A9"}, png
    )
    assert accented.status_code == 403, accented.status_code  # not a 500 (found by the fuzzer)
    other = await put({**target, "url": f"{stack.url}/uploads/{uuid.uuid4()}?{query}"}, png)
    assert other.status_code == 403  # a signature names its file
    secret = Settings(
        database_url=stack.env["CH_DATABASE_URL"], data_dir=Path(stack.env["CH_DATA_DIR"])
    ).secret
    expired = stack.url + sign_upload_path(target["fileId"], secret, int(time.time()) - 1)
    answer = await put({**target, "url": expired}, png)
    assert answer.status_code == 403 and "expired" in answer.json()["error"]["message"]
    malformed = await put({**target, "url": f"{base}?expires=soon&signature={params['signature']}"}, png)
    assert malformed.status_code == 400 and malformed.json()["error"]["field"] == ["expires"]
    assert stored(stack, team) == set()
    not_yet = await complete(stack, team, target["fileId"])
    assert "PUT the bytes first" in not_yet["userErrors"][0]["message"]  # still pending: it may be retried
    assert (await put(target, png)).status_code == 200
    assert (await complete(stack, team, target["fileId"]))["file"]["width"] == 64


async def test_refused_content_is_removed_with_its_reservation(stack: Stack, team: Team) -> None:
    whole = make.mp4(1280, 720, 3.0)
    cases = [
        (PDF, "image/png", "PDF"),  # a PDF declared as a PNG
        (whole[: len(whole) // 2], "video/mp4", "truncated"),
        (png_header_only(11_000, 10_000), "image/png", "megapixels"),  # a zip bomb of an image
    ]
    for body, content_type, reason in cases:
        target = (await create(stack, team, name="x", contentType=content_type, sizeBytes=len(body)))[
            "upload"
        ]
        assert (await put(target, body)).status_code == 200
        answer = await complete(stack, team, target["fileId"])
        assert answer["file"] is None
        [error] = answer["userErrors"]
        assert error["code"] == "VALIDATION_FAILED" and reason in error["message"], error
        again = await complete(stack, team, target["fileId"])  # the same outcome; nothing left to complete
        assert again["file"] is None and again["userErrors"] == [error]
        assert usage(stack, team) == 0 and stored(stack, team) == set()
    bad = await create(stack, team, name="doc.pdf", contentType="application/pdf", sizeBytes=100)
    assert bad["userErrors"][0]["field"] == ["input", "contentType"]
    big = await create(stack, team, name="huge.png", contentType="image/png", sizeBytes=60 * 1024 * 1024)
    assert big["userErrors"][0]["field"] == ["input", "sizeBytes"]
    control = await create(stack, team, name="\x00\x01", contentType="image/png", sizeBytes=10)
    assert control["upload"] is not None  # a name of nothing safe becomes file.png
    assert usage(stack, team) == 10


async def test_another_teams_upload_reads_as_missing(stack: Stack, team: Team) -> None:
    png = make.image("png", 32, 32)
    target = (await create(stack, team, name="a.png", contentType="image/png", sizeBytes=len(png)))["upload"]
    assert (await put(target, png)).status_code == 200
    intruder = stack.create_team(0)
    theirs = await complete(stack, intruder, target["fileId"])
    unknown = await complete(stack, intruder, str(uuid.uuid4()))
    assert (
        theirs["userErrors"]
        == unknown["userErrors"]
        == [{"code": "NOT_FOUND", "message": "upload not found", "field": ["fileId"]}]
    )
    done = await complete(stack, team, target["fileId"])
    assert done["file"]["id"] == target["fileId"]  # untouched
    # Into the first team's folder: the same answer as a folder that does not exist.
    png = make.image("png", 8, 8)
    errors = [
        (await multipart(stack, intruder, png, "a.png", "image/png", folderId=folder)).json()["data"][
            "uploadDriveFile"
        ]["userErrors"]
        for folder in (done["file"]["folderId"], str(uuid.uuid4()))
    ]
    assert (
        errors[0]
        == errors[1]
        == [{"code": "NOT_FOUND", "message": "folder not found", "field": ["folderId"]}]
    )
    created = [
        (await create(stack, intruder, name="a.png", contentType="image/png", sizeBytes=9, folderId=folder))[
            "userErrors"
        ]
        for folder in (done["file"]["folderId"], str(uuid.uuid4()))
    ]
    assert created[0] == created[1] and created[0][0]["field"] == ["input", "folderId"]
    assert usage(stack, intruder) == 0


# -- on S3: the bytes go straight to the bucket ----------------------------------------------------


@pytest.fixture(scope="module")
def s3_uploads(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    tmp: Path = tmp_path_factory.mktemp("s3_uploads")
    prefix = f"uploads-{uuid.uuid4().hex[:8]}"
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(s3_server.env(prefix))
    with running(env, tmp, simulator=False) as stack:
        yield stack, prefix


async def test_on_s3_a_large_upload_is_put_straight_to_the_bucket(
    s3_uploads: tuple[Stack, str], s3_server: S3Server
) -> None:
    stack, prefix = s3_uploads
    team = stack.create_team(0)
    video = noise_mp4()
    target = (await create(stack, team, name="clip.mp4", contentType="video/mp4", sizeBytes=len(video)))[
        "upload"
    ]
    assert target["url"].startswith(
        f"{s3_server.endpoint}/{s3_server.bucket}/{prefix}/incoming/{team.team_id}/"
    )
    assert "X-Amz-Signature=" in target["url"]
    assert {h["name"] for h in target["headers"]} == {"Content-Type", "Content-Length"}
    async with httpx.AsyncClient(timeout=60) as client:  # the store refuses a body of another length
        wrong = await client.put(target["url"], content=video + b"x", headers={"Content-Type": "video/mp4"})
    assert wrong.status_code == 403, wrong.text
    assert (await put(target, video)).status_code == 200
    done = await complete(stack, team, target["fileId"])
    assert done["userErrors"] == [], done
    file = done["file"]
    assert (file["kind"], file["width"], file["height"], file["sizeBytes"]) == ("VIDEO", 640, 360, len(video))
    assert await download(file["url"]) == video
    # The checked bytes moved to the file's own key: the URL, still valid, can no longer change them.
    assert (await put(target, b"\0" * len(video))).status_code == 200
    assert await download(file["url"]) == video

    bad = (await create(stack, team, name="x.png", contentType="image/png", sizeBytes=len(PDF)))["upload"]
    assert (await put(bad, PDF)).status_code == 200
    assert "PDF" in (await complete(stack, team, bad["fileId"]))["userErrors"][0]["message"]

    async with open_storage(
        f"s3://{s3_server.bucket}", local_root=Path("unused"), s3=s3_server.settings()
    ) as bucket:
        listed = await bucket.client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")  # type: ignore[attr-defined]
    keys = {untokened(item["Key"]) for item in listed.get("Contents", [])}
    final = f"{prefix}/{team.team_id}/uploads/{file['id']}"
    incoming = f"{prefix}/incoming/{team.team_id}/{file['id']}"
    # The file and its poster, and what the late PUT left (no row counts it); no PDF.
    assert keys == {final, f"{final}.thumb.webp", incoming}
    assert usage(stack, team) == len(video)

    async def sweep_after_the_urls_expired() -> int:
        async with open_storage(
            f"s3://{s3_server.bucket}/{prefix}", local_root=Path("unused"), s3=s3_server.settings()
        ) as store:
            return await drive.cleanup_incoming(
                store, now=datetime.now(UTC) + drive.PENDING_TTL + drive.PUT_MARGIN
            )

    # What the worker's sweep does once the URLs have expired (both uploads' records).
    assert stack.database.run(sweep_after_the_urls_expired) == 2
    async with open_storage(
        f"s3://{s3_server.bucket}", local_root=Path("unused"), s3=s3_server.settings()
    ) as bucket:
        listed = await bucket.client.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/")  # type: ignore[attr-defined]
    assert {untokened(item["Key"]) for item in listed.get("Contents", [])} == {final, f"{final}.thumb.webp"}
