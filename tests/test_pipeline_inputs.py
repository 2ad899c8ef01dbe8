"""The worker's look at a job's Drive inputs when it runs, in-process (tests/test_cancel.py's world:
the pipeline against the provider simulator on a SQLite file of the test's own).

A file accepted as an input may be deleted before the worker runs the job: the job then fails free
(``input_gone``) and nothing reaches the provider. A provider error that quotes an input's signed
link reaches the worker log with the link's capability redacted."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from models import drive
from models.jobs import CreativeJob, JobStatus
from tests import test_cancel
from tests.standins import media as make
from tests.test_cancel import World
from tests.test_drive import QUOTA, MemoryStorage

world = test_cancel.world  # the same world: the pipeline, the simulator, a SQLite file

SOURCE = {
    "output_format": "png",
    "width": 640,
    "height": 640,
    "elements": [{"name": "Logo", "type": "image", "source": ""}],
}
COMPOSITE_HOLD = 10


async def composite_with_logo(world: World, storage: MemoryStorage) -> tuple[CreativeJob, drive.DriveFile]:
    logo = await drive.upload_file(
        storage,  # type: ignore[arg-type]
        world.team.id,
        name="logo.png",
        data=make.image("png", 200, 100),
        quota_bytes=QUOTA,
    )
    job = await world.job(
        "creatomate",
        "the logo on a white square",
        COMPOSITE_HOLD,
        source=SOURCE,
        inputs=[{"name": "Logo", "file_id": str(logo.id)}],
    )
    return job, logo


async def test_a_composite_input_deleted_before_the_run_fails_the_job_free(world: World) -> None:
    storage = MemoryStorage()
    world.services.storage = storage
    job, logo = await composite_with_logo(world, storage)
    await drive.delete_file(storage, world.team.id, str(logo.id))  # after acceptance, before the run

    assert await world.run(job) == "failed"
    row = await CreativeJob.get(id=job.id)
    assert row.status == JobStatus.FAILED and row.cost_cents == 0
    assert row.error_message == "an input file is no longer in Drive"
    assert world.provider.sent == [], "nothing was sent to the provider"
    assert await world.ledger(job) == {"HOLD": COMPOSITE_HOLD, "RELEASE": COMPOSITE_HOLD}
    assert await world.balance() == await world.available() == 5_000
    await world.audit_clean()


def echoing(status: int, quoted: list[str]) -> Any:
    """A provider that refuses the render, quoting the input URL it was sent (as error texts do)."""

    async def answer(request: httpx.Request) -> httpx.Response:
        url = json.loads(request.content)["modifications"]["Logo"]
        quoted.append(url)
        return httpx.Response(status, json={"message": f"could not download the source ({url})"})

    return answer


@pytest.mark.parametrize(("status", "outcome"), [(400, "failed"), (503, "retry")])
async def test_a_provider_error_quoting_a_signed_link_is_logged_redacted(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, status: int, outcome: str
) -> None:
    storage = MemoryStorage()
    world.services.storage = storage
    job, logo = await composite_with_logo(world, storage)
    sent: list[str] = []
    monkeypatch.setattr(world.provider, "handle_async_request", echoing(status, sent))

    with caplog.at_level(logging.INFO, logger="tasks.pipeline"):
        assert await world.run(job) == outcome
    (url,) = sent
    signed = httpx.URL(url).params
    assert signed["signature"] and signed["expires"]
    lines = [r.getMessage() for r in caplog.records if r.name == "tasks.pipeline"]
    (line,) = [line for line in lines if f"/files/{logo.id}?" in line]  # the provider's words, logged
    assert f"/files/{logo.id}?expires=REDACTED&signature=REDACTED" in line, line
    assert signed["signature"] not in line and signed["expires"] not in line, line


async def test_inputs_are_read_to_submit_only_and_a_later_delete_does_not_fail_the_render(
    world: World,
) -> None:
    """Found in review: every poll looked the job's input files up again and read their bytes from
    storage (up to 16 references), and a start image deleted while the provider rendered failed
    the job free, though the provider had it and bills the render. Inputs are for submitting."""
    storage = MemoryStorage()
    world.services.storage = storage
    photo = await drive.upload_file(
        storage,  # type: ignore[arg-type]
        world.team.id,
        name="product.png",
        data=make.image("png", 640, 360),
        quota_bytes=QUOTA,
    )
    job = await world.job(
        "runway_gen4", "the product turns [sim:slow]", test_cancel.RUNWAY_10S, duration_seconds=10,
        image_file_id=str(photo.id),
    )  # fmt: skip
    assert await world.run(job) == "submitted"
    reads = storage.reads
    await drive.delete_file(storage, world.team.id, str(photo.id))  # while the provider renders

    assert await world.run(job) in ("pending", "completed")
    row = await CreativeJob.get(id=job.id)
    assert row.status != JobStatus.FAILED, row.error_message
    assert storage.reads == reads, "a poll read no input bytes"
