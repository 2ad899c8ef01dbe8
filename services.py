"""The resources one process holds (database, Redis, event bus, queue, storage, HTTP client),
opened once at start-up and handed down; nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis

import db
from auth import Principal
from models import generation, jobs
from models.events import TeamEvent
from models.generation import GenerationRequest
from models.jobs import CreativeJob
from models.webhooks import WEBHOOK_EVENTS
from providers import lifecycle
from pubsub import EventBus
from ratelimit import RateLimiter
from settings import Settings
from storage import LocalStorage, Storage
from tasks.provider_slots import ProviderSlots
from tasks.queue import JobQueue

log = logging.getLogger(__name__)


class AfterCommit:
    """What follows a committed change (the domain's ``Events``): the snapshot goes out on the bus,
    and an outbox event that webhooks deliver (a terminal job, a low-balance crossing) is handed
    to the workers at once (the worker's sweep is the backstop if this enqueue is lost).

    Every change that writes such an event also changes the team's balance (a job ends by
    capturing or releasing its hold), so ``balance_changed`` alone looks for them: one query."""

    def __init__(self, bus: EventBus, queue: JobQueue) -> None:
        self.bus, self.queue = bus, queue

    async def job_changed(self, job: CreativeJob) -> None:
        await self.bus.job_changed(job)

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        await self.bus.balance_changed(team_id)
        await self._dispatch_if_pending(team_id)

    async def _dispatch_if_pending(self, team_id: uuid.UUID | str) -> None:
        if await TeamEvent.filter(team_id=team_id, kind__in=WEBHOOK_EVENTS, dispatched_at=None).exists():
            try:
                await self.queue.enqueue_webhook_dispatch(str(team_id))
            except Exception:  # Redis is away: the change is committed, the sweep dispatches it later
                log.warning("could not enqueue the webhook dispatch for team %s", team_id, exc_info=True)


@dataclass
class Services:
    settings: Settings
    redis: Redis
    bus: EventBus
    queue: JobQueue
    storage: Storage
    http: httpx.AsyncClient
    events: AfterCommit = field(init=False)
    limiter: RateLimiter = field(init=False)
    slots: ProviderSlots = field(init=False)

    def __post_init__(self) -> None:
        self.events = AfterCommit(self.bus, self.queue)
        self.limiter = RateLimiter(self.redis, self.settings)
        self.slots = ProviderSlots(self.redis, self.settings.queue_name)

    async def cancel(self, principal: Principal, job_id: str) -> CreativeJob:
        """Cancel an open job of the caller's team (its hold released), then ask the worker to stop
        the provider task now rather than at its next poll. That request is a courtesy: with Redis
        away the job is canceled all the same (subscribers re-read it once Redis is back)."""
        job = await jobs.cancel(principal.team_id, job_id, events=self.events)
        try:
            await self.queue.enqueue_poll(str(job.id), 0)
        except Exception:
            log.warning("could not enqueue the provider cancel of job %s", job.id, exc_info=True)
        return job

    async def generate(self, principal: Principal, request: GenerationRequest) -> CreativeJob:
        """A generate request from GraphQL or REST: rate-limited, then validated, held and queued."""
        await self.limiter.submission(principal)
        return await generation.generate(
            request,
            queue=self.queue,
            events=self.events,
            deadline_scale=self.settings.deadline_scale,
            lifecycle_config=lifecycle.config(self.settings),
        )


def http_client() -> httpx.AsyncClient:
    """One client per process: pooled connections, timeouts everywhere, and no redirect followed
    by httpx (it would carry custom key headers to any origin): providers.http.send follows
    same-origin redirects itself, downloads check every hop."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=False,
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, with_db: bool = True) -> AsyncIterator[Services]:
    if not settings.redis_url:
        raise RuntimeError("CH_REDIS_URL is not set (python main.py dev starts an embedded Valkey)")
    if with_db:
        await db.init(settings)
    redis = Redis.from_url(settings.redis_url)
    queue = await JobQueue.connect(settings.redis_url, settings.queue_name)
    bus = EventBus(redis)
    http = http_client()
    try:
        yield Services(
            settings=settings,
            redis=redis,
            bus=bus,
            queue=queue,
            storage=LocalStorage(settings.data_dir / "drive"),
            http=http,
        )
    finally:
        await bus.close()
        await http.aclose()
        await queue.close()
        await redis.aclose()
        if with_db:
            await db.close()
