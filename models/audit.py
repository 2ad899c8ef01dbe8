"""``admin audit-ledger``: replay every team's ledger and compare it with the stored balances,
the open holds and the jobs' costs. Read-only; a mismatch is reported, never repaired.

It also lists overruns: completed jobs whose provider cost more than their hold (the capture
stops at the hold; ``overrun_cents`` records the rest). Past ``CH_AUDIT_OVERRUN_MAX_CENTS`` in
total the report is not ok."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from models.credits import DELTAS, CreditTransaction, Kind
from models.jobs import OPEN, CreativeJob, JobStatus
from models.teams import Team


async def audit_team(team: Team) -> tuple[list[dict[str, Any]], int]:
    """The problems found for one team, and how many jobs were checked."""
    problems, checked, _ = await _audit_team(team)
    return problems, checked


async def _audit_team(team: Team) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    problems: list[dict[str, Any]] = []

    def problem(what: str, **facts: Any) -> None:
        problems.append({"team_id": str(team.id), "problem": what, **facts})

    rows = await CreditTransaction.filter(team_id=team.id).values(
        "id", "kind", "amount_cents", "balance_delta_cents", "available_delta_cents", "job_id"
    )
    balance = available = 0
    per_job: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        kind = Kind(row["kind"])
        balance += row["balance_delta_cents"]
        available += row["available_delta_cents"]
        if kind in DELTAS:
            expected = (DELTAS[kind][0] * row["amount_cents"], DELTAS[kind][1] * row["amount_cents"])
            if (row["balance_delta_cents"], row["available_delta_cents"]) != expected:
                problem(
                    "a ledger row's change does not match its kind",
                    transaction_id=str(row["id"]),
                    kind=kind.value,
                )
        if row["job_id"]:
            per_job[str(row["job_id"])][kind.value] += row["amount_cents"]
    if balance != team.balance_cents:
        problem(
            "replayed balance differs from the stored balance", replayed=balance, stored=team.balance_cents
        )
    if available != team.available_cents:
        problem(
            "replayed available differs from the stored available",
            replayed=available,
            stored=team.available_cents,
        )

    jobs = await CreativeJob.filter(team_id=team.id).values(
        "id", "status", "provider", "cost_cents", "estimated_cost_cents", "overrun_cents"
    )
    open_holds = 0
    overruns = [
        {
            "team_id": str(team.id),
            "job_id": str(job["id"]),
            "provider": job["provider"],
            "held": job["estimated_cost_cents"],
            "overrun_cents": job["overrun_cents"],
        }
        for job in jobs
        if job["overrun_cents"] > 0
    ]
    for job in jobs:
        entries = per_job.pop(str(job["id"]), {})
        held, captured, released = (
            entries.get("HOLD", 0),
            entries.get("CAPTURE", 0),
            entries.get("RELEASE", 0),
        )
        status = JobStatus(job["status"])
        facts = {
            "job_id": str(job["id"]),
            "status": status.value,
            "held": held,
            "captured": captured,
            "released": released,
        }
        if held != job["estimated_cost_cents"]:
            problem("the hold differs from the job's estimate", estimate=job["estimated_cost_cents"], **facts)
        if status in OPEN:
            open_holds += held - captured - released
            if captured or released:
                problem("an open job's hold was already settled", **facts)
        elif captured + released != held:
            problem("a finished job's hold did not end exactly once", **facts)
        if status == JobStatus.COMPLETED and captured != job["cost_cents"]:
            problem("a completed job's capture differs from its cost", cost_cents=job["cost_cents"], **facts)
        if status == JobStatus.CANCELED and captured != job["cost_cents"]:
            # Canceled after the provider got it: charged its cost; before: free. Either way, exact.
            problem("a canceled job's capture differs from its cost", cost_cents=job["cost_cents"], **facts)
        if status == JobStatus.FAILED and (captured or job["cost_cents"]):
            problem("a failed job was charged", cost_cents=job["cost_cents"], **facts)
    for job_id in per_job:
        problem("ledger rows refer to a job this team does not have", job_id=job_id)
    if team.balance_cents - team.available_cents != open_holds:
        problem(
            "balance minus available differs from the open holds",
            held=team.balance_cents - team.available_cents,
            open_holds=open_holds,
        )
    return problems, len(jobs), overruns


async def audit_ledger(overrun_max_cents: int = 0) -> dict[str, Any]:
    """The report: ``ok`` when no mismatch was found and the overruns' total is at most
    ``overrun_max_cents`` (``CH_AUDIT_OVERRUN_MAX_CENTS``)."""
    mismatches: list[dict[str, Any]] = []
    overruns: list[dict[str, Any]] = []
    teams = jobs = 0
    async for team in Team.all().order_by("created_at"):
        found, checked, overran = await _audit_team(team)
        mismatches.extend(found)
        overruns.extend(overran)
        teams += 1
        jobs += checked
    overrun_cents = sum(o["overrun_cents"] for o in overruns)
    return {
        "ok": not mismatches and overrun_cents <= overrun_max_cents,
        "teams_checked": teams,
        "jobs_checked": jobs,
        "mismatches": mismatches,
        "overrun_cents": overrun_cents,
        "overrun_max_cents": overrun_max_cents,
        "overruns": overruns,
    }
