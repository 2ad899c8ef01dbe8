"""A worker you can kill, and cancels that reach the provider."""

from __future__ import annotations

import asyncio
import signal
from types import SimpleNamespace
from typing import Any

import pytest
from arq.worker import Retry

from models.jobs import CreativeJob
from services.settings import Settings
from tasks import pipeline, worker
from tests.stack import JOB_UPDATED, Stack, Team, follow_job
from tests.test_generation import CANCEL, balance, ledger, submit_ok


async def _until_counted(stack: Stack, counter: str, family: str, before: int, seconds: float = 30) -> None:
    """Wait (bounded) until one of the simulator's counters moves: the provider's own record of
    what we sent it, which has no event to subscribe to."""
    for _ in range(int(seconds / 0.05)):
        if stack.sim_stats()[counter].get(family, 0) != before:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the simulator's {counter} for {family} stayed at {before}")


async def _until_submitted(stack: Stack, team: Team, job_id: str, family: str, before: int) -> None:
    """Wait (bounded) until the job is processing and the provider has its task."""
    async with stack.subscription(team, JOB_UPDATED, {"id": job_id}) as queue, asyncio.timeout(30):
        while (await queue.get())["data"]["jobUpdated"]["status"] != "PROCESSING":
            pass
        await _until_counted(stack, "submissions", family, before)


async def _until_task_recorded(stack: Stack, job_id: str, seconds: float = 30) -> None:
    """Wait (bounded) until the worker has stored the provider's task id on the job: from then on
    a restarted worker follows that task. (No event says so; the job's row is read directly.)"""

    async def recorded() -> str | None:
        job = await CreativeJob.get(id=job_id)
        return job.provider_task_id

    for _ in range(int(seconds / 0.05)):
        if await asyncio.to_thread(stack.database.run, recorded):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"job {job_id} never recorded its provider task id")


@pytest.mark.both_databases
async def test_sigkill_in_the_middle_of_a_long_video_resumes_and_charges_once(
    stack: Stack, team: Team
) -> None:
    before = stack.sim_stats()["submissions"].get("runway", 0)
    job = await submit_ok(stack, team, "video", {"prompt": "a long render [sim:slow]", "durationSeconds": 10})
    await _until_submitted(stack, team, job["id"], "runway", before)
    # Killed only once the task id is stored: the simulator counts a task before its answer reaches
    # the worker, and a kill in between leaves a job that must submit again (docs/operations.md).
    await _until_task_recorded(stack, job["id"])
    assert stack.proc is not None
    stack.proc.send_signal(signal.SIGKILL)  # API and worker die together, the provider keeps rendering
    stack.proc.wait(30)
    stack.start()
    final = (await follow_job(stack, team, job["id"], wait_seconds=120))[-1]
    assert final["status"] == "COMPLETED", final
    assert stack.sim_stats()["submissions"]["runway"] - before == 1, "the provider saw one submission"
    kinds = [r["kind"] for r in await ledger(stack, team) if r["jobId"] == job["id"]]
    assert kinds.count("CAPTURE") == 1
    assert (await balance(stack, team))["balanceCents"] == 5_000 - final["costCents"]


async def _job(stack: Stack, team: Team, job_id: str) -> dict[str, Any]:
    query = "query ($id: ID!) { job(id: $id) { status costCents estimatedCostCents metadata } }"
    job: dict[str, Any] = (await stack.data(team, query, {"id": job_id}))["job"]
    return job


