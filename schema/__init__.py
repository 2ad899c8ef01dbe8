"""The GraphQL schema: root types from ``schema.root``, hardening extensions, masked faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, Source, parse
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.graphql import OperationType

import outages
from models.errors import RateLimited
from schema.limits import MaxVariablesLimiter
from schema.root import Mutation, Query, Subscription

# The document limits, over HTTP and websockets alike (realtime parses with them too).
MAX_TOKENS = 2000
MAX_DEPTH = 10
MAX_ALIASES = 30
# Characters in a document: lexing a megabyte of comment or string literal takes the parser about
# 0.3 s (token limit or not); values that big travel as variables.
MAX_DOCUMENT_CHARS = 100_000

log = logging.getLogger("creative_hub.graphql")


def document_too_long(query: str | None) -> str | None:
    """Why a document is refused before it is parsed (None: it may be parsed)."""
    if query is not None and len(query) > MAX_DOCUMENT_CHARS:
        return (
            f"the GraphQL document is longer than {MAX_DOCUMENT_CHARS} characters; send values as variables"
        )
    return None


def parse_document(query: str) -> DocumentNode:
    """A document parsed under the limits every operation runs under (GraphQLSyntaxError past
    them): the parser stops at MAX_TOKENS instead of reading megabytes of tokens first."""
    refusal = document_too_long(query)
    if refusal is not None:
        raise GraphQLSyntaxError(Source(query[:100]), 0, refusal)
    return parse(query, max_tokens=MAX_TOKENS)


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


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """A fault is logged with its traceback; what the client did wrong (no credential, a bad
        document, a refused argument) in one line without one."""
        for error in errors:
            if _should_mask(error):
                super().process_errors([error], execution_context)
            else:
                code = (error.extensions or {}).get("code", "GRAPHQL_ERROR")
                # Escaped: the message can quote what the client sent (a newline would forge a line).
                log.info("GraphQL error %s: %s", code, ascii(error.message[:200]))


class _MaskFaults(MaskErrors):
    """A fault caused by an outage reads SERVICE_UNAVAILABLE (503 over HTTP, see main.GraphQLView)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if outages.is_unavailable(error.original_error):
            return outages.graphql_error(error)
        return super().anonymise_error(error)


schema = _Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Classes or factories, never instances: an extension keeps its operation's state, so one instance
    # shared by concurrent operations could mask (or leave unmasked) another operation's errors.
    extensions=[
        IntrospectionPolicy,
        ReadRateLimit,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaxVariablesLimiter,
        lambda: _MaskFaults(should_mask_error=_should_mask, error_message="Internal server error"),
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
