"""The GraphQL schema: root types from ``schema.root``, hardening extensions, masked faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

from models.errors import RateLimited
from schema.root import Mutation, Query, Subscription


def _should_mask(error: GraphQLError) -> bool:
    """Mask faults; keep what a client can act on (auth, bad documents, our own GraphQLErrors)."""
    original = error.original_error
    if original is None:  # validation and parse errors
        return False
    if isinstance(original, GraphQLError):
        return False
    return True


def _settings(context: Any) -> Any:
    return getattr(getattr(context, "services", None), "settings", None)


class IntrospectionPolicy(SchemaExtension):
    """``__schema`` and ``__type`` only where the settings allow them (``CH_GRAPHQL_INTROSPECTION``;
    off in production unless configured). Calls without the service's context (in-process) keep it."""

    def on_operation(self) -> Iterator[None]:
        settings = _settings(self.execution_context.context)
        if settings is not None and not settings.graphql_introspection_enabled:
            rules = self.execution_context.validation_rules
            self.execution_context.validation_rules = (*rules, NoSchemaIntrospectionCustomRule)
        yield


class ReadRateLimit(SchemaExtension):
    """Every authenticated query counts against the key's and the team's read limits (ratelimit.py);
    over one, nothing runs and the answer is a ``RATE_LIMITED`` error with ``retryAfterSeconds``
    (the HTTP view turns it into a 429 with ``Retry-After``: :func:`rate_limited_retry_after`)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        principal = getattr(ec.context, "principal", None)
        if principal is not None and ec.operation_type == OperationType.QUERY:
            try:
                await ec.context.services.limiter.read(principal)
            except RateLimited as exc:
                extensions = {
                    "code": exc.code.value,
                    "retryAfterSeconds": exc.retry_after_seconds,
                    "resetAt": exc.reset_at,
                }
                ec.result = GraphQLExecutionResult(
                    data=None, errors=[GraphQLError(exc.message, extensions=extensions)]
                )
        yield


def rate_limited_retry_after(response: Any) -> int | None:
    """The ``Retry-After`` of an HTTP answer whose operation was refused by a rate limit, else None."""
    if not isinstance(response, dict) or response.get("data") is not None:
        return None
    for error in response.get("errors") or ():
        extensions = error.get("extensions") or {}
        if extensions.get("code") == "RATE_LIMITED":
            return int(extensions["retryAfterSeconds"])
    return None


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Classes or factories, never instances: an extension keeps its operation's state, so one instance
    # shared by concurrent operations could mask (or leave unmasked) another operation's errors.
    extensions=[
        IntrospectionPolicy,
        ReadRateLimit,
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal server error"),
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