@pytest.mark.both_databases
async def test_cancel_reaches_runway_and_charges_the_started_render(stack: Stack, team: Team) -> None:
    stats: dict[str, Any] = stack.sim_stats()
    submitted, canceled = stats["submissions"].get("runway", 0), stats["cancellations"].get("runway", 0)
    job = await submit_ok(
        stack, team, "video", {"prompt": "cancel me at the provider [sim:slow]", "durationSeconds": 10}
    )
    await _until_submitted(stack, team, job["id"], "runway", submitted)
    payload = (await stack.data(team, CANCEL, {"id": job["id"]}))["cancelJob"]
    assert payload["job"]["status"] == "CANCELED"
    # Runway had the task: the cancel is charged (docs/credits.md), and Runway is asked to stop it.
    assert payload["job"]["costCents"] == job["estimatedCostCents"]
    await _until_counted(stack, "cancellations", "runway", canceled)  # Runway's DELETE /v1/tasks/{id}
    for _ in range(600):  # recorded right after Runway confirmed (no event to wait on), bounded
        if (await _job(stack, team, job["id"]))["metadata"].get("provider_canceled") is True:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("provider_canceled was never recorded")
    spent = 5_000 - job["estimatedCostCents"]
    assert await balance(stack, team) == {"balanceCents": spent, "availableCents": spent, "heldCents": 0}
    kinds = {r["kind"]: r["amountCents"] for r in await ledger(stack, team) if r["jobId"] == job["id"]}
    assert kinds == {"HOLD": job["estimatedCostCents"], "CAPTURE": job["estimatedCostCents"]}


@pytest.mark.both_databases
async def test_a_veo_job_canceled_mid_render_is_charged_and_says_what_it_cost(
    stack: Stack, team: Team
) -> None:
    estimate = (
        await stack.data(
            team,
            "{ estimateCost(input: {type: VIDEO, provider: VEO_3_1, durationSeconds: 8})"
            " { cents cancelAfterSubmitCents cancelableAtProvider } }",
        )
    )["estimateCost"]
    assert estimate["cancelAfterSubmitCents"] == estimate["cents"] > 0
    assert estimate["cancelableAtProvider"] is False
    listed = await stack.data(team, "{ providers(type: VIDEO) { provider cancelableAtProvider } }")
    cancelable = {p["provider"] for p in listed["providers"] if p["cancelableAtProvider"]}
    assert cancelable == {"RUNWAY_GEN4"}

    submitted = stack.sim_stats()["submissions"].get("gemini", 0)
    job = await submit_ok(
        stack,
        team,
        "video",
        {"prompt": "a 4K sunrise [sim:slow]", "provider": "VEO_3_1", "durationSeconds": 8},
    )
    assert job["estimatedCostCents"] == estimate["cents"]
    await _until_submitted(stack, team, job["id"], "gemini", submitted)
    payload = (await stack.data(team, CANCEL, {"id": job["id"]}))["cancelJob"]
    assert payload["userErrors"] == [] and payload["job"]["status"] == "CANCELED"
    assert payload["job"]["costCents"] == estimate["cancelAfterSubmitCents"]
    assert "provider_canceled" not in payload["job"]["metadata"]
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["costCents"] == estimate["cents"] and "provider_canceled" not in final["metadata"]
    spent = 5_000 - estimate["cents"]
    assert await balance(stack, team) == {"balanceCents": spent, "availableCents": spent, "heldCents": 0}
    kinds = {r["kind"]: r["amountCents"] for r in await ledger(stack, team) if r["jobId"] == job["id"]}
    assert kinds == {"HOLD": estimate["cents"], "CAPTURE": estimate["cents"]}
    assert stack.sim_stats()["cancellations"].get("gemini", 0) == 0


async def test_a_provider_never_runs_more_of_our_tasks_than_its_concurrency_limit(
    stack: Stack, team: Team
) -> None:
    # The test stacks cap Luma at 2 (CH_PROVIDER_CONCURRENCY); the rest wait their turn, off the worker.
    infos = await stack.data(team, "{ providers(type: VIDEO) { provider maxConcurrency } }")
    assert {"provider": "LUMA_RAY3", "maxConcurrency": 2} in infos["providers"]
    jobs = [
        await submit_ok(
            stack, team, "video", {"prompt": f"scene {i}", "provider": "LUMA_RAY3", "durationSeconds": 5}
        )
        for i in range(6)
    ]
    finals = await asyncio.gather(*[follow_job(stack, team, job["id"]) for job in jobs])
    assert [states[-1]["status"] for states in finals] == ["COMPLETED"] * 6
    assert stack.sim_stats()["open_peak"]["luma"] == 2  # two ran side by side; never a third


