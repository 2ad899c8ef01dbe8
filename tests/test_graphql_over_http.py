"""What a plain HTTP request carrying a subscription gets, in-process (the app called through
ASGI): a 400 GraphQL error saying where subscriptions are served (a websocket, SSE or multipart
HTTP), never a 500 "Internal server error" from executing the subscription as if it were a query.

The GraphQL-over-HTTP spec leaves subscriptions out of a plain ``application/json`` exchange; a
request the server cannot execute is a request error: 4xx, an ``errors`` list and no ``data``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from models.teams import ALL_SCOPES, Role
from services.auth import Principal
from services.ratelimit import RateLimiter
from services.settings import Settings
from tests.graphql_inprocess import NO_READ_LIMITS

SUBSCRIPTION = "subscription Balance { creditBalanceUpdated { balanceCents } }"


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    from web import app as web_app
    from web import graphql

    async def owner(*args: Any, **kwargs: Any) -> Principal:
        return Principal(uuid.uuid4(), uuid.uuid4(), Role.OWNER, frozenset(ALL_SCOPES), uuid.uuid4())

    monkeypatch.setattr(graphql, "authenticate", owner)
    settings = Settings(env="development", **NO_READ_LIMITS)  # reads are not counted: no Redis
    front = web_app.create_app(settings)
    front.app.state.services = SimpleNamespace(settings=settings, limiter=RateLimiter(None, settings))
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def _is_the_refusal(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "data" not in body  # a request error: nothing was executed
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    message = error["message"]
    assert message.startswith("subscriptions are not served over a plain HTTP request")
    for where in ("graphql-transport-ws", "text/event-stream", "multipart/mixed"):
        assert where in message
    assert "Internal server error" not in response.text


async def test_a_subscription_posted_as_plain_json_is_a_400_saying_where_they_go(
    api: httpx.AsyncClient,
) -> None:
    headers = {"authorization": "Bearer chk_x"}
    _is_the_refusal(await api.post("/graphql", json={"query": SUBSCRIPTION}, headers=headers))
    # the same by GET, and when it is one operation of a document that holds others
    _is_the_refusal(await api.get("/graphql", params={"query": SUBSCRIPTION}, headers=headers))
    document = f"query Me {{ __typename }} {SUBSCRIPTION}"
    body = {"query": document, "operationName": "Balance"}
    _is_the_refusal(await api.post("/graphql", json=body, headers=headers))
    # with no credential at all, the same answer (no work was attempted)
    _is_the_refusal(await api.post("/graphql", json={"query": SUBSCRIPTION}))


async def test_queries_and_mutations_over_plain_http_are_untouched(api: httpx.AsyncClient) -> None:
    answer = await api.post("/graphql", json={"query": "query Me { __typename }"})
    assert (answer.status_code, answer.json()) == (200, {"data": {"__typename": "Query"}})
    get_mutation = await api.get("/graphql", params={"query": "mutation { __typename }"})
    assert get_mutation.status_code == 400
    assert "mutations are not allowed when using GET" in get_mutation.text
