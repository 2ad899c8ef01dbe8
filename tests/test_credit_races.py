"""Credits under races and failures, on both databases: hundreds of submissions racing for the same
balance, one job run many times at once, a worker killed before it settles, a stuck job swept,
operators granting credits while jobs run. Each ends with the ledger audit clean (tests/test_credits.py
holds the ledger's reads, alerts and the audit itself)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

from services.queue import JobQueue
from tests.stack import ROOT, Stack, Team, follow_job
from tests.test_credits import audit
from tests.test_generation import GENERATE, balance, ledger, submit_ok

RUNWAY_5S_TEXT = 60  # gen4.5 text-to-video: 12 credits/s × 5 s (docs/providers.md, Prices)


@pytest.mark.both_databases
async def test_hundreds_of_concurrent_submissions_race_for_credits(stack: Stack) -> None:
    affordable = 10
    team = stack.create_team(affordable * RUNWAY_5S_TEXT)
    attempts = 200
    limits = httpx.Limits(max_connections=attempts)
    async with httpx.AsyncClient(base_url=stack.url, timeout=120, limits=limits) as client:

        async def one(i: int) -> dict[str, Any]:
            prompt = f"race {i}"
            body = {
                "query": GENERATE["video"],
                "variables": {"input": {"prompt": prompt, "durationSeconds": 5}},
            }
            r = await client.post("/graphql", json=body, headers=team.headers)
            payload: dict[str, Any] = r.json()["data"]["generateVideo"]
            return payload

        results = await asyncio.gather(*(one(i) for i in range(attempts)))
    accepted = [r["job"] for r in results if r["job"]]
    refused = [r for r in results if not r["job"]]
    assert len(accepted) == affordable
    assert all(r["userErrors"][0]["code"] == "INSUFFICIENT_CREDITS" for r in refused)
    assert len(refused) == attempts - affordable
    # Every accepted job captures exactly its hold (Runway bills the requested seconds), so
    # nothing is released and nothing more can be accepted while they run.
    assert (await balance(stack, team))["availableCents"] == 0

    listed = await stack.data(team, "{ jobs(first: 100) { edges { node { id } } } }")
    assert {e["node"]["id"] for e in listed["jobs"]["edges"]} == {j["id"] for j in accepted}

    finals = await asyncio.gather(*(follow_job(stack, team, j["id"], wait_seconds=120) for j in accepted))
    final = [states[-1] for states in finals]
    completed = [j for j in final if j["status"] == "COMPLETED"]
    assert len(completed) == affordable
    after = await balance(stack, team)
    assert after["balanceCents"] == affordable * RUNWAY_5S_TEXT - sum(j["costCents"] for j in completed)
    assert after["availableCents"] == after["balanceCents"]
    rows = await ledger(stack, team)
    captures = [r for r in rows if r["kind"] == "CAPTURE"]
    assert sorted(r["jobId"] for r in captures) == sorted(j["id"] for j in completed)
    assert after["balanceCents"] == 0
    assert audit(stack)["ok"]


@pytest.mark.both_databases
async def test_a_job_run_many_times_at_once_submits_once_and_charges_once(stack: Stack, team: Team) -> None:
    before = stack.sim_stats()["submissions"].get("bfl", 0)
    job = await submit_ok(stack, team, "image", {"prompt": "run me twice"})
    queue = await JobQueue.connect(stack.env["CH_REDIS_URL"], stack.env["CH_QUEUE_NAME"])
    try:
        # arq is at-least-once: the same job may run in several workers at the same moment.
        await asyncio.gather(*(queue.enqueue_poll(job["id"], 0) for _ in range(20)))
    finally:
        await queue.close()
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "COMPLETED"
    assert stack.sim_stats()["submissions"]["bfl"] - before == 1, "the provider saw one submission"
    kinds = [r["kind"] for r in await ledger(stack, team) if r["jobId"] == job["id"]]
    assert kinds.count("CAPTURE") == 1 and kinds.count("HOLD") == 1
    assert (await balance(stack, team))["balanceCents"] == 5_000 - final["costCents"]


@pytest.mark.both_databases
async def test_a_worker_killed_before_settling_charges_once_after_restart(stack: Stack, team: Team) -> None:
    stack.stop_with_env(CH_FAULT_CRASH_BEFORE_SETTLE="1")
    stack.start()
    try:
        before = stack.sim_stats()["submissions"].get("bfl", 0)
        job = await submit_ok(stack, team, "image", {"prompt": "a crash between success and settle"})
        assert stack.wait_exit(60) == 137  # died with the provider done and the outputs copied
    finally:
        stack.stop_with_env(CH_FAULT_CRASH_BEFORE_SETTLE=None)
        stack.start()
    # arq re-runs the job once the dead worker's claim expires (CH_JOB_TIMEOUT_SECONDS + 10 s).
    final = (await follow_job(stack, team, job["id"], wait_seconds=90))[-1]
    assert final["status"] == "COMPLETED" and final["costCents"] > 0
    assert stack.sim_stats()["submissions"]["bfl"] - before == 1, (
        "resumed the provider task, never resubmitted"
    )
    kinds = [r["kind"] for r in await ledger(stack, team) if r["jobId"] == job["id"]]
    assert kinds.count("CAPTURE") == 1
    assert (await balance(stack, team))["balanceCents"] == 5_000 - final["costCents"]
    assert len(final["resultUrls"]) == 1
    assert audit(stack)["ok"]


@pytest.mark.both_databases
async def test_a_stuck_job_past_its_deadline_is_failed_and_released_by_the_sweep(
    stack: Stack, team: Team
) -> None:
    # Image jobs get a 10-minute deadline; scaled to 8 s here, with a sweep every 2 s.
    short = {"CH_DEADLINE_SCALE": str(8 / 600), "CH_SWEEP_INTERVAL_SECONDS": "2"}
    stack.stop_with_env(CH_FAULT_CRASH_BEFORE_SETTLE="1", **short)
    stack.start()
    try:
        job = await submit_ok(stack, team, "image", {"prompt": "a job whose worker dies for good"})
        assert stack.wait_exit(60) == 137
    finally:
        stack.stop_with_env(CH_FAULT_CRASH_BEFORE_SETTLE=None)
        stack.start()
    try:
        # The dead worker's claim on the job lasts 20 s; the sweep gets there first.
        final = (await follow_job(stack, team, job["id"], wait_seconds=60))[-1]
        assert final["status"] == "FAILED" and final["costCents"] == 0
        assert final["errorMessage"] == "the job did not finish in time; nothing was charged"
        assert await balance(stack, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}
        assert audit(stack)["ok"]
    finally:
        stack.stop_with_env(CH_DEADLINE_SCALE=None, CH_SWEEP_INTERVAL_SECONDS=None)
        stack.start()


@pytest.mark.both_databases
async def test_operators_granting_credits_while_jobs_run_never_hit_a_locked_database(stack: Stack) -> None:
    """The admin CLI, the API and the worker write the same database at once (on SQLite: the same
    file). A grant reads the team and then writes; every one must land, none may fail as locked."""
    team = stack.create_team(5_000)
    grants = 12

    async def grant(cents: int) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "admin", "grant-credits", "--team", team.team_id, "--cents", str(cents),
            cwd=ROOT, env=stack.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, err.decode(errors="replace")[-800:]

    async def submit(n: int) -> dict[str, Any]:
        return await submit_ok(stack, team, "image", {"prompt": f"while granting {n}"})

    results = await asyncio.gather(*(grant(100 + n) for n in range(grants)), *(submit(n) for n in range(24)))
    failed = [r for r in results[:grants] if r[0] != 0]  # type: ignore[index]  # gather mixes the two result types
    assert not failed, failed
    jobs = results[grants:]
    # On SQLite under a loaded machine a run can spend its whole time waiting for the one connection
    # the grants keep busy: it runs again within seconds (tasks/worker.py), not at the next sweep.
    followed = await asyncio.gather(*(follow_job(stack, team, job["id"]) for job in jobs))  # type: ignore[index]  # gather mixes the two result types
    finals = [states[-1] for states in followed]
    assert {f["status"] for f in finals} == {"COMPLETED"}
    granted = sum(100 + n for n in range(grants))
    spent = sum(f["costCents"] for f in finals)
    assert (await balance(stack, team))["balanceCents"] == 5_000 + granted - spent
    tops = [r for r in await ledger(stack, team) if r["kind"] == "TOP_UP"]
    assert len(tops) == grants + 1
    assert audit(stack)["ok"]
