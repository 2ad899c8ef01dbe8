"""A revoked or expired credential gets nothing more, on every live stream: the websocket in both
subprotocols, /graphql/plain (when a benchmark serves it), multipart and SSE subscriptions over
HTTP. A revocation reaches every API process at once over Redis and ends the matching streams
within a second (not at the periodic re-check); JWTs have a maximum lifetime and can be revoked per
user; a key dies with its creator's membership; malformed tokens are refused, never a 500."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from redis.asyncio import Redis

from models.teams import Role
from realtime.revocation import revoked_by
from services.auth import Principal
from services.pubsub import EventBus
from services.settings import Settings
from tests.conftest import _redis_for
from tests.stack import ROOT, Stack, Team, free_port
from tests.test_generation import submit_ok
from tests.test_partners import REVOKE, create_key, member_of
from tests.test_realtime import _api_process, _wait_ready

ALL_JOBS = "subscription { jobsUpdated { id prompt status resultUrls } }"
ACCEPT = {
    "multipart": 'multipart/mixed;subscriptionSpec="1.0",application/json',
    "sse": "text/event-stream",
}
# (path, transport): the websocket paths speak graphql-transport-ws or the legacy graphql-ws
WS = [("/graphql", "graphql-transport-ws"), ("/graphql", "graphql-ws")]
HTTP = [("/graphql", "multipart"), ("/graphql", "sse")]
PLAIN = [("/graphql/plain", "graphql-transport-ws"), ("/graphql/plain", "graphql-ws")]
ENDS_WITHIN = 1.0  # seconds from the revocation to the end of every matching stream


@dataclass
class Stream:
    """One live subscription: every byte it received, and when (and how) it ended."""

    received: bytearray = field(default_factory=bytearray)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_at: float = 0.0
    close_code: int | None = None

    def add(self, data: bytes | str) -> None:
        self.received += data.encode() if isinstance(data, str) else data
        self.arrived.set()

    def end(self, code: int | None = None) -> None:
        if not self.ended.is_set():
            self.ended_at, self.close_code = time.monotonic(), code
            self.ended.set()

    async def wait_for(self, text: str) -> None:
        while text.encode() not in self.received:
            self.arrived.clear()
            await self.arrived.wait()


async def _read_http(
    base: str, transport: str, credential: str, stream: Stream, opened: asyncio.Event
) -> None:
    headers = {"Authorization": f"Bearer {credential}", "Accept": ACCEPT[transport]}
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None)) as client:
        body = {"query": ALL_JOBS}
        async with client.stream("POST", f"{base}/graphql", json=body, headers=headers) as response:
            assert response.status_code == 200, response.status_code
            opened.set()
            with contextlib.suppress(httpx.HTTPError):
                async for chunk in response.aiter_raw():
                    stream.add(chunk)


async def _read_ws(
    base: str, path: str, protocol: str, credential: str, stream: Stream, opened: asyncio.Event
) -> None:
    url = base.replace("http://", "ws://") + path
    async with websockets.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {credential}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": ALL_JOBS}}))
        opened.set()
        try:
            async for message in ws:
                stream.add(message)
        except websockets.ConnectionClosed:
            pass
        stream.end(ws.close_code)


@contextlib.asynccontextmanager
async def open_stream(base: str, path: str, transport: str, credential: str) -> AsyncIterator[Stream]:
    stream, opened = Stream(), asyncio.Event()

    async def read() -> None:
        try:
            if transport in ACCEPT:
                await _read_http(base, transport, credential, stream, opened)
            else:
                await _read_ws(base, path, transport, credential, stream, opened)
        finally:
            stream.end(stream.close_code)

    task = asyncio.create_task(read())
    try:
        done, _ = await asyncio.wait(
            {task, asyncio.ensure_future(opened.wait())}, timeout=10, return_when="FIRST_COMPLETED"
        )
        if task in done:
            task.result()  # the stream could not be opened: its error
        assert opened.is_set(), "the stream did not open"
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def until_live(stack: Stack, team: Team, streams: list[Stream]) -> None:
    """Until every stream has received a job of the team (jobsUpdated acknowledges nothing)."""
    async with asyncio.timeout(30):
        while True:
            job = await submit_ok(stack, team, "tts", {"text": "before the revocation"})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await asyncio.gather(*(s.wait_for(job["id"]) for s in streams))
                return


async def assert_cut_off(
    stack: Stack, team: Team, streams: list[Stream], revoked_at: float, code: int = 4403
) -> None:
    """Every stream ends within ENDS_WITHIN of the revocation, and a job submitted after it (its
    prompt, its id, its download URLs) reaches none of them."""
    secret = f"after the revocation {uuid.uuid4().hex}"
    job = await submit_ok(stack, team, "tts", {"text": secret})
    async with asyncio.timeout(10):
        await asyncio.gather(*(s.ended.wait() for s in streams))
    for stream in streams:
        assert stream.ended_at - revoked_at < ENDS_WITHIN, stream.ended_at - revoked_at
        assert job["id"].encode() not in stream.received and secret.encode() not in stream.received
        assert stream.close_code in (None, code), stream.close_code


@pytest.mark.parametrize(("path", "transport"), WS + HTTP)
async def test_a_revoked_key_gets_not_one_byte_of_a_later_job(
    stack: Stack, team: Team, path: str, transport: str
) -> None:
    key = await create_key(stack, team, ["READ"], name="dashboard")
    async with open_stream(stack.url, path, transport, key["secret"]) as stream:
        await until_live(stack, team, [stream])
        revoked = (await stack.data(team, REVOKE, {"id": key["apiKey"]["id"]}))["revokeApiKey"]
        revoked_at = time.monotonic()
        assert revoked["userErrors"] == []
        await assert_cut_off(stack, team, [stream], revoked_at)


async def test_a_revocation_reaches_every_api_process_at_once(stack: Stack, team: Team) -> None:
    """Two API processes that re-check credentials only every ten minutes: a key revoked through
    one ends, within a second, the key's streams of every kind on the other."""
    env = {**stack.env, "CH_WS_CREDENTIAL_RECHECK_SECONDS": "600", "CH_BENCH_PLAIN_WS": "1"}
    apis = Stack(env=env, url="", log_path=stack.log_path)
    first, second = free_port(), free_port()
    with _api_process(apis, first, "serve"), _api_process(apis, second, "serve"):
        one, other = f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"
        await asyncio.gather(_wait_ready(one), _wait_ready(other))
        key = await create_key(stack, team, ["READ"], name="dashboard")
        async with contextlib.AsyncExitStack() as opened:
            streams = [
                await opened.enter_async_context(open_stream(other, path, transport, key["secret"]))
                for path, transport in WS + HTTP + PLAIN
            ]
            await until_live(stack, team, streams)
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    f"{one}/graphql",
                    json={"query": REVOKE, "variables": {"id": key["apiKey"]["id"]}},
                    headers=team.headers,
                )
            revoked_at = time.monotonic()
            assert response.json()["data"]["revokeApiKey"]["userErrors"] == []
            await assert_cut_off(stack, team, streams, revoked_at)


