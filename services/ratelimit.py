"""Per-team and per-API-key rate limits, counted in Redis so every API process shares them.

Fixed one-minute windows (an INCR and an EXPIRE per check): cheap, exact across processes, and the
reset time a refused client is told is simply the end of the window. While Redis cannot be reached
the limits are not counted (they fail open, see ``_hit``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models.errors import RateLimited
from services import outages
from services.auth import Principal
from services.settings import Settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
COUNT_TIMEOUT_SECONDS = 1.0  # a Redis that hangs instead of refusing is unavailable after this long


@dataclass(frozen=True)
class Limit:
    name: str  # what is limited, for the message: "submissions", "job reads"
    per_minute: int


class RateLimiter:
    def __init__(self, redis: Redis, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.settings = settings
        self.clock = clock  # unix time; the windows are its minutes

    async def _hit(self, key: str, limit: Limit, who: str) -> None:
        if limit.per_minute <= 0:  # 0 turns a limit off
            return
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        reset_at = (window + 1) * WINDOW_SECONDS
        redis_key = f"rl:{key}:{window}"
        try:
            async with asyncio.timeout(COUNT_TIMEOUT_SECONDS), self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, WINDOW_SECONDS + 5)
                count, _ = await pipe.execute()
        except Exception as exc:
            if not outages.is_unavailable(exc):
                raise
            # Fail open: the limits pace clients, they do not guard money (every job holds its
            # cost in the database first), and refusing every request while Redis is away
            # would turn a queue outage into an API outage (docs/operations.md).
            log.warning("rate limit %s not counted, Redis is unavailable (%s)", key, outages.describe(exc))
            return
        if count > limit.per_minute:
            retry_after = max(1, int(reset_at - now + 0.999))
            raise RateLimited(
                f"{who} may make {limit.per_minute} {limit.name} a minute; "
                f"try again in {retry_after} s (at {time.strftime('%H:%M:%S', time.gmtime(reset_at))} UTC)",
                retry_after,
                reset_at,
            )

    async def _hit_key_then_team(
        self, what: str, team_id: object, api_key_id: object | None, team: Limit, key: Limit
    ) -> None:
        """The key's own limit first: a key over it is refused before it spends the team's budget,
        so one runaway key cannot lock its team's other keys out."""
        if api_key_id is not None:
            await self._hit(f"key:{api_key_id}:{what}", key, "this API key")
        await self._hit(f"team:{team_id}:{what}", team, "this team")

    async def submission(self, principal: Principal) -> None:
        """A generate request (GraphQL or REST): counted for the API key used and for the team."""
        s = self.settings
        await self._hit_key_then_team(
            "submit",
            principal.team_id,
            principal.api_key_id,
            Limit("submissions", s.rate_limit_team_submissions_per_minute),
            Limit("submissions", s.rate_limit_key_submissions_per_minute),
        )

    async def _reading(
        self, what: str, team_id: object, api_key_id: object | None, team: Limit, key: Limit
    ) -> None:
        """Reads need the database only: while Redis is away they go uncounted rather than fail."""
        try:
            await self._hit_key_then_team(what, team_id, api_key_id, team, key)
        except RedisError as exc:
            log.warning("%s let through uncounted: the rate limiter's Redis is away (%s)", what, exc)

    async def read(self, principal: Principal) -> None:
        """A GraphQL query or a REST poll of a job: readers are held to a sane pace."""
        s = self.settings
        await self._reading(
            "read",
            principal.team_id,
            principal.api_key_id,
            Limit("reads", s.rate_limit_team_reads_per_minute),
            Limit("reads", s.rate_limit_key_reads_per_minute),
        )

    async def download(self, team_id: object, api_key_id: object | None = None) -> None:
        """A ``GET /files/{id}``: counted for the file's team (also through a signed link) and the key."""
        s = self.settings
        await self._reading(
            "download",
            team_id,
            api_key_id,
            Limit("downloads", s.rate_limit_team_downloads_per_minute),
            Limit("downloads", s.rate_limit_key_downloads_per_minute),
        )
