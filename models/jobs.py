"""The creative_job table and its state machine.

    pending ──▶ processing ──▶ completed
       │            │
       └────────────┴──▶ failed | canceled

Every transition is a compare-and-set on (id, status, version) that bumps ``version``; the credit
change that goes with it is written in the same transaction, and the new snapshot is published
after commit. The winner of a transition is the only one that touches credits, so a job that
runs twice settles once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tortoise import fields
from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import credits, metrics
from models import progress as progress_rules
from models.errors import DomainError, ErrorCode
from models.events import TeamEvent
from models.teams import Team
from models.tenancy import team_row
from models.webhooks import WebhookEndpoint


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
OPEN = (JobStatus.PENDING, JobStatus.PROCESSING)

# After this long a job fails free (the product's upper bounds, with room to spare).
DEADLINES = {
    "image": timedelta(minutes=10),
    "video": timedelta(minutes=30),
    "avatar": timedelta(minutes=45),
    "tts": timedelta(minutes=10),
    "composite": timedelta(minutes=30),
}


# How long an idempotency key holds on to its job (Stripe's window).
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class CreativeJob(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="jobs")
    team_id: uuid.UUID  # the foreign key's column, which tortoise adds
    user_id = fields.UUIDField()
    # The API key that submitted the job (null: a JWT, or a job from before 0011): a key's spend
    # caps count its jobs (models/spend_caps.py).
    api_key_id = fields.UUIDField(null=True)
    type = fields.CharField(max_length=16)
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.PENDING)
    provider = fields.CharField(max_length=32)
    prompt: str | None = fields.TextField(null=True)  # tortoise types a TextField str, null or not
    # The provider-specific params, normalised.
    settings: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # "/files/<id>" paths; the API signs them on read.
    result_urls: fields.JSONField[list[str]] = fields.JSONField(default=list)
    cost_cents = fields.BigIntField(default=0)
    estimated_cost_cents = fields.BigIntField(default=0)
    # What the job really cost beyond its hold: never captured silently, recorded for billing.
    overrun_cents = fields.BigIntField(default=0)
    drive_folder_id = fields.UUIDField(null=True)
    metadata: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    error_message: str | None = fields.TextField(null=True)
    version = fields.IntField(default=1)
    provider_task_id = fields.CharField(max_length=255, null=True)
    # Set by the one run allowed to submit to the provider (concurrent runs of a job never both submit).
    submit_claimed_at = fields.DatetimeField(null=True)
    provider_state: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    attempts = fields.IntField(default=0)
    idempotency_key = fields.CharField(max_length=255, null=True)
    request_hash = fields.CharField(max_length=64, null=True)
    deadline_at = fields.DatetimeField(null=True)
    # The request (models/batches.py) that made the job with its siblings: variants, placements.
    batch_id = fields.UUIDField(null=True, db_index=True)
    # How the team rated the output (models/batches.py, Rating): winners are marked here.
    rating = fields.CharField(max_length=16, null=True)
    # The caller's own reference and free-form metadata: stored, returned, filterable, in webhooks.
    client_reference = fields.CharField(max_length=255, null=True)
    client_metadata: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # How far the job is, 0–1, as last published (models/progress.py), and when that was written.
    progress = fields.FloatField(null=True)
    progress_at = fields.DatetimeField(null=True)
    # 1-based place among the jobs waiting for a slot at the provider; None when not waiting.
    queue_position = fields.IntField(null=True)
    expected_completion_at = fields.DatetimeField(null=True)

    class Meta:
        table = "creative_job"
        unique_together = (("team", "idempotency_key"),)
        indexes = (
            ("team_id", "created_at"),
            ("team_id", "client_reference"),
            ("team_id", "user_id", "created_at"),
            ("team_id", "api_key_id", "created_at"),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def snapshot(self) -> dict[str, Any]:
        """The row as clients see it (snake_case JSON): REST bodies and published events."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": str(self.id),
            "type": self.type,
            "status": self.status.value,
            "provider": self.provider,
            "prompt": self.prompt,
            "settings": self.settings,
            "result_urls": list(self.result_urls),
            "cost_cents": self.cost_cents,
            "estimated_cost_cents": self.estimated_cost_cents,
            "overrun_cents": self.overrun_cents,
            "drive_folder_id": str(self.drive_folder_id) if self.drive_folder_id else None,
            "metadata": self.metadata,
            "error_message": self.error_message,
            "user_id": str(self.user_id),
            "team_id": str(self.team_id),
            "batch_id": str(self.batch_id) if self.batch_id else None,
            "rating": self.rating,
            "client_reference": self.client_reference,
            "client_metadata": self.client_metadata,
            "version": self.version,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "updated_at": iso(self.updated_at),
            # models/progress.py: 1.0 once completed; the last figure shown when it failed or was canceled.
            "progress": 1.0 if self.status == JobStatus.COMPLETED else (self.progress or 0.0),
            "queue_position": self.queue_position if self.status == JobStatus.PENDING else None,
            "expected_completion_at": None if self.is_terminal else iso(self.expected_completion_at),
        }


