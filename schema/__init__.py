"""The GraphQL schema: root types from ``schema.root``, hardening extensions, masked faults."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from schema.root import Mutation, Query, Subscription

# The document limits, over HTTP and websockets alike (realtime parses with them too).
MAX_TOKENS = 2000
MAX_DEPTH = 10
MAX_ALIASES = 30

log = logging.getLogger("creative_hub.graphql")


def parse_document(query: str) -> DocumentNode:
    """A document parsed under the same token limit as every operation (GraphQLSyntaxError past it):
    the parser stops at the limit instead of reading megabytes of tokens first."""
    return parse(query, max_tokens=MAX_TOKENS)


def _should_mask(error: GraphQLError) -> bool:
    """Mask faults; keep what a client can act on (auth, bad documents, our own GraphQLErrors)."""
    original = error.original_error
    if original is None:  # validation and parse errors
        return False
    if isinstance(original, GraphQLError):
        return False
    return True


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """A fault is logged with its traceback; what the client did wrong (no credential, a bad
        document, a refused argument) in one line without one."""
        for error in errors:
            if _should_mask(error):
                super().process_errors([error], execution_context)
            else:
                code = (error.extensions or {}).get("code", "GRAPHQL_ERROR")
                log.info("GraphQL error %s: %s", code, error.message[:200])


schema = _Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        MaskErrors(should_mask_error=_should_mask, error_message="Internal server error"),
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
