"""The API's GraphQL schema executed in the test process: the same document limits, input coercion
and resolvers as over HTTP, for the queries that need no database (prices, estimates, the catalogue),
so the rules behind them are tested as functions while a few stack tests keep the HTTP contract."""

from __future__ import annotations

import uuid
from functools import cache
from types import SimpleNamespace
from typing import Any

import strawberry

from models.teams import Role
from schema.context import Context
from services.auth import Principal
from services.ratelimit import RateLimiter
from services.settings import Settings
from web.graphql import build_schema

NO_READ_LIMITS = {"rate_limit_team_reads_per_minute": 0, "rate_limit_key_reads_per_minute": 0}


@cache
def _schema() -> strawberry.Schema:
    return build_schema()


async def gql(query: str, variables: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    """What the endpoint would answer a member's API key: ``{"data": …}`` and any ``"errors"``
    (each with its message and extensions). ``settings`` override the service settings."""
    config = Settings(**(NO_READ_LIMITS | settings))  # reads are not counted: no Redis needed
    services: Any = SimpleNamespace(settings=config, limiter=RateLimiter(None, config))  # type: ignore[arg-type]
    principal = Principal(
        uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read", "generate"}), uuid.uuid4()
    )
    context = Context(request=None, services=services, principal=principal)  # type: ignore[arg-type]
    result = await _schema().execute(query, variable_values=variables, context_value=context)
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [{"message": e.message, "extensions": e.extensions or {}} for e in result.errors]
    return answer
