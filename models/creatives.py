"""Creatives: a small graph of jobs submitted at once (docs/contract.md, Creatives).

A creative's nodes are jobs of the usual types, each validated and priced by
:func:`models.generation.validate` as a generate request would be. A composite node may take
another node's first output for one of its elements (``inputs: [{name, node}]``): it is a
*dependant* of that node. The rules, as functions:

* the graph: keys unique and well formed, every reference to a node of the same creative, no
  cycle, at most the configured number of jobs (:func:`order`, a topological order);
* the hold: every node's estimate held in one transaction (one ledger HOLD per job); a creative
  the team cannot afford is refused whole, nothing held (:func:`submit`);
* a dependant is a PENDING job with ``metadata.waiting_for`` (its inputs' job ids), not
  enqueued. When an input ends (:func:`job_ended`, called after every terminal transition
  commits) a dependant whose inputs all completed is *released*: its composite inputs filled with
  their outputs and ``waiting_for`` dropped by one compare-and-set on the job's version (two
  inputs completing at once release it exactly once), then enqueued. A dependant of an input
  that failed or was canceled fails, free (its hold released), and so do its own dependants;
* the status of the whole is read from its jobs (:func:`status`): nothing is stored twice.

A waiting dependant has no queue entry by design, so the worker's sweeps leave it alone while an
input is still open; one whose inputs all ended while it still waits (the hook that should have
moved it was lost to a crash) is :func:`stranded`, and the sweep settles it (:func:`recheck`).
A waiting job that a worker runs anyway looks at its inputs itself, the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import batches, generation, library, progress, spend_caps
from models import jobs as job_ops
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from models.jobs import DEADLINES, CreativeJob, Events, JobStatus, NewJob, now
from models.teams import Team
from models.tenancy import team_row
from providers import lifecycle, registry
from providers.catalog import COMPOSITE

DEFAULT_MAX_JOBS = 20  # CH_MAX_JOBS_PER_CREATIVE
MAX_KEY = 64
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# What each job type's first output is, for checking it against the composite element it fills
# (a composite's is read from its own settings: :func:`output_content_type`).
OUTPUT_CONTENT_TYPE = {
    "image": "image/png",
    "video": "video/mp4",
    "avatar": "video/mp4",
    "tts": "audio/mpeg",
    "composite": "video/mp4",
}


def output_content_type(new: NewJob) -> str:
    """What a planned job's first output is: where its provider's adapter says what the request
    renders (Creatomate: the output_format of the settings or the RenderScript), that; else its
    type's."""
    reader = getattr(registry.adapter_class(new.provider), "output_content_type", None)
    found = reader(new.settings) if reader is not None else None
    return found or OUTPUT_CONTENT_TYPE[new.type]


WAITING = "waiting_for"


class Recipe(StrEnum):
    """The named recipes; the API's ``CreativeRecipe`` is this enum."""

    VIDEO_WITH_VOICEOVER = "VIDEO_WITH_VOICEOVER"
    IMAGE_WITH_LOGO = "IMAGE_WITH_LOGO"
    LOCALIZED_AVATAR = "LOCALIZED_AVATAR"


class CreativeStatus(StrEnum):
    """Read from the jobs: PENDING until one started; PROCESSING while any is open; then COMPLETED
    (all completed), CANCELED (one was canceled) or FAILED (one failed)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class Creative(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="creatives")
    team_id: uuid.UUID
    user_id = fields.UUIDField()
    recipe = fields.CharField(max_length=32, null=True)
    # [{key, job_id, type, depends_on: [key], refs: [{name, node}]}], in topological order.
    nodes: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    estimated_cost_cents = fields.BigIntField(default=0)
    idempotency_key = fields.CharField(max_length=255, null=True)
    request_hash = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "creative"
        unique_together = (("team", "idempotency_key"),)
        indexes = (("team_id", "created_at"),)

    def job_ids(self) -> list[str]:
        return [str(node["job_id"]) for node in self.nodes]


# -- the plan: what a request asks for, before anything is written ------------------------------


@dataclass
class NodeSpec:
    """One node as asked: its key, its generate request, and the composite elements it fills with
    other nodes' outputs. ``path`` is where the node sits in the input (error field paths)."""

    key: str
    request: GenerationRequest
    path: list[str]
    refs: list[tuple[str, str]] = field(default_factory=list)  # (element name, node key)
    key_path: list[str] | None = None  # where the key itself was given; None: made by a recipe
    # A recipe's name for a field of the request it built (the composite's provider is its
    # ``compositeProvider``), so that an error names what the client sent.
    renames: dict[str, str] = field(default_factory=dict)


