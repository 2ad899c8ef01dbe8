"""The event bus: job and balance snapshots published after each committed change, fanned out to
subscribers through ONE Redis pub/sub connection per process.

Channels are per team (``ch:team:<id>``), subscribed with reference counts; every subscriber has a
bounded queue that keeps the newest events when the client is slow. Events carry a version, so a
subscriber can drop anything not newer than what it already yielded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

import outages
from models.events import LOW_BALANCE, TeamEvent
from models.jobs import CreativeJob
from models.teams import Team

log = logging.getLogger(__name__)
QUEUE_SIZE = 64


def team_channel(team_id: uuid.UUID | str) -> str:
    return f"ch:team:{team_id}"


def balance_snapshot(team: Team, *, low_balance_crossed: bool = False) -> dict[str, Any]:
    threshold = team.low_balance_threshold_cents
    return {
        "team_id": str(team.id),
        "balance_cents": team.balance_cents,
        "available_cents": team.available_cents,
        "low_balance_threshold_cents": threshold,
        "low_balance": threshold is not None and team.available_cents < threshold,
        "low_balance_crossed": low_balance_crossed,
    }


class EventBus:
    """Publishing (API and workers) and process-local fan-out (API)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.reconnects = 0  # bumped after Redis comes back; subscribers re-read their state
        self._heard_at = time.time()  # the last moment the pub/sub connection was known to work

    # -- publishing -------------------------------------------------------------------------
    async def publish(self, team_id: uuid.UUID | str, event: dict[str, Any]) -> None:
        try:
            await self.redis.publish(team_channel(team_id), json.dumps(event))
        except Exception as exc:  # the database is the truth; a lost event is re-read by subscribers
            log.warning("could not publish an event for team %s (%s)", team_id, outages.describe(exc))

    async def job_changed(self, job: CreativeJob) -> None:
        await self.publish(job.team_id, {"kind": "job", "version": job.version, "data": job.snapshot()})  # type: ignore[attr-defined]

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        """Publish the team's balance; a low-balance crossing recorded since is published with it,
        once (the outbox row is claimed by a guarded update)."""
        team = await Team.get(id=team_id)
        crossed = False
        async for event in TeamEvent.filter(team_id=team_id, kind=LOW_BALANCE, published_at=None):
            claimed = await TeamEvent.filter(id=event.id, published_at=None).update(
                published_at=datetime.now(UTC)
            )
            crossed = crossed or bool(claimed)
        await self.publish(
            team_id, {"kind": "balance", "data": balance_snapshot(team, low_balance_crossed=crossed)}
        )

    # -- subscribing ------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscribe(self, team_id: uuid.UUID | str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of this team's events, live from the moment this returns."""
        channel = team_channel(team_id)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        async with self._lock:
            await self._ensure_reader()
            first = not self._subscribers[channel]
            self._subscribers[channel].add(queue)
            if first:
                await self._pubsub.subscribe(channel)
        try:
            yield queue
        finally:
            async with self._lock:
                self._subscribers[channel].discard(queue)
                if not self._subscribers[channel]:
                    del self._subscribers[channel]
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(channel)

    async def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            # Subscribe to a private channel first so the reader has a connection to listen on.
            await self._pubsub.subscribe(f"ch:process:{uuid.uuid4()}")
            for channel in self._subscribers:
                await self._pubsub.subscribe(channel)
            self._reader = asyncio.create_task(self._read(), name="event-bus-reader")

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                self._heard_at = time.time()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event bus lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    await self._resubscribe()
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            event = json.loads(message["data"])
            for queue in list(self._subscribers.get(channel, ())):
                _offer(queue, event)

    async def _resubscribe(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(f"ch:process:{uuid.uuid4()}", *self._subscribers.keys())
        self.reconnects += 1
        # What was published since the connection was last heard from may be lost: subscribers
        # re-read what changed since then from the database.
        resync = {"kind": "resync", "since": self._heard_at}
        for queues in self._subscribers.values():
            for queue in queues:
                _offer(queue, resync)

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    """Put without blocking; when full, drop the oldest (the newest state is what matters)."""
    while True:
        try:
            queue.put_nowait(event)
            return
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
