"""Credits you can trust: races for credits, runs that happen twice, crashes before settling,
low-balance alerts, billing queries and prices — through the real endpoints and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.queue import JobQueue
from tests.stack import ROOT, Stack, Team, follow_job
from tests.test_generation import GENERATE, balance, ledger, submit_ok
from tests.test_partners import member_of

RUNWAY_5S_TEXT = 60  # gen4.5 text-to-video: 12 credits/s × 5 s (docs/providers.md, Prices)


def audit(stack: Stack) -> dict[str, Any]:
    """The ledger audit's report: ``admin audit-ledger``'s own function, run in the test process on
    the stack's database (no process start; the command itself: :func:`audit_cli`)."""
    from models.audit import audit_ledger

    return stack.database.run(audit_ledger)


def audit_cli(stack: Stack) -> dict[str, Any]:
    """``python main.py admin audit-ledger``: its JSON report, its exit code 0 exactly when ok."""
    out = subprocess.run(
        [sys.executable, "main.py", "admin", "audit-ledger"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(out.stdout)
    assert (out.returncode == 0) == report["ok"], (out.returncode, report)
    return report


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


BALANCE_SUB = (
    "subscription { creditBalanceUpdated { balanceCents availableCents lowBalance lowBalanceCrossed } }"
)
SET_THRESHOLD = "mutation ($c: Int) { setLowBalanceThreshold(cents: $c) { creditBalance { lowBalanceThresholdCents lowBalance } userErrors { code } } }"


@pytest.mark.both_databases
async def test_low_balance_alerts_once_per_crossing_and_rearms(stack: Stack) -> None:
    team = stack.create_team(1_000)
    set_ = await stack.data(team, SET_THRESHOLD, {"c": 900})
    assert set_["setLowBalanceThreshold"] == {
        "creditBalance": {"lowBalanceThresholdCents": 900, "lowBalance": False},
        "userErrors": [],
    }
    events: list[dict[str, Any]] = []

    async def until_balance(queue: asyncio.Queue[dict[str, Any]], target: dict[str, int]) -> None:
        async with asyncio.timeout(60):
            while True:
                event = (await queue.get())["data"]["creditBalanceUpdated"]
                events.append(event)
                if {k: event[k] for k in target} == target:
                    return

    async def spend(n: int) -> None:
        jobs = [
            await submit_ok(stack, team, "video", {"prompt": f"spend {i}", "durationSeconds": 5})
            for i in range(n)
        ]
        for job in jobs:
            await follow_job(stack, team, job["id"])

    async with stack.subscription(team, BALANCE_SUB) as queue:
        await until_balance(queue, {"balanceCents": 1_000})
        await spend(3)  # 1000 → 940 → 880 (crosses) → 820
        now = await balance(stack, team)
        await until_balance(
            queue, {"balanceCents": now["balanceCents"], "availableCents": now["availableCents"]}
        )
        assert [e["lowBalanceCrossed"] for e in events].count(True) == 1
        assert events[-1]["lowBalance"] is True

        out = stack.cli("admin", "grant-credits", "--team", team.team_id, "--cents", "500")  # re-arms
        await until_balance(queue, {"balanceCents": out["balance_cents"]})
        assert events[-1]["lowBalance"] is False
        await spend(8)  # 1320 → … → 840: crosses again
        now = await balance(stack, team)
        await until_balance(
            queue, {"balanceCents": now["balanceCents"], "availableCents": now["availableCents"]}
        )
    assert [e["lowBalanceCrossed"] for e in events].count(True) == 2


async def test_only_admins_set_the_threshold(stack: Stack, team: Team) -> None:
    as_member = member_of(stack, team, "member")
    refused = await stack.data(as_member, SET_THRESHOLD, {"c": 100})
    assert refused["setLowBalanceThreshold"] == {"creditBalance": None, "userErrors": [{"code": "FORBIDDEN"}]}
    assert (await stack.data(team, "{ creditBalance { lowBalanceThresholdCents } }"))["creditBalance"] == {
        "lowBalanceThresholdCents": None
    }
    as_admin = member_of(stack, team, "admin")
    ok = await stack.data(as_admin, SET_THRESHOLD, {"c": 100})
    assert ok["setLowBalanceThreshold"]["creditBalance"]["lowBalanceThresholdCents"] == 100
    bad = await stack.data(as_admin, SET_THRESHOLD, {"c": -5})
    assert bad["setLowBalanceThreshold"]["userErrors"] == [{"code": "VALIDATION_FAILED"}]


@pytest.mark.both_databases
async def test_transactions_filter_and_usage_groups(stack: Stack) -> None:
    team = stack.create_team(2_000)
    jobs = [
        await submit_ok(stack, team, "tts", {"text": "usage one"}),
        await submit_ok(stack, team, "image", {"prompt": "usage two"}),
        await submit_ok(stack, team, "tts", {"text": "usage three [sim:fail]"}),
    ]
    finals = [(await follow_job(stack, team, j["id"]))[-1] for j in jobs]
    q = "query ($f: CreditTransactionFilter) { creditTransactions(first: 50, filter: $f) { nodes { kind jobId amountCents } } }"
    holds = (await stack.data(team, q, {"f": {"kinds": ["HOLD"]}}))["creditTransactions"]["nodes"]
    assert {h["jobId"] for h in holds} == {j["id"] for j in jobs}
    one = (await stack.data(team, q, {"f": {"jobId": jobs[0]["id"]}}))["creditTransactions"]["nodes"]
    assert {r["kind"] for r in one} <= {"HOLD", "CAPTURE", "RELEASE"} and all(
        r["jobId"] == jobs[0]["id"] for r in one
    )
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await stack.data(team, q, {"f": {"from": future}}))["creditTransactions"]["nodes"] == []

    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    usage_q = "query ($a: DateTime!, $b: DateTime!, $g: CreditUsageGroupBy!) { creditUsage(from: $a, to: $b, groupBy: $g) { totalCents rows { key costCents jobCount } } }"
    by_type = (await stack.data(team, usage_q, {"a": start, "b": end, "g": "TYPE"}))["creditUsage"]
    spent = sum(f["costCents"] for f in finals)
    assert by_type["totalCents"] == spent == 2_000 - (await balance(stack, team))["balanceCents"]
    assert {r["key"]: r["jobCount"] for r in by_type["rows"]} == {
        "tts": 1,
        "image": 1,
    }  # the failed job is free
    by_day = (await stack.data(team, usage_q, {"a": start, "b": end, "g": "DAY"}))["creditUsage"]
    assert sum(r["costCents"] for r in by_day["rows"]) == spent
    by_user = (await stack.data(team, usage_q, {"a": start, "b": end, "g": "USER"}))["creditUsage"]
    assert [r["key"] for r in by_user["rows"]] == [team.user_id]
    backwards = await stack.gql(team, usage_q, {"a": end, "b": start, "g": "DAY"})
    assert backwards["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


@pytest.mark.both_databases
def test_the_audit_catches_a_tampered_balance(stack: Stack) -> None:
    """The audit is not a rubber stamp: a balance changed behind the ledger's back is reported."""
    team = stack.create_team(700)
    assert audit(stack)["ok"]

    def tamper(cents: int) -> None:
        from tortoise.expressions import F

        from models.teams import Team as TeamRow

        stack.database.run(
            lambda: TeamRow.filter(id=team.team_id).update(
                balance_cents=F("balance_cents") + cents, available_cents=F("available_cents") + cents
            )
        )

    tamper(1)
    report = audit_cli(stack)  # as operators run it: exit code 1
    assert not report["ok"]
    assert {m["team_id"] for m in report["mismatches"]} == {team.team_id}
    tamper(-1)  # put it back so the audits of later tests see a clean ledger
    assert audit(stack)["ok"]


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
    finals = [(await follow_job(stack, team, job["id"]))[-1] for job in jobs]  # type: ignore[index]  # gather mixes the two result types
    assert {f["status"] for f in finals} == {"COMPLETED"}
    granted = sum(100 + n for n in range(grants))
    spent = sum(f["costCents"] for f in finals)
    assert (await balance(stack, team))["balanceCents"] == 5_000 + granted - spent
    tops = [r for r in await ledger(stack, team) if r["kind"] == "TOP_UP"]
    assert len(tops) == grants + 1
    assert audit(stack)["ok"]
