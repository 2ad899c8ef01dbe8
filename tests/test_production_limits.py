"""What a service configured the way production limits it lets through, on one running service:
the contract a rate-limited client sees (429 and RATE_LIMITED with the retry and reset times, for
submissions, reads and downloads; the window logic is in tests/test_rate_limits.py), the request
body limit, CORS, GraphQL document limits, webhook URLs that must be public https (the rule on each
URL in-process, one through GraphQL), REST error statuses, ``/metrics`` behind its token,
introspection off, files served with ``nosniff`` and inline only for media types. In-process too:
outputs that can carry script (SVG) are refused, and the app factory's production defaults for
introspection and ``/metrics``."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from models.errors import DomainError, ErrorCode
from models.webhook_wire import resolve
from providers.base import Output
from providers.download import fetch_output
from providers.errors import RejectedError
from services.settings import Settings
from tests.conftest import _redis_for
from tests.stack import Stack, Team, backend_env, follow_job, running
from tests.test_generation import GENERATE, balance
from web.app import create_app

# Low enough to trip in a few requests, high enough that the other tests here (each with a team and
# a key of its own) stay under them.
KEY_SUBMISSIONS, KEY_READS, TEAM_DOWNLOADS = 3, 5, 3
METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
INTROSPECTION = "{ __schema { queryType { name } } }"
ORIGIN = "https://app.creative-hub.test"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("strict")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(
        CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE=str(KEY_SUBMISSIONS),
        CH_RATE_LIMIT_KEY_READS_PER_MINUTE=str(KEY_READS),
        CH_RATE_LIMIT_TEAM_DOWNLOADS_PER_MINUTE=str(TEAM_DOWNLOADS),
        CH_METRICS_TOKEN=METRICS_TOKEN,
        CH_GRAPHQL_INTROSPECTION="false",
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
async def test_webhooks_go_only_to_public_https_addresses(url: str, why: str) -> None:
    """The rule, as production applies it (CH_WEBHOOKS_ALLOW_PRIVATE false), on each URL."""
    with pytest.raises(DomainError) as refused:
        await resolve(url, allow_private=False)
    assert refused.value.code == ErrorCode.VALIDATION_FAILED and refused.value.field == ["url"]
    assert why in refused.value.message


async def test_a_webhook_url_the_rule_refuses_is_a_user_error(strict: Stack) -> None:
    url, why = "https://169.254.169.254/latest/meta-data", "non-public"
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


# -- outputs that can carry script ----------------------------------------------------------------
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'


@pytest.mark.parametrize("content_type", ["image/svg+xml", "image/SVG+XML; charset=utf-8", "text/html"])
async def test_scriptable_outputs_are_refused(content_type: str) -> None:
    for allowed_types in (("image/",), ("video/", "image/", "audio/"), ("image/", "text/")):
        with pytest.raises(RejectedError) as inline:
            await fetch_output(
                httpx.AsyncClient(),
                Output(data=SVG, content_type=content_type),
                max_bytes=1 << 20,
                allowed_types=allowed_types,
            )
        assert inline.value.code == "bad_type"

    def served(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=SVG, headers={"content-type": content_type})

    async with httpx.AsyncClient(transport=httpx.MockTransport(served)) as client:
        with pytest.raises(RejectedError) as fetched:
            await fetch_output(
                client,
                Output(url="https://cdn.example/out.svg"),
                max_bytes=1 << 20,
                allowed_types=("image/",),
            )
    assert fetched.value.code == "bad_type"


# -- production settings, on the app factory ------------------------------------------------------
def _production(**overrides: Any) -> Settings:
    return Settings(
        env="production",
        secret_key="s" * 48,
        database_url="postgres://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0",
        **overrides,
    )


@contextlib.asynccontextmanager
async def _app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API the factory builds for these settings, without its lifespan (nothing to connect to:
    these requests need no database, Redis or credential)."""
    front = create_app(settings)
    front.app.state.services = SimpleNamespace(settings=settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=front), base_url="http://api") as client:
        yield client


