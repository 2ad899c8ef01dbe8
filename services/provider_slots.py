"""Per-provider concurrency limits, shared by every worker through Redis.

A provider caps how many of our tasks may run at once (Runway's and Kling's concurrency tiers, for
instance). A job takes a slot before it submits and keeps it until it ends; a job that finds no
free slot joins the provider's waiters and leaves the worker; a job that gives its slot back hands
it to the longest waiter at once (waiters also look again now and then, in case a hand-off is
lost). Slots are leases (a sorted set of job ids scored by expiry), refreshed on every poll, so a
job whose worker died gives its slot back by itself."""

from __future__ import annotations

import time
from collections.abc import Iterable

from redis.asyncio import Redis

# KEYS: the provider's slots, its waiters; ARGV: job id, now, lease expiry, limit.
# Returns 1 when the job holds a slot (and is no longer waiting).
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS: the provider's slots, its waiters; ARGV: job id. Only a job that held a slot hands one on:
# returns the longest waiter's job id, or false.
_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local next = redis.call('ZPOPMIN', KEYS[2])
  if next[1] then return next[1] end
end
return false
"""


class ProviderSlots:
    def __init__(self, redis: Redis, namespace: str, lease_seconds: float = 600.0) -> None:
        self.redis = redis
        self.namespace = namespace  # the queue name: deployments sharing a Redis do not share slots
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, provider: str) -> str:
        return f"{self.namespace}:slots:{provider}"

    def _waiters(self, provider: str) -> str:
        return f"{self.namespace}:slot-waiters:{provider}"

    async def acquire(self, provider: str, job_id: str, limit: int) -> bool:
        """Take (or keep, refreshing its lease) a slot for this job; False when all are taken.
        A limit of 0 means no limit."""
        if limit <= 0:
            return True
        now = time.time()
        keys = [self._key(provider), self._waiters(provider)]
        held = await self._acquire(keys=keys, args=[job_id, now, now + self.lease_seconds, limit])
        return bool(held)

    async def wait(self, provider: str, job_id: str) -> None:
        """Queue up for the next slot this provider frees (first come, first served)."""
        await self.redis.zadd(self._waiters(provider), {job_id: time.time()}, nx=True)

    async def keep(self, provider: str, job_id: str, limit: int) -> None:
        """Refresh the lease of a job whose provider task is still running (even past the limit:
        the task runs at the provider whatever we count)."""
        if limit <= 0:
            return
        await self.redis.zadd(self._key(provider), {job_id: time.time() + self.lease_seconds})

    async def position(self, provider: str, job_id: str, team_job_ids: Iterable[str]) -> int | None:
        """The job's place among its own team's jobs waiting for this provider (``team_job_ids``:
        the team's jobs that may be waiting), 1 being the team's next to run; None when not waiting.

        Other teams' waiters are not counted: the line is shared, and a rank in it would tell a
        team how much the others are generating (docs/realtime.md, Progress and expectations)."""
        key = self._waiters(provider)
        mine = await self.redis.zscore(key, job_id)
        if mine is None:
            return None
        others = [other for other in dict.fromkeys(team_job_ids) if other != job_id]
        scores = await self.redis.zmscore(key, others) if others else []
        # The line's order: by the time each joined, then by id (Redis's order for equal scores).
        ahead = sum(
            1
            for other, score in zip(others, scores, strict=True)
            if score is not None and (score < mine or (score == mine and other < job_id))
        )
        return ahead + 1

    async def holds(self, provider: str, job_id: str) -> bool:
        """Whether the job holds one of the provider's slots."""
        return await self.redis.zscore(self._key(provider), job_id) is not None

    async def is_waiting(self, provider: str, job_id: str) -> bool:
        return await self.redis.zscore(self._waiters(provider), job_id) is not None

    async def release(self, provider: str, job_id: str) -> str | None:
        """Give the slot back; the job id of the longest waiter, who should run now (or None)."""
        keys = [self._key(provider), self._waiters(provider)]
        waiter = await self._release(keys=keys, args=[job_id])
        return waiter.decode() if waiter else None