@dataclass
class PlannedNode:
    spec: NodeSpec
    new: NewJob
    depends_on: list[str]


@dataclass
class Plan:
    team_id: uuid.UUID
    user_id: uuid.UUID
    recipe: str | None
    nodes: list[PlannedNode]  # topological order
    idempotency_key: str | None = None
    # The API key submitting it (None: a JWT): its jobs record it (spend caps per key).
    api_key_id: uuid.UUID | None = None

    @property
    def estimated_cost_cents(self) -> int:
        return sum(node.new.estimated_cost_cents for node in self.nodes)

    def request_hash(self) -> str:
        """What was asked: the recipe and each job's request, key and inputs."""
        body = [
            self.recipe,
            [[n.spec.key, n.new.request_hash(), n.depends_on, n.spec.refs] for n in self.nodes],
        ]
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _invalid(message: str, path: Iterable[str]) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["input", *path])


def order(specs: list[NodeSpec], *, max_jobs: int, nodes_path: list[str]) -> list[NodeSpec]:
    """The nodes in an order where every node comes after the nodes it takes outputs from; or
    VALIDATION_FAILED naming the field: no nodes, too many, a bad or repeated key, a reference to
    no node of the creative (dangling), a node that is not a composite taking inputs, a cycle."""
    if not specs:
        raise _invalid("a creative needs at least one job", nodes_path)
    if len(specs) > max_jobs:
        raise _invalid(f"a creative takes at most {max_jobs} jobs; this one has {len(specs)}", nodes_path)
    by_key: dict[str, NodeSpec] = {}
    for spec in specs:
        key_path = spec.key_path or spec.path
        if not _KEY.match(spec.key):
            raise _invalid(
                f"key {spec.key[:MAX_KEY]!r} must be 1 to {MAX_KEY} letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                key_path,
            )
        if spec.key in by_key:
            raise _invalid(f"key {spec.key!r} is used by two jobs of this creative", key_path)
        by_key[spec.key] = spec
    for spec in specs:
        if spec.refs and spec.request.type != COMPOSITE:
            raise _invalid(
                "only a composite takes other jobs' outputs as inputs", [*_ref_base(spec), "inputs"]
            )
        for j, (_, ref) in enumerate(spec.refs):
            if ref not in by_key:
                raise _invalid(
                    f"input {j} refers to node {ref[:MAX_KEY]!r}, which is not a job of this creative",
                    [*_ref_base(spec), "inputs", str(j), "node"],
                )
    # Kahn's algorithm, stable: nodes keep the order they were given in where the graph allows.
    remaining = {spec.key: {ref for _, ref in spec.refs} for spec in specs}
    ordered: list[NodeSpec] = []
    while remaining:
        ready = [spec for spec in specs if spec.key in remaining and not remaining[spec.key]]
        if not ready:
            cycle = _a_cycle(remaining)
            first = by_key[cycle[0]]
            j = next(i for i, (_, ref) in enumerate(first.refs) if ref == cycle[1])
            raise _invalid(
                "the creative's jobs take each other's outputs in a cycle: " + " → ".join(cycle),
                [*_ref_base(first), "inputs", str(j), "node"],
            )
        for spec in ready:
            ordered.append(spec)
            del remaining[spec.key]
        for deps in remaining.values():
            deps.difference_update(spec.key for spec in ready)
    return ordered


