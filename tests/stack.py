"""A running Creative Hub for the tests: ``python main.py dev`` in a subprocess (API + worker +
simulator in one process) against a real database and a real Redis, and small clients for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio
import websockets

from services.pubsub import team_channel
from services.settings import Settings
from tests.stack_db import StackDatabase

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"COMPLETED", "FAILED", "CANCELED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Team:
    team_id: str
    user_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Stack:
    """The service, and the provider simulator in a process of its own (the far end outlives restarts)."""

    env: dict[str, str]
    url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    simulator: subprocess.Popen[bytes] | None = None
    teams: list[Team] = field(default_factory=list)
    _database: StackDatabase | None = field(default=None, repr=False)

    @property
    def simulator_url(self) -> str:
        return self.env["CH_SIMULATOR_URL"]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    # -- process -----------------------------------------------------------------------------
    def start_simulator(self, timeout: float = 60.0) -> None:
        log = self.log_path.with_name("simulator.log").open("ab")
        port = self.simulator_url.rsplit(":", 1)[1].split("/")[0]
        self.simulator = subprocess.Popen(
            [sys.executable, "main.py", "simulator", "--port", port],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.simulator_url}/_sim/stats", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("the simulator did not start")

    def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.simulator_url}/_sim/stats", timeout=10).json()
        return stats

    def wait_exit(self, timeout: float = 60.0) -> int:
        """Wait for the service to exit by itself (a crash hook); its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", "dev"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the service did not become ready:\n{self.log_tail()}")

    def stop(self, *, simulator: bool = False) -> None:
        if self._database is not None:  # the test process's own connection (create_team)
            self._database.close()
            self._database = None
        for proc in (self.proc, self.simulator if simulator else None):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    async def wait_listening(self, team: Team, within: float = 10.0) -> None:
        """Until an API process listens to the team's event channel in Redis: from then on every
        change of the team's jobs reaches its ``jobsUpdated`` subscribers. (That subscription has no
        first state to wait for, and the protocol does not acknowledge a subscribe.) For a team's
        first subscription: a later one shares the channel already listened to."""
        client = redis.asyncio.Redis.from_url(self.env["CH_REDIS_URL"])
        try:
            async with asyncio.timeout(within):
                while not (await client.pubsub_numsub(team_channel(team.team_id)))[0][1]:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    def stop_with_env(self, **env: str | None) -> None:
        """Stop the service and change its environment for the next start (None removes a variable)."""
        self.stop()
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cli(self, *args: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "main.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"main.py {' '.join(args)} failed: {out.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    @property
    def database(self) -> StackDatabase:
        """The stack's database, opened in the test process (kept open until :meth:`stop`)."""
        if self._database is None:
            self._database = StackDatabase(self.env["CH_DATABASE_URL"], self.env["CH_DATA_DIR"])
        return self._database

    def create_team(self, credits_cents: int, *, via_cli: bool = False) -> Team:
        """A team with an owner, an API key and ``credits_cents`` of initial credits: what
        ``python main.py admin create-team`` makes, by the same domain calls made in the test
        process (milliseconds, not a process start); ``via_cli`` runs the command itself."""
        name = f"team-{uuid.uuid4().hex[:8]}"
        if via_cli:
            out = self.cli("admin", "create-team", "--name", name, "--credits-cents", str(credits_cents))
            team = Team(out["team_id"], out["user_id"], out["api_key"])
        else:
            team = self.database.run(lambda: _create_team(name, credits_cents))
        self.teams.append(team)
        return team

    def add_member(self, team: Team, role: str = "member", *, via_cli: bool = False) -> Team:
        """A person with ``role`` in ``team``, calling with a JWT: what ``python main.py admin
        add-user`` makes and prints, made in the test process; ``via_cli`` runs the command itself."""
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        if via_cli:
            out = self.cli("admin", "add-user", "--team", team.team_id, "--email", email, "--role", role)
            return Team(team.team_id, out["user_id"], out["jwt"])
        secret = Settings(
            database_url=self.env["CH_DATABASE_URL"], data_dir=Path(self.env["CH_DATA_DIR"])
        ).secret
        return self.database.run(lambda: _add_member(team.team_id, email, role, secret))

    # -- clients -----------------------------------------------------------------------------
    async def gql(
        self, team: Team | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = team.headers if team else {}
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, team: Team, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.gql(team, query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    @contextlib.asynccontextmanager
    async def subscription(
        self,
        team: Team,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        protocol: str = "graphql-transport-ws",
    ) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """Yields a queue of ``next`` payloads (``None`` once the server completes the operation)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        async with websockets.connect(self.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {team.api_key}"}}
                )
            )
            # the service checks the credential first: on SQLite behind other writers that can take a while
            ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert ack["type"] == "connection_ack", ack
            start = "subscribe" if protocol == "graphql-transport-ws" else "start"
            await ws.send(
                json.dumps(
                    {"id": "1", "type": start, "payload": {"query": query, "variables": variables or {}}}
                )
            )

            async def pump() -> None:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] in ("next", "data"):
                        await queue.put(msg["payload"])
                    elif msg["type"] == "complete":
                        await queue.put(None)  # type: ignore[arg-type]  # None marks the end
                        return
                    elif msg["type"] == "error":
                        await queue.put({"errors": msg["payload"]})
                    elif msg["type"] == "ping":
                        await ws.send(json.dumps({"type": "pong"}))

            task = asyncio.create_task(pump())
            try:
                yield queue
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _create_team(name: str, credits_cents: int) -> Team:
    """main.py cmd_admin's ``create-team``, without the process around it."""
    from models import credits
    from models.teams import create_team

    created = await create_team(name)
    if credits_cents:
        await credits.top_up(created.team.id, credits_cents, "initial credits")
    return Team(str(created.team.id), str(created.user.id), created.api_key)


async def _add_member(team_id: str, email: str, role: str, secret: str) -> Team:
    """main.py cmd_admin's ``add-user``, without the process around it."""
    from models.teams import Role, add_member
    from services.auth import issue_jwt

    user = await add_member(team_id, email, Role(role))
    return Team(team_id, str(user.id), issue_jwt(user.id, uuid.UUID(team_id), secret))


@contextlib.contextmanager
def running(env: dict[str, str], log_dir: Path, *, simulator: bool = True) -> Iterator[Stack]:
    """A started service (and, unless the providers are pointed elsewhere, its own simulator),
    stopped at the end."""
    stack = Stack(env=env, url=f"http://127.0.0.1:{env['CH_PORT']}", log_path=log_dir / "service.log")
    try:  # a start that fails (or is interrupted) stops what did start
        if simulator:
            stack.start_simulator()
        stack.start()
        yield stack
    finally:
        stack.stop(simulator=simulator)


JOB_FIELDS = """id type status provider prompt settings resultUrls costCents estimatedCostCents driveFolderId
metadata errorMessage userId teamId version createdAt startedAt completedAt"""

JOB_UPDATED = f"subscription ($id: ID!) {{ jobUpdated(id: $id) {{ {JOB_FIELDS} }} }}"


async def follow_job(
    stack: Stack, team: Team, job_id: str, wait_seconds: float = 60.0
) -> list[dict[str, Any]]:
    """Every state the jobUpdated subscription yields, until the server completes it after a terminal one."""
    states: list[dict[str, Any]] = []
    async with stack.subscription(team, JOB_UPDATED, {"id": job_id}) as queue:
        async with asyncio.timeout(wait_seconds):
            while True:
                payload = await queue.get()
                if payload is None:
                    break
                assert "errors" not in payload, payload
                states.append(payload["data"]["jobUpdated"])
    assert states and states[-1]["status"] in TERMINAL, states
    return states


def backend_env(tmp: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CH_") and not k.endswith(("_API_KEY", "_BASE_URL"))
    }
    port = free_port()
    env.update(
        CH_ENV="development",
        CH_PORT=str(port),
        CH_SIMULATOR_URL=f"http://127.0.0.1:{free_port()}/simulator",
        CH_JOB_TIMEOUT_SECONDS="10",  # a killed worker's job is re-run after 20 s, not 130
        CH_DATA_DIR=str(tmp),
        CH_DATABASE_URL=database_url,
        CH_SIMULATOR_TIME_SCALE="0.05",
        CH_POLL_INTERVAL_SCALE="0.05",
        # Model lifecycles compare with this day, not the calendar's, so the suite means the same
        # on any date (gpt_image_1_5 is then deprecated, 11 days before its shutdown).
        CH_TODAY="2026-11-20",
        CH_QUEUE_NAME=f"creative_hub:test:{uuid.uuid4().hex}",  # runs sharing a Redis never share work
        CH_WEBHOOK_RETRY_SCALE="0.0002",  # the 27.6 h retry schedule in about 20 s
        # Tests age webhook rows by weeks; only the tests that mean to prune them do.
        CH_WEBHOOK_LOG_RETENTION_DAYS="3650",
        # The load tests submit hundreds of jobs a second; tests/test_partners.py checks the limits.
        CH_RATE_LIMIT_TEAM_SUBMISSIONS_PER_MINUTE="0",
        CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE="0",
        CH_RATE_LIMIT_TEAM_READS_PER_MINUTE="0",
        CH_RATE_LIMIT_KEY_READS_PER_MINUTE="0",
        CH_RATE_LIMIT_TEAM_DOWNLOADS_PER_MINUTE="0",
        CH_RATE_LIMIT_KEY_DOWNLOADS_PER_MINUTE="0",
        CH_WS_CREDENTIAL_RECHECK_SECONDS="1",  # tests/test_partners.py: revoking a key closes its sockets
        CH_BENCH_PLAIN_WS="1",  # tests/test_tenancy.py checks strawberry's /graphql/plain handler too
        CH_PROVIDER_CONCURRENCY='{"luma_ray3": 2}',  # tests/test_worker.py checks the cap
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["CH_REDIS_URL"] = redis_url
    return env
