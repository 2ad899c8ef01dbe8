"""Opaque Relay cursors over (created_at, id), newest first."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.errors import DomainError, ErrorCode
from schema.types import Connection, Edge, PageInfo

MAX_PAGE = 100
NO_ROW = uuid.UUID(int=0)  # no row has it


def filter_id(value: Any) -> uuid.UUID:
    """A list filter's id: a malformed one matches nothing, as another team's does (PostgreSQL
    refuses a malformed uuid outright; the filter must not become a 500)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return NO_ROW


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def after_filter(cursor: str | None) -> Q | None:
    """Rows strictly after the cursor in newest-first order."""
    if not cursor:
        return None
    try:
        created, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        at, rid = datetime.fromisoformat(created), uuid.UUID(row_id)
    except ValueError:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "after is not a cursor this API issued", ["after"]
        ) from None
    return Q(created_at__lt=at) | Q(created_at=at, id__lt=rid)


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.VALIDATION_FAILED, f"first must be between 1 and {MAX_PAGE}", ["first"])
    return first


Node = TypeVar("Node")


async def paginate(
    query: QuerySet[Any], first: int | None, after: str | None, node: Callable[[Any], Node]
) -> Connection[Node]:
    """One newest-first page of ``query``, each row shaped by ``node``; a bad ``first``/``after``
    is a VALIDATION_FAILED DomainError (a GraphQL error, through the query's ``@query_errors``)."""
    size = page_size(20 if first is None else first)
    cursor = after_filter(after)
    if cursor is not None:
        query = query.filter(cursor)
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    edges = [Edge(cursor=encode_cursor(r.created_at, r.id), node=node(r)) for r in rows[:size]]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None),
    )
