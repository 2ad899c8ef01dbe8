"""The stacks the tests run against: one on SQLite, one on PostgreSQL (when it is reachable).

Both use the real Redis at CH_TEST_REDIS_URL (default the local server; the embedded Valkey when
none answers). PostgreSQL comes from CH_TEST_POSTGRES_URL (default the local server); each run
creates and drops its own database.

Which database a stack test runs on (a test that uses the ``stack`` fixture, directly or through
``team``):

- ``@pytest.mark.both_databases``: on SQLite and on PostgreSQL, a test each. For what the two
  engines do differently: the credit ledger and its races, locking and concurrent writers, cancels
  racing the worker, the audit, restarts and migrations, pagination order, usage aggregation,
  pruning by date.
- every other stack test: once, on PostgreSQL (production's database) when it is reachable, else on
  SQLite (so a machine without PostgreSQL still runs it). ``CH_TEST_BOTH_DATABASES=1`` runs every
  stack test on both, as a release check.

Each stack is session-scoped and started on first use; a run that needs only one starts only one.
Under pytest-xdist each worker has stacks of its own."""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from providers import lifecycle
from tests.s3_server import S3Server, running_s3
from tests.smtp_server import SMTPServer, running_smtp
from tests.stack import Stack, Team, backend_env, running

# The browser fixtures (``browser``, ``page``) and their hooks: tests/browser.py.
pytest_plugins = ("tests.browser",)

POSTGRES_URL = os.environ.get("CH_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CH_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB = {"sqlite": 11, "postgres": 12}
# The day in-process lifecycles and the simulator see unless a test sets its own (the stack pins
# CH_TODAY likewise): tests must not change outcome when gpt-image-1.5 (2026-12-01) or the speech
# models (2027-01-06) reach their shutdown on the wall clock.
TEST_DAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _pinned_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "_utc_today", lambda: TEST_DAY)
    monkeypatch.setattr(lifecycle, "_clock", lifecycle._utc_today)


def _redis_for(backend: str) -> str | None:
    url = f"{REDIS_URL.rstrip('/')}/{REDIS_DB[backend]}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError:
        return None  # the service starts its embedded Valkey instead
    return url


async def _admin_pg(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_database() -> str | None:
    name = f"ch_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin_pg(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    return name


@functools.cache
def _postgres_reachable() -> bool:
    try:
        asyncio.run(_admin_pg("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def _every_test_on_both() -> bool:
    return os.environ.get("CH_TEST_BOTH_DATABASES", "").strip().lower() in ("1", "true", "yes")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The ``stack`` parameter: both databases for ``both_databases`` tests, else one (see above)."""
    if "stack" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_databases") or _every_test_on_both():
        backends = ["sqlite", "postgres"]
    else:
        backends = ["postgres" if _postgres_reachable() else "sqlite"]
    metafunc.parametrize("stack", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Stack:
    """The running stack on the test's database. pytest keeps one instance of a parametrized
    session fixture at a time: this one is a thin handle, so going from a PostgreSQL test to a
    SQLite one and back restarts nothing; the stacks themselves live until the session ends."""
    return request.getfixturevalue(f"{request.param}_stack")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server in the test process (tests/smtp_server.py): every stack sends its
    low-balance emails to it; tests tell theirs apart by recipient."""
    with running_smtp() as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory, smtp_server: SMTPServer) -> Iterator[Stack]:
    yield from _started("sqlite", tmp_path_factory, smtp_server)


@pytest.fixture(scope="session")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory, smtp_server: SMTPServer) -> Iterator[Stack]:
    yield from _started("postgres", tmp_path_factory, smtp_server)


def _started(backend: str, tmp_path_factory: pytest.TempPathFactory, smtp: SMTPServer) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp(backend)
    pg_name = None
    if backend == "postgres":
        pg_name = _postgres_database()
        if pg_name is None:
            pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        database_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        database_url = f"sqlite://{tmp / 'creative_hub.sqlite3'}"
    try:
        env = backend_env(tmp, database_url, _redis_for(backend))
        env.update(
            CH_SMTP_HOST=smtp.host,
            CH_SMTP_PORT=str(smtp.port),
            CH_SMTP_SECURITY="none",
            CH_SMTP_FROM="Creative Hub <billing@hub.test>",
            CH_EMAIL_RETRY_SCALE="0.02",  # the first retry after 0.2 s, not 10
        )
        with running(env, tmp) as s:
            yield s
    finally:
        if pg_name:
            asyncio.run(_admin_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client (the adapter tests hand it to the adapters they build)."""
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.fixture
def team(stack: Stack) -> Team:
    """A fresh team with $50 of credits."""
    return stack.create_team(5_000)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the whole session (tests/s3_server.py): a real S3 endpoint on loopback."""
    with running_s3(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


# The modules that take longest (each a minute or more of waiting on restarts, sweeps and retry
# schedules), collected first: `make test`'s workers take whole modules (--dist loadscope) in
# collection order, so the long ones start at once instead of ending the run alone.
LONGEST_MODULES = (
    "test_credit_races.py",
    "test_outages.py",
    "test_partners.py",
    "test_production.py",
    "test_realtime.py",
    "test_pricing.py",
    "test_credits.py",
    "test_generation.py",
    "test_worker.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_MODULES)))
