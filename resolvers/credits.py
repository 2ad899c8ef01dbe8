"""The team's credit balance, ledger, usage and low-balance threshold."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import credits as credit_ops
from models.credits import CreditTransaction as TxRow
from models.teams import Team
from models.usage import UsageRow
from models.usage import credit_usage as usage_of
from resolvers.errors import query_errors, user_errors
from resolvers.outputs import ledger_job_loader
from resolvers.pagination import filter_id, paginate
from schema.context import Info
from schema.enums import CreditUsageGroupBy
from schema.inputs import CreditTransactionFilter
from schema.types import (
    Connection,
    CreditBalance,
    CreditBalancePayload,
    CreditTransaction,
    CreditUsage,
    CreditUsageRow,
)
from services.auth import require_admin
from services.pubsub import balance_snapshot


@query_errors
async def credit_balance(info: Info) -> CreditBalance:
    principal = info.context.require("read")
    team = await Team.get(id=principal.team_id)
    return CreditBalance.from_snapshot(balance_snapshot(team))


def _tx(team_id: str, row: TxRow) -> CreditTransaction:
    return CreditTransaction(
        load_job=ledger_job_loader(team_id, str(row.job_id) if row.job_id else None),
        id=strawberry.ID(str(row.id)),
        kind=row.kind,
        amount_cents=row.amount_cents,
        job_id=strawberry.ID(str(row.job_id)) if row.job_id else None,
        balance_after_cents=row.balance_after_cents,
        available_after_cents=row.available_after_cents,
        description=row.description,
        created_at=row.created_at,
    )


@query_errors
async def credit_transactions(
    info: Info,
    first: int | None = 20,
    after: str | None = None,
    filter: CreditTransactionFilter | None = None,
) -> Connection[CreditTransaction]:
    principal = info.context.require("billing")
    query = TxRow.filter(team_id=principal.team_id)
    if filter:
        if filter.kinds:
            query = query.filter(kind__in=[k.value for k in filter.kinds])
        if filter.job_id:
            query = query.filter(job_id=filter_id(filter.job_id))
        if filter.from_:
            query = query.filter(created_at__gte=filter.from_)
        if filter.to:
            query = query.filter(created_at__lt=filter.to)
    team = str(principal.team_id)
    return await paginate(query, first, after, lambda row: _tx(team, row))


@query_errors
async def credit_usage(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    group_by: CreditUsageGroupBy = CreditUsageGroupBy.PROVIDER,
) -> CreditUsage:
    principal = info.context.require("billing")
    rows = await usage_of(principal.team_id, from_, to, group_by.value)
    return CreditUsage(
        group_by=group_by,
        from_=from_,
        to=to,
        total_cents=sum(r.cost_cents for r in rows),
        rows=[_usage_row(r) for r in rows],
    )


def _usage_row(row: UsageRow) -> CreditUsageRow:
    return CreditUsageRow(
        key=row.key,
        cost_cents=row.cost_cents,
        job_count=row.job_count,
        by_type=[_usage_row(t) for t in row.by_type],
    )


@user_errors(CreditBalancePayload)
async def set_low_balance_threshold(info: Info, cents: int | None) -> CreditBalancePayload:
    """Team admins only; ``null`` turns the alert off."""
    principal = info.context.require("billing")
    require_admin(principal, "change the low-balance threshold")
    team = await credit_ops.set_low_balance_threshold(principal.team_id, cents)
    await info.context.services.events.balance_changed(principal.team_id)
    return CreditBalancePayload(credit_balance=CreditBalance.from_snapshot(balance_snapshot(team)))