def test_graphql_plain_is_served_only_when_a_benchmark_asks() -> None:
    with warnings.catch_warnings():  # importing the schema may warn about strawberry's deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        from web.app import create_app

    def paths(settings: Settings) -> set[str]:
        return {route.path for route in create_app(settings).app.routes}

    assert "/graphql/plain" not in paths(Settings(env="development"))
    assert "/graphql/plain" in paths(Settings(env="development", bench_plain_ws=True))
    production = Settings(
        env="production",
        secret_key="x" * 40,
        database_url="postgres://db/ch",
        redis_url="redis://r",
        bench_plain_ws=True,
    )
    with pytest.raises(RuntimeError, match="CH_BENCH_PLAIN_WS"):
        production.check_production()
    assert "/graphql/plain" not in paths(production)


# -- JWTs ----------------------------------------------------------------------------------------
def _secret(stack: Stack) -> str:
    return (Path(stack.env["CH_DATA_DIR"]) / "secret_key").read_text().strip()


def _token(stack: Stack, team: Team, claims: dict[str, Any] | None = None) -> str:
    now = time.time()
    base: dict[str, Any] = {"sub": team.user_id, "team": team.team_id, "iat": now, "exp": now + 600}
    base.update(claims or {})
    return jwt.encode({k: v for k, v in base.items() if v is not None}, _secret(stack), algorithm="HS256")


async def _refused(stack: Stack, credential: str) -> None:
    """401 on REST, UNAUTHENTICATED on GraphQL: never a 500."""
    headers = {"Authorization": f"Bearer {credential}"}
    async with httpx.AsyncClient(timeout=30) as client:
        rest = await client.get(f"{stack.url}/api/v1/creative-hub/jobs/{uuid.uuid4()}", headers=headers)
        gql = await client.post(
            f"{stack.url}/graphql", json={"query": "{ viewer { userId } }"}, headers=headers
        )
    assert rest.status_code == 401, (rest.status_code, rest.text[:300])
    assert gql.status_code == 200, (gql.status_code, gql.text[:300])
    assert gql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", gql.text[:300]


async def _accepted(stack: Stack, credential: str) -> None:
    body = await stack.gql(Team("", "", credential), "{ viewer { userId } }")
    assert "errors" not in body, body


async def test_malformed_expired_and_overlong_tokens_are_refused(stack: Stack, team: Team) -> None:
    now = time.time()
    await _accepted(stack, _token(stack, team))  # the well-formed one works
    for claims in (
        {"team": 123},
        {"team": ["a", "b"]},
        {"team": {"id": team.team_id}},
        {"team": "not-a-uuid"},
        {"team": None},
        {"exp": None},  # no expiry
        {"iat": None},  # no issue time: its lifetime is unknown
        {"iat": now - 60, "exp": now + 24 * 3600},  # lives a day and a minute: over the 24 h maximum
        {"exp": now + 10 * 365 * 24 * 3600},  # ten years
        {"iat": now - 120, "exp": now - 60},  # expired
        {"exp": float("inf")},
        {"iat": True},
    ):
        await _refused(stack, _token(stack, team, claims))


