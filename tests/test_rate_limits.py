"""Issue 10's smaller items, each as the attack that used to work.

- Provider outputs that can carry script (SVG) are refused (the download's content-type rule).
- Introspection and ``/metrics`` in production (the app factory with production settings).
- Through a running service: ``/metrics`` behind its token, introspection off when configured,
  GraphQL reads and file downloads rate-limited per key and per team (a key over its own limit does
  not spend its team's budget), files served with ``nosniff`` and inline only for media types.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from providers.base import Output
from providers.download import fetch_output
from providers.errors import RejectedError
from services.settings import Settings
from tests.conftest import _redis_for
from tests.stack import Stack, Team, backend_env, follow_job, running
from tests.test_generation import GENERATE
from tests.test_production_limits import _fresh_window
from tests.test_webhook_targets import _free_closed_port
from web.app import create_app

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
KEY_READS, TEAM_READS = 3, 6
KEY_DOWNLOADS, TEAM_DOWNLOADS = 2, 4
KEY_SUBMISSIONS, TEAM_SUBMISSIONS = 3, 6
INTROSPECTION = "{ __schema { queryType { name } } }"
BALANCE = "{ creditBalance { availableCents } }"
CREATE_KEY = """mutation ($n: String!) { createApiKey(input: {name: $n, scopes: [READ, GENERATE]}) {
  secret userErrors { code } } }"""


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


# -- through a running service --------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("small")
    env = backend_env(tmp, f"sqlite://{tmp / 'creative_hub.sqlite3'}", _redis_for("sqlite"))
    env.update(
        CH_METRICS_TOKEN=METRICS_TOKEN,
        CH_GRAPHQL_INTROSPECTION="false",
        CH_RATE_LIMIT_KEY_READS_PER_MINUTE=str(KEY_READS),
        CH_RATE_LIMIT_TEAM_READS_PER_MINUTE=str(TEAM_READS),
        CH_RATE_LIMIT_KEY_DOWNLOADS_PER_MINUTE=str(KEY_DOWNLOADS),
        CH_RATE_LIMIT_TEAM_DOWNLOADS_PER_MINUTE=str(TEAM_DOWNLOADS),
        CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE=str(KEY_SUBMISSIONS),
        CH_RATE_LIMIT_TEAM_SUBMISSIONS_PER_MINUTE=str(TEAM_SUBMISSIONS),
    )
    with running(env, tmp) as s:
        yield s


@pytest.fixture
async def client(limited: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.url, timeout=30) as c:
        yield c


async def _keys(stack: Stack, team: Team, n: int) -> list[Team]:
    """The team's owner key and ``n - 1`` more keys of the same team."""
    keys = [team]
    for i in range(n - 1):
        secret = (await stack.data(team, CREATE_KEY, {"n": f"key {i}"}))["createApiKey"]["secret"]
        keys.append(Team(team.team_id, team.user_id, secret))
    return keys


async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"authorization": "Bearer guess"})).status_code == 401
    ok = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200 and "creative_hub_jobs_submitted_total" in ok.text


async def test_introspection_off_when_configured(limited: Stack) -> None:
    team = limited.create_team(100)
    body = await limited.gql(team, INTROSPECTION)
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()
    body = await limited.gql(None, '{ __type(name: "Job") { fields { name } } }')
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()


async def test_graphql_reads_are_limited_per_key_before_the_team(
    limited: Stack, client: httpx.AsyncClient
) -> None:
    a, b, c = await _keys(limited, limited.create_team(100), 3)
    await _fresh_window()

    async def read(key: Team) -> httpx.Response:
        return await client.post("/graphql", json={"query": BALANCE}, headers=key.headers)

    flood = [await read(a) for _ in range(KEY_READS + 7)]
    assert [r.status_code for r in flood] == [200] * KEY_READS + [429] * 7
    refused = flood[-1]
    [error] = refused.json()["errors"]
    assert refused.json()["data"] is None and error["extensions"]["code"] == "RATE_LIMITED"
    assert "this API key" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) == error["extensions"]["retryAfterSeconds"] <= 60
    # Key A's refused reads did not spend the team's budget: key B reads up to its own limit...
    assert [(await read(b)).status_code for _ in range(KEY_READS)] == [200] * KEY_READS
    # ...and then the team's budget (KEY_READS of A + KEY_READS of B) is spent, for key C too.
    team_refused = await read(c)
    assert team_refused.status_code == 429 and "this team" in team_refused.json()["errors"][0]["message"]
    # REST job reads share the budget.
    polled = await client.get(f"/api/v1/creative-hub/jobs/{uuid.uuid4()}", headers=c.headers)
    assert polled.status_code == 429 and polled.json()["error"]["code"] == "RATE_LIMITED"


