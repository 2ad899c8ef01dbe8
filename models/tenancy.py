"""Reading one row of a team: the single place where "a foreign id answers exactly like a missing
one" is decided (a malformed id, another team's id and an unknown id all read as nothing)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from tortoise.models import Model

from models.errors import DomainError, ErrorCode

Row = TypeVar("Row", bound=Model)


async def team_row(model: type[Row], team_id: uuid.UUID | str, row_id: uuid.UUID | str) -> Row | None:
    try:
        uuid.UUID(str(row_id))
    except ValueError:
        return None
    return await model.get_or_none(id=row_id, team_id=team_id)


async def require_team_row(
    model: type[Row], team_id: uuid.UUID | str, row_id: uuid.UUID | str, what: str
) -> Row:
    row = await team_row(model, team_id, row_id)
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"{what} not found", ["id"])
    return row
