"""The service on S3 storage end to end: ``main.py dev`` (API + worker) with CH_STORAGE_URL and the
AWS variables pointing at the session's SeaweedFS. A job's outputs are written by the worker to the
bucket (nothing under the data directory), then downloaded, ranged, through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage import open_storage
from tests.conftest import _redis_for
from tests.s3_server import S3Server
from tests.stack import Stack, backend_env, follow_job, running

GENERATE = "/api/v1/creative-hub/generate/"


@pytest.fixture(scope="module")
def s3_stack(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    tmp: Path = tmp_path_factory.mktemp("s3_stack")
    prefix = f"stack-{uuid.uuid4().hex[:8]}"
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(server_env := s3_server.env(prefix))
    assert server_env["CH_STORAGE_URL"] == f"s3://{s3_server.bucket}/{prefix}"
    with running(env, tmp) as stack:
        yield stack, prefix


async def test_outputs_go_to_the_bucket_and_download_through_the_api(
    s3_stack: tuple[Stack, str], s3_server: S3Server
) -> None:
    stack, prefix = s3_stack
    team = stack.create_team(5_000)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        submitted = await client.post(GENERATE + "tts", json={"text": "stored on S3"}, headers=team.headers)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["job_id"]
        final = (await follow_job(stack, team, job_id))[-1]
        assert final["status"] == "COMPLETED", final
        [url] = final["resultUrls"]
        whole = await client.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"].startswith("audio/")
        data = whole.content
        assert len(data) > 100
        assert whole.headers["accept-ranges"] == "bytes"
        etag = whole.headers["etag"]
        seek = await client.get(url, headers={"Range": "bytes=10-59"})
        assert (seek.status_code, seek.content) == (206, data[10:60])
        assert seek.headers["content-range"] == f"bytes 10-59/{len(data)}"
        assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
        assert (await client.get(url, headers={"Range": f"bytes={len(data)}-"})).status_code == 416
    # The bytes are in the bucket, under the configured prefix, and on no local disk.
    assert not (Path(stack.env["CH_DATA_DIR"]) / "drive").exists()
    async with open_storage(
        f"s3://{s3_server.bucket}", local_root=Path("unused"), s3=s3_server.settings()
    ) as bucket:
        listed = await bucket.client.list_objects_v2(
            Bucket=s3_server.bucket, Prefix=f"{prefix}/{team.team_id}/"
        )  # type: ignore[attr-defined]
        keys = [item["Key"] for item in listed.get("Contents", [])]
        assert len(keys) == 1 and keys[0].startswith(f"{prefix}/{team.team_id}/{job_id}/")
        assert await bucket.get(keys[0]) == data
        assert (await bucket.stat(keys[0])).etag == etag
