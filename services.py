"""The resources one process holds (database, Redis, event bus, queue, storage, HTTP client),
opened once at start-up and handed down; nothing connects at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

import db
from pubsub import EventBus
from settings import Settings
from storage import LocalStorage, Storage
from tasks.queue import JobQueue


@dataclass
class Services:
    settings: Settings
    redis: Redis
    bus: EventBus
    queue: JobQueue
    storage: Storage
    http: httpx.AsyncClient


def http_client() -> httpx.AsyncClient:
    """One client per process: pooled connections, timeouts everywhere."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=True,
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