def _a_cycle(remaining: dict[str, set[str]]) -> list[str]:
    """One cycle among nodes each still waiting on another (every one of them is on or leads to one)."""
    start = min(remaining)
    seen: list[str] = [start]
    while True:
        nxt = min(remaining[seen[-1]])
        if nxt in seen:
            return [*seen[seen.index(nxt) :], nxt]
        seen.append(nxt)


def _critical_path(nodes: list[PlannedNode], own: Callable[[PlannedNode], timedelta]) -> dict[str, timedelta]:
    """Each node's time from submission: its ``own`` time after its slowest chain of inputs (its
    deadline from the deadlines, its expected completion from the providers' typical times)."""
    until: dict[str, timedelta] = {}
    for node in nodes:  # topological: inputs first
        before = max((until[key] for key in node.depends_on), default=timedelta(0))
        until[node.spec.key] = before + own(node)
    return until


async def plan(
    specs: list[NodeSpec],
    *,
    team_id: uuid.UUID,
    user_id: uuid.UUID,
    recipe: str | None,
    max_jobs: int,
    nodes_path: list[str],
    cfg: lifecycle.LifecycleConfig | None = None,
    libraries: library.LibraryLookup | None = None,
    idempotency_key: str | None = None,
    api_key_id: uuid.UUID | None = None,
) -> Plan:
    """Check the graph, then validate and price every node as its generate request would be
    (errors name the node's field path). Nothing is written."""
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
        raise _invalid("idempotencyKey must be 1 to 255 characters", ["idempotencyKey"])
    generation.check_text(idempotency_key, "idempotencyKey")
    ordered = order(specs, max_jobs=max_jobs, nodes_path=nodes_path)
    made: dict[str, NewJob] = {}  # topological: a node's inputs are planned before it
    planned: list[PlannedNode] = []
    for spec in ordered:
        if spec.request.idempotency_key is not None:
            raise _invalid("a job of a creative takes no idempotencyKey", [*spec.path, "idempotencyKey"])
        if spec.request.variants != 1:
            raise _invalid(
                "a job of a creative is one job: variants must be 1 (add a node per variant, or use "
                f"generate* for a batch of variants); got {spec.request.variants}",
                [*spec.path, "variants"],
            )
        if spec.request.placements is not None:
            raise _invalid(
                "a job of a creative is one job: give one placement (add a node per placement, or "
                "use generate* for one job per placement)",
                [*spec.path, "placements"],
            )
        try:
            # as generate* plans a single job: its seed picked where the provider takes one
            (new,) = (await batches.plan(spec.request, cfg, libraries, max_jobs=1)).jobs
            for j, (name, ref) in enumerate(spec.refs, start=len(spec.request.inputs)):
                if not name:
                    raise DomainError(
                        ErrorCode.VALIDATION_FAILED,
                        "every input needs the name of the element it fills",
                        ["input", "inputs", str(j), "name"],
                    )
                generation.check_input_element(
                    new.settings.get("source"), name, output_content_type(made[ref]), j, "node"
                )
            names = [str(item.get("name") or "") for item in spec.request.inputs]
            generation.check_input_names([*names, *(name for name, _ in spec.refs)])
        except DomainError as exc:
            raise at_node(exc, spec) from None
        made[spec.key] = new
        planned.append(PlannedNode(spec, new, sorted({ref for _, ref in spec.refs})))
    return Plan(team_id, user_id, recipe, planned, idempotency_key, api_key_id)


