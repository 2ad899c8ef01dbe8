"""Per-provider concurrency limits, shared by every worker through Redis.

A provider caps how many of our tasks may run at once (Runway's and Kling's concurrency tiers, for
instance). A job takes a slot before it submits and keeps it until it ends; a job that finds no
free slot is re-enqueued a little later instead of occupying a worker. Slots are leases (a sorted
set of job ids scored by expiry), refreshed on every poll, so a job whose worker died gives its
slot back by itself."""

from __future__ import annotations

import time

from redis.asyncio import Redis

# KEYS[1] the provider's set; ARGV: job id, now, lease expiry, limit. Returns 1 when the job holds a slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


class ProviderSlots:
    def __init__(self, redis: Redis, namespace: str, lease_seconds: float = 600.0) -> None:
        self.redis = redis
        self.namespace = namespace  # the queue name: deployments sharing a Redis do not share slots
        self.lease_seconds = lease_seconds
        self._acquire = redis.register_script(_ACQUIRE)

    def _key(self, provider: str) -> str:
        return f"{self.namespace}:slots:{provider}"

    async def acquire(self, provider: str, job_id: str, limit: int) -> bool:
        """Take (or keep, refreshing its lease) a slot for this job; False when all are taken.
        A limit of 0 means no limit."""
        if limit <= 0:
            return True
        now = time.time()
        held = await self._acquire(
            keys=[self._key(provider)], args=[job_id, now, now + self.lease_seconds, limit]
        )
        return bool(held)

    async def keep(self, provider: str, job_id: str, limit: int) -> None:
        """Refresh the lease of a job whose provider task is still running (even past the limit:
        the task runs at the provider whatever we count)."""
        if limit <= 0:
            return
        await self.redis.zadd(self._key(provider), {job_id: time.time() + self.lease_seconds})

    async def release(self, provider: str, job_id: str) -> None:
        await self.redis.zrem(self._key(provider), job_id)

    async def in_use(self, provider: str) -> int:
        await self.redis.zremrangebyscore(self._key(provider), "-inf", time.time())
        return int(await self.redis.zcard(self._key(provider)))
