"""Outages answered honestly: Redis, then PostgreSQL, restarted under steady submissions.

Each test runs the service (``main.py dev``) on servers of its own, so it may restart them: a
private ``redis-server`` without persistence (a restart loses the arq queue, as it would in
production) and, for PostgreSQL, a private cluster (``initdb``/``pg_ctl``; as the ``postgres``
user when the tests run as root). The shared servers on the default ports are never touched.

Clients submit image jobs steadily over GraphQL and REST, each intended submission with an
idempotency key, and do what docs/operations.md tells a client to do: on 503 wait ``Retry-After``
and send the same request again. What must hold:

- a request whose job was committed answers with the job (never an error, whatever Redis does);
- a request that could not commit answers 503 with ``Retry-After`` and SERVICE_UNAVAILABLE;
- every intended submission ends with exactly one job, and every job COMPLETED within
  ``RECOVERY_SECONDS`` of the server coming back (the stale sweep would take minutes);
- the ledger audits clean and the balance is the opening credit less what the jobs cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
import redis.asyncio
import redis.exceptions
from starlette.responses import Response
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError, OperationalError

from models import batches, credits, jobs
from models.generation import GenerationRequest
from models.teams import Role, create_team
from services import db, outages
from services.auth import Principal
from services.container import Services
from services.settings import Settings
from tests.stack import Stack, Team, backend_env, free_port, running
from tests.test_credits import audit_cli
from tests.test_generation import GENERATE, balance, submit_ok

RECOVERY_SECONDS = 45.0  # every job ends within this long of the server's return (the sweep: 120 s+)
OUTAGE_SECONDS = 3.0  # how long a server stays down (the issue's Redis restart took 3 s)
PER_PHASE = 8  # answers wanted before, during and after the outage
SUBMITTERS = 3
CREDITS = 100_000
JOB_STATUS = "query ($id: ID!) { job(id: $id) { status } }"
OPEN_JOBS = "query ($f: JobFilter) { jobs(first: 100, filter: $f) { edges { node { id status } } } }"
ALL_JOBS = """query ($after: String) { jobs(first: 100, after: $after) {
  edges { node { id status prompt costCents createdAt } } pageInfo { hasNextPage endCursor } } }"""


# -- the pieces, as functions -------------------------------------------------------------------
class _DatabaseDown:
    """Services whose every generate meets a database that refuses connections."""

    settings = Settings()

    async def generate(self, principal: Principal, request: Any) -> Any:
        await asyncio.sleep(0)  # concurrent requests interleave here
        raise OperationalError("could not connect") from ConnectionRefusedError(111, "Connection refused")

    generate_batch = generate  # what the generate mutations call (a request of one job or several)


def _graphql_response(data: Any, errors: list[dict[str, Any]]) -> Any:
    from web.graphql import GraphQLView, build_schema

    sub_response = Response()
    sub_response.status_code = None  # type: ignore[assignment]  # as strawberry makes it
    return GraphQLView(Settings(), build_schema()).create_response(
        {"data": data, "errors": errors}, sub_response
    )


# The schema is imported here, not at the top: strawberry warns about its extension instances.
@pytest.mark.filterwarnings("ignore:Passing an extension instance:DeprecationWarning")
async def test_a_fault_from_an_outage_reads_service_unavailable_and_answers_503() -> None:
    from web.graphql import build_schema

    schema = build_schema()
    from schema.context import Context

    principal = Principal(uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read", "generate"}))
    context = Context(request=None, services=_DatabaseDown(), principal=principal)  # type: ignore[arg-type]  # stand-ins: no request
    result = await schema.execute(GENERATE["image"], {"input": {"prompt": "x"}}, context_value=context)
    assert result.data is None and result.errors
    error = result.errors[0].formatted
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "retryAfterSeconds": 2}
    assert "connect" not in error["message"]  # the cause stays in our log
    response = _graphql_response(None, [error])
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    # A document one of whose mutations committed keeps 200: the client must see that job.
    committed = {"generateImage": {"job": {"id": "…"}}, "second": None}
    assert _graphql_response(committed, [error]).status_code == 200
    # Any other fault stays a masked 200 "Internal server error", as before.
    assert _graphql_response(None, [{"message": "Internal server error"}]).status_code == 200
    # Concurrent requests each get their own answer (the extensions are made per request: one
    # instance shared by all of them masked whichever request finished last, leaving the others raw).
    results = await asyncio.gather(
        *(
            schema.execute(GENERATE["image"], {"input": {"prompt": "x"}}, context_value=context)
            for _ in range(10)
        )
    )
    assert [r.errors[0].formatted["extensions"]["code"] for r in results if r.errors] == [
        "SERVICE_UNAVAILABLE"
    ] * 10


def test_what_counts_as_an_outage() -> None:
    assert outages.is_unavailable(ConnectionRefusedError(111, "refused"))
    assert outages.is_unavailable(redis.exceptions.ConnectionError("Error 111 connecting"))
    try:
        raise OperationalError("wrapped") from asyncpg.exceptions.CannotConnectNowError("starting up")
    except OperationalError as wrapped:
        assert outages.is_unavailable(wrapped)
    assert not outages.is_unavailable(IntegrityError("duplicate key"))
    assert not outages.is_unavailable(ValueError("bad input"))
    assert not outages.is_unavailable(FileNotFoundError("a Drive file"))


class _Recorder:
    """The queue and the bus of a Services, recording what they are asked."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []

    async def enqueue_job(self, job_id: str) -> None:
        self.enqueued.append(job_id)

    async def job_changed(self, job: Any) -> None:
        pass

    async def balance_changed(self, team_id: Any) -> None:
        pass


