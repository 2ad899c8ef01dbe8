"""The Drive on the running service: jobs run by the worker against the provider simulator land in
a folder with readable names, their facts and thumbnails, and read the same over GraphQL, REST and
the signed links (tests/test_drive_api.py covers the API's rules in-process)."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
from PIL import Image

from tests.stack import Stack, Team, follow_job
from tests.test_generation import submit_ok

OUTPUTS = """query ($id: ID!) { job(id: $id) { status resultUrls outputs {
  id name kind contentType sizeBytes width height durationSeconds url thumbnailUrl jobId
  folder { id name path fileCount } job { id } } } }"""


async def test_outputs_of_real_jobs_are_named_described_and_downloadable(stack: Stack, team: Team) -> None:
    folder = (
        await stack.data(
            team, 'mutation { createDriveFolder(name: "Launch") { folder { id } userErrors { code } } }'
        )
    )["createDriveFolder"]["folder"]["id"]
    image = await submit_ok(
        stack, team, "image", {"prompt": "Hero shot: a glass bottle on sand", "driveFolderId": folder}
    )
    video = await submit_ok(
        stack,
        team,
        "video",
        {"prompt": "The bottle spins slowly", "provider": "KLING_3_0", "driveFolderId": folder},
    )
    for job in (image, video):
        assert (await follow_job(stack, team, job["id"]))[-1]["status"] == "COMPLETED"

    async with httpx.AsyncClient(timeout=30) as client:
        for job, kind, prefix in (
            (image, "IMAGE", "image-flux_2_pro-"),
            (video, "VIDEO", "video-kling_3_0-"),
        ):
            answer = (await stack.data(team, OUTPUTS, {"id": job["id"]}))["job"]
            assert len(answer["outputs"]) == len(answer["resultUrls"]) >= 1
            output = answer["outputs"][0]
            assert re.fullmatch(re.escape(prefix) + r"[a-z0-9-]+-1\.\w+", output["name"]), output["name"]
            assert (
                output["kind"] == kind and output["jobId"] == job["id"] and output["job"] == {"id": job["id"]}
            )
            assert output["folder"]["path"] == "/Launch" and output["width"] > 0 and output["height"] > 0
            if kind == "VIDEO":
                assert output["durationSeconds"] > 0
            body = await client.get(output["url"])
            assert body.status_code == 200 and len(body.content) == output["sizeBytes"]
            thumb = await client.get(output["thumbnailUrl"])
            assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
            assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
            rest = await client.get(f"{stack.url}/api/v1/creative-hub/jobs/{job['id']}", headers=team.headers)
            assert [o["id"] for o in rest.json()["outputs"]] == [o["id"] for o in answer["outputs"]]

        listed = await client.get(
            f"{stack.url}/api/v1/drive/files", params={"folder_id": folder}, headers=team.headers
        )
        assert listed.status_code == 200 and listed.json()["total_count"] >= 2
        usage = await client.get(f"{stack.url}/api/v1/drive/usage", headers=team.headers)
        assert usage.json()["used_bytes"] >= sum(f["size_bytes"] for f in listed.json()["files"])


async def test_a_subscription_selecting_outputs_gets_them_with_the_final_state(
    stack: Stack, team: Team
) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "Outputs arrive with the final state"})
    query = """subscription ($id: ID!) { jobUpdated(id: $id) { status resultUrls
      outputs { id name kind url thumbnailUrl } } }"""
    states = []
    async with stack.subscription(team, query, {"id": job["id"]}) as queue:
        async with asyncio.timeout(60):
            while (payload := await queue.get()) is not None:
                assert "errors" not in payload, payload
                states.append(payload["data"]["jobUpdated"])
    final = states[-1]
    assert final["status"] == "COMPLETED" and len(final["outputs"]) == len(final["resultUrls"]) == 1
    (output,) = final["outputs"]
    assert output["kind"] == "AUDIO" and output["name"].startswith("tts-") and output["thumbnailUrl"] is None
    assert output["id"] in final["resultUrls"][0]
    assert all(state["outputs"] == [] for state in states if not state["resultUrls"])