def at_node(exc: DomainError, spec: NodeSpec) -> DomainError:
    """The node's error with its field under the node's path. References are listed after the
    request's own inputs, so ``inputs.N`` past those is the node's ``inputs`` entry N - own."""
    path = list(exc.field or ["input"])[1:]
    own = len(spec.request.inputs)
    if path[:1] == ["inputs"] and len(path) > 1 and path[1].isdigit() and int(path[1]) >= own:
        path = ["inputs", str(int(path[1]) - own), *path[2:]]
        path = ["node" if part in ("jobId", "fileId") else part for part in path]
        return DomainError(exc.code, exc.message, ["input", *_ref_base(spec), *path])
    if path and path[0] in spec.renames:
        path = [spec.renames[path[0]], *path[1:]]
    return DomainError(exc.code, exc.message, ["input", *spec.path, *path])


def _ref_base(spec: NodeSpec) -> list[str]:
    """Where a general node's ``inputs`` list is: beside its typed input, not in it."""
    return spec.path[:-1] if spec.key_path is not None else spec.path


# -- submission ---------------------------------------------------------------------------------


async def submit(
    plan_: Plan, *, queue: job_ops.Queue, events: Events, deadline_scale: float = 1.0
) -> Creative:
    """Write the creative, its jobs and every hold in one transaction, then enqueue the jobs that
    wait for nothing and publish. A team without credits for all of it is refused whole. The same
    idempotency key with the same input returns the first creative (held once); with another
    input it is a CONFLICT."""
    existing = await _existing_for_key(plan_)
    if existing is not None:
        return existing
    creative_id = uuid.uuid4()
    ids = {node.spec.key: uuid.uuid4() for node in plan_.nodes}
    deadlines = _critical_path(plan_.nodes, lambda node: DEADLINES[node.new.type] * deadline_scale)
    expected = _critical_path(
        plan_.nodes, lambda node: timedelta(seconds=progress.typical_seconds(node.new.provider))
    )
    total = plan_.estimated_cost_cents
    made: list[CreativeJob] = []
    try:
        async with in_transaction() as conn:
            # First in the transaction: the caps' rows are locked before anything is written.
            await spend_caps.enforce(conn, plan_.team_id, plan_.user_id, plan_.api_key_id, total)
            creative = await Creative.create(
                id=creative_id,
                team_id=plan_.team_id,
                user_id=plan_.user_id,
                recipe=plan_.recipe,
                estimated_cost_cents=total,
                idempotency_key=plan_.idempotency_key,
                request_hash=plan_.request_hash(),
                nodes=[
                    {
                        "key": node.spec.key,
                        "job_id": str(ids[node.spec.key]),
                        "type": node.new.type,
                        "depends_on": node.depends_on,
                        "refs": [{"name": name, "node": ref} for name, ref in node.spec.refs],
                    }
                    for node in plan_.nodes
                ],
                using_db=conn,
            )
            at = now()
            for node in plan_.nodes:
                metadata: dict[str, Any] = {
                    **node.new.metadata,
                    "creative": {"id": str(creative_id), "key": node.spec.key},
                }
                if node.depends_on:
                    metadata[WAITING] = [str(ids[key]) for key in node.depends_on]
                made.append(
                    await job_ops.insert_and_hold(
                        conn,
                        replace(node.new, api_key_id=plan_.api_key_id),
                        ids[node.spec.key],
                        deadline_at=at + deadlines[node.spec.key],
                        metadata=metadata,
                        expected_completion_at=at + expected[node.spec.key],
                    )
                )
    except IntegrityError:
        # A concurrent request with the same idempotency key won the insert (all of this rolled back).
        existing = await _existing_for_key(plan_)
        if existing is not None:
            return existing
        raise
    except DomainError as exc:
        if exc.code != ErrorCode.INSUFFICIENT_CREDITS:
            raise
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDITS,
            f"this creative needs {total} cents of credits for its {len(plan_.nodes)} jobs; the team "
            "has less available, so nothing was held and no job was made",
        ) from None
    for job in made:
        if WAITING not in job.metadata:
            await queue.enqueue_job(str(job.id))
    for job in made:
        await events.job_changed(job)
    await events.balance_changed(plan_.team_id)
    return creative


