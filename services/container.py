"""The resources one process holds (database, Redis, event bus, queue, storage, HTTP client),
opened once at start-up and handed down; nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

import httpx
from redis.asyncio import Redis

from models import batches, billing, creatives, drive, jobs, progress
from models.drive import DriveFile
from models.errors import DomainError, ErrorCode
from models.events import TeamEvent
from models.generation import GenerationRequest
from models.jobs import CreativeJob
from models.webhooks import WEBHOOK_EVENTS
from providers import lifecycle, registry
from services import db, outages
from services.auth import Principal
from services.library import Libraries
from services.provider_slots import ProviderSlots
from services.pubsub import EventBus
from services.queue import JobQueue
from services.ratelimit import RateLimiter
from services.settings import Settings
from storage import Storage, open_storage

# How long a submit whose commit was not acknowledged waits for the database to say whether it happened.
COMMIT_RESOLVE_SECONDS = 10.0


class AfterCommit:
    """What follows a committed change (the domain's ``Events``): the snapshot goes out on the bus,
    and an outbox event that webhooks deliver (a terminal job, a low-balance crossing) is handed
    to the workers at once (the worker's sweep is the backstop if this enqueue is lost).

    Every change that writes such an event also changes the team's balance (a job ends by
    capturing or releasing its hold), so ``balance_changed`` alone looks for them: one query.

    The change is committed whatever happens here, so nothing here fails the caller: each step is
    bounded in time and a failure is logged (``outages.best_effort``). Subscribers re-read their
    state after a Redis outage; the sweep dispatches webhook events whose enqueue was lost."""

    def __init__(self, bus: EventBus, queue: JobQueue, deadline_scale: float = 1.0) -> None:
        self.bus, self.queue, self.deadline_scale = bus, queue, deadline_scale

    async def job_changed(self, job: CreativeJob) -> None:
        await outages.best_effort(self.bus.job_changed(job), f"publish job {job.id}")
        if job.is_terminal and "creative" in (job.metadata or {}):
            # A job of a creative ended: its dependants start or fail (models/creatives.py). Lost
            # here (a crash), the sweep settles the stranded dependant (tasks.worker.requeue_lost).
            await outages.best_effort(
                creatives.job_ended(job, queue=self.queue, events=self, deadline_scale=self.deadline_scale),
                f"move the dependants of job {job.id}",
            )

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        await outages.best_effort(self.bus.balance_changed(team_id), f"publish the balance of team {team_id}")
        await outages.best_effort(
            self._dispatch_if_pending(team_id), f"hand team {team_id}'s webhook events to the workers"
        )

    async def _dispatch_if_pending(self, team_id: uuid.UUID | str) -> None:
        if await TeamEvent.filter(team_id=team_id, kind__in=WEBHOOK_EVENTS, dispatched_at=None).exists():
            await self.queue.enqueue_webhook_dispatch(str(team_id))
        for email_id in await billing.due_ids(team_id):  # a low-balance email to the billing contacts
            await self.queue.enqueue_billing_email(email_id, 0)


class _AfterCommitQueue:
    """The queue as ``generate`` uses it: the job is committed before it is enqueued, so a failed
    enqueue is logged, not raised; the workers re-enqueue open jobs whose entry is missing once
    Redis is back (``tasks.worker.requeue_lost``), the stale sweep being the last resort."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    async def enqueue_job(self, job_id: str) -> None:
        await outages.best_effort(self.queue.enqueue_job(job_id), f"enqueue job {job_id}")


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
    libraries: Libraries = field(init=False)

    def __post_init__(self) -> None:
        self.events = AfterCommit(self.bus, self.queue, self.settings.deadline_scale)
        self.libraries = Libraries(self.redis, self.http, self.settings)
        self.limiter = RateLimiter(self.redis, self.settings)
        self.slots = ProviderSlots(self.redis, self.settings.queue_name)

    async def cancel(self, principal: Principal, job_id: str) -> CreativeJob:
        """Cancel an open job of the caller's team (its hold released), then ask the worker to stop
        the provider task now rather than at its next poll. That request is a courtesy: with Redis
        away the job is canceled all the same (subscribers re-read it once Redis is back)."""
        job = await jobs.cancel(principal.team_id, job_id, events=self.events)
        await outages.best_effort(
            self.queue.enqueue_poll(str(job.id), 0), f"enqueue the provider cancel of job {job.id}"
        )
        return job

    async def generate(self, principal: Principal, request: GenerationRequest) -> CreativeJob:
        """The first job of :meth:`generate_batch` (a request for one job: that job)."""
        return (await self.generate_batch(principal, request)).jobs[0]

    async def generate_batch(self, principal: Principal, request: GenerationRequest) -> batches.Submitted:
        """A generate request from GraphQL or REST: rate-limited, then validated, held and queued,
        every job of it (variants × placements) or none. Once the jobs are committed the request
        answers with them, whatever Redis does (the enqueues and the events after the commit are
        best effort); a failure before the commit raises."""
        await self.limiter.submission(principal)
        asked_at = datetime.now(UTC)
        queue = _AfterCommitQueue(self.queue)
        planned = await batches.plan(
            request,
            lifecycle.config(self.settings),
            self.libraries,
            max_jobs=self.settings.max_jobs_per_request,
        )
        try:
            submitted = await batches.submit(
                planned, queue=queue, events=self.events, deadline_scale=self.settings.deadline_scale
            )
        except jobs.CommitOutcomeUnknown as unknown:
            first = await self._if_committed(unknown)
            submitted = await batches.answer_for_job(first)
            for job in submitted.jobs:
                await queue.enqueue_job(str(job.id))
                await self.events.job_changed(job)
            await self.events.balance_changed(first.team_id)
            return submitted
        for job in submitted.jobs:
            if job.status == jobs.JobStatus.PENDING and job.created_at < asked_at:
                # An idempotent retry of jobs made earlier: the request that made them may have
                # lost its enqueues (answered 503 when its commit was not acknowledged).
                # Enqueueing a queued job is a no-op (arq's job id is ours).
                await queue.enqueue_job(str(job.id))
        return submitted

    async def upload_file(
        self, team_id: uuid.UUID | str, *, name: str, body: BinaryIO, folder_id: str | None
    ) -> DriveFile:
        """A small upload whose bytes came with the request (``uploadDriveFile``): typed from its
        first bytes and stored as a pending upload here (models.drive.start_upload), checked by a
        worker as :meth:`complete_upload` does."""
        pending = await drive.start_upload(
            self.storage,
            team_id,
            name=name,
            body=body,
            quota_bytes=self.settings.drive_quota_bytes,
            folder_id=folder_id,
        )
        return await self.complete_upload(team_id, pending.id)

    async def complete_upload(self, team_id: uuid.UUID | str, file_id: uuid.UUID | str) -> DriveFile:
        """``completeUpload``: the upload's content is checked by a worker (it reads the bytes from
        storage, never this process); this waits for the outcome up to
        ``CH_UPLOAD_CHECK_WAIT_SECONDS`` and answers the ready file or the refusal. Past that wait
        it is IN_PROGRESS: the check goes on, and asking again answers its outcome. A completed
        upload answers its file; one refused answers the refusal again while the outcome is kept
        (an hour), NOT_FOUND after."""
        row = await drive.upload_row(team_id, file_id)
        if row is None:
            outcome = await self.queue.upload_outcome(str(row_id)) if (row_id := _uuid(file_id)) else None
            if outcome is not None and outcome.get("team_id") == str(team_id) and outcome.get("error"):
                raise _refusal(outcome["error"])
            raise DomainError(ErrorCode.NOT_FOUND, "upload not found", ["id"])
        if row.status == drive.FileStatus.READY:
            return row
        outcome = await self.queue.check_upload(
            str(row.team_id), str(row.id), self.settings.upload_check_wait_seconds
        )
        if outcome is None:
            raise DomainError(
                ErrorCode.IN_PROGRESS,
                f'upload {row.id} is still being checked; call completeUpload(fileId: "{row.id}") '
                "again in a few seconds for the outcome",
                ["id"],
            )
        if outcome.get("error"):
            raise _refusal(outcome["error"])
        ready = await drive.team_file(team_id, row.id)
        if ready is None:  # deleted since the check
            raise DomainError(ErrorCode.NOT_FOUND, "upload not found", ["id"])
        return ready

    async def _if_committed(self, unknown: jobs.CommitOutcomeUnknown) -> CreativeJob:
        """The job whose commit was not acknowledged, once the database answers (for at most
        ``COMMIT_RESOLVE_SECONDS``, as a restart takes seconds): the request then answers with it.
        Not there, or no answer in time: ``unknown`` is raised, a 503 (docs/operations.md)."""
        deadline = asyncio.get_running_loop().time() + COMMIT_RESOLVE_SECONDS
        while True:
            try:
                job = await CreativeJob.get_or_none(id=unknown.job_id)
            except Exception as exc:
                if not outages.is_unavailable(exc) or asyncio.get_running_loop().time() > deadline:
                    raise unknown from exc
                await asyncio.sleep(0.25)
                continue
            if job is None:
                raise unknown
            return job


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _refusal(error: dict[str, object]) -> DomainError:
    """A worker's DomainError, as tasks.worker.check_upload reports it."""
    field = error.get("field")
    return DomainError(
        ErrorCode(str(error["code"])),
        str(error["message"]),
        [str(f) for f in field] if isinstance(field, list) else None,
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


def expect_simulator_times(settings: Settings) -> None:
    """A process that answers or runs jobs (``dev``, ``serve``, ``worker``) expects of the providers
    the simulator answers for what the simulator will take, not the real provider's minutes: the
    expected completion and the time-based progress a user sees then match what happens. Called
    once at start-up; in-process tests keep the catalog's times."""
    progress.use_simulated_times(registry.simulated_typical_seconds(settings, settings.simulator_time_scale))


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, with_db: bool = True) -> AsyncIterator[Services]:
    """Everything is released on the way out, also what was opened before a failed start (a
    worker started while Redis is away tries again: ``tasks.worker.run_worker``)."""
    if not settings.redis_url:
        raise RuntimeError("CH_REDIS_URL is not set (python main.py dev starts an embedded Valkey)")
    async with contextlib.AsyncExitStack() as opened:  # closed in reverse order
        if with_db:
            await db.init(settings)
            opened.push_async_callback(db.close)
        redis = Redis.from_url(settings.redis_url)
        opened.push_async_callback(redis.aclose)
        queue = await JobQueue.connect(settings.redis_url, settings.queue_name)
        opened.push_async_callback(queue.close)
        http = http_client()
        opened.push_async_callback(http.aclose)
        bus = EventBus(redis)
        opened.push_async_callback(bus.close)
        storage = await opened.enter_async_context(
            open_storage(settings.storage_url, local_root=settings.data_dir / "drive", s3=settings.s3)
        )
        yield Services(
            settings=settings,
            redis=redis,
            bus=bus,
            queue=queue,
            storage=storage,
            http=http,
        )
