"""Batches: one generate request, several jobs (variants × placements), held together or not at all.

A request asks for ``variants`` (1–5) outputs of one concept and/or several ``placements`` (one job
per placement); :func:`plan` turns it into one checked, priced job per (placement, variant) with
its own seed where the provider takes one, and :func:`submit` inserts them and holds each job's
estimate in one transaction: a team that can afford only some of them is refused whole, nothing
held. Each job then runs, settles and is charged on its own (a failed one is free). The first job
carries the request's idempotency key, standing for the whole request: the same key answers the
same batch."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import generation, jobs, library, metrics, spend_caps
from models.errors import DomainError, ErrorCode
from models.generation import MAX_SEED, GenerationRequest
from models.jobs import CreativeJob, Events, JobStatus, NewJob, Queue
from models.teams import Team
from models.tenancy import team_row
from providers import lifecycle
from providers.catalog import CATALOG, PLACEMENTS

MAX_VARIANTS = 5  # the product's "3-5 per concept"
DEFAULT_MAX_JOBS = 20  # jobs one request may make (CH_MAX_JOBS_PER_REQUEST)
# Types whose providers render the same output from the same input (no seed, no randomness):
# variants of them would be identical renders, each charged.
DETERMINISTIC_TYPES = ("composite",)


class Rating(StrEnum):
    """How a team rates an output: WINNER marks the one(s) picked."""

    WINNER = "WINNER"
    LIKED = "LIKED"
    REJECTED = "REJECTED"


class Batch(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="batches")
    team_id: uuid.UUID
    user_id = fields.UUIDField()
    type = fields.CharField(max_length=16)
    variants = fields.IntField(default=1)
    placements: fields.JSONField[list[str]] = fields.JSONField(default=list)
    job_count = fields.IntField(default=1)
    client_reference = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "creative_batch"
        indexes = (("team_id", "created_at"),)


@dataclass(frozen=True)
class Plan:
    jobs: list[NewJob]
    variants: int
    placements: list[str]

    @property
    def total_cents(self) -> int:
        return sum(job.estimated_cost_cents for job in self.jobs)


@dataclass(frozen=True)
class Submitted:
    batch: Batch | None  # None: a job made before batches existed
    jobs: list[CreativeJob]


def _invalid(message: str, *path: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["input", *path])


def check_shape(variants: int, placements: list[str] | None, max_jobs: int) -> list[str | None]:
    """The placements to make (None: the request's single placement, if any), each ``variants``
    times: variants 1..5, placements known and distinct, at most ``max_jobs`` jobs in all."""
    if not 1 <= variants <= MAX_VARIANTS:
        raise _invalid(f"variants must be from 1 to {MAX_VARIANTS}; got {variants}", "variants")
    if placements is None:
        return [None]
    if not placements:
        raise _invalid("placements must name at least one placement (or be left out)", "placements")
    for i, placement in enumerate(placements):
        if placement not in PLACEMENTS:
            raise _invalid(f"unknown placement {placement}", "placements", str(i))
        if placement in placements[:i]:
            raise _invalid(f"placement {placement} is named twice", "placements", str(i))
    count = variants * len(placements)
    if count > max_jobs:
        raise _invalid(
            f"{variants} variants × {len(placements)} placements is {count} jobs; "
            f"a request makes at most {max_jobs}",
            "placements",
        )
    return list(placements)


def seeds(variants: int, given: int | None, takes_seed: bool) -> list[tuple[int | None, bool]]:
    """Each variant's (seed, picked by us): the caller's seed then the next ones; without one, a
    random seed per variant, a single job's too (so variants differ, and any output can be made
    again); nothing for a provider that takes no seed (it varies by itself)."""
    if not takes_seed:
        return [(given, False)] * variants
    if given is None:
        base = secrets.randbelow(MAX_SEED + 1)
        picked: list[tuple[int | None, bool]] = [((base + i) % (MAX_SEED + 1), True) for i in range(variants)]
        return picked
    rest: list[tuple[int | None, bool]] = [((given + i) % (MAX_SEED + 1), True) for i in range(1, variants)]
    return [(given, False), *rest]


def _digest(plan_jobs: list[NewJob], req: GenerationRequest, placements: list[str | None]) -> str:
    body = json.dumps(
        [
            [job.job_hash() for job in plan_jobs],
            req.variants,
            placements,
            req.client_reference,
            req.client_metadata,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def plan(
    req: GenerationRequest,
    cfg: lifecycle.LifecycleConfig | None = None,
    libraries: library.LibraryLookup | None = None,
    *,
    max_jobs: int = DEFAULT_MAX_JOBS,
    assumed: generation.Assumed | None = None,
) -> Plan:
    """Every job of the request, checked and priced (nothing written, nothing held). With
    ``assumed`` it is an estimate's plan (``estimateCost``): the same rules and prices, the
    request's files taken as given and nothing read."""
    generation.check_text(req.placements, "placements")
    req = generation.canonical_placements(req)
    targets = check_shape(req.variants, req.placements, max_jobs)
    if req.placements is not None and req.placement is not None:
        raise _invalid("give placement or placements, not both", "placements")
    cfg = cfg or lifecycle.LifecycleConfig()
    # one provider for every job: with none named, one that serves all the placements asked for
    req = generation.serving_provider(req, cfg)
    first = await generation.validate(replace(req, variants=1, placements=None), cfg, libraries, assumed)
    if req.variants > 1 and first.type in DETERMINISTIC_TYPES:
        raise _invalid(
            f"{first.provider} renders the same output from the same input, so {req.variants} variants "
            "would be identical renders, each charged: ask for 1 (vary the source or template instead)",
            "variants",
        )
    takes_seed = CATALOG[first.provider].takes_seed
    own = first.settings["settings"].get("seed") if takes_seed else None
    given = req.seed if req.seed is not None else own if isinstance(own, int) else None
    planned: list[NewJob] = []
    for i, placement in enumerate(targets):
        for v, (seed, auto) in enumerate(seeds(req.variants, given, takes_seed)):
            if i == 0 and v == 0 and placement is None and not auto and req.variants == 1:
                planned.append(first)  # a single job as asked (its seed given, or none taken)
                continue
            one = replace(
                req,
                variants=1,
                placements=None,
                placement=placement if placement is not None else req.placement,
                placement_path=("placements", str(i)) if placement is not None else ("placement",),
                seed=seed,
                seed_is_auto=auto,
            )
            new = await generation.validate(one, cfg, libraries, assumed)
            if i == 0 and v == 0 and placement is None and req.variants == 1:
                planned.append(new)  # a single job (its seed picked here): no variant number, as before
                continue
            take = {"variant": v + 1, **({"variants": req.variants} if req.variants > 1 else {})}
            planned.append(replace(new, metadata={**new.metadata, **take}))
    alone = len(planned) == 1 and req.placements is None
    plain = alone and req.client_reference is None and req.client_metadata is None
    # a plain single job keeps the hash it always had (a retry across this release still matches)
    digest = planned[0].job_hash() if plain else _digest(planned, req, targets)
    planned[0] = replace(planned[0], request_digest=digest)
    return Plan(planned, req.variants, [p for p in targets if p is not None])


