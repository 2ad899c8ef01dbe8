"""It scales out: the API and the worker on different hosts that share nothing but PostgreSQL,
Redis and the S3 server.

tests/netns.py makes the hosts: ``main.py serve`` in network namespace "api" and ``main.py
worker`` in namespace "worker", each with its own interface, its own loopback and its own data
directory, on one PostgreSQL database, one Redis queue and one S3 prefix (this machine's services,
reached through relays on this side of the veth pairs). The test talks to the API host only, over
its namespace's address, as a client on another machine would. Skipped, with the reason, where
namespaces cannot be made (not root, no CAP_NET_ADMIN).

What is shown, as a user sees it:

* a job submitted through the API host is run by the worker host (the providers are called from
  the worker's address only; the API process is ``serve``, which runs no jobs), and its states
  reach the API host's subscription (Redis carries them across);
* its outputs download through the API host, ranged, byte for byte what the bucket holds;
* an input the API host's team put in Drive is read by the worker host from the bucket;
* neither host's data directory holds a Drive byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from models import drive
from models.drive import DriveFile
from storage import Storage, open_storage
from tests.media import check_output
from tests.netns import NETNS_DIR, NetnsUnavailable, ScaleOutStack, netns_inode, scale_out
from tests.s3_server import S3Server
from tests.stack import JOB_FIELDS, Team, follow_job

GENERATE = {
    kind: f"mutation ($input: Generate{name}Input!) {{ generate{name}(input: $input) "
    f"{{ job {{ {JOB_FIELDS} }} userErrors {{ code field message }} }} }}"
    for kind, name in (("image", "Image"), ("video", "Video"))
}


@pytest.fixture(scope="module")
def hosts(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOutStack]:
    try:
        with scale_out(tmp_path_factory.mktemp("scale_out"), s3_server) as stack:
            made = [(stack.host(role).netns, stack.host(role).interface) for role in ("api", "worker")]
            yield stack
    except NetnsUnavailable as exc:
        reason = f"network namespaces cannot be made here: {exc}"
        print(f"\ntest_scale_out skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    # Nothing is left behind: the namespaces and the interfaces on this side are gone.
    assert not [name for name, _ in made if (NETNS_DIR / name).exists()]
    assert not [name for _, name in made if Path(f"/sys/class/net/{name}").exists()]


def bucket(stack: ScaleOutStack) -> contextlib.AbstractAsyncContextManager[Storage]:
    """The deployment's storage (its S3 prefix, the keys the database names), as the test process
    reaches the S3 server: directly, not through a host's relay."""
    s3 = stack.s3
    assert s3 is not None
    return open_storage(f"s3://{s3.bucket}/{stack.prefix}", local_root=Path("unused"), s3=s3.settings())


