"""The GraphQL schema: root types from ``schema.root``, hardening extensions, masked faults."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

import outages
from schema.root import Mutation, Query, Subscription


def _should_mask(error: GraphQLError) -> bool:
    """Mask faults; keep what a client can act on (auth, bad documents, our own GraphQLErrors)."""
    original = error.original_error
    if original is None:  # validation and parse errors
        return False
    if isinstance(original, GraphQLError):
        return False
    return True


class _MaskFaults(MaskErrors):
    """A fault caused by an outage reads SERVICE_UNAVAILABLE (503 over HTTP, see main.GraphQLView)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if outages.is_unavailable(error.original_error):
            return outages.graphql_error(error)
        return super().anonymise_error(error)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Factories, not instances: an extension keeps the request it works on, so one instance shared
    # by concurrent requests masked (or checked) another request's result.
    extensions=[
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: _MaskFaults(should_mask_error=_should_mask, error_message="Internal server error"),
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