async def test_production_turns_introspection_off_unless_configured() -> None:
    async with _app_client(_production()) as client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
        assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()
        typename = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
        assert typename["data"] == {"__typename": "Query"}  # not introspection of the schema
    async with _app_client(_production(graphql_introspection=True)) as client:
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    async with _app_client(Settings(env="development")) as client:  # development keeps it
        body = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_production_serves_metrics_only_with_a_token() -> None:
    async with _app_client(_production()) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/metrics", headers={"authorization": "Bearer x"})).status_code == 404
    async with _app_client(_production(metrics_token=METRICS_TOKEN)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"authorization": "Bearer not-it"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        ok = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200 and "creative_hub_jobs_submitted_total" in ok.text


# -- through the running service ----------------------------------------------------------------
async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"authorization": "Bearer guess"})).status_code == 401
    ok = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200 and "creative_hub_jobs_submitted_total" in ok.text


async def test_introspection_off_when_configured(strict: Stack) -> None:
    team = strict.create_team(100)
    body = await strict.gql(team, INTROSPECTION)
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()
    body = await strict.gql(None, '{ __type(name: "Job") { fields { name } } }')
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()


async def _completed_image(stack: Stack, team: Team) -> str:
    """A finished image job's signed result URL (followed over the websocket: no read spent)."""
    data = await stack.data(team, GENERATE["image"], {"input": {"prompt": "a lemon on a plate"}})
    job = data["generateImage"]["job"]
    states = await follow_job(stack, team, job["id"])
    assert states[-1]["status"] == "COMPLETED", states[-1]
    url: str = states[-1]["resultUrls"][0]
    return url


async def test_files_are_served_nosniff_and_inline_only_for_media(
    strict: Stack, client: httpx.AsyncClient
) -> None:
    team = strict.create_team(5_000)
    signed = await _completed_image(strict, team)
    png = await client.get(signed)
    assert png.status_code == 200 and png.headers["content-type"] in ("image/png", "image/jpeg")
    assert png.headers["x-content-type-options"] == "nosniff"
    assert png.headers["content-disposition"].startswith("inline;")
    # An SVG that reached a Drive before outputs were checked for script: an attachment, never rendered.
    file_id = signed.split("/files/")[1].split("?")[0]
    svg_id, key = str(uuid.uuid4()), f"{team.team_id}/legacy/{uuid.uuid4().hex}.svg"
    data_dir = Path(strict.env["CH_DATA_DIR"])
    (data_dir / "drive" / key).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / "drive" / key).write_bytes(SVG)
    with contextlib.closing(sqlite3.connect(data_dir / "creative_hub.sqlite3", timeout=30)) as db, db:
        db.execute(
            "INSERT INTO drive_file (id, team_id, folder_id, job_id, name, content_type, size_bytes,"
            " storage_key, created_at) SELECT ?, team_id, folder_id, job_id, 'logo.svg', 'image/svg+xml',"
            " ?, ?, created_at FROM drive_file WHERE id = ?",
            (svg_id, len(SVG), key, file_id),
        )
    svg = await client.get(f"/files/{svg_id}", headers=team.headers)
    assert svg.status_code == 200 and svg.content == SVG
    assert svg.headers["x-content-type-options"] == "nosniff"
    assert svg.headers["content-disposition"].startswith('attachment; filename="logo.svg"')


# -- rate limits: the contract a refused client sees (the window logic: test_rate_limits.py) -----


async def until_refused(
    limit: int, ask: Callable[[], Awaitable[httpx.Response]]
) -> tuple[list[httpx.Response], httpx.Response]:
    """Ask until the first 429: the answers before it (at most twice the limit, when a window ends
    during the burst) and the refusal."""
    answers: list[httpx.Response] = []
    for _ in range(2 * limit + 1):
        response = await ask()
        if response.status_code == 429:
            return answers, response
        answers.append(response)
    raise AssertionError(f"no 429 in {2 * limit + 1} requests: {[r.status_code for r in answers]}")


def assert_refusal_headers(response: httpx.Response, retry_after: int) -> None:
    assert 1 <= retry_after <= 60 and int(response.headers["retry-after"]) == retry_after


