"""The one way a ``DomainError`` reaches a client.

A mutation answers it in its payload: ``@user_errors(Payload)`` turns it into
``Payload(user_errors=[UserError.of(exc)])``, the payload's other fields null. A query has no
userErrors: ``@query_errors`` turns it into a GraphQL error carrying its code (and its field path). Every root resolver
wears one of the two (tests/test_graphql_shape.py holds them to it), so a resolver raises the
domain's errors and never catches them to shape them. Any other exception goes through untouched
(a fault: masked by the schema's MaskFaults)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from graphql import GraphQLError

from models.errors import DomainError
from schema.types import UserError

Params = ParamSpec("Params")
Result = TypeVar("Result")
Payload = TypeVar("Payload")


def query_error(exc: DomainError) -> GraphQLError:
    """A domain error in a query: a GraphQL error carrying its code, and the path of the argument
    field it is about (as a userError's ``field``) when it names one."""
    extensions: dict[str, object] = {"code": exc.code.value}
    if exc.field is not None:
        extensions["field"] = list(exc.field)
    return GraphQLError(exc.message, extensions=extensions)


def user_errors(
    payload: Callable[..., Payload],
) -> Callable[[Callable[Params, Awaitable[Payload]]], Callable[Params, Awaitable[Payload]]]:
    """A mutation resolver whose ``DomainError`` is answered as ``payload`` with that userError."""

    def decorate(resolver: Callable[Params, Awaitable[Payload]]) -> Callable[Params, Awaitable[Payload]]:
        @functools.wraps(resolver)
        async def run(*args: Params.args, **kwargs: Params.kwargs) -> Payload:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as exc:
                return payload(user_errors=[UserError.of(exc)])

        run.domain_errors = ("user_errors", payload)  # type: ignore[attr-defined]  # a marker tests read; functions take attributes
        return run

    return decorate


def query_errors(resolver: Callable[Params, Awaitable[Result]]) -> Callable[Params, Awaitable[Result]]:
    """A query resolver whose ``DomainError`` is answered as a GraphQL error with its code."""

    @functools.wraps(resolver)
    async def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as exc:
            raise query_error(exc) from None

    run.domain_errors = ("query_errors", None)  # type: ignore[attr-defined]  # a marker tests read; functions take attributes
    return run