class Events(Protocol):
    """Publishes snapshots after commit (``pubsub.EventBus`` in the service)."""

    async def job_changed(self, job: CreativeJob) -> None: ...

    async def balance_changed(self, team_id: uuid.UUID | str) -> None: ...


class Queue(Protocol):
    async def enqueue_job(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class NewJob:
    """A validated generation request (see ``models.generation``)."""

    team_id: uuid.UUID
    user_id: uuid.UUID
    type: str
    provider: str
    prompt: str | None
    settings: dict[str, Any]
    drive_folder_id: uuid.UUID
    estimated_cost_cents: int
    idempotency_key: str | None = None
    # What the job records from the start: the wire model it runs on, the provider asked for when
    # a shut-down model was replaced, lifecycle warnings (providers/lifecycle.py).
    metadata: dict[str, Any] = field(default_factory=dict)
    client_reference: str | None = None
    client_metadata: dict[str, Any] | None = None
    # The hash of the whole request when the job is the first of a batch (models/batches.py): the
    # idempotency key the first job carries then stands for every job of the request.
    request_digest: str | None = None
    # The API key that submitted it, when one did (spend caps per key: models/spend_caps.py).
    api_key_id: uuid.UUID | None = None

    def request_hash(self) -> str:
        if self.request_digest is not None:
            return self.request_digest
        return self.job_hash()

    def job_hash(self) -> str:
        # What the caller asked for: the provider they picked (not the successor it runs on) and
        # their settings without the wire model, so a retry across a shutdown or a model setting
        # change is still the same request.
        provider = self.metadata.get("requested_provider", self.provider)
        settings = {key: value for key, value in self.settings.items() if key != "wire_model"}
        if self.metadata.get("seed_auto"):  # a seed the batch picked is not part of the request
            own = dict(settings.get("settings") or {})
            own.pop("seed", None)
            settings["settings"] = own
        body = json.dumps(
            [self.type, provider, self.prompt, settings, str(self.drive_folder_id)],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()


# What a job's metadata says about how it was accepted (models/generation.py writes both):
ADJUSTMENTS = "adjustments"  # a placement's nearest ratio or duration made instead (PlacementWarning)
WARNINGS = "warnings"  # its model shuts down soon, or was replaced (GenerateWarning; providers/lifecycle.py)


def distinct_notes(metadatas: Iterable[dict[str, Any] | None], key: str) -> list[dict[str, Any]]:
    """The entries under ``key`` (:data:`ADJUSTMENTS` or :data:`WARNINGS`) of these jobs' metadata,
    each once, in the jobs' order: the variants of a placement, or the jobs of one model, share
    theirs, and a request or a creative says each once."""
    seen: list[dict[str, Any]] = []
    for metadata in metadatas:
        seen += [item for item in (metadata or {}).get(key, []) if item not in seen]
    return seen


def now() -> datetime:
    return datetime.now(UTC)


async def _existing_for_key(new: NewJob) -> CreativeJob | None:
    """The job an idempotency key already made (within its 24 hours), or None."""
    if not new.idempotency_key:
        return None
    job = await CreativeJob.get_or_none(team_id=new.team_id, idempotency_key=new.idempotency_key)
    if job and job.created_at < now() - IDEMPOTENCY_WINDOW:
        # The key has expired: the old job lets go of it (a guarded update, so one request does)
        # and this request makes a new job.
        await CreativeJob.filter(id=job.id, idempotency_key=new.idempotency_key).update(idempotency_key=None)
        return None
    if job and job.request_hash != new.request_hash():
        raise DomainError(
            ErrorCode.CONFLICT,
            "this idempotency key was already used with a different input",
            ["idempotencyKey"],
        )
    return job


class CommitOutcomeUnknown(Exception):
    """The transaction that makes a job failed while it committed (its connection was lost): the
    job may or may not exist. ``services.Services.generate`` looks once the database answers."""

    def __init__(self, job_id: uuid.UUID) -> None:
        super().__init__(f"the commit of job {job_id} was not acknowledged")
        self.job_id = job_id


async def insert_and_hold(
    conn: Any,
    new: NewJob,
    job_id: uuid.UUID,
    *,
    deadline_at: datetime,
    metadata: dict[str, Any] | None = None,
    expected_completion_at: datetime | None = None,
    batch_id: uuid.UUID | None = None,
    with_key: bool = True,
) -> CreativeJob:
    """The job's row and its hold, in the caller's transaction (``submit``, and a creative's
    submission, which makes all of its jobs in one: models/creatives.py). Expected to complete
    in its provider's typical time unless ``expected_completion_at`` says otherwise. The jobs of
    a batch (models/batches.py) carry ``batch_id``; only the first (``with_key``) carries the
    request's idempotency key and hash, standing for the whole request. INSUFFICIENT_CREDITS when
    the team cannot cover the hold: the caller's transaction then rolls back whole."""
    job = await CreativeJob.create(
        id=job_id,
        team_id=new.team_id,
        user_id=new.user_id,
        api_key_id=new.api_key_id,
        type=new.type,
        provider=new.provider,
        prompt=new.prompt,
        settings=new.settings,
        drive_folder_id=new.drive_folder_id,
        estimated_cost_cents=new.estimated_cost_cents,
        idempotency_key=new.idempotency_key if with_key else None,
        metadata=new.metadata if metadata is None else metadata,
        request_hash=new.request_hash() if with_key else new.job_hash(),
        deadline_at=deadline_at,
        batch_id=batch_id,
        client_reference=new.client_reference,
        client_metadata=new.client_metadata,
        expected_completion_at=expected_completion_at
        or now() + timedelta(seconds=progress_rules.typical_seconds(new.provider)),
        using_db=conn,
    )
    await credits.hold(conn, new.team_id, job_id, new.estimated_cost_cents)
    return job


async def get_for_team(team_id: uuid.UUID | str, job_id: str) -> CreativeJob | None:
    """A job of this team; another team's id answers exactly like a missing one."""
    return await team_row(CreativeJob, team_id, job_id)


async def changed_since(team_id: uuid.UUID | str, since: datetime, limit: int = 1000) -> list[CreativeJob]:
    """The team's jobs written at or after ``since``, oldest first (the ``limit`` latest of them):
    what a subscriber to every job re-reads when events may have been lost."""
    rows = (
        await CreativeJob.filter(team_id=team_id, updated_at__gte=since).order_by("-updated_at").limit(limit)
    )
    return rows[::-1]


async def _transition(
    job: CreativeJob,
    to: JobStatus,
    *,
    from_: tuple[JobStatus, ...],
    conn: Any,
    guard: Q | None = None,
    **changes: Any,
) -> bool:
    """Compare-and-set on (id, status, version), and on ``guard`` when given. True when this caller won."""
    if job.status not in from_:
        return False
    query = CreativeJob.filter(guard) if guard is not None else CreativeJob
    changed = (
        await query.filter(id=job.id, status=job.status, version=job.version)
        .using_db(conn)
        .update(status=to, version=F("version") + 1, updated_at=now(), **changes)
    )
    if not changed:
        return False
    await job.refresh_from_db(using_db=conn)
    return True


async def start(job: CreativeJob, *, events: Events) -> CreativeJob | None:
    """Move a pending job to processing; a processing job (a re-run) is returned as it is.
    ``None`` when the job is already terminal."""
    if job.is_terminal:
        return None
    if job.status == JobStatus.PROCESSING:
        await CreativeJob.filter(id=job.id).update(attempts=F("attempts") + 1)
        return job
    async with in_transaction() as conn:
        won = await _transition(
            job,
            JobStatus.PROCESSING,
            from_=(JobStatus.PENDING,),
            conn=conn,
            started_at=now(),
            attempts=F("attempts") + 1,
            progress=0.0,
            progress_at=now(),
            queue_position=None,
            expected_completion_at=now() + timedelta(seconds=progress_rules.typical_seconds(job.provider)),
        )
    if not won:
        await job.refresh_from_db()  # someone else moved it: read again and decide
        return await start(job, events=events)
    await events.job_changed(job)
    return job


async def claim_submission(job: CreativeJob, ttl: timedelta) -> bool:
    """The right to submit this job to its provider, for one run at a time.

    A claim older than ``ttl`` (longer than any one worker run) is treated as abandoned (its run died before recording
    a task id) and may be taken over."""
    stale = now() - ttl
    claimable = Q(submit_claimed_at=None) | Q(submit_claimed_at__lt=stale)
    changed = await CreativeJob.filter(
        claimable, id=job.id, provider_task_id=None, status=JobStatus.PROCESSING
    ).update(submit_claimed_at=now())
    await job.refresh_from_db()
    return bool(changed)


async def touch(job: CreativeJob) -> None:
    """Record that a worker is still following this job (the sweep re-enqueues untouched ones)."""
    await CreativeJob.filter(id=job.id).update(updated_at=now())


async def _publish_change(job: CreativeJob, status: JobStatus, events: Events, **changes: Any) -> bool:
    """A change that is not a transition (progress, queue position): written only on the version
    read, so it never overwrites a transition; the version bumps and subscribers get it. False when
    the job moved meanwhile (nothing written: the caller's next look starts from the fresh row)."""
    changed = await CreativeJob.filter(id=job.id, status=status, version=job.version).update(
        version=F("version") + 1, updated_at=now(), **changes
    )
    if not changed:
        return False
    await job.refresh_from_db()
    await events.job_changed(job)
    return True


async def record_progress(job: CreativeJob, reported: float | None, *, events: Events) -> bool:
    """After a poll of a processing job: its progress (the provider's ``reported`` figure, else the
    estimate) and expected completion, published when the figure moved enough
    (``progress_rules.worth_publishing``); otherwise only touched. True when published."""
    at = now()
    typical = progress_rules.typical_seconds(job.provider)
    elapsed = (at - job.started_at).total_seconds() if job.started_at else 0.0
    value = progress_rules.next_progress(job.progress, reported, elapsed, typical)
    since = (at - job.progress_at).total_seconds() if job.progress_at else None
    if job.status == JobStatus.PROCESSING and progress_rules.worth_publishing(job.progress, value, since):
        eta = progress_rules.expected_completion(at, job.started_at, typical, reported)
        changes = {"progress": value, "progress_at": at, "expected_completion_at": eta}
        if await _publish_change(job, JobStatus.PROCESSING, events, **changes):
            return True
    await touch(job)
    return False


async def may_wait_for_a_slot(team_id: uuid.UUID | str, provider: str) -> list[str]:
    """The ids of the team's jobs at this provider that may be waiting for one of its slots: pending,
    not yet submitted (a job's place in that line is counted among these: ``queuePosition``)."""
    ids = await CreativeJob.filter(
        team_id=team_id, provider=provider, status=JobStatus.PENDING, provider_task_id=None
    ).values_list("id", flat=True)
    return [str(job_id) for job_id in ids]


async def record_queue_position(
    job: CreativeJob, position: int | None, concurrency: int, *, events: Events
) -> bool:
    """A pending job's place among those waiting for a provider slot (``None``: not waiting),
    published when it changed, with the expected completion it implies. True when published."""
    if job.status != JobStatus.PENDING or position == job.queue_position:
        return False
    at = now()
    typical = progress_rules.typical_seconds(job.provider)
    eta = (
        progress_rules.expected_completion_waiting(at, position, concurrency, typical)
        if position is not None
        else at + timedelta(seconds=typical)
    )
    return await _publish_change(
        job, JobStatus.PENDING, events, queue_position=position, expected_completion_at=eta
    )


async def release_submission(job: CreativeJob) -> None:
    """Give the claim back after a submission the provider did not accept (it will be retried)."""
    await CreativeJob.filter(id=job.id, provider_task_id=None).update(submit_claimed_at=None)


async def release_submission_claimed_since(job_id: str, since: datetime) -> None:
    """A run that met an outage while it held the claim (it may have reached the provider, but could
    not record a task id or give the claim back) runs again and takes it back at once, rather than
    the job waiting ``ttl`` for it to look abandoned: the claim taken since ``since`` (when that run
    was enqueued) is its own, as a job's runs follow one another."""
    await CreativeJob.filter(id=job_id, provider_task_id=None, submit_claimed_at__gte=since).update(
        submit_claimed_at=None
    )


async def record_provider_task(job: CreativeJob, task_id: str, state: dict[str, Any]) -> bool:
    """Persist the provider's task id before anything waits on it. False when one was already set
    (another run submitted first; the caller then resumes that task)."""
    changed = await CreativeJob.filter(id=job.id, provider_task_id=None, status=JobStatus.PROCESSING).update(
        provider_task_id=task_id, provider_state=state, updated_at=now()
    )
    if not changed:
        # Canceled while the submission was in flight: keep the task id all the same, so that a
        # provider that can cancel is still asked to stop it (the cancel already charged it).
        await CreativeJob.filter(id=job.id, provider_task_id=None, status=JobStatus.CANCELED).update(
            provider_task_id=task_id, provider_state=state
        )
    await job.refresh_from_db()
    return bool(changed)


async def complete(
    job: CreativeJob, *, result_urls: list[str], cost_cents: int, metadata: dict[str, Any], events: Events
) -> bool:
    """processing → completed: capture the actual cost (at most the hold), release the rest."""
    async with in_transaction() as conn:
        captured = min(cost_cents, job.estimated_cost_cents)
        won = await _transition(
            job,
            JobStatus.COMPLETED,
            from_=(JobStatus.PROCESSING,),
            conn=conn,
            result_urls=result_urls,
            cost_cents=captured,
            # Never silently lost: what the hold did not cover is recorded on the job.
            overrun_cents=cost_cents - captured,
            completed_at=now(),
            metadata={**job.metadata, **metadata},
            progress=1.0,
            progress_at=now(),
            expected_completion_at=None,
        )
        if won:
            await credits.settle(conn, job.team_id, job.id, job.estimated_cost_cents, cost_cents)
            await _record_terminal_event(conn, job)
    if won:
        await _announce_terminal(job, events)
    return won


async def _announce_terminal(job: CreativeJob, events: Events) -> None:
    """After a terminal transition committed: counted, and its snapshot and the team's balance out."""
    metrics.JOBS_FINISHED.labels(job.type, job.status.value).inc()
    await events.job_changed(job)
    await events.balance_changed(job.team_id)


async def _record_terminal_event(conn: Any, job: CreativeJob) -> None:
    """``job.completed`` / ``job.failed`` / ``job.canceled`` in the outbox, in the transition's
    transaction: webhooks get every terminal event, even when the process dies right after. A
    team with no webhook endpoint has nobody to tell, so nothing is written."""
    if not await WebhookEndpoint.filter(team_id=job.team_id, enabled=True).using_db(conn).exists():
        return
    await TeamEvent.create(
        team_id=job.team_id,
        kind=f"job.{job.status.value}",
        payload=job.snapshot(),
        using_db=conn,
    )


async def fail(job: CreativeJob, message: str, *, events: Events) -> bool:
    """Any open state → failed, free: the whole hold is released."""
    return await _end_free(job, JobStatus.FAILED, message, events=events)


async def _end_free(
    job: CreativeJob, to: JobStatus, message: str | None, *, events: Events, guard: Q | None = None
) -> bool:
    async with in_transaction() as conn:
        won = await _transition(
            job,
            to,
            from_=OPEN,
            conn=conn,
            guard=guard,
            error_message=message,
            cost_cents=0,
            completed_at=now(),
        )
        if won:
            await credits.release(
                conn, job.team_id, job.id, job.estimated_cost_cents, f"job {to.value}: nothing charged"
            )
            await _record_terminal_event(conn, job)
    if won:
        await _announce_terminal(job, events)
    return won


# A job is "submitted" once a run claimed the right to call its provider: from then on the provider
# may have the task (or a synchronous call may be generating it) and bills it whatever we do.
SUBMITTED = Q(submit_claimed_at__isnull=False) | Q(provider_task_id__isnull=False)
NOT_SUBMITTED = Q(submit_claimed_at__isnull=True, provider_task_id__isnull=True)
CANCELED_FREE = "canceled by request before it reached the provider; nothing was charged"
CANCELED_CHARGED = "canceled by request after it reached the provider, which bills the work it started"


def is_submitted(job: CreativeJob) -> bool:
    return job.submit_claimed_at is not None or job.provider_task_id is not None


async def _cancel_charged(job: CreativeJob, *, events: Events) -> bool:
    """open (submitted) → canceled, charged: the provider's cost (the job's estimate, which its hold
    is) captured like a completion's, in the transition's transaction."""
    async with in_transaction() as conn:
        won = await _transition(
            job,
            JobStatus.CANCELED,
            from_=OPEN,
            conn=conn,
            guard=SUBMITTED,
            error_message=CANCELED_CHARGED,
            cost_cents=job.estimated_cost_cents,
            completed_at=now(),
        )
        if won:
            await credits.settle(
                conn,
                job.team_id,
                job.id,
                job.estimated_cost_cents,
                job.estimated_cost_cents,
                why="charge for a job canceled after it reached the provider",
            )
            await _record_terminal_event(conn, job)
    if won:
        await _announce_terminal(job, events)
    return won


async def cancel(team_id: uuid.UUID | str, job_id: str, *, events: Events) -> CreativeJob:
    """Cancel an open job of this team. The worker notices, stops following it (no more polls, no
    download) and asks the provider to stop the task where the provider can cancel.

    Before the job reached its provider the cancel is free: the whole hold is released. Once a run
    claimed its submission (a provider task id, or a synchronous call under way) the provider bills
    the work whether or not it can stop it, so the cancel captures the job's estimate (its hold)
    and ``cost_cents`` says so. Which of the two happens is decided by the guarded update itself,
    against the worker's claim (``claim_submission`` only claims a processing job), so a cancel
    racing a submission or a completion settles the job exactly once."""
    for _ in range(5):  # lost races against the worker are retried on the fresh row
        job = await get_for_team(team_id, job_id)
        if job is None:
            raise DomainError(ErrorCode.NOT_FOUND, "job not found", ["id"])
        if job.is_terminal:
            raise DomainError(ErrorCode.CONFLICT, f"the job is already {job.status.value}", ["id"])
        if is_submitted(job):
            won = await _cancel_charged(job, events=events)
        else:
            won = await _end_free(job, JobStatus.CANCELED, CANCELED_FREE, events=events, guard=NOT_SUBMITTED)
        if won:
            return job
    raise DomainError(ErrorCode.CONFLICT, "the job changed while canceling; try again", ["id"])


existing_for_key = _existing_for_key  # models/batches.py: the job (the batch's first) a key made
