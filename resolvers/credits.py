"""The team's credit balance and ledger."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from models.credits import CreditTransaction as TxRow
from models.errors import DomainError
from models.teams import Team
from pubsub import balance_snapshot
from resolvers.pagination import after_filter, encode_cursor, page_size
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
    try:
        size = page_size(20 if first is None else first)
        cursor = after_filter(after)
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code.value}) from None
    query = TxRow.filter(team_id=principal.team_id)
    if cursor is not None:
        query = query.filter(cursor)
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    edges = [
        CreditTransactionEdge(cursor=encode_cursor(r.created_at, r.id), node=_tx(r)) for r in rows[:size]
    ]
    return CreditTransactionConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )
