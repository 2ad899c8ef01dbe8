"""The API's GraphQL schema executed in the test process: the same document limits, input coercion
and resolvers as over HTTP, for operations that need no database (prices, estimates, the catalogue,
and generate requests that validation refuses), so the rules behind them are tested as functions
while a few stack tests keep the HTTP contract."""

from __future__ import annotations

import uuid
from functools import cache
from types import SimpleNamespace
from typing import Any

import strawberry

from models import batches, generation
from models.generation import GenerationRequest
from models.teams import Role
from providers import lifecycle
from schema.context import Context
from services.auth import Principal
from services.ratelimit import RateLimiter
from services.settings import Settings
from web.graphql import build_schema

NO_READ_LIMITS = {"rate_limit_team_reads_per_minute": 0, "rate_limit_key_reads_per_minute": 0}


@cache
def _schema() -> strawberry.Schema:
    return build_schema()


class ValidationOnly(AssertionError):
    """A generate request passed validation: past it the service needs its database."""


def _services(config: Settings) -> Any:
    async def generate(principal: Principal, request: GenerationRequest) -> Any:
        # Services.generate validates first (generation.validate), then holds and writes.
        await generation.validate(request, lifecycle.config(config))
        raise ValidationOnly(f"{request.type} request passed validation")

    async def generate_batch(principal: Principal, request: GenerationRequest) -> Any:
        # Services.generate_batch plans every job first (validating each), then holds and writes.
        await batches.plan(request, lifecycle.config(config), max_jobs=config.max_jobs_per_request)
        raise ValidationOnly(f"{request.type} request passed validation")

    return SimpleNamespace(  # type: ignore[arg-type]
        settings=config, limiter=RateLimiter(None, config), generate=generate, generate_batch=generate_batch
    )


async def gql(query: str, variables: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    """What the endpoint would answer a member's API key: ``{"data": …}`` and any ``"errors"``
    (each with its message and extensions). ``settings`` override the service settings; a generate
    mutation answers its userErrors when validation refuses the request (else it fails the test)."""
    config = Settings(**(NO_READ_LIMITS | settings))  # reads are not counted: no Redis needed
    principal = Principal(
        uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read", "generate"}), uuid.uuid4()
    )
    context = Context(request=None, services=_services(config), principal=principal)  # type: ignore[arg-type]
    result = await _schema().execute(query, variable_values=variables, context_value=context)
    for error in result.errors or []:
        if isinstance(error.original_error, ValidationOnly):
            raise error.original_error
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [{"message": e.message, "extensions": e.extensions or {}} for e in result.errors]
    return answer