async def _existing_for_key(plan_: Plan) -> Creative | None:
    """The creative an idempotency key already made (within its 24 hours), or None."""
    key = plan_.idempotency_key
    if not key:
        return None
    found = await Creative.get_or_none(team_id=plan_.team_id, idempotency_key=key)
    if found is not None and found.created_at < now() - job_ops.IDEMPOTENCY_WINDOW:
        # expired: the old creative lets go of the key (a guarded update, so one request does)
        await Creative.filter(id=found.id, idempotency_key=key).update(idempotency_key=None)
        return None
    if found is not None and found.request_hash != plan_.request_hash():
        raise DomainError(
            ErrorCode.CONFLICT,
            "this idempotency key was already used with a different input",
            ["input", "idempotencyKey"],
        )
    return found


# -- reading --------------------------------------------------------------------------------------


async def get_for_team(team_id: uuid.UUID | str, creative_id: str) -> Creative | None:
    """A creative of this team; another team's id answers exactly like a missing one."""
    return await team_row(Creative, team_id, creative_id)


async def job_snapshots(creative: Creative) -> dict[str, dict[str, Any]]:
    """Its jobs' snapshots by job id (one query)."""
    rows = await CreativeJob.filter(id__in=creative.job_ids(), team_id=creative.team_id)
    return {str(row.id): row.snapshot() for row in rows}


def status(snaps: Iterable[dict[str, Any]]) -> CreativeStatus:
    states = [snap["status"] for snap in snaps]
    if any(s in ("pending", "processing") for s in states):
        started = any(s != "pending" for s in states)
        return CreativeStatus.PROCESSING if started else CreativeStatus.PENDING
    if all(s == "completed" for s in states):
        return CreativeStatus.COMPLETED
    return CreativeStatus.CANCELED if "canceled" in states else CreativeStatus.FAILED


def waiting_for(node: dict[str, Any], snaps_by_key: dict[str, dict[str, Any]]) -> list[str]:
    """The keys of the node's inputs not completed yet (empty once it was released or ended)."""
    own = snaps_by_key.get(node["key"])
    if own is None or own["status"] != "pending" or WAITING not in (own.get("metadata") or {}):
        return []
    return [key for key in node["depends_on"] if snaps_by_key.get(key, {}).get("status") != "completed"]


# -- moving the graph ---------------------------------------------------------------------------


class Enqueue(Protocol):
    async def enqueue_poll(self, job_id: str, delay: float) -> None: ...


def is_waiting(job: CreativeJob) -> bool:
    return job.status == JobStatus.PENDING and bool((job.metadata or {}).get(WAITING))


async def job_ended(job: CreativeJob, *, queue: Enqueue, events: Events, deadline_scale: float = 1.0) -> None:
    """After a job of a creative ended (committed): each of its dependants is released when all
    its inputs completed, or fails free when this one did not complete."""
    info = (job.metadata or {}).get("creative")
    if not info or not job.is_terminal:
        return
    creative = await Creative.get_or_none(id=info["id"])
    if creative is None:
        return
    for node in creative.nodes:
        if info["key"] in node["depends_on"]:
            dependant = await CreativeJob.get_or_none(id=node["job_id"])
            if dependant is not None:
                await _settle(
                    creative, node, dependant, queue=queue, events=events, deadline_scale=deadline_scale
                )


async def stranded(waiting: Iterable[CreativeJob]) -> list[CreativeJob]:
    """Of these waiting dependants (:func:`is_waiting`), those no input will move any more: every
    input ended (or is gone), yet the dependant still waits, because the after-commit hook that
    should have released or failed it (:func:`job_ended`) was lost, e.g. to a crash. A dependant
    with an input still open is not stranded: it has no queue entry by design, and the input's end
    moves it. The sweep settles the stranded ones (:func:`recheck`), and only those."""
    waiting = [job for job in waiting if is_waiting(job)]
    inputs = {str(input_id) for job in waiting for input_id in job.metadata[WAITING]}
    still_open = {
        str(input_id)
        for input_id in await CreativeJob.filter(id__in=inputs, status__in=job_ops.OPEN).values_list(
            "id", flat=True
        )
    }
    return [job for job in waiting if not still_open.intersection(map(str, job.metadata[WAITING]))]


