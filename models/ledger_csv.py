"""The ledger as CSV (``GET /api/v1/creative-hub/ledger.csv``): one row per ledger entry, newest
first, with the job's type and provider and the submitter's email, read in pages so an export of
any size streams in constant memory. Safe to open in a spreadsheet: a text cell that a spreadsheet
would run as a formula (starting with = + - @, a tab or a carriage return) is prefixed with '."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from tortoise.expressions import Q

from models.credits import CreditTransaction, Kind
from models.errors import DomainError, ErrorCode
from models.jobs import CreativeJob
from models.teams import User

HEADER = (
    "created_at",
    "kind",
    "amount_cents",
    "balance_after_cents",
    "available_after_cents",
    "job_id",
    "job_type",
    "provider",
    "user_email",
    "description",
)
PAGE = 500
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int:
    """A cell as written: numbers as they are, text defused when a spreadsheet would evaluate it."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def parse_kinds(raw: str | None) -> list[Kind] | None:
    """``kinds=CAPTURE,HOLD`` (comma-separated, any case); None: every kind."""
    if not raw:
        return None
    kinds = []
    for part in raw.split(","):
        name = part.strip().upper()
        if name not in Kind.__members__:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                f"unknown kind {part.strip()!r}; kinds are {', '.join(Kind.__members__)}",
                ["kinds"],
            )
        kinds.append(Kind(name))
    return kinds


def parse_time(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 moment (``2026-12-01`` or ``2026-12-01T10:00:00Z``); without an offset, UTC."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"{name} must be an ISO 8601 date or time", [name]
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "to must be after from", ["to"])


def _line(cells: tuple[object, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return out.getvalue()


async def rows(
    team_id: uuid.UUID | str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: list[Kind] | None = None,
) -> AsyncIterator[str]:
    """The CSV, line by line (the header first), newest entry first; ``start <= created_at < end``
    (check the range first: :func:`check_range`)."""
    base = CreditTransaction.filter(team_id=team_id)
    if start is not None:
        base = base.filter(created_at__gte=start)
    if end is not None:
        base = base.filter(created_at__lt=end)
    if kinds:
        base = base.filter(kind__in=[k.value for k in kinds])
    yield _line(HEADER)
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        query = base
        if after is not None:  # keyset: strictly older than the last row written
            at, last = after
            query = query.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=last))
        page = await query.order_by("-created_at", "-id").limit(PAGE)
        if not page:
            return
        job_ids = {row.job_id for row in page if row.job_id}
        jobs = {job.id: job for job in await CreativeJob.filter(team_id=team_id, id__in=list(job_ids))}
        users = {u.id: u.email for u in await User.filter(id__in=list({j.user_id for j in jobs.values()}))}
        for row in page:
            job = jobs.get(row.job_id) if row.job_id else None
            yield _line(
                (
                    row.created_at.isoformat(),
                    row.kind.value,
                    row.amount_cents,
                    row.balance_after_cents,
                    row.available_after_cents,
                    str(row.job_id) if row.job_id else None,
                    job.type if job else None,
                    job.provider if job else None,
                    users.get(job.user_id) if job else None,
                    row.description,
                )
            )
        if len(page) < PAGE:
            return
        after = (page[-1].created_at, page[-1].id)
