"""Spend caps: the most a team member or an API key may spend in a UTC calendar day or month.

A subject's spend in a period is what the jobs it submitted in that period hold or cost: the
estimate of an open job (its hold), the captured cost of an ended one (0 when it failed or was
canceled free). A member's jobs are those carrying their user id, whatever credential submitted
them (an API key acts as its creator); a key's jobs are those it submitted (``api_key_id``).

A cap is checked once, when work is accepted: :func:`enforce` runs in the transaction that
inserts the jobs and takes their holds, after locking the subject's cap rows, so two concurrent
submissions cannot both pass a cap they jointly exceed (on SQLite the write transaction itself
serialises them). A whole request (a batch, a creative) passes or is refused. What was accepted
is never refused or failed later by a cap: a creative's dependants are held at submission, and a
provider's cost above the hold is not capped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.functions import Sum
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError, ErrorCode
from models.jobs import OPEN, CreativeJob
from models.teams import ApiKey, Membership, Team
from models.tenancy import team_row


class Period(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"


class SubjectKind(StrEnum):
    MEMBER = "MEMBER"
    API_KEY = "API_KEY"


class SpendCap(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="spend_caps")
    team_id: uuid.UUID
    # "user:<uuid>" or "key:<uuid>": one cap per subject and period.
    subject = fields.CharField(max_length=64)
    user_id = fields.UUIDField(null=True)
    api_key_id = fields.UUIDField(null=True)
    period = fields.CharEnumField(Period, max_length=8)
    limit_cents = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "spend_cap"
        unique_together = (("team", "subject", "period"),)
        constraints = (CheckConstraint(check="limit_cents >= 0", name="spend_cap_limit_not_negative"),)

    @property
    def kind(self) -> SubjectKind:
        return SubjectKind.MEMBER if self.user_id is not None else SubjectKind.API_KEY


MAX_LIMIT_CENTS = 10**11  # a billion dollars: anything above is a typo


def subject_of(user_id: uuid.UUID | str | None, api_key_id: uuid.UUID | str | None) -> str:
    return f"user:{user_id}" if user_id is not None else f"key:{api_key_id}"


def period_bounds(period: Period, at: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar day or month holding ``at``: [start, end)."""
    at = at.astimezone(UTC)
    if period == Period.DAY:
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


async def spent_cents(
    team_id: uuid.UUID | str,
    *,
    user_id: uuid.UUID | str | None = None,
    api_key_id: uuid.UUID | str | None = None,
    since: datetime,
    until: datetime | None = None,
    conn: Any = None,
) -> int:
    """What the subject's jobs submitted in [since, until) hold (open) or cost (ended)."""
    query = CreativeJob.filter(team_id=team_id, created_at__gte=since)
    if until is not None:
        query = query.filter(created_at__lt=until)
    query = query.filter(user_id=user_id) if user_id is not None else query.filter(api_key_id=api_key_id)
    if conn is not None:
        query = query.using_db(conn)
    held = await query.filter(status__in=OPEN).annotate(total=Sum("estimated_cost_cents")).values("total")
    cost = await query.filter(~Q(status__in=OPEN)).annotate(total=Sum("cost_cents")).values("total")
    return int(held[0]["total"] or 0) + int(cost[0]["total"] or 0)


@dataclass(frozen=True)
class CapStatus:
    cap: SpendCap
    subject_name: str
    spent_cents: int
    period_start: datetime
    period_end: datetime

    @property
    def remaining_cents(self) -> int:
        return max(0, int(self.cap.limit_cents) - self.spent_cents)


def _cap_message(cap: SpendCap, key_name: str | None, spent: int, needed: int) -> str:
    daily = cap.period == Period.DAY
    when = "today" if daily else "this month"
    which = "daily" if daily else "monthly"
    head = (
        f"your {which} spend cap of {dollars(cap.limit_cents)}"
        if cap.user_id is not None
        else f"API key '{key_name}' {which} spend cap of {dollars(cap.limit_cents)}"
    )
    return (
        f"{head} would be exceeded: {dollars(spent)} spent {when}, this request needs {dollars(needed)}; "
        "nothing was held (a team admin can raise the cap)."
    )


