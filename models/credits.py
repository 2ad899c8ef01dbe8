"""The credit ledger: the only code that writes ``credit_transaction`` rows or a team's balances.

A team row carries ``balance_cents`` (settled) and ``available_cents`` (balance minus open holds).
Every change is one guarded UPDATE of the team row plus one immutable ledger row, in the caller's
transaction. Holds never read-then-write: the UPDATE itself checks ``available_cents >= amount``
and the row count says whether it happened.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import billing
from models.errors import DomainError, ErrorCode
from models.events import LOW_BALANCE, TeamEvent
from models.teams import Team


class Kind(StrEnum):
    """A ledger row's kind; the API's ``CreditTransactionKind`` is this enum (schema/enums.py)."""

    TOP_UP = "TOP_UP"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    RELEASE = "RELEASE"
    # REFUND and ADJUSTMENT are never written today, but the API has always listed them (clients
    # match on them, and may filter by them): an enum value once published is never dropped.
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"


class CreditTransaction(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="transactions")
    job_id = fields.UUIDField(null=True)
    kind = fields.CharEnumField(Kind, max_length=16)
    amount_cents = fields.BigIntField()  # a magnitude, never negative
    # The signed change this row made to the team's balance and available credits: the ledger
    # replayed (admin audit-ledger) is the sum of these.
    balance_delta_cents = fields.BigIntField(default=0)
    available_delta_cents = fields.BigIntField(default=0)
    balance_after_cents = fields.BigIntField()
    available_after_cents = fields.BigIntField()
    description = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_transaction"
        # A hold ends exactly once: one HOLD, one CAPTURE, one RELEASE per job at most.
        unique_together = (("job_id", "kind"),)
        ordering = ["-created_at"]
        constraints = (CheckConstraint(check="amount_cents >= 0", name="credit_amount_not_negative"),)


# The signed (balance, available) change of one unit of each kind; ADJUSTMENT carries its own.
DELTAS: dict[Kind, tuple[int, int]] = {
    Kind.TOP_UP: (1, 1),
    Kind.HOLD: (0, -1),
    Kind.CAPTURE: (-1, 0),
    Kind.RELEASE: (0, 1),
    Kind.REFUND: (1, 1),
}


async def _apply(
    conn: BaseDBAsyncClient,
    team_id: uuid.UUID | str,
    *,
    kind: Kind,
    amount: int,
    job_id: uuid.UUID | str | None = None,
    description: str | None = None,
    guard_available: bool = False,
    deltas: tuple[int, int] | None = None,
) -> CreditTransaction | None:
    """One guarded balance update and its ledger row, in the caller's transaction.

    ``None`` when the guard refused it (not enough available credits). The database's own
    CHECK constraints refuse anything that would make available negative or exceed the balance."""
    if amount < 0:
        raise ValueError("ledger amounts are magnitudes")
    balance_delta, available_delta = deltas or (DELTAS[kind][0] * amount, DELTAS[kind][1] * amount)
    query = Team.filter(id=team_id)
    if guard_available:
        query = query.filter(available_cents__gte=-available_delta)
    updates: dict[str, Any] = {}
    if balance_delta:
        updates["balance_cents"] = F("balance_cents") + balance_delta
    if available_delta:
        updates["available_cents"] = F("available_cents") + available_delta
    if updates:
        changed = await query.using_db(conn).update(**updates)
        if not changed:
            return None
    team = await Team.get(id=team_id, using_db=conn)
    row = await CreditTransaction.create(
        team_id=team_id,
        job_id=job_id,
        kind=kind,
        amount_cents=amount,
        balance_delta_cents=balance_delta,
        available_delta_cents=available_delta,
        balance_after_cents=team.balance_cents,
        available_after_cents=team.available_cents,
        description=description,
        using_db=conn,
    )
    await _low_balance_check(conn, team)
    return row


async def _low_balance_check(conn: BaseDBAsyncClient, team: Team) -> None:
    """Record one ``credits.low_balance`` event when available credits cross below the threshold;
    re-arm when they are back at or above it. Both are guarded updates, so a crossing raced by
    many requests alerts once."""
    threshold = team.low_balance_threshold_cents
    below = threshold is not None and team.available_cents < threshold
    if below and not team.low_balance_alerted:
        crossed = (
            await Team.filter(id=team.id, low_balance_alerted=False)
            .using_db(conn)
            .update(low_balance_alerted=True)
        )
        if crossed:
            event = await TeamEvent.create(
                team_id=team.id,
                kind=LOW_BALANCE,
                payload={
                    "team_id": str(team.id),
                    "available_cents": team.available_cents,
                    "balance_cents": team.balance_cents,
                    "low_balance_threshold_cents": threshold,
                },
                using_db=conn,
            )
            # The email to the billing contacts: an outbox row in this transaction, sent after it.
            await billing.record_low_balance_email(conn, event)
    elif not below and team.low_balance_alerted:
        await (
            Team.filter(id=team.id, low_balance_alerted=True).using_db(conn).update(low_balance_alerted=False)
        )


async def top_up(team_id: uuid.UUID | str, cents: int, description: str | None = None) -> Team:
    if cents <= 0:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "a top-up must be a positive number of cents", ["cents"]
        )
    async with in_transaction() as conn:
        if not await Team.filter(id=team_id).using_db(conn).exists():
            raise DomainError(ErrorCode.NOT_FOUND, "team not found", ["team"])
        await _apply(conn, team_id, kind=Kind.TOP_UP, amount=cents, description=description or "top-up")
        return await Team.get(id=team_id, using_db=conn)


async def set_low_balance_threshold(team_id: uuid.UUID | str, cents: int | None) -> Team:
    if cents is not None and cents < 0:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "the threshold must be zero or more cents", ["cents"])
    async with in_transaction() as conn:
        await Team.filter(id=team_id).using_db(conn).update(low_balance_threshold_cents=cents)
        team = await Team.get(id=team_id, using_db=conn)
        await _low_balance_check(conn, team)
        return await Team.get(id=team_id, using_db=conn)


async def hold(conn: BaseDBAsyncClient, team_id: uuid.UUID | str, job_id: uuid.UUID, cents: int) -> None:
    """Reserve ``cents`` of the team's available credits for a job, in the caller's transaction."""
    row = await _apply(
        conn,
        team_id,
        kind=Kind.HOLD,
        amount=cents,
        job_id=job_id,
        description="hold for job",
        guard_available=True,
    )
    if row is None:
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDITS,
            f"this job needs {cents} cents of credits; the team has less available",
        )


async def settle(
    conn: BaseDBAsyncClient,
    team_id: uuid.UUID | str,
    job_id: uuid.UUID,
    held: int,
    cost: int,
    *,
    why: str = "charge for completed job",
) -> int:
    """End a job's hold: capture ``cost`` (at most what was held) and release the rest.

    Returns the captured amount. Call only after winning the job's state transition; the (job,
    kind) unique constraint turns a second call into an error, never a second charge."""
    captured = min(cost, held)
    if captured:
        await _apply(
            conn,
            team_id,
            kind=Kind.CAPTURE,
            amount=captured,
            job_id=job_id,
            description=why,
        )
    if held - captured:
        await _apply(
            conn,
            team_id,
            kind=Kind.RELEASE,
            amount=held - captured,
            job_id=job_id,
            description="unused part of the hold",
        )
    return captured


async def release(
    conn: BaseDBAsyncClient, team_id: uuid.UUID | str, job_id: uuid.UUID, held: int, why: str
) -> None:
    if held:
        await _apply(conn, team_id, kind=Kind.RELEASE, amount=held, job_id=job_id, description=why)