async def recheck(job: CreativeJob, *, queue: Enqueue, events: Events, deadline_scale: float = 1.0) -> str:
    """A waiting job a worker was handed: release or fail it if its inputs say so (a release lost
    to a crash happens here), else leave it waiting."""
    info = (job.metadata or {}).get("creative") or {}
    creative = await Creative.get_or_none(id=info.get("id"))
    node = next((n for n in creative.nodes if n["key"] == info.get("key")), None) if creative else None
    if creative is None or node is None:
        return "waiting for its inputs"
    return await _settle(creative, node, job, queue=queue, events=events, deadline_scale=deadline_scale)


async def _settle(
    creative: Creative,
    node: dict[str, Any],
    dependant: CreativeJob,
    *,
    queue: Enqueue,
    events: Events,
    deadline_scale: float,
) -> str:
    if not is_waiting(dependant):
        return "released"
    keys = {n["key"]: n for n in creative.nodes}
    input_ids = [keys[key]["job_id"] for key in node["depends_on"]]
    inputs = {str(row.id): row for row in await CreativeJob.filter(id__in=input_ids)}
    for key in node["depends_on"]:
        source = inputs.get(keys[key]["job_id"])
        if source is None or source.status in (JobStatus.FAILED, JobStatus.CANCELED):
            ended = source.status.value if source else "gone"
            await job_ops.fail(
                dependant, f"its input {key!r} {ended}, so it did not run; nothing was charged", events=events
            )
            return "failed"
    if any(row.status != JobStatus.COMPLETED for row in inputs.values()):
        return "waiting for its inputs"
    filled = [
        {
            "name": ref["name"],
            "file_id": inputs[keys[ref["node"]]["job_id"]].result_urls[0].rsplit("/", 1)[-1],
        }
        for ref in node["refs"]
    ]
    settings = {**dependant.settings, "inputs": [*dependant.settings.get("inputs", []), *filled]}
    metadata = {k: v for k, v in dependant.metadata.items() if k != WAITING}
    released = await CreativeJob.filter(
        id=dependant.id, status=JobStatus.PENDING, version=dependant.version
    ).update(
        settings=settings,
        metadata=metadata,
        version=F("version") + 1,
        updated_at=now(),
        deadline_at=now() + DEADLINES[dependant.type] * deadline_scale,
        expected_completion_at=now() + timedelta(seconds=progress.typical_seconds(dependant.provider)),
    )
    if not released:  # another input's completion (or a cancel) moved it first
        return "released"
    await dependant.refresh_from_db()
    await queue.enqueue_poll(str(dependant.id), 0)
    await events.job_changed(dependant)
    return "released"


async def cancel(team_id: uuid.UUID | str, creative_id: str, *, events: Events) -> list[CreativeJob]:
    """Cancel every open job of the creative, dependants first (each free until it reached its
    provider, as cancelJob). The jobs canceled are returned; CONFLICT when none was open."""
    creative = await get_for_team(team_id, creative_id)
    if creative is None:
        raise DomainError(ErrorCode.NOT_FOUND, "creative not found", ["id"])
    canceled = []
    for node in reversed(creative.nodes):
        try:
            canceled.append(await job_ops.cancel(team_id, node["job_id"], events=events))
        except DomainError as exc:  # already ended (or ended while we canceled): nothing to do
            if exc.code != ErrorCode.CONFLICT:
                raise
    if not canceled:
        raise DomainError(ErrorCode.CONFLICT, "every job of the creative has already ended", ["id"])
    return canceled
