"""What a REST client gets when it is refused, byte for byte: the status, the headers and the body
of every kind of error the HTTP routes answer (the routes raise, the app's exception handlers
answer: web/errors.py).

Through a running service (``main.py dev``), except the outage: its 503 comes from the same app,
called in-process with a credential check that meets a refused connection."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from services.settings import Settings
from tests.conftest import _redis_for
from tests.stack import Stack, Team, backend_env, running

GENERATE = "/api/v1/creative-hub/generate/"
JOBS = "/api/v1/creative-hub/jobs/"
MAX_BODY = 4096
JSON = [(b"content-type", b"application/json")]
PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]


def seen(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, the headers in the order sent (but the server's date and name) and the body."""
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in (b"date", b"server")]
    return response.status_code, headers, response.content


def error(
    status: int, body: bytes, *before: tuple[bytes, bytes], after: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An error answer as sent: ``before`` are the headers ahead of Content-Length, ``after`` those
    after Content-Type."""
    return status, [*before, (b"content-length", str(len(body)).encode()), *JSON, *after], body


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("rest_errors")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(
        CH_MAX_BODY_BYTES=str(MAX_BODY),
        CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE="2",
        CH_RATE_LIMIT_KEY_READS_PER_MINUTE="2",
        CH_RATE_LIMIT_KEY_DOWNLOADS_PER_MINUTE="1",
    )
    with running(env, tmp) as stack:
        yield stack


@pytest.fixture
async def client(edge: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge.url, timeout=30) as c:
        yield c


async def test_unknown_paths_and_methods_answer_starlettes_plain_text(client: httpx.AsyncClient) -> None:
    assert seen(await client.get("/nope")) == (404, [(b"content-length", b"9"), *PLAIN], b"Not Found")
    assert seen(await client.get(GENERATE + "tts")) == (
        405,
        [(b"allow", b"POST"), (b"content-length", b"18"), *PLAIN],
        b"Method Not Allowed",
    )
    status, headers, body = seen(await client.put("/graphql", json={}))
    allow = [sorted(v.split(b", ")) for k, v in headers if k == b"allow"]  # a set in Starlette: any order
    assert (status, allow, headers[1:], body) == (
        405,
        [[b"GET", b"HEAD", b"POST"]],
        [(b"content-length", b"18"), *PLAIN],
        b"Method Not Allowed",
    )


UNAUTHENTICATED = b'{"error":{"code":"UNAUTHENTICATED","message":"send Authorization: Bearer <API key or JWT>","field":null}}'


async def test_requests_refused_before_any_work(edge: Stack, client: httpx.AsyncClient) -> None:
    team = edge.create_team(5_000)
    h = team.headers
    answers = {
        "unknown type": await client.post(GENERATE + "bogus", json={}),
        "no credential": await client.post(GENERATE + "tts", json={"text": "x"}),
        "unknown credential": await client.post(
            GENERATE + "tts", json={"text": "x"}, headers={"authorization": "Bearer chk_nope"}
        ),
        "job, no credential": await client.get(JOBS + str(uuid.uuid4())),
        "file, no credential": await client.get(f"/files/{uuid.uuid4()}"),
        "not JSON": await client.post(GENERATE + "tts", content=b"{nope", headers=h),
        "an array": await client.post(GENERATE + "tts", json=[1], headers=h),
        "a field of the wrong type": await client.post(GENERATE + "tts", json={"text": 5}, headers=h),
        "a provider that is no string": await client.post(
            GENERATE + "tts", json={"text": "x", "provider": 5}, headers=h
        ),
        "an unknown provider": await client.post(
            GENERATE + "tts", json={"text": "x", "provider": "nope\u00e9"}, headers=h
        ),
        "too large": await client.post(GENERATE + "tts", json={"text": "x" * MAX_BODY}, headers=h),
    }
    expected = {
        "unknown type": error(
            404,
            b'{"error":{"code":"NOT_FOUND","message":"unknown generation type \'bogus\'; one of image, video, avatar, tts, composite","field":null}}',
        ),
        "no credential": error(401, UNAUTHENTICATED),
        "unknown credential": error(401, UNAUTHENTICATED),
        "job, no credential": error(401, UNAUTHENTICATED),
        "file, no credential": error(401, UNAUTHENTICATED),
        "not JSON": error(
            400,
            b'{"error":{"code":"VALIDATION_FAILED","message":"the body must be a JSON object (invalid JSON: Expecting property name enclosed in double quotes at character 1)","field":null}}',
        ),
        "an array": error(
            400,
            b'{"error":{"code":"VALIDATION_FAILED","message":"the body must be a JSON object","field":null}}',
        ),
        "a field of the wrong type": error(
            400, b'{"error":{"code":"VALIDATION_FAILED","message":"text must be a string","field":["text"]}}'
        ),
        "a provider that is no string": error(
            400,
            b'{"error":{"code":"VALIDATION_FAILED","message":"provider must be a string","field":["provider"]}}',
        ),
        "an unknown provider": error(
            400,
            b'{"error":{"code":"PROVIDER_NOT_SUPPORTED","message":"unknown provider \'nope\\u00e9\'","field":["provider"]}}',
        ),
        "too large": error(
            413,
            b'{"error":{"code":"VALIDATION_FAILED","message":"the request body is larger than 4096 bytes","field":null}}',
        ),
    }
    assert {name: seen(r) for name, r in answers.items()} == expected


async def test_refusals_of_the_domain(edge: Stack, client: httpx.AsyncClient) -> None:
    """Each from a team of its own: the key's submission limit is 2 a minute."""

    async def submit(body: dict[str, Any], credits_cents: int = 5_000, **headers: str) -> httpx.Response:
        team = edge.create_team(credits_cents)
        return await client.post(GENERATE + "tts", json=body, headers={**team.headers, **headers})

    read_only = edge.create_team(5_000)
    key = await edge.data(
        read_only,
        'mutation { createApiKey(input: {name: "r", scopes: [READ]}) { secret } }',
    )
    reader = Team(read_only.team_id, read_only.user_id, key["createApiKey"]["secret"])
    twice = edge.create_team(5_000)
    first = await client.post(
        GENERATE + "tts", json={"text": "once"}, headers={**twice.headers, "idempotency-key": "k"}
    )
    assert first.status_code == 202, first.text
    answers = {
        "lacks the scope": await client.post(GENERATE + "tts", json={"text": "x"}, headers=reader.headers),
        "empty text": await submit({"text": ""}),
        "no credits": await submit({"text": "x"}, credits_cents=0),
        "an idempotency key used for another input": await client.post(
            GENERATE + "tts", json={"text": "other"}, headers={**twice.headers, "idempotency-key": "k"}
        ),
        "a job of another team": await client.get(JOBS + str(uuid.uuid4()), headers=reader.headers),
        "not a job id": await client.get(JOBS + "junk", headers=twice.headers),
        "a file of another team": await client.get(f"/files/{uuid.uuid4()}", headers=twice.headers),
        "a malformed expiry": await client.get("/files/x", params={"expires": "abc", "signature": "s"}),
        "a forged signature": await client.get("/files/x", params={"expires": "123", "signature": "s"}),
    }
    expected = {
        "lacks the scope": error(
            403,
            b'{"error":{"code":"FORBIDDEN","message":"this credential lacks the \'generate\' scope","field":null}}',
        ),
        "empty text": error(
            400,
            b'{"error":{"code":"VALIDATION_FAILED","message":"text must not be empty","field":["input","text"]}}',
        ),
        "no credits": error(
            402,
            b'{"error":{"code":"INSUFFICIENT_CREDITS","message":"this job needs 1 cents of credits; the team has less available","field":null}}',
        ),
        "an idempotency key used for another input": error(
            409,
            b'{"error":{"code":"CONFLICT","message":"this idempotency key was already used with a different input","field":["idempotencyKey"]}}',
        ),
        "a job of another team": error(
            404, b'{"error":{"code":"NOT_FOUND","message":"job not found","field":null}}'
        ),
        "not a job id": error(404, b'{"error":{"code":"NOT_FOUND","message":"job not found","field":null}}'),
        "a file of another team": error(
            404, b'{"error":{"code":"NOT_FOUND","message":"file not found","field":null}}'
        ),
        "a malformed expiry": error(
            400,
            b'{"error":{"code":"VALIDATION_FAILED","message":"expires must be a unix time","field":["expires"]}}',
        ),
        "a forged signature": error(
            403, b'{"error":{"code":"FORBIDDEN","message":"the link is invalid or has expired","field":null}}'
        ),
    }
    assert {name: seen(r) for name, r in answers.items()} == expected


RATE_LIMITED = re.compile(
    r"this API key may make (\d+) (submissions|reads|downloads) a minute; "
    r"try again in (\d+) s \(at \d\d:\d\d:\d\d UTC\)"
)


async def _until_limited(send: Any) -> httpx.Response:
    """The first 429 (a request or two more when the clock's minute, and the count, turned over)."""
    for _ in range(4):
        response: httpx.Response = await send()
        if response.status_code == 429:
            return response
    raise AssertionError(f"never limited: {response.status_code} {response.text}")


@pytest.mark.parametrize("what", ["submissions", "reads", "downloads"])
async def test_rate_limited_answers_say_when_to_come_back(
    edge: Stack, client: httpx.AsyncClient, what: str
) -> None:
    team = edge.create_team(5_000)
    send = {
        "submissions": lambda: client.post(GENERATE + "tts", json={"text": "x"}, headers=team.headers),
        "reads": lambda: client.get(JOBS + str(uuid.uuid4()), headers=team.headers),
        "downloads": lambda: client.get(f"/files/{uuid.uuid4()}", headers=team.headers),
    }[what]
    refused = await _until_limited(send)
    retry_after, reset_at = refused.headers["retry-after"], refused.headers["x-ratelimit-reset"]
    message = json.loads(refused.content)["error"]["message"]
    matched = RATE_LIMITED.fullmatch(message)
    assert matched and matched[2] == what and matched[3] == retry_after, message
    assert 1 <= int(retry_after) <= 60
    body = (
        b'{"error":{"code":"RATE_LIMITED","message":"' + message.encode() + b'","field":null,'
        b'"retry_after_seconds":' + retry_after.encode() + b',"reset_at":' + reset_at.encode() + b"}}"
    )
    assert seen(refused) == error(
        429, body, (b"retry-after", retry_after.encode()), (b"x-ratelimit-reset", reset_at.encode())
    )


async def test_graphql_refusals_over_http_read_like_the_rest_ones(client: httpx.AsyncClient) -> None:
    not_json = await client.post("/graphql", content=b"{nope", headers={"content-type": "application/json"})
    assert seen(not_json) == error(
        400,
        b'{"error":{"code":"BAD_REQUEST","message":"Unable to parse request body as JSON","field":null}}',
    )
    mutation = await client.get("/graphql", params={"query": "mutation { x }"})
    assert seen(mutation) == error(
        400,
        b'{"error":{"code":"BAD_REQUEST","message":"mutations are not allowed when using GET","field":null}}',
    )


# -- an outage, in-process ------------------------------------------------------------------------
UNAVAILABLE = (
    b'{"error":{"code":"SERVICE_UNAVAILABLE","message":"the service is briefly unavailable and nothing '
    b'was done; try again in 2 s","field":null,"retry_after_seconds":2}}'
)
GRAPHQL_UNAVAILABLE = (
    b'{"data":null,"errors":[{"message":"the service is briefly unavailable and nothing was done; '
    b'try again in 2 s","extensions":{"code":"SERVICE_UNAVAILABLE","retryAfterSeconds":2}}]}'
)


async def test_an_outage_answers_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    from web import app as web_app
    from web import graphql, rest

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(rest, "authenticate", database_down)
    monkeypatch.setattr(graphql, "authenticate", database_down)
    settings = Settings(env="development", cors_origins=["https://app.example"])
    front = web_app.create_app(settings)
    front.app.state.services = SimpleNamespace(settings=settings)
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        job = await api.get(JOBS + str(uuid.uuid4()), headers={"authorization": "Bearer chk_x"})
        vary = ((b"vary", b"Origin"),)  # CORS is configured: every answer varies with the origin
        assert seen(job) == error(503, UNAVAILABLE, (b"retry-after", b"2"), after=vary)
        query = await api.post("/graphql", json={"query": "{ __typename }"})
        assert seen(query) == error(503, GRAPHQL_UNAVAILABLE, (b"retry-after", b"2"), after=vary)
        # From a browser origin the error carries CORS headers, and shows it the retry headers.
        cors = await api.post(GENERATE + "tts", json={}, headers={"origin": "https://app.example"})
        assert seen(cors) == error(
            503,
            UNAVAILABLE,
            (b"retry-after", b"2"),
            after=(
                (b"access-control-expose-headers", b"retry-after, x-ratelimit-reset"),
                (b"access-control-allow-origin", b"https://app.example"),
                (b"vary", b"Origin"),
            ),
        )