@contextlib.asynccontextmanager
async def _services_on_sqlite(tmp_path: Path) -> AsyncIterator[tuple[Services, Any, _Recorder]]:
    """Services on a fresh SQLite database (fakes for the queue and the bus), and a funded team."""
    settings = Settings(
        database_url=f"sqlite://{tmp_path / 'db.sqlite3'}",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # never reached: the limits are off
        data_dir=tmp_path,
        rate_limit_team_submissions_per_minute=0,
        rate_limit_key_submissions_per_minute=0,
    )
    await Tortoise.init(config=db.tortoise_config(settings))
    await Tortoise.generate_schemas()
    recorder = _Recorder()
    unused = redis.asyncio.Redis.from_url(settings.redis_url or "")
    services = Services(settings, unused, recorder, recorder, None, None)  # type: ignore[arg-type]  # stand-ins for the bus and queue
    try:
        created = await create_team("outage")
        await credits.top_up(created.team.id, 1_000)
        yield services, created, recorder
    finally:
        await unused.aclose()
        await Tortoise.close_connections()


@pytest.mark.parametrize("committed", [True, False])
async def test_a_commit_whose_acknowledgement_is_lost_answers_what_happened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, committed: bool
) -> None:
    """The connection is lost during COMMIT: the request looks, and answers with the job if it was
    committed (and enqueues it), or fails as an outage (503) if it was not."""
    real = jobs.in_transaction

    @contextlib.asynccontextmanager
    async def ack_lost(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with real(*args, **kwargs) as conn:
            yield conn
            if not committed:
                raise ConnectionResetError("connection lost before COMMIT reached the server")
        raise ConnectionResetError("connection lost after COMMIT")

    async with _services_on_sqlite(tmp_path) as (services, created, recorder):
        principal = Principal(created.team.id, created.user.id, Role.OWNER, frozenset({"generate"}))
        request = GenerationRequest(type="image", team_id=created.team.id, user_id=created.user.id, text="x")
        monkeypatch.setattr(jobs, "in_transaction", ack_lost)
        monkeypatch.setattr(batches, "in_transaction", ack_lost)  # the transaction of a request's jobs
        if committed:
            job = await services.generate(principal, request)
            assert recorder.enqueued == [str(job.id)]
            assert await jobs.CreativeJob.filter(id=job.id).exists()
        else:
            with pytest.raises(jobs.CommitOutcomeUnknown) as unknown:
                await services.generate(principal, request)
            assert outages.is_unavailable(unknown.value) and recorder.enqueued == []
            assert not await jobs.CreativeJob.exists()


# -- private servers ---------------------------------------------------------------------------
class PrivateRedis:
    """``redis-server`` on a port of its own, keeping nothing on disk."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
        self.proc = subprocess.Popen(
            [self.binary, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pg_bin() -> Path | None:
    configured = os.environ.get("CH_TEST_PG_BIN")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` into a temporary directory, ``pg_ctl``).

    PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user
    (``runuser``); the directory is made outside pytest's root-only temporary tree for that."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        if self.bin is None:
            pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres and shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start a private PostgreSQL")
        self.directory = Path(tempfile.mkdtemp(prefix="ch-outage-pg-"))
        if self.as_postgres:
            shutil.chown(self.directory, "postgres")
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"{' '.join(command)}: {out.stdout[-1000:]}{out.stderr[-1000:]}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def outage_env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = backend_env(tmp_path, database_url, redis_url)
    # The submission limits count in Redis: on, so their behaviour during an outage is part of the test.
    env.update(
        CH_RATE_LIMIT_TEAM_SUBMISSIONS_PER_MINUTE="100000", CH_RATE_LIMIT_KEY_SUBMISSIONS_PER_MINUTE="100000"
    )
    return env


# -- the clients -------------------------------------------------------------------------------
@dataclass
class Answer:
    key: str  # the intended submission (its idempotency key)
    via: str  # graphql | rest
    sent_at: float
    answered_at: float
    status: int  # 0: no answer
    retry_after: str | None
    job_id: str | None
    body: Any


@dataclass
class Clients:
    """Steady submissions; a 503 is retried with the same idempotency key after Retry-After."""

    stack: Stack
    team: Team
    answers: list[Answer] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    gave_up: list[str] = field(default_factory=list)
    down_at: float = 0.0
    back_at: float = 0.0

    def summary(self) -> dict[str, dict[str, int]]:
        """Answers per phase (sent before, during, after the outage) and kind, for failure messages."""
        out: dict[str, dict[str, int]] = {}
        for a in self.answers:
            phase = (
                "before" if a.sent_at < self.down_at else "during" if a.sent_at < self.back_at else "after"
            )
            kind = "job" if _ok(a) else "503" if _unavailable(a) else f"{a.status} {str(a.body)[:60]}"
            out.setdefault(phase, {}).setdefault(kind, 0)
            out[phase][kind] += 1
        return out

    def answered_since(self, moment: float) -> int:
        return sum(1 for a in self.answers if a.sent_at >= moment)

    async def until(self, condition: Any, what: str, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def _send(self, client: httpx.AsyncClient, key: str, via: str) -> Answer:
        prompt = f"steady submission {key}"
        sent = time.time()
        if via == "graphql":
            request = client.build_request(
                "POST",
                f"{self.stack.url}/graphql",
                json={
                    "query": GENERATE["image"],
                    "variables": {"input": {"prompt": prompt, "idempotencyKey": key}},
                },
            )
        else:
            request = client.build_request(
                "POST",
                f"{self.stack.url}/api/v1/creative-hub/generate/image",
                json={"prompt": prompt},
                headers={"Idempotency-Key": key},
            )
        try:
            r = await client.send(request)
        except httpx.HTTPError as exc:
            return Answer(key, via, sent, time.time(), 0, None, None, repr(exc))
        try:
            body = r.json()
        except ValueError:
            body = r.text
        job_id = None
        if isinstance(body, dict) and via == "graphql" and not body.get("errors"):
            job_id = (((body.get("data") or {}).get("generateImage") or {}).get("job") or {}).get("id")
        elif isinstance(body, dict) and via == "rest" and r.status_code == 202:
            job_id = body.get("job_id")
        return Answer(key, via, sent, time.time(), r.status_code, r.headers.get("retry-after"), job_id, body)

    async def submitter(self, number: int) -> None:
        async with httpx.AsyncClient(timeout=20, headers=self.team.headers) as client:
            i = 0
            while not self.stop.is_set():
                key = f"outage-{number}-{i}"
                via = "graphql" if (number + i) % 2 == 0 else "rest"
                self.keys.append(key)
                for _ in range(30):  # a client retries a 503 with the same key
                    answer = await self._send(client, key, via)
                    self.answers.append(answer)
                    if answer.status != 503:
                        break
                    await asyncio.sleep(min(float(answer.retry_after or 1), 2.0))
                else:
                    self.gave_up.append(key)
                i += 1
                await asyncio.sleep(0.05)


def _ok(answer: Answer) -> bool:
    return answer.job_id is not None and answer.status in (200, 202)


def _unavailable(answer: Answer) -> bool:
    """503, Retry-After, and the code SERVICE_UNAVAILABLE in the body (GraphQL or REST shape)."""
    if answer.status != 503 or not (answer.retry_after or "").isdigit() or not isinstance(answer.body, dict):
        return False
    if answer.via == "graphql":
        codes = {(e.get("extensions") or {}).get("code") for e in answer.body.get("errors") or []}
    else:
        codes = {(answer.body.get("error") or {}).get("code")}
    return codes == {"SERVICE_UNAVAILABLE"}


async def _all_jobs(stack: Stack, team: Team) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await stack.data(team, ALL_JOBS, {"after": after}))["jobs"]
        jobs += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return jobs
        after = page["pageInfo"]["endCursor"]


async def _open_jobs(stack: Stack, team: Team) -> int:
    counts = [
        len((await stack.data(team, OPEN_JOBS, {"f": {"status": status}}))["jobs"]["edges"])
        for status in ("PENDING", "PROCESSING")
    ]
    return sum(counts)


async def _a_job_waiting_on_its_provider(clients: Clients) -> None:
    """A slow video the worker is following (submitted, polling) when the server goes down."""
    key = "polling [sim:slow]"
    job = await submit_ok(
        clients.stack, clients.team, "video", {"prompt": f"steady submission {key}", "durationSeconds": 5}
    )
    clients.keys.append(key)
    deadline = time.monotonic() + 30
    while (await clients.stack.data(clients.team, JOB_STATUS, {"id": job["id"]}))["job"][
        "status"
    ] != "PROCESSING":
        assert time.monotonic() < deadline, "the slow video never started"
        await asyncio.sleep(0.05)


async def _through_an_outage(stack: Stack, stop: Any, start: Any) -> tuple[Clients, float]:
    """Submissions before, during and after the server is down; the moment it was back."""
    team = stack.create_team(CREDITS)
    clients = Clients(stack, team)
    tasks = [asyncio.create_task(clients.submitter(n)) for n in range(SUBMITTERS)]
    try:
        await clients.until(
            lambda: sum(map(_ok, clients.answers)) >= PER_PHASE, "submissions before the outage"
        )
        await _a_job_waiting_on_its_provider(clients)
        down_at = clients.down_at = time.time()
        await asyncio.to_thread(stop)
        await clients.until(
            lambda: clients.answered_since(down_at) >= PER_PHASE and time.time() - down_at >= OUTAGE_SECONDS,
            "answers during the outage",
        )
        await asyncio.to_thread(start)
        back_at = clients.back_at = time.time()
        await clients.until(lambda: clients.answered_since(back_at) >= PER_PHASE, "answers after the outage")
    finally:
        clients.stop.set()
        await asyncio.gather(*tasks)
    return clients, back_at


async def _check(stack: Stack, clients: Clients, back_at: float) -> list[Answer]:
    """Everything the module docstring promises; the answers that were 503."""
    team = clients.team
    wrong = [a for a in clients.answers if not (_ok(a) or _unavailable(a))]
    assert not wrong, (
        f"{len(wrong)} of {len(clients.answers)} answers were neither the job nor a 503: {clients.summary()} {wrong[:2]}"
    )
    assert not clients.gave_up, clients.gave_up
    # Every job ends, within RECOVERY_SECONDS of the server's return.
    deadline = back_at + RECOVERY_SECONDS
    # a client's view: the jobs query, asked again until nothing is open
    while (still_open := await _open_jobs(stack, team)) and time.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.25)
    assert not still_open, f"{still_open} jobs still open {RECOVERY_SECONDS:.0f} s after the server came back"
    print(
        f"all jobs ended {time.time() - back_at:.1f} s after the server came back; answers: {clients.summary()}"
    )
    jobs = {job["prompt"].removeprefix("steady submission "): job for job in await _all_jobs(stack, team)}
    # One job per intended submission: what the client was told is what exists.
    assert sorted(jobs) == sorted(clients.keys)
    for answer in clients.answers:
        job = jobs[answer.key]
        if _ok(answer):
            assert answer.job_id == job["id"], (answer, job)
        else:  # told "could not commit": the job must have been made by a later retry
            created = datetime.fromisoformat(job["createdAt"]).timestamp()
            assert created > answer.answered_at, ("a committed job was answered 503", answer, job)
    assert {job["status"] for job in jobs.values()} == {"COMPLETED"}
    # Charged once: the ledger replays clean and the balance is the opening credit less the costs.
    assert audit_cli(stack)["ok"]  # the database restarted under the stack's in-process handle
    spent = sum(job["costCents"] for job in jobs.values())
    assert await balance(stack, team) == {
        "balanceCents": CREDITS - spent,
        "availableCents": CREDITS - spent,
        "heldCents": 0,
    }
    return [a for a in clients.answers if a.status == 503]


async def test_a_redis_restart_under_submissions_fails_no_request_and_loses_no_job(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """The database stays up, so every request can commit: none may answer an error. The restart
    loses the queue (no persistence); the open jobs are queued again within seconds."""
    env = outage_env(tmp_path, f"sqlite://{tmp_path / 'db.sqlite3'}", private_redis.url)
    with running(env, tmp_path) as stack:
        clients, back_at = await _through_an_outage(stack, private_redis.stop, private_redis.start)
        refused = await _check(stack, clients, back_at)
    assert not refused, f"{len(refused)} requests were refused although the database was up: {refused[:3]}"


async def test_a_postgres_restart_under_submissions_answers_503_until_it_is_back(
    tmp_path: Path, private_redis: PrivateRedis, private_postgres: PrivatePostgres
) -> None:
    """While PostgreSQL is down nothing can commit: 503 with Retry-After, and the client's retry
    with the same idempotency key makes the one job. Jobs the worker was following resume."""
    env = outage_env(tmp_path, private_postgres.url, private_redis.url)
    with running(env, tmp_path) as stack:
        clients, back_at = await _through_an_outage(stack, private_postgres.stop, private_postgres.start)
        refused = await _check(stack, clients, back_at)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{stack.url}/readyz")).status_code == 200
    assert refused, "no request met the outage"