async def test_an_expiring_token_ends_its_streams_at_expiry(stack: Stack, team: Team) -> None:
    expires = time.time() + 3
    token = _token(stack, team, {"exp": expires})
    async with (
        open_stream(stack.url, "/graphql", "sse", token) as sse,
        open_stream(stack.url, "/graphql", "graphql-transport-ws", token) as ws,
    ):
        async with asyncio.timeout(10):
            await asyncio.gather(sse.ended.wait(), ws.ended.wait())
    ended_at = time.time()
    assert ended_at - expires < ENDS_WITHIN and ws.close_code == 4403


def _cli(stack: Stack, *args: str) -> dict[str, Any]:
    return stack.cli("admin", *args)


async def test_revoke_tokens_ends_a_users_jwts_and_their_streams(stack: Stack, team: Team) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    added = _cli(stack, "add-user", "--team", team.team_id, "--email", email, "--role", "member")
    person = Team(team.team_id, added["user_id"], added["jwt"])
    await _accepted(stack, person.api_key)
    async with (
        open_stream(stack.url, "/graphql", "multipart", person.api_key) as multipart,
        open_stream(stack.url, "/graphql", "graphql-ws", person.api_key) as ws,
    ):
        await until_live(stack, team, [multipart, ws])
        out = _cli(stack, "revoke-tokens", "--user", person.user_id)
        assert out["user_id"] == person.user_id
        await assert_cut_off(stack, team, [multipart, ws], time.monotonic())
    await _refused(stack, person.api_key)
    # a token issued afterwards works again
    again = _cli(stack, "add-user", "--team", team.team_id, "--email", email, "--role", "member")
    await _accepted(stack, again["jwt"])


async def test_a_removed_members_keys_and_tokens_stop_at_once(stack: Stack, team: Team) -> None:
    admin = member_of(stack, team, "admin")
    key = await create_key(stack, admin, ["READ"], name="admin's dashboard")
    await _accepted(stack, key["secret"])
    async with (
        open_stream(stack.url, "/graphql", "sse", key["secret"]) as sse,
        open_stream(stack.url, "/graphql", "graphql-transport-ws", admin.api_key) as ws,
    ):
        await until_live(stack, team, [sse, ws])
        out = _cli(stack, "remove-user", "--team", team.team_id, "--user", admin.user_id)
        assert out["api_keys_revoked"] == 1
        await assert_cut_off(stack, team, [sse, ws], time.monotonic())
    await _refused(stack, key["secret"])
    await _refused(stack, admin.api_key)
    # the team's last owner stays
    with pytest.raises(RuntimeError, match="at least one owner"):
        _cli(stack, "remove-user", "--team", team.team_id, "--user", team.user_id)
    await _accepted(stack, team.api_key)


async def test_a_key_stops_working_when_its_creator_leaves_the_team(stack: Stack, team: Team) -> None:
    """However the membership goes (here: deleted behind the service's back, the key not revoked)."""
    admin = member_of(stack, team, "admin")
    key = await create_key(stack, admin, ["READ"], name="left behind")
    await _accepted(stack, key["secret"])
    code = (
        "import asyncio\n"
        "from services import db\n"
        "from services.settings import load_settings\n"
        "from models.teams import Membership\n"
        "async def main():\n"
        "    await db.init(load_settings())\n"
        f"    await Membership.filter(team_id='{team.team_id}', user_id='{admin.user_id}').delete()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    run = [sys.executable, "-c", code]
    await asyncio.to_thread(subprocess.run, run, cwd=ROOT, env=stack.env, check=True, timeout=60)
    await _refused(stack, key["secret"])


# -- the bus, in-process ---------------------------------------------------------------------------
async def test_a_revocation_heard_between_a_check_and_its_streams_start_still_ends_it() -> None:
    """A credential checked, then revoked (the process hears it), then its stream's watch starts:
    the watch gets the revocation all the same."""
    url = _redis_for("sqlite")
    if url is None:
        pytest.skip("no Redis")
    redis = Redis.from_url(url)
    bus = EventBus(redis)
    heard, replayed = asyncio.Event(), []
    key_id = uuid.uuid4()
    principal = Principal(uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read"}), key_id)
    try:
        async with bus.revocations(lambda event: heard.set()):  # another stream: the reader runs
            await bus.credential_revoked({"kind": "api_key", "key_id": str(key_id)})
            await asyncio.wait_for(heard.wait(), 5)
            async with bus.revocations(replayed.append, since=principal.checked_at):
                assert [revoked_by(principal, event) for event in replayed] == [True]
            # a stream whose credential was checked after the revocation is not replayed it
            later = Principal(uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read"}), key_id)
            replayed.clear()
            async with bus.revocations(replayed.append, since=later.checked_at):
                assert replayed == []
    finally:
        await bus.close()
        await redis.aclose()
