"""What a team spent, grouped for the billing page: charged jobs' costs in a time range (completed
jobs, and jobs canceled after they reached their provider)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from models.errors import DomainError, ErrorCode
from models.jobs import CreativeJob, JobStatus

GROUPS = ("provider", "type", "user", "day")
MAX_RANGE = timedelta(days=366)


@dataclass(frozen=True)
class UsageRow:
    key: str
    cost_cents: int
    job_count: int
    # The row's spend split by job type (the billing page stacks each day's bar by type), the
    # biggest first; empty in the TYPE grouping's own rows.
    by_type: tuple[UsageRow, ...] = ()


async def credit_usage(team_id: uuid.UUID, start: datetime, end: datetime, group_by: str) -> list[UsageRow]:
    """Charged jobs with ``start <= completed_at < end``, grouped; the biggest spend first (days in order)."""
    if group_by not in GROUPS:
        raise DomainError(ErrorCode.VALIDATION_FAILED, f"groupBy is one of {', '.join(GROUPS)}", ["groupBy"])
    if end <= start:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "to must be after from", ["to"])
    if end - start > MAX_RANGE:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "the range may span at most 366 days", ["to"])
    charged = Q(status=JobStatus.COMPLETED) | Q(status=JobStatus.CANCELED, cost_cents__gt=0)
    rows = await CreativeJob.filter(
        charged, team_id=team_id, completed_at__gte=start, completed_at__lt=end
    ).values("provider", "type", "user_id", "completed_at", "cost_cents")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    types: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for row in rows:
        if group_by == "day":
            key = row["completed_at"].date().isoformat()
        elif group_by == "user":
            key = str(row["user_id"])
        else:
            key = row[group_by]
        totals[key][0] += row["cost_cents"]
        totals[key][1] += 1
        if group_by != "type":
            types[key][row["type"]][0] += row["cost_cents"]
            types[key][row["type"]][1] += 1
    result = [
        UsageRow(key, cost, count, _biggest_first(types.get(key, {})))
        for key, (cost, count) in totals.items()
    ]
    if group_by == "day":
        return sorted(result, key=lambda r: r.key)
    return sorted(result, key=lambda r: (-r.cost_cents, r.key))


def _biggest_first(totals: dict[str, list[int]]) -> tuple[UsageRow, ...]:
    rows = (UsageRow(key, cost, count) for key, (cost, count) in totals.items())
    return tuple(sorted(rows, key=lambda r: (-r.cost_cents, r.key)))