async def test_submissions_key_over_its_limit_does_not_spend_the_team_budget(
    limited: Stack, client: httpx.AsyncClient
) -> None:
    a, b = await _keys(limited, limited.create_team(5_000), 2)
    await _fresh_window()

    async def submit(key: Team, i: int) -> int:
        r = await client.post(
            "/api/v1/creative-hub/generate/tts", json={"text": f"line {i}"}, headers=key.headers
        )
        return r.status_code

    assert [await submit(a, i) for i in range(KEY_SUBMISSIONS + 5)] == [202] * KEY_SUBMISSIONS + [429] * 5
    assert [await submit(b, i) for i in range(KEY_SUBMISSIONS)] == [202] * KEY_SUBMISSIONS


async def _completed_image(stack: Stack, team: Team) -> str:
    """A finished image job's signed result URL (followed over the websocket: no read spent)."""
    data = await stack.data(team, GENERATE["image"], {"input": {"prompt": "a lemon on a plate"}})
    job = data["generateImage"]["job"]
    states = await follow_job(stack, team, job["id"])
    assert states[-1]["status"] == "COMPLETED", states[-1]
    url: str = states[-1]["resultUrls"][0]
    return url


async def test_downloads_are_limited_per_key_and_per_team(limited: Stack, client: httpx.AsyncClient) -> None:
    team = limited.create_team(5_000)
    signed = await _completed_image(limited, team)
    path = "/files/" + signed.split("/files/")[1].split("?")[0]
    await _fresh_window()
    by_key = [(await client.get(path, headers=team.headers)).status_code for _ in range(KEY_DOWNLOADS + 1)]
    assert by_key == [200] * KEY_DOWNLOADS + [429]
    # A signed link (no key) counts for the file's team, which has TEAM_DOWNLOADS - KEY_DOWNLOADS left.
    left = TEAM_DOWNLOADS - KEY_DOWNLOADS
    by_link = [await client.get(signed) for _ in range(left + 1)]
    assert [r.status_code for r in by_link] == [200] * left + [429]
    assert (
        by_link[-1].json()["error"]["code"] == "RATE_LIMITED" and int(by_link[-1].headers["retry-after"]) >= 1
    )


async def test_files_are_served_nosniff_and_inline_only_for_media(
    limited: Stack, client: httpx.AsyncClient
) -> None:
    team = limited.create_team(5_000)
    signed = await _completed_image(limited, team)
    png = await client.get(signed)
    assert png.status_code == 200 and png.headers["content-type"] in ("image/png", "image/jpeg")
    assert png.headers["x-content-type-options"] == "nosniff"
    assert png.headers["content-disposition"].startswith("inline;")
    # An SVG that reached a Drive before outputs were checked for script: an attachment, never rendered.
    file_id = signed.split("/files/")[1].split("?")[0]
    svg_id, key = str(uuid.uuid4()), f"{team.team_id}/legacy/{uuid.uuid4().hex}.svg"
    data_dir = Path(limited.env["CH_DATA_DIR"])
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


async def test_reads_and_downloads_go_uncounted_while_redis_is_away() -> None:
    """Limiting reads must not make every query and download depend on Redis: they need only the
    database, so with Redis away they are let through (submissions keep their own rule)."""
    from redis.asyncio import Redis

    from models.teams import Role
    from services.auth import Principal
    from services.ratelimit import RateLimiter

    redis = Redis.from_url(f"redis://127.0.0.1:{_free_closed_port()}/0", socket_connect_timeout=1)
    try:
        limiter = RateLimiter(
            redis, Settings(rate_limit_key_reads_per_minute=1, rate_limit_team_reads_per_minute=1)
        )
        principal = Principal(uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read"}), uuid.uuid4())
        for _ in range(3):
            await limiter.read(principal)
            await limiter.download(principal.team_id, principal.api_key_id)
    finally:
        await redis.aclose()
