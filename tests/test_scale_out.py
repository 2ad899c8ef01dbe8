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
* its outputs download through the API host, ranged, byte for byte what the bucket holds, and so
  do their thumbnails (the worker host made them);
* neither host's data directory holds a Drive byte;
* the judged run (tests/product_run.py) on these hosts: a product photo uploaded through the API
  host (a multipart request) and a logo (its PUT straight to the bucket) are inputs the worker host
  reads from the bucket; image-to-video on every provider that takes a start image, a voice-over, a
  composite scrubbed in Chromium through the API host; another team tries every id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.drive import DriveFile
from storage import Storage, open_storage
from tests.browser import BrowserPage
from tests.media import check_output
from tests.netns import NETNS_DIR, NetnsUnavailable, ScaleOutStack, netns_inode, scale_out
from tests.product_run import product_run
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


async def _files(stack: ScaleOutStack, job_id: str) -> list[DriveFile]:
    async def rows() -> list[DriveFile]:
        return await DriveFile.filter(job_id=job_id).order_by("job_index")

    return await asyncio.to_thread(stack.database.run, rows)


async def outputs(stack: ScaleOutStack, team: Team, job_id: str) -> list[dict[str, Any]]:
    query = "query ($id: ID!) { job(id: $id) { outputs { id url thumbnailUrl } } }"
    found: list[dict[str, Any]] = (await stack.data(team, query, {"id": job_id}))["job"]["outputs"]
    return found


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
    # (Uploads through the API host as a job's input: the judged run below.)
    image_id = await submit(stack, team, "image", {"prompt": f"a lamp {uuid.uuid4().hex[:6]}"})
    video_id = await submit(
        stack,
        team,
        "video",
        {
            "prompt": "the lamp turns on",
            "provider": "RUNWAY_GEN4",
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

    drive_bytes = []  # every Drive object of the team, as the bucket holds it
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
                # ... and it downloads through the API host, as the job's outputs name it.
                [output] = [o for o in await outputs(stack, team, job_id) if o["id"] == str(file.id)]
                assert output["url"].startswith(stack.url) and output["thumbnailUrl"].startswith(stack.url)
                shown = await client.get(output["thumbnailUrl"])
                assert shown.status_code == 200 and shown.headers["content-type"] == "image/webp"
                assert shown.content == thumb

    # Both hosts used the bucket: the worker host wrote the outputs, the API host served the
    # downloads (the judged run's presigned PUT, if it ran first, came from this side: net.hub).
    # No Drive byte is on either host's disk: everything is in the bucket.
    assert stack.net is not None
    assert stack.relays["s3"].peers - {stack.net.hub} == {api.address, worker.address}
    for role in ("api", "worker"):
        data_dir = stack.data_dir(role)
        assert not (data_dir / "drive").exists(), role
        on_disk = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
        assert not [p for p, data in on_disk.items() if data in drive_bytes], (role, list(on_disk))


async def test_the_judged_run_on_separate_hosts_and_s3(hosts: ScaleOutStack, page: BrowserPage) -> None:
    """tests/product_run.py through the API host (Chromium here plays the composite from it), the
    jobs run by the worker host; the logo's PUT goes straight to the bucket (through the S3 relay)."""
    stack = hosts
    assert stack.net is not None
    api, worker = stack.host("api"), stack.host("worker")
    bucket_url = stack.host_env["api"]["AWS_ENDPOINT_URL_S3"]
    run = await product_run(stack, page, put_prefix=f"{bucket_url}/")
    # The upload URL was the bucket's: this side PUT the logo there, not to the API host.
    assert stack.net.hub in stack.relays["s3"].peers
    # The worker host ran every job (it alone called the providers) and read the uploads from the
    # bucket: the photo became five videos, the logo part of the composite.
    assert stack.relays["simulator"].peers == {worker.address}
    assert all(f"run_job('{job['id']}')" in stack.log("worker") for job in run.jobs.values())
    assert stack.relays["s3"].peers >= {api.address, worker.address}
    # The browser read the composite through the API host (no redirect configured).
    assert run.media and all(e["url"].startswith(f"{stack.url}/files/") for e in run.media), run.media
    assert (
        not (stack.data_dir("api") / "drive").exists() and not (stack.data_dir("worker") / "drive").exists()
    )
    print(f"\nproduct run on two hosts and S3: {run.seconds}, {run.tried} tries by the other team")
