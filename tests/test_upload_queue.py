"""Upload checks run on a queue and a worker of their own (tasks.worker.upload_worker): found in
review, when they shared the job worker, a queued check held a job slot (a creative job's run
waited for it), a check's 900 s timeout became every job's claim (a dead worker's jobs waited 15
minutes), and a check that timed out was answered IN_PROGRESS for an hour while nothing ran.

Real Redis (a queue name of its own per test); the check itself is replaced by a slow or a quick
stand-in, since what is tested here is the queueing, not the content check (tests/test_uploads.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from arq import create_pool

from models import drive
from models.errors import DomainError, ErrorCode
from services.queue import JobQueue, redis_settings
from services.settings import Settings
from tasks import pipeline
from tasks import worker as worker_tasks
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def queue() -> AsyncIterator[tuple[Settings, JobQueue]]:
    name = f"test-upload-queue:{uuid.uuid4().hex}"
    settings = Settings(
        redis_url=f"{REDIS_URL}/0",
        queue_name=name,
        job_timeout_seconds=10,
        upload_check_concurrency=1,
        upload_check_timeout_seconds=1,
    )
    pool = await create_pool(redis_settings(settings.redis_url or ""), default_queue_name=name)
    yield settings, JobQueue(pool)
    keys = [key async for key in pool.scan_iter(match=f"{name}*")]
    keys += [key async for key in pool.scan_iter(match="arq:*upload:test-*")]
    if keys:
        await pool.delete(*keys)
    await pool.aclose()


def test_a_long_upload_check_does_not_lengthen_a_dead_job_workers_claims() -> None:
    settings = Settings(redis_url=f"{REDIS_URL}/0", job_timeout_seconds=10, upload_check_timeout_seconds=900)
    jobs = worker_tasks.worker(settings, SimpleNamespace(), handle_signals=False)  # type: ignore[arg-type]  # never run
    # a killed worker's job is run again after its claim lapses: job timeout + 10 s, not the check's
    assert jobs.in_progress_timeout_s == 20
    assert "check_upload" not in jobs.functions


async def test_queued_upload_checks_do_not_hold_up_jobs(
    queue: tuple[Settings, JobQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, jobs = queue
    started: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    job_ran = asyncio.Event()

    async def slow_check(storage: Any, team_id: str, file_id: str, **_: Any) -> None:
        started.setdefault(file_id, loop.time() - t0)
        await asyncio.sleep(0.8)

    async def run_job(services: Any, job_id: str) -> str:
        started[job_id] = loop.time() - t0
        job_ran.set()
        return "ran"

    monkeypatch.setattr(drive, "complete_upload", slow_check)
    monkeypatch.setattr(drive, "still_pending", lambda file_id: asyncio.sleep(0, result=False))
    monkeypatch.setattr(pipeline, "run_job", run_job)
    services = SimpleNamespace(settings=settings, storage=None, queue=jobs)
    for n in range(4):  # more checks than the check worker's one slot
        await jobs.pool.enqueue_job(
            "check_upload", "team", f"test-{n}", _job_id=f"upload:test-{n}", _queue_name=jobs.upload_queue
        )
    job_id = f"job-{uuid.uuid4().hex}"  # arq skips an id whose result it still keeps (60 s), in any queue
    await jobs.enqueue_job(job_id)
    runner = asyncio.create_task(worker_tasks._run_workers(settings, services, handle_signals=False))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(10):
            await job_ran.wait()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert started[job_id] < 0.7, started  # it did not wait for a check to finish


async def test_a_check_that_timed_out_is_run_again_not_answered_in_progress(
    queue: tuple[Settings, JobQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, jobs = queue
    runs: list[str] = []

    async def check(storage: Any, team_id: str, file_id: str, **_: Any) -> None:
        runs.append(file_id)
        if len(runs) == 1:
            await asyncio.sleep(5)  # past the check's 1 s timeout

    monkeypatch.setattr(drive, "complete_upload", check)
    services = SimpleNamespace(settings=settings, storage=None, queue=jobs)
    runner = asyncio.create_task(worker_tasks._run_upload_checks(settings, services))  # type: ignore[arg-type]
    try:
        first = await jobs.check_upload("team", "test-upload", wait=3.0)
        assert first is None  # timed out in the worker: no outcome yet (IN_PROGRESS for the client)
        second = await jobs.check_upload("team", "test-upload", wait=3.0)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert second is not None and second.get("ok"), second  # run again, and answered
    assert runs == ["test-upload", "test-upload"]


async def test_a_not_yet_put_answer_nobody_waited_for_is_not_answered_after_the_put(
    queue: tuple[Settings, JobQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that found nothing PUT yet, finishing after its caller stopped waiting: its answer is
    kept (arq keeps every result), but once the bytes are PUT the next completeUpload checks again
    instead of answering "PUT the bytes first" once more."""
    settings, jobs = queue
    runs: list[str] = []
    put = asyncio.Event()

    async def check(storage: Any, team_id: str, file_id: str, **_: Any) -> None:
        runs.append(file_id)
        if not put.is_set():
            await asyncio.sleep(0.5)  # longer than the caller waits
            raise DomainError(ErrorCode.VALIDATION_FAILED, "nothing was uploaded: PUT the bytes first")

    monkeypatch.setattr(drive, "complete_upload", check)
    monkeypatch.setattr(drive, "still_pending", lambda file_id: asyncio.sleep(0, result=True))
    services = SimpleNamespace(settings=settings, storage=None, queue=jobs)
    runner = asyncio.create_task(worker_tasks._run_upload_checks(settings, services))  # type: ignore[arg-type]
    try:
        assert await jobs.check_upload("team", "test-early", wait=0.1) is None  # IN_PROGRESS
        kept = await jobs._upload_check("test-early").result(timeout=5, poll_delay=0.05)  # it ends
        assert kept["again"] and kept == await jobs.upload_outcome("test-early")  # and is kept
        put.set()  # the client PUTs the bytes, then completes the upload again
        second = await jobs.check_upload("team", "test-early", wait=3.0)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert second is not None and second.get("ok"), second
    assert runs == ["test-early", "test-early"]