async def test_a_canceled_job_keeps_its_provider_slot_until_the_provider_ends_its_task(
    stack: Stack, team: Team
) -> None:
    # Luma cannot stop a task (docs/credits.md, Cancel): a canceled job's render goes on at Luma and
    # counts against its cap (2 in the test stacks) until it ends. The next job waits for it.
    slow = {"provider": "LUMA_RAY3", "durationSeconds": 5}
    submitted = stack.sim_stats()["submissions"].get("luma", 0)
    running = []
    for i in range(2):
        job = await submit_ok(stack, team, "video", {**slow, "prompt": f"a long take {i} [sim:slow]"})
        await _until_submitted(stack, team, job["id"], "luma", submitted + i)
        running.append(job)
    payload = (await stack.data(team, CANCEL, {"id": running[0]["id"]}))["cancelJob"]
    assert payload["job"]["status"] == "CANCELED"
    after = await submit_ok(stack, team, "video", {**slow, "prompt": "the next take"})
    finals = await asyncio.gather(*[follow_job(stack, team, job["id"]) for job in (running[1], after)])
    assert [states[-1]["status"] for states in finals] == ["COMPLETED", "COMPLETED"]
    assert stack.sim_stats()["open_peak"]["luma"] == 2  # the canceled render still ran: never a third


async def test_the_run_budget_never_cuts_a_submission_to_the_provider() -> None:
    # A run cut while it submits would be retried at once and, not knowing whether the provider
    # took the job, submit it again: billed twice. The submission (claim, provider call, task id
    # stored) runs outside the budget; arq's own timeout, and the claim's expiry, govern it as before.
    services = SimpleNamespace(settings=Settings(job_timeout_seconds=2))  # a budget of 1 s
    ctx: dict[str, Any] = {"services": services, "job_try": 1, "job_id": "j"}
    submissions: list[str] = []

    async def slow_submit() -> str:
        with pipeline.outside_run_budget():
            submissions.append("sent")
            await asyncio.sleep(1.3)  # the provider answers after the budget has run out
        return "submitted"

    async with asyncio.timeout(2):
        assert await worker._through_outages(ctx, "j", slow_submit) == "submitted"
    assert submissions == ["sent"]

    async def slow_submit_then_stuck() -> str:  # once the submission is stored, the budget holds again
        with pipeline.outside_run_budget():
            await asyncio.sleep(1.3)
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(5):  # the submission, then SUBMISSION_GRACE_SECONDS at most
        with pytest.raises(Retry):
            await worker._through_outages(ctx, "j", slow_submit_then_stuck)

    async def slow_submit_then_refused() -> str:  # its refusal is still recorded, not cut short
        with pipeline.outside_run_budget():
            await asyncio.sleep(1.3)
        await asyncio.sleep(0.3)  # recording the provider's answer (a retry counted, a refusal)
        return "failed"

    async with asyncio.timeout(3):
        assert await worker._through_outages(ctx, "j", slow_submit_then_refused) == "failed"


async def test_a_run_out_of_time_runs_again_shortly_rather_than_at_the_next_sweep() -> None:
    # arq drops a run that reaches its job timeout, leaving the job to the sweep (a minute or two):
    # a run stuck waiting (on SQLite: for the one connection, under load) ends itself a little
    # before that, as a retry in half a second.
    services = SimpleNamespace(settings=Settings(job_timeout_seconds=2))
    ctx: dict[str, Any] = {"services": services, "job_try": 1, "job_id": "j"}

    async def stuck() -> str:
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(2):  # within arq's own timeout
        with pytest.raises(Retry) as retry:
            await worker._through_outages(ctx, "j", stuck)
    assert retry.value.defer_score == 500
