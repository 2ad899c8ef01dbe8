"""Outages of the database or Redis, answered honestly (docs/operations.md).

A request that could not commit because a server it needs is unreachable answers 503 with
``Retry-After`` (REST: ``{"error": {"code": "SERVICE_UNAVAILABLE", …}}``; GraphQL: an error with
``extensions.code`` ``SERVICE_UNAVAILABLE`` and HTTP status 503). What follows a commit (enqueue,
publish) is best effort and never fails the request: the job is committed, and the workers
re-enqueue open jobs whose queue entries were lost once Redis is back (``tasks.worker``).

This module only classifies and words; ``web.middleware.ServiceUnavailable`` (in the shape of
``web.errors``) and ``web.graphql.GraphQLView`` turn it into responses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import asyncpg
import redis.exceptions
from graphql import GraphQLError

log = logging.getLogger(__name__)

CODE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 2
MESSAGE = f"the service is briefly unavailable and nothing was done; try again in {RETRY_AFTER_SECONDS} s"
# The longest a step after a commit (an enqueue, a publish) may take before it is given up on:
# only a Redis that hangs instead of refusing gets near it.
AFTER_COMMIT_SECONDS = 3.0

# A server we depend on is unreachable, restarting or refusing connections. Not: bad queries,
# constraint violations, or anything a client's input can cause.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, broken pipe; tortoise's DBConnectionError
    TimeoutError,  # also asyncio's
    asyncpg.exceptions.PostgresConnectionError,  # connection lost, cannot connect
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, admin shutdown
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # "connection is closed"
    asyncpg.exceptions.InternalClientError,  # a connection left mid-operation by a lost server
    redis.exceptions.ConnectionError,  # also BusyLoadingError: Redis is loading its data
    redis.exceptions.TimeoutError,
)


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) means a server we need could not be reached."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, _UNAVAILABLE):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def describe(exc: BaseException) -> str:
    """One line for the log: the exception's type and message, no traceback."""
    return f"{type(exc).__name__}: {exc}"[:300]


def graphql_error(error: GraphQLError) -> GraphQLError:
    """What a client sees in place of a fault caused by an outage (the details stay in our log)."""
    return GraphQLError(
        MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": CODE, "retryAfterSeconds": RETRY_AFTER_SECONDS},
    )


def graphql_body() -> dict[str, Any]:
    """A whole GraphQL response for a request that failed before execution (e.g. authentication)."""
    return {
        "data": None,
        "errors": [
            {"message": MESSAGE, "extensions": {"code": CODE, "retryAfterSeconds": RETRY_AFTER_SECONDS}}
        ],
    }


def graphql_unavailable(response: Any) -> bool:
    """A GraphQL response of which nothing could be done because of an outage: some error is
    SERVICE_UNAVAILABLE and no root field has a value (a mutation that committed keeps its 200)."""
    if isinstance(response, list):
        return bool(response) and all(graphql_unavailable(item) for item in response)
    if not isinstance(response, dict):
        return False
    codes = {(error.get("extensions") or {}).get("code") for error in response.get("errors") or []}
    data = response.get("data")
    return CODE in codes and (data is None or all(value is None for value in data.values()))


async def best_effort(step: Awaitable[Any], what: str) -> None:
    """Run a step that follows a commit: bounded in time, and its failure only logged (the change
    is committed; subscribers re-read after a Redis outage, and the workers re-enqueue lost jobs)."""
    try:
        async with asyncio.timeout(AFTER_COMMIT_SECONDS):
            await step
    except Exception as exc:
        log.warning("after commit, could not %s (%s)", what, describe(exc))