async def enforce(
    conn: Any,
    team_id: uuid.UUID | str,
    user_id: uuid.UUID | str,
    api_key_id: uuid.UUID | str | None,
    needed_cents: int,
    *,
    at: datetime | None = None,
) -> None:
    """SPEND_CAP_EXCEEDED when ``needed_cents`` more would take the submitting member or key over
    one of its caps. Call in the transaction that then takes the holds, before anything else is
    written in it: the caps' rows are locked (FOR UPDATE, one statement, in id order) so that
    concurrent submissions of the same subject are checked one after the other, each seeing what
    the one before it committed."""
    subjects = [subject_of(user_id, None)]
    if api_key_id is not None:
        subjects.append(subject_of(None, api_key_id))
    caps = (
        await SpendCap.filter(team_id=team_id, subject__in=subjects)
        .using_db(conn)
        .order_by("id")
        .select_for_update()
    )
    if not caps:
        return
    at = at or datetime.now(UTC)
    key_name: str | None = None
    for cap in sorted(caps, key=lambda c: (c.user_id is None, c.period != Period.DAY)):
        start, end = period_bounds(cap.period, at)
        spent = await spent_cents(
            team_id, user_id=cap.user_id, api_key_id=cap.api_key_id, since=start, until=end, conn=conn
        )
        if spent + needed_cents > cap.limit_cents:
            if cap.api_key_id is not None:
                key = await ApiKey.get_or_none(id=cap.api_key_id, using_db=conn)
                key_name = key.name if key else "?"
            raise DomainError(ErrorCode.SPEND_CAP_EXCEEDED, _cap_message(cap, key_name, spent, needed_cents))


async def set_cap(
    team_id: uuid.UUID | str,
    *,
    user_id: str | None,
    api_key_id: str | None,
    period: Period,
    limit_cents: int | None,
) -> SpendCap | None:
    """Set (or, with ``limit_cents`` None, clear) the cap of a member or an API key of this team.
    A member or key of another team answers exactly like a missing one. Returns the cap, or None
    when cleared."""
    if (user_id is None) == (api_key_id is None):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "give userId or apiKeyId, not both", ["input", "userId"]
        )
    if limit_cents is not None and not 0 <= limit_cents <= MAX_LIMIT_CENTS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"limitCents must be 0 to {MAX_LIMIT_CENTS} (null clears the cap)",
            ["input", "limitCents"],
        )
    if user_id is not None:
        if not _is_uuid(user_id) or not await Membership.filter(team_id=team_id, user_id=user_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND, "member not found", ["input", "userId"])
        subject, fields_ = subject_of(user_id, None), {"user_id": user_id, "api_key_id": None}
    else:
        assert api_key_id is not None
        if await team_row(ApiKey, team_id, api_key_id) is None:
            raise DomainError(ErrorCode.NOT_FOUND, "API key not found", ["input", "apiKeyId"])
        subject, fields_ = subject_of(None, api_key_id), {"user_id": None, "api_key_id": api_key_id}
    async with in_transaction() as conn:
        if limit_cents is None:
            await SpendCap.filter(team_id=team_id, subject=subject, period=period).using_db(conn).delete()
            return None
        cap = await SpendCap.get_or_none(team_id=team_id, subject=subject, period=period, using_db=conn)
        if cap is None:
            return await SpendCap.create(
                team_id=team_id,
                subject=subject,
                period=period,
                limit_cents=limit_cents,
                using_db=conn,
                **fields_,
            )
        cap.limit_cents = limit_cents
        await cap.save(using_db=conn)
        return cap


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


async def team_caps(team_id: uuid.UUID | str, *, at: datetime | None = None) -> list[CapStatus]:
    """Every cap of the team with its subject's spend in the current period: members first, then
    keys, by name; days before months."""
    out = await _statuses(team_id, await SpendCap.filter(team_id=team_id), at or datetime.now(UTC))
    return sorted(
        out, key=lambda s: (s.cap.kind != SubjectKind.MEMBER, s.subject_name, s.cap.period != Period.DAY)
    )


async def cap_status(team_id: uuid.UUID | str, cap: SpendCap, *, at: datetime | None = None) -> CapStatus:
    """This cap's status (the cap as ``set_cap`` returned it, with its subject's spend now), without
    looking the cap up again: one cleared since still answers what was set."""
    (status,) = await _statuses(team_id, [cap], at or datetime.now(UTC))
    return status


async def _statuses(team_id: uuid.UUID | str, caps: list[SpendCap], at: datetime) -> list[CapStatus]:
    users = {
        str(m.user.id): m.user
        for m in await Membership.filter(
            team_id=team_id, user_id__in=[c.user_id for c in caps if c.user_id]
        ).select_related("user")
    }
    keys = {
        str(k.id): k
        for k in await ApiKey.filter(team_id=team_id, id__in=[c.api_key_id for c in caps if c.api_key_id])
    }
    out: list[CapStatus] = []
    for cap in caps:
        start, end = period_bounds(cap.period, at)
        if cap.user_id is not None:
            user = users.get(str(cap.user_id))
            name = (user.name or user.email) if user else str(cap.user_id)
        else:
            key = keys.get(str(cap.api_key_id))
            name = key.name if key else str(cap.api_key_id)
        spent = await spent_cents(
            team_id, user_id=cap.user_id, api_key_id=cap.api_key_id, since=start, until=end
        )
        out.append(CapStatus(cap, name, spent, start, end))
    return out
