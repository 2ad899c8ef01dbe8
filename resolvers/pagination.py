"""Opaque Relay cursors over (created_at, id), newest first."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from tortoise.expressions import Q

from models.errors import DomainError, ErrorCode

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