async def _affordable(team_id: uuid.UUID, total: int, count: int) -> None:
    """Refused whole, before anything is written, when the team cannot cover every job (the holds
    in one transaction are the guarantee; this is the message)."""
    team = await Team.get_or_none(id=team_id)
    available = team.available_cents if team else 0
    if total > available:
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDITS,
            f"this request's {count} jobs need {total} cents of credits; the team "
            f"has {available} available; nothing was held (ask for fewer variants or placements)",
        )


async def _jobs_of(batch_id: uuid.UUID) -> list[CreativeJob]:
    return await CreativeJob.filter(batch_id=batch_id).order_by("created_at", "id")


async def _answer_for(job: CreativeJob) -> Submitted:
    """What the request that made ``job`` (a batch's first, or a job from before batches) answered."""
    if job.batch_id is not None:
        batch = await Batch.get_or_none(id=job.batch_id)
        if batch is not None:
            return Submitted(batch, await _jobs_of(batch.id))
    return Submitted(None, [job])


class CommitOutcomeUnknown(jobs.CommitOutcomeUnknown):
    """The batch's commit was not acknowledged: ``job_id`` is its first job."""


async def submit(planned: Plan, *, queue: Queue, events: Events, deadline_scale: float = 1.0) -> Submitted:
    """Insert the batch and its jobs and hold each job's estimate in one transaction, then enqueue
    and publish. The same idempotency key with the same request answers the same batch."""
    first = planned.jobs[0]
    existing = await jobs.existing_for_key(first)
    if existing:
        return await _answer_for(existing)
    if len(planned.jobs) > 1:  # a single job is refused by its hold, as it always was
        try:
            await _affordable(first.team_id, planned.total_cents, len(planned.jobs))
        except DomainError:
            # a retry racing its original sees the balance the original just held: answer that
            existing = await jobs.existing_for_key(first)
            if existing:
                return await _answer_for(existing)
            raise
    ids = [uuid.uuid4() for _ in planned.jobs]
    batch_id = uuid.uuid4()
    committing = False
    try:
        async with in_transaction() as conn:
            # First in the transaction: the caps' rows are locked before anything is written.
            await spend_caps.enforce(
                conn, first.team_id, first.user_id, first.api_key_id, planned.total_cents
            )
            batch = await Batch.create(
                id=batch_id,
                team_id=first.team_id,
                user_id=first.user_id,
                type=first.type,
                variants=planned.variants,
                placements=planned.placements,
                job_count=len(planned.jobs),
                client_reference=first.client_reference,
                using_db=conn,
            )
            rows = [
                await jobs.insert_and_hold(
                    conn,
                    new,
                    job_id,
                    deadline_at=jobs.now() + jobs.DEADLINES[new.type] * deadline_scale,
                    batch_id=batch_id,
                    with_key=i == 0,
                )
                for i, (new, job_id) in enumerate(zip(planned.jobs, ids, strict=True))
            ]
            committing = True
    except IntegrityError:
        existing = await jobs.existing_for_key(first)
        if existing:
            return await _answer_for(existing)
        raise
    except DomainError as exc:
        if exc.code in (ErrorCode.INSUFFICIENT_CREDITS, ErrorCode.SPEND_CAP_EXCEEDED):
            # the original may have committed meanwhile
            existing = await jobs.existing_for_key(first)
            if existing:
                return await _answer_for(existing)
        if exc.code == ErrorCode.INSUFFICIENT_CREDITS and len(ids) > 1:  # the balance moved: refused whole
            raise DomainError(
                ErrorCode.INSUFFICIENT_CREDITS,
                f"this request's {len(ids)} jobs need {planned.total_cents} cents of credits; the team has "
                "less available; nothing was held",
            ) from None
        raise
    except Exception as exc:
        if committing:
            raise CommitOutcomeUnknown(ids[0]) from exc
        raise
    for row in rows:
        await queue.enqueue_job(str(row.id))
        metrics.JOBS_SUBMITTED.labels(row.type, row.provider).inc()
        await events.job_changed(row)
    await events.balance_changed(first.team_id)
    return Submitted(batch, rows)


