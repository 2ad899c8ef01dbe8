"""Opaque Relay cursors over (created_at, id), newest first."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from models.errors import DomainError, ErrorCode
from schema.context import query_error

MAX_PAGE = 100


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


Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[tuple[str, Row]]  # (cursor, row)
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.rows[-1][0] if self.rows else None


async def paginate(query: QuerySet[Any], first: int | None, after: str | None) -> Page[Any]:
    """One newest-first page of ``query``; a bad ``first``/``after`` is a GraphQL error."""
    try:
        size = page_size(20 if first is None else first)
        cursor = after_filter(after)
    except DomainError as exc:
        raise query_error(exc) from None
    if cursor is not None:
        query = query.filter(cursor)
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    return Page([(encode_cursor(r.created_at, r.id), r) for r in rows[:size]], has_next_page=len(rows) > size)
