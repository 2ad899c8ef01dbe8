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
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from models.events import LOW_BALANCE, TeamEvent
from models.jobs import CreativeJob
from models.teams import Team
from services import outages

log = logging.getLogger(__name__)
QUEUE_SIZE = 64
RECENT_REVOCATIONS = 1024  # kept for streams whose watch starts a moment after their credential check
# Every API process listens here: a revoked credential ends its live streams everywhere at once.
REVOCATION_CHANNEL = "ch:revocations"
RevocationListener = Callable[[dict[str, Any]], None]


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
        self._revocation_listeners: set[RevocationListener] = set()
        self._recent_revocations: deque[tuple[float, dict[str, Any]]] = deque(maxlen=RECENT_REVOCATIONS)
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._heard_at = time.time()  # the last moment the pub/sub connection was known to work

    # -- publishing -------------------------------------------------------------------------
    async def publish(self, team_id: uuid.UUID | str, event: dict[str, Any]) -> None:
        try:
            await self.redis.publish(team_channel(team_id), json.dumps(event))
        except Exception as exc:  # the database is the truth; a lost event is re-read by subscribers
            log.warning("could not publish an event for team %s (%s)", team_id, outages.describe(exc))

    async def credential_revoked(self, event: dict[str, Any]) -> None:
        """Tell every API process that credentials were revoked (after the commit), so their live
        streams end now rather than at their next periodic re-check (revocation.py). Events:
        ``{"kind": "api_key", "key_id"}``, ``{"kind": "user_tokens", "user_id", "before"}``,
        ``{"kind": "member_removed", "team_id", "user_id"}``."""
        try:
            await self.redis.publish(REVOCATION_CHANNEL, json.dumps(event))
        except Exception:  # the periodic re-check still ends those streams
            log.exception("could not publish a revocation")

    async def job_changed(self, job: CreativeJob) -> None:
        await self.publish(job.team_id, {"kind": "job", "version": job.version, "data": job.snapshot()})

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

    @contextlib.asynccontextmanager
    async def revocations(
        self, listener: RevocationListener, since: float | None = None
    ) -> AsyncIterator[None]:
        """``listener`` is called, in the reader, with every revocation event (and with
        ``{"kind": "resync"}`` after Redis came back, when some may have been lost) until exit.
        It runs before any later event of any channel is handed out, so a stream it ends gets
        nothing published after the revocation. First it gets the revocations this process heard
        since ``since`` (time.monotonic()): those that arrived between a credential's check and
        its stream's start."""
        async with self._lock:
            self._revocation_listeners.add(listener)
            if since is not None:
                for heard_at, event in list(self._recent_revocations):
                    if heard_at >= since:
                        listener(event)
            try:
                await self._ensure_reader()
            except Exception:  # Redis is away: the next subscription starts the reader; until
                # then the stream's periodic re-check stands in
                log.warning("could not listen for revocations", exc_info=True)
        try:
            yield
        finally:
            self._revocation_listeners.discard(listener)

    async def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            # The revocation channel is always listened to (it also gives the reader a connection).
            await self._pubsub.subscribe(REVOCATION_CHANNEL)
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
            if channel == REVOCATION_CHANNEL:
                self._recent_revocations.append((time.monotonic(), event))
                self._tell_revocation_listeners(event)
                continue
            for queue in list(self._subscribers.get(channel, ())):
                _offer(queue, event)

    async def _resubscribe(self) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(REVOCATION_CHANNEL, *self._subscribers.keys())
        self._tell_revocation_listeners({"kind": "resync"})
        # What was published since the connection was last heard from may be lost: subscribers
        # re-read what changed since then from the database.
        resync = {"kind": "resync", "since": self._heard_at}
        for queues in self._subscribers.values():
            for queue in queues:
                _offer(queue, resync)

    def _tell_revocation_listeners(self, event: dict[str, Any]) -> None:
        for listener in list(self._revocation_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a revocation listener failed")

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