async def test_a_submission_over_the_limit_is_refused_and_holds_nothing(
    strict: Stack, client: httpx.AsyncClient
) -> None:
    team = strict.create_team(5_000)

    async def submit() -> httpx.Response:
        return await client.post(
            "/api/v1/creative-hub/generate/tts", json={"text": "a line"}, headers=team.headers
        )

    accepted, refused = await until_refused(KEY_SUBMISSIONS, submit)
    assert len(accepted) >= KEY_SUBMISSIONS and {r.status_code for r in accepted} == {202}
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"].startswith(f"this API key may make {KEY_SUBMISSIONS} submissions a minute")
    assert_refusal_headers(refused, error["retry_after_seconds"])
    assert int(refused.headers["x-ratelimit-reset"]) == error["reset_at"]
    assert time.time() - 5 < error["reset_at"] <= time.time() + 60
    # GraphQL says the same as a userError (the window may have turned: ask until it does).
    created = 0
    for _ in range(2 * KEY_SUBMISSIONS + 1):
        payload = (await strict.data(team, GENERATE["tts"], {"input": {"text": "again"}}))["generateTts"]
        if payload["job"] is None:
            break
        created += 1
    assert payload["job"] is None and payload["userErrors"][0]["code"] == "RATE_LIMITED"
    assert "try again in" in payload["userErrors"][0]["message"]
    # Nothing was made, or held, for the refused requests.
    jobs = (await strict.data(team, "{ jobs { edges { node { id } } } }"))["jobs"]["edges"]
    assert len(jobs) == len(accepted) + created


async def test_reads_over_the_limit_are_refused_on_graphql_and_rest(
    strict: Stack, client: httpx.AsyncClient
) -> None:
    team = strict.create_team(5_000)
    r = await client.post(
        "/api/v1/creative-hub/generate/video", json={"prompt": "a slow one [sim:slow]"}, headers=team.headers
    )
    assert r.status_code == 202
    path = f"/api/v1/creative-hub/jobs/{r.json()['job_id']}"
    first = await client.get(path, headers=team.headers)
    assert first.status_code == 200 and int(first.headers["retry-after"]) >= 5  # unfinished: come back later

    async def read() -> httpx.Response:
        return await client.post(
            "/graphql", json={"query": "{ creditBalance { availableCents } }"}, headers=team.headers
        )

    answered, refused = await until_refused(KEY_READS, read)
    assert len(answered) >= KEY_READS - 1 and {r.status_code for r in answered} == {200}  # the poll was one
    body = refused.json()
    [error] = body["errors"]
    assert body["data"] is None and error["extensions"]["code"] == "RATE_LIMITED"
    assert error["message"].startswith(f"this API key may make {KEY_READS} reads a minute")
    assert_refusal_headers(refused, error["extensions"]["retryAfterSeconds"])
    # REST polls of a job are reads too.
    _, polled = await until_refused(KEY_READS, lambda: client.get(path, headers=team.headers))
    assert polled.json()["error"]["code"] == "RATE_LIMITED"
    assert_refusal_headers(polled, polled.json()["error"]["retry_after_seconds"])


async def test_downloads_over_the_limit_are_refused(strict: Stack, client: httpx.AsyncClient) -> None:
    team = strict.create_team(5_000)
    data = await strict.data(team, GENERATE["image"], {"input": {"prompt": "a lemon on a plate"}})
    states = await follow_job(strict, team, data["generateImage"]["job"]["id"])  # no read spent
    assert states[-1]["status"] == "COMPLETED", states[-1]
    signed = states[-1]["resultUrls"][0]
    # A signed link (no key) spends its file's team's download budget.
    served, refused = await until_refused(TEAM_DOWNLOADS, lambda: client.get(signed))
    assert len(served) >= TEAM_DOWNLOADS and {r.status_code for r in served} == {200}
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert f"this team may make {TEAM_DOWNLOADS} downloads" in refused.json()["error"]["message"]
    assert_refusal_headers(refused, refused.json()["error"]["retry_after_seconds"])
