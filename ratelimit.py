"""Per-team and per-API-key rate limits, counted in Redis so every API process shares them.

Fixed one-minute windows (an INCR and an EXPIRE per check): cheap, exact across processes, and the
reset time a refused client is told is simply the end of the window."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from auth import Principal
from models.errors import RateLimited
from settings import Settings

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Limit:
    name: str  # what is limited, for the message: "submissions", "job reads"
    per_minute: int


class RateLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    async def _hit(self, key: str, limit: Limit, who: str) -> None:
        if limit.per_minute <= 0:  # 0 turns a limit off
            return
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        reset_at = (window + 1) * WINDOW_SECONDS
        redis_key = f"rl:{key}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(redis_key)
            pipe.expire(redis_key, WINDOW_SECONDS + 5)
            count, _ = await pipe.execute()
        if count > limit.per_minute:
            retry_after = max(1, int(reset_at - now + 0.999))
            raise RateLimited(
                f"{who} may make {limit.per_minute} {limit.name} a minute; "
                f"try again in {retry_after} s (at {time.strftime('%H:%M:%S', time.gmtime(reset_at))} UTC)",
                retry_after,
                reset_at,
            )

    async def submission(self, principal: Principal) -> None:
        """A generate request (GraphQL or REST): counted for the team and for the API key used."""
        limit = Limit("submissions", self.settings.rate_limit_team_submissions_per_minute)
        await self._hit(f"team:{principal.team_id}:submit", limit, "this team")
        if principal.api_key_id is not None:
            key_limit = Limit("submissions", self.settings.rate_limit_key_submissions_per_minute)
            await self._hit(f"key:{principal.api_key_id}:submit", key_limit, "this API key")

    async def job_read(self, principal: Principal) -> None:
        """A REST poll of a job: polling clients are held to a sane pace."""
        limit = Limit("job reads", self.settings.rate_limit_team_reads_per_minute)
        await self._hit(f"team:{principal.team_id}:read", limit, "this team")
