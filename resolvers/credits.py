"""The team's credit balance and ledger."""

from __future__ import annotations

import strawberry

from models.credits import CreditTransaction as TxRow
from models.teams import Team
from pubsub import balance_snapshot
from resolvers.pagination import paginate
from schema.context import Info
from schema.enums import CreditTransactionKind
from schema.types import (
    CreditBalance,
    CreditTransaction,
    CreditTransactionConnection,
    CreditTransactionEdge,
    PageInfo,
)


async def credit_balance(info: Info) -> CreditBalance:
    principal = info.context.require("read")
    team = await Team.get(id=principal.team_id)
    return CreditBalance.from_snapshot(balance_snapshot(team))


def _tx(row: TxRow) -> CreditTransaction:
    return CreditTransaction(
        id=strawberry.ID(str(row.id)),
        kind=CreditTransactionKind(row.kind.value),
        amount_cents=row.amount_cents,
        job_id=strawberry.ID(str(row.job_id)) if row.job_id else None,
        balance_after_cents=row.balance_after_cents,
        available_after_cents=row.available_after_cents,
        description=row.description,
        created_at=row.created_at,
    )


async def credit_transactions(
    info: Info, first: int | None = 20, after: str | None = None
) -> CreditTransactionConnection:
    principal = info.context.require("billing")
    page = await paginate(TxRow.filter(team_id=principal.team_id), first, after)
    return CreditTransactionConnection(
        edges=[CreditTransactionEdge(cursor=c, node=_tx(r)) for c, r in page.rows],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
    )
