"""Credits you can trust: low-balance alerts, billing queries, the ledger audit — through the real
endpoints and the CLI (races, runs that happen twice and crashes: tests/test_credit_races.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.stack import ROOT, Stack, Team, follow_job
from tests.test_generation import balance, submit_ok
from tests.test_partners import member_of


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
    # Each day split by type (the billing page stacks its day bars in the type colours): the same
    # amounts as the TYPE grouping over the range.
    split_q = usage_q.replace("jobCount }", "jobCount byType { key costCents jobCount } }")
    split = (await stack.data(team, split_q, {"a": start, "b": end, "g": "DAY"}))["creditUsage"]["rows"]
    per_type: dict[str, int] = {}
    for day in split:
        assert sum(t["costCents"] for t in day["byType"]) == day["costCents"]
        for t in day["byType"]:
            per_type[t["key"]] = per_type.get(t["key"], 0) + t["costCents"]
    assert per_type == {r["key"]: r["costCents"] for r in by_type["rows"]}
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