def product_photo() -> bytes:
    """A real PNG (a gradient), as a user's product photo."""
    img = Image.new("RGB", (640, 360))
    img.putdata([(x * 255 // 640, y * 255 // 360, 128) for y in range(360) for x in range(640)])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def _upload(stack: ScaleOutStack, team: Team, data: bytes) -> str:
    async def upload() -> str:
        async with bucket(stack) as store:
            file = await drive.upload_file(
                store, team.team_id, name="product photo.png", data=data, quota_bytes=10**9
            )
        return str(file.id)

    return await asyncio.to_thread(stack.database.run, upload)


async def _files(stack: ScaleOutStack, job_id: str) -> list[DriveFile]:
    async def rows() -> list[DriveFile]:
        return await DriveFile.filter(job_id=job_id).order_by("job_index")

    return await asyncio.to_thread(stack.database.run, rows)


async def submit(stack: ScaleOutStack, team: Team, kind: str, input: dict[str, Any]) -> str:
    payload = (await stack.data(team, GENERATE[kind], {"input": input}))[f"generate{kind.title()}"]
    assert payload["userErrors"] == [] and payload["job"]["status"] == "PENDING", payload
    return str(payload["job"]["id"])


async def test_a_job_submitted_on_the_api_host_runs_on_the_worker_host(hosts: ScaleOutStack) -> None:
    stack = hosts
    api, worker = stack.host("api"), stack.host("worker")
    # Two hosts: each process is in its own network namespace, neither in the test's.
    assert stack.proc is not None and stack.worker is not None
    assert netns_inode(stack.proc.pid) == api.inode()
    assert netns_inode(stack.worker.pid) == worker.inode()
    assert len({netns_inode(stack.proc.pid), netns_inode(stack.worker.pid), netns_inode(os.getpid())}) == 3

    team = stack.create_team(5_000)
    photo = product_photo()
    # EXTENSION POINT (branch uploads): upload the photo THROUGH THE API HOST instead and take the
    # file id from the answer: `uploadDriveFile(file: Upload!)` as a GraphQL multipart request to
    # stack.url, and/or `createUpload` -> PUT the bytes to `upload.url` with `upload.headers` ->
    # `completeUpload(fileId)`. (On S3 that PUT URL is presigned for the S3 relay on net.hub, so the
    # test process's PUT adds net.hub to relays["s3"].peers: widen that assertion below.)
    # Until then the test process stores the photo as those mutations do, with
    # models.drive.upload_file into the shared database and bucket: the worker host never had
    # these bytes on any disk, so a completed image-to-video job proves it read them from S3.
    photo_id = await _upload(stack, team, photo)

    image_id = await submit(stack, team, "image", {"prompt": f"a lamp {uuid.uuid4().hex[:6]}"})
    video_id = await submit(
        stack,
        team,
        "video",
        {
            "prompt": "the lamp turns on",
            "provider": "RUNWAY_GEN4",
            "imageFileId": photo_id,
            "aspectRatio": "16:9",
            "durationSeconds": 5,
        },
    )
    # Followed on the API host's subscription: the worker host's changes reach it through Redis.
    image_states, video_states = await asyncio.gather(
        follow_job(stack, team, image_id, wait_seconds=45), follow_job(stack, team, video_id, wait_seconds=45)
    )
    for states in (image_states, video_states):
        final = states[-1]
        assert final["status"] == "COMPLETED", final

    # The providers were called by the worker host, and by nobody else: the jobs ran there (its
    # arq log shows them; the API host runs `serve`, no worker). Both hosts use the database.
    assert stack.relays["simulator"].peers == {worker.address}
    assert all(f"run_job('{job_id}')" in stack.log("worker") for job_id in (image_id, video_id))
    assert "arq.worker" not in stack.log("api")
    assert stack.relays["postgres"].peers >= {api.address, worker.address}

    drive_bytes = [photo]  # every Drive object of the team, as the bucket holds it
    async with httpx.AsyncClient(timeout=30) as client, bucket(stack) as store:
        for job_id, final, kind in (
            (image_id, image_states[-1], "image"),
            (video_id, video_states[-1], "video"),
        ):
            files = await _files(stack, job_id)
            assert [f.job_index for f in files] == list(range(len(final["resultUrls"]))) and files
            for url, file in zip(final["resultUrls"], files, strict=True):
                assert url.startswith(f"http://{api.address}:")  # signed for the API host
                stored = await store.get(file.storage_key)
                whole = await client.get(url)
                assert whole.status_code == 200, whole.text
                assert whole.headers["content-type"].split(";")[0] == file.content_type
                assert file.content_type.startswith(f"{kind}/")
                assert whole.content == stored and len(stored) == file.size_bytes > 100
                check_output(file.content_type, whole.content)
                seek = await client.get(url, headers={"Range": "bytes=100-1099"})
                assert seek.status_code == 206 and seek.content == stored[100:1100]
                assert seek.headers["content-range"] == f"bytes 100-1099/{len(stored)}"
                tail = await client.get(url, headers={"Range": "bytes=-500"})  # a second seek
                assert tail.status_code == 206 and tail.content == stored[-500:]
                # The worker host made the thumbnail (a poster frame for the video) into the bucket.
                assert file.thumbnail_key, file.name
                thumb = await store.get(file.thumbnail_key)
                drive_bytes += [stored, thumb]
                assert check_output("image/webp", thumb)["width"] > 0
                # EXTENSION POINT (branch drive-api): download it THROUGH THE API HOST as a user
                # does: query `job(id: job_id) { outputs { id url thumbnailUrl } }` at
                # stack.url, GET each thumbnailUrl there (200, image/webp, bytes == thumb) and each
                # url (== stored, ranged as above) beside resultUrls.

        # The photo the worker host was given is in the bucket only (it read it there: the job ran).
        [source] = await asyncio.to_thread(
            stack.database.run, lambda: DriveFile.filter(id=photo_id).values_list("storage_key", flat=True)
        )
        assert await store.get(source) == photo

    # Both hosts used the bucket: the worker host wrote the outputs and read the photo, the API
    # host served the downloads. No Drive byte is on either host's disk: everything is in the bucket.
    assert stack.relays["s3"].peers == {api.address, worker.address}
    for role in ("api", "worker"):
        data_dir = stack.data_dir(role)
        assert not (data_dir / "drive").exists(), role
        on_disk = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
        assert not [p for p, data in on_disk.items() if data in drive_bytes], (role, list(on_disk))