async def answer_for_job(job: CreativeJob) -> Submitted:
    return await _answer_for(job)


async def get_for_team(team_id: uuid.UUID | str, batch_id: str) -> Batch | None:
    """A batch of this team; another team's id answers exactly like a missing one."""
    return await team_row(Batch, team_id, batch_id)


async def jobs_of(batch: Batch) -> list[CreativeJob]:
    return await _jobs_of(batch.id)


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    total_cost_cents: int
    estimated_cost_cents: int


def summarize(rows: list[CreativeJob]) -> Summary:
    counts = {status.value: 0 for status in JobStatus}
    for row in rows:
        counts[row.status.value] += 1
    return Summary(
        counts,
        sum(row.cost_cents for row in rows),
        sum(row.estimated_cost_cents for row in rows),
    )


async def rate(
    team_id: uuid.UUID | str, job_id: str, rating: Rating | None, *, events: Events
) -> CreativeJob:
    """Rate one of the team's jobs (None clears it); only a completed job has an output to rate.
    The change bumps the job's version and is published, like any other (jobsUpdated sees it)."""
    job = await jobs.get_for_team(team_id, job_id)
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND, "job not found", ["id"])
    if job.status != JobStatus.COMPLETED:
        raise DomainError(
            ErrorCode.CONFLICT, f"only a completed job can be rated; this one is {job.status.value}", ["id"]
        )
    await CreativeJob.filter(id=job.id).update(
        rating=rating.value if rating else None, version=F("version") + 1, updated_at=jobs.now()
    )
    await job.refresh_from_db()
    await events.job_changed(job)
    return job
