"""Hardening, against a stack configured the way production limits it: rate limits (429 and
RATE_LIMITED with the reset time), the request body limit, CORS, GraphQL document limits, and
webhook URLs that must be public https (checked on the resolved address)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _redis_for
from tests.stack import Stack, Team, backend_env, running
from tests.test_generation import GENERATE, balance

SUBMISSIONS_PER_KEY = 3
SUBMISSIONS_PER_TEAM = 5
READS_PER_TEAM = 8
ORIGIN = "https://app.creative-hub.test"
CREATE_KEY = """mutation ($n: String!) { createApiKey(input: {name: $n, scopes: [READ, GENERATE]}) {
  secret userErrors { code } } }"""


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("strict")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(
        CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE=str(SUBMISSIONS_PER_KEY),
        CH_RATE_LIMIT_TEAM_SUBMISSIONS_PER_MINUTE=str(SUBMISSIONS_PER_TEAM),
        CH_RATE_LIMIT_TEAM_READS_PER_MINUTE=str(READS_PER_TEAM),
        CH_MAX_BODY_BYTES="65536",
        CH_CORS_ORIGINS=f'["{ORIGIN}"]',
        CH_WEBHOOKS_ALLOW_PRIVATE="false",
    )
    with running(env, tmp) as s:
        yield s


@pytest.fixture
async def client(strict: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict.url, timeout=30) as c:
        yield c


def _window_left() -> float:
    return 60 - time.time() % 60


async def _fresh_window() -> None:
    """The limits count per clock minute: start a burst early enough in one to finish inside it."""
    if _window_left() < 15:
        await asyncio.sleep(_window_left() + 0.1)


async def test_submissions_are_rate_limited_per_key_and_per_team(
    strict: Stack, client: httpx.AsyncClient
) -> None:
    team = strict.create_team(5_000)
    second = (await strict.data(team, CREATE_KEY, {"n": "second"}))["createApiKey"]["secret"]
    await _fresh_window()
    for i in range(SUBMISSIONS_PER_KEY):
        r = await client.post(
            "/api/v1/creative-hub/generate/tts", json={"text": f"line {i}"}, headers=team.headers
        )
        assert r.status_code == 202, r.text
    # The key's own limit: REST answers 429 with Retry-After and the reset time.
    r = await client.post(
        "/api/v1/creative-hub/generate/tts", json={"text": "one too many"}, headers=team.headers
    )
    assert r.status_code == 429
    error = r.json()["error"]
    assert error["code"] == "RATE_LIMITED" and 1 <= error["retry_after_seconds"] <= 60
    assert int(r.headers["retry-after"]) == error["retry_after_seconds"]
    assert int(r.headers["x-ratelimit-reset"]) == error["reset_at"] > time.time()
    # GraphQL says the same as a userError, and nothing was held for the refused request.
    data = await strict.data(team, GENERATE["tts"], {"input": {"text": "still too many"}})
    refused = data["generateTts"]
    assert refused["job"] is None and refused["userErrors"][0]["code"] == "RATE_LIMITED"
    assert "try again in" in refused["userErrors"][0]["message"]
    jobs = (await strict.data(team, "{ jobs { edges { node { id } } } }"))["jobs"]["edges"]
    assert len(jobs) == SUBMISSIONS_PER_KEY

    # Another key of the same team has its own allowance, until the team's limit is reached.
    other = Team(team.team_id, team.user_id, second)
    statuses = []
    for i in range(SUBMISSIONS_PER_KEY):
        r = await client.post(
            "/api/v1/creative-hub/generate/tts", json={"text": f"other {i}"}, headers=other.headers
        )
        statuses.append(r.status_code)
    # The team allows 5 in all: the first key's accepted submissions count, its refused ones do not (a
    # key over its own limit is refused before it spends the team's budget), so 2 are left.
    assert statuses == [202] * (SUBMISSIONS_PER_TEAM - SUBMISSIONS_PER_KEY) + [429]

    # Other teams are not affected.
    neighbour = strict.create_team(1_000)
    r = await client.post(
        "/api/v1/creative-hub/generate/tts", json={"text": "hello"}, headers=neighbour.headers
    )
    assert r.status_code == 202


async def test_polling_a_job_is_paced(strict: Stack, client: httpx.AsyncClient) -> None:
    team = strict.create_team(5_000)
    await _fresh_window()
    r = await client.post(
        "/api/v1/creative-hub/generate/video", json={"prompt": "a slow one [sim:slow]"}, headers=team.headers
    )
    assert r.status_code == 202
    path = f"/api/v1/creative-hub/jobs/{r.json()['job_id']}"
    first = await client.get(path, headers=team.headers)
    assert first.status_code == 200 and int(first.headers["retry-after"]) >= 5  # unfinished: come back later
    codes = [(await client.get(path, headers=team.headers)).status_code for _ in range(READS_PER_TEAM)]
    assert codes[: READS_PER_TEAM - 1] == [200] * (READS_PER_TEAM - 1) and codes[-1] == 429
    limited = await client.get(path, headers=team.headers)
    assert limited.json()["error"]["code"] == "RATE_LIMITED" and int(limited.headers["retry-after"]) >= 1


async def test_oversized_bodies_are_refused_before_reading(strict: Stack, client: httpx.AsyncClient) -> None:
    team = strict.create_team(1_000)
    huge = {"query": "{ creditBalance { balanceCents } }", "variables": {"pad": "x" * 100_000}}
    r = await client.post("/graphql", json=huge, headers=team.headers)
    assert r.status_code == 413 and r.json()["error"]["code"] == "VALIDATION_FAILED"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b'{"text": "' + b"y" * 10_000

    r = await client.post("/api/v1/creative-hub/generate/tts", content=chunks(), headers=team.headers)
    assert r.status_code == 413
    assert (await balance(strict, team))["availableCents"] == 1_000


async def test_cors_allows_only_the_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    ok = await client.options("/graphql", headers={"origin": ORIGIN, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    other = await client.options("/graphql", headers={"origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    simple = await client.get("/healthz", headers={"origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN


async def test_graphql_document_limits(strict: Stack) -> None:
    team = strict.create_team(100)
    nested = "query { " + "jobs { edges { node { id } } } " + "}"
    body = await strict.gql(
        team, "{ " + " ".join(f"a{i}: creditBalance {{ balanceCents }}" for i in range(40)) + " }"
    )
    assert "aliases" in body["errors"][0]["message"].lower()
    body = await strict.gql(team, "{ creditBalance { " + "balanceCents " * 2500 + "} }")
    assert "token" in body["errors"][0]["message"].lower()
    assert (await strict.data(team, nested))["jobs"]["edges"] == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "non-public"),
        ("https://localhost/x", "non-public"),
        ("https://93.184.216.34:8443/x", "port 443"),  # CH_WEBHOOK_ALLOWED_PORTS adds others
        ("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "non-public"),  # NAT64 of 169.254.169.254
        ("https://10.1.2.3/x", "non-public"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),
        ("https://[::1]/x", "non-public"),
        ("https://user:pw@93.184.216.34/x", "credentials"),
        ("https://creative-hub-test.invalid/x", "does not resolve"),  # .invalid never resolves (RFC 6761)
        ("https://93.184.216.34/" + "x" * 2048, "longer than 2048 characters"),  # the column's size
    ],
)
async def test_webhooks_go_only_to_public_https_addresses(strict: Stack, url: str, why: str) -> None:
    team = strict.create_team(100)
    data = await strict.data(
        team,
        """mutation ($u: String!) { createWebhookEndpoint(input: {url: $u, events: [JOB_COMPLETED]}) {
          webhookEndpoint { id } userErrors { code message field } } }""",
        {"u": url},
    )
    payload = data["createWebhookEndpoint"]
    assert payload["webhookEndpoint"] is None
    assert payload["userErrors"][0]["code"] == "VALIDATION_FAILED" and payload["userErrors"][0]["field"] == [
        "url"
    ]
    assert why in payload["userErrors"][0]["message"]


async def test_rest_errors_have_proper_statuses(strict: Stack, client: httpx.AsyncClient) -> None:
    team = strict.create_team(1)
    tts = "/api/v1/creative-hub/generate/tts"
    cases = [
        (await client.post(tts, content=b"not json", headers=team.headers), 400, "VALIDATION_FAILED"),
        (await client.post(tts, json={"text": 5}, headers=team.headers), 400, "VALIDATION_FAILED"),
        (await client.post(tts, json={"text": "x"}), 401, "UNAUTHENTICATED"),
        (
            await client.post(tts, json={"text": "x"}, headers={"authorization": "Bearer chk_nope"}),
            401,
            "UNAUTHENTICATED",
        ),
        (
            await client.post(
                "/api/v1/creative-hub/generate/video", json={"prompt": "x"}, headers=team.headers
            ),
            402,
            "INSUFFICIENT_CREDITS",
        ),
        (
            await client.get(f"/api/v1/creative-hub/jobs/{uuid.uuid4()}", headers=team.headers),
            404,
            "NOT_FOUND",
        ),
        (await client.get("/api/v1/creative-hub/jobs/not-a-uuid", headers=team.headers), 404, "NOT_FOUND"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
