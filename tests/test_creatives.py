"""Creatives' rules in-process (models/creatives.py): the graph (order, cycles, dangling references,
keys, the job limit), the status read from the jobs, and, on SQLite and PostgreSQL, the submission
(every hold in one transaction, or none), the release of a dependant (exactly once when its inputs
complete at once) and the free failure of dependants, transitively. The contract through GraphQL:
tests/test_creatives_api.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from models import creatives, drive
from models import jobs as job_ops
from models.creatives import NodeSpec, Plan, PlannedNode
from models.credits import CreditTransaction, top_up
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from models.jobs import CreativeJob, JobStatus, NewJob
from models.teams import Team, create_team
from services import db
from services.settings import Settings
from tests.conftest import POSTGRES_URL, _admin_pg

TEAM, USER = uuid.uuid4(), uuid.uuid4()


def node(key: str, kind: str = "image", refs: list[str] | None = None, i: int = 0) -> NodeSpec:
    request = GenerationRequest(type=kind, team_id=TEAM, user_id=USER)
    return NodeSpec(
        key,
        request,
        ["nodes", str(i), kind],
        refs=[(f"E{j}", ref) for j, ref in enumerate(refs or [])],
        key_path=["nodes", str(i), "key"],
    )


def refused(specs: list[NodeSpec], max_jobs: int = 20) -> DomainError:
    with pytest.raises(DomainError) as caught:
        creatives.order(specs, max_jobs=max_jobs, nodes_path=["nodes"])
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    return caught.value


def test_nodes_come_after_their_inputs_in_the_order_given_where_free() -> None:
    specs = [
        node("ad", "composite", ["video", "voice"], 0),
        node("video", "video", i=1),
        node("voice", "tts", i=2),
        node("poster", "image", i=3),
        node("final", "composite", ["ad", "poster"], 4),
    ]
    ordered = [spec.key for spec in creatives.order(specs, max_jobs=20, nodes_path=["nodes"])]
    assert ordered == ["video", "voice", "poster", "ad", "final"]


def test_graph_errors_name_the_field() -> None:
    cycle = refused([node("a", "composite", ["b"], 0), node("b", "composite", ["a"], 1)])
    assert cycle.field == ["input", "nodes", "0", "inputs", "0", "node"]
    assert "a → b → a" in cycle.message
    itself = refused([node("a", "composite", ["a"], 0)])
    assert itself.field == ["input", "nodes", "0", "inputs", "0", "node"] and "a → a" in itself.message
    dangling = refused([node("v", "video", i=0), node("c", "composite", ["v", "nope"], 1)])
    assert dangling.field == ["input", "nodes", "1", "inputs", "1", "node"]
    assert "'nope'" in dangling.message and "not a job of this creative" in dangling.message
    too_many = refused([node(f"n{i}", i=i) for i in range(4)], max_jobs=3)
    assert too_many.field == ["input", "nodes"] and "at most 3 jobs" in too_many.message
    assert refused([]).field == ["input", "nodes"]
    twice = refused([node("a", i=0), node("a", i=1)])
    assert twice.field == ["input", "nodes", "1", "key"] and "used by two jobs" in twice.message
    bad_key = refused([node("a b", i=0)])
    assert bad_key.field == ["input", "nodes", "0", "key"]
    not_composite = refused([node("v", "video", i=0), node("i", "image", ["v"], 1)])
    assert not_composite.field == ["input", "nodes", "1", "inputs"]


def test_status_is_read_from_the_jobs() -> None:
    def of(*states: str) -> str:
        return creatives.status({"status": s} for s in states).value

    assert of("pending", "pending") == "PENDING"
    assert of("completed", "pending") == "PROCESSING"
    assert of("processing", "pending") == "PROCESSING"
    assert of("completed", "completed") == "COMPLETED"
    assert of("completed", "failed", "failed") == "FAILED"
    assert of("canceled", "failed") == "CANCELED"
    waiting = {"key": "c", "depends_on": ["a", "b"]}
    snaps: dict[str, dict[str, Any]] = {
        "a": {"status": "completed"},
        "b": {"status": "processing"},
        "c": {"status": "pending", "metadata": {"waiting_for": ["x"]}},
    }
    assert creatives.waiting_for(waiting, snaps) == ["b"]
    snaps["c"] = {"status": "pending", "metadata": {}}  # released
    assert creatives.waiting_for(waiting, snaps) == []


# -- on a database ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[None]:
    url, pg_name = f"sqlite://{tmp_path / 'creatives.sqlite3'}", None
    if request.param == "postgres":
        pg_name = f"ch_test_{uuid.uuid4().hex[:10]}"
        try:
            await _admin_pg(f'CREATE DATABASE "{pg_name}"')
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    settings = Settings(env="development", data_dir=tmp_path, database_url=url)
    EXECUTOR_CACHE.clear()
    await db.migrate(settings)
    await db.init(settings)
    try:
        yield
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()
        if pg_name:
            await _admin_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


class Recorder:
    """The queue and the events, recorded."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.released: list[str] = []
        self.changed: list[tuple[str, str]] = []

    async def enqueue_job(self, job_id: str) -> None:
        self.enqueued.append(job_id)

    async def enqueue_poll(self, job_id: str, delay: float) -> None:
        self.released.append(job_id)

    async def job_changed(self, job: CreativeJob) -> None:
        self.changed.append((str(job.id), job.status.value))
        # what services.container.AfterCommit does after a terminal transition
        if job.is_terminal:
            await creatives.job_ended(job, queue=self, events=self)

    async def balance_changed(self, team_id: uuid.UUID | str) -> None:
        return None


async def _plan(team_id: uuid.UUID, graph: dict[str, tuple[str, list[str], int]]) -> Plan:
    """key → (type, input keys, cents), in topological order."""
    folder = (await drive.default_folder(team_id)).id
    nodes = []
    for key, (kind, refs, cents) in graph.items():
        spec = NodeSpec(key, GenerationRequest(type=kind, team_id=team_id, user_id=USER), [key])
        spec.refs = [(f"In{j}", ref) for j, ref in enumerate(refs)]
        settings: dict[str, Any] = {"inputs": []} if kind == "composite" else {}
        new = NewJob(
            team_id,
            USER,
            kind,
            "creatomate" if kind == "composite" else "flux_2_pro",
            key,
            settings,
            folder,
            cents,
        )
        nodes.append(PlannedNode(spec, new, sorted(refs)))
    return Plan(team_id, USER, None, nodes)


async def _team(cents: int) -> uuid.UUID:
    team = (await create_team(f"t{uuid.uuid4().hex[:6]}")).team.id
    await top_up(team, cents)
    return team


async def _jobs(creative: creatives.Creative) -> dict[str, CreativeJob]:
    rows = {str(r.id): r for r in await CreativeJob.filter(id__in=creative.job_ids())}
    return {n["key"]: rows[n["job_id"]] for n in creative.nodes}


async def _complete(job: CreativeJob, rec: Recorder) -> None:
    started = await job_ops.start(job, events=rec)
    assert started is not None
    await job_ops.complete(
        started,
        result_urls=[f"/files/{uuid.uuid4()}"],
        cost_cents=job.estimated_cost_cents,
        metadata={},
        events=rec,
    )


async def test_all_holds_in_one_transaction_or_none(database: None) -> None:
    graph = {"v": ("video", [], 300), "t": ("tts", [], 20), "c": ("composite", ["v", "t"], 10)}
    poor = await _team(200)  # enough for some of it, not all
    rec = Recorder()
    with pytest.raises(DomainError) as caught:
        await creatives.submit(await _plan(poor, graph), queue=rec, events=rec)
    assert caught.value.code == ErrorCode.INSUFFICIENT_CREDITS and "330 cents" in caught.value.message
    team = await Team.get(id=poor)
    assert (team.balance_cents, team.available_cents) == (200, 200)
    assert not await CreativeJob.filter(team_id=poor).exists()
    assert not await creatives.Creative.filter(team_id=poor).exists()
    assert await CreditTransaction.filter(team_id=poor, kind="HOLD").count() == 0
    assert rec.enqueued == []

    rich = await _team(1000)
    creative = await creatives.submit(await _plan(rich, graph), queue=rec, events=rec)
    jobs = await _jobs(creative)
    assert (await Team.get(id=rich)).available_cents == 1000 - 330
    assert await CreditTransaction.filter(team_id=rich, kind="HOLD").count() == 3
    assert sorted(rec.enqueued) == sorted([str(jobs["v"].id), str(jobs["t"].id)])  # not the composite
    assert jobs["c"].status == JobStatus.PENDING and jobs["c"].metadata["waiting_for"]
    assert jobs["c"].metadata["creative"] == {"id": str(creative.id), "key": "c"}


async def test_a_dependant_is_released_once_when_its_inputs_complete_together(database: None) -> None:
    team = await _team(1000)
    rec = Recorder()
    graph = {"v": ("video", [], 300), "t": ("tts", [], 20), "c": ("composite", ["v", "t"], 10)}
    creative = await creatives.submit(await _plan(team, graph), queue=rec, events=rec)
    jobs = await _jobs(creative)
    quiet = Recorder()
    quiet.job_changed = lambda job: asyncio.sleep(0)  # type: ignore[method-assign,assignment,return-value]  # no hook: the race below calls it
    for key in ("v", "t"):
        await _complete(jobs[key], quiet)
    done = [await CreativeJob.get(id=jobs[k].id) for k in ("v", "t")]
    for _ in range(5):  # both inputs' hooks at once, several times over: one release
        await asyncio.gather(*(creatives.job_ended(job, queue=rec, events=rec) for job in done))
    assert rec.released == [str(jobs["c"].id)]
    released = await CreativeJob.get(id=jobs["c"].id)
    assert released.status == JobStatus.PENDING and "waiting_for" not in released.metadata
    names = {item["name"]: item["file_id"] for item in released.settings["inputs"]}
    assert names == {f"In{j}": done[j].result_urls[0].rsplit("/", 1)[-1] for j in (0, 1)}
    assert await creatives.recheck(released, queue=rec, events=rec) == "released"  # the sweep's re-run: no-op
    assert rec.released == [str(jobs["c"].id)]


async def test_a_failed_input_fails_its_dependants_free_transitively(database: None) -> None:
    team = await _team(1000)
    rec = Recorder()
    graph = {
        "v": ("video", [], 300),
        "t": ("tts", [], 20),
        "c": ("composite", ["v", "t"], 10),
        "d": ("composite", ["c"], 7),
    }
    creative = await creatives.submit(await _plan(team, graph), queue=rec, events=rec)
    jobs = await _jobs(creative)
    await _complete(jobs["t"], rec)
    assert rec.released == []  # v still open
    await job_ops.fail(jobs["v"], "the provider failed", events=rec)
    ended = await _jobs(creative)
    assert [ended[k].status for k in "vtcd"] == [
        JobStatus.FAILED,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.FAILED,
    ]
    assert "its input 'v' failed" in (ended["c"].error_message or "")
    assert "its input 'c' failed" in (ended["d"].error_message or "")
    assert sum(j.cost_cents for j in ended.values()) == 20  # only the completed TTS is charged
    t = await Team.get(id=team)
    assert (t.balance_cents, t.available_cents) == (980, 980)  # nothing left held
    assert rec.released == []


async def test_an_idempotency_key_makes_one_creative_however_many_retries_race(database: None) -> None:
    team = await _team(1000)
    rec = Recorder()
    graph = {"v": ("video", [], 300), "t": ("tts", [], 20), "c": ("composite", ["v", "t"], 10)}

    async def retry() -> creatives.Creative:
        plan = await _plan(team, graph)
        plan.idempotency_key = "ad-1"
        return await creatives.submit(plan, queue=rec, events=rec)

    made = await asyncio.gather(*(retry() for _ in range(4)))
    assert len({c.id for c in made}) == 1
    assert await creatives.Creative.filter(team_id=team).count() == 1
    assert await CreativeJob.filter(team_id=team).count() == 3
    assert (await Team.get(id=team)).available_cents == 1000 - 330  # held once
    other = await _plan(team, {"v": ("video", [], 300)})
    other.idempotency_key = "ad-1"
    with pytest.raises(DomainError) as caught:
        await creatives.submit(other, queue=rec, events=rec)
    assert caught.value.code == ErrorCode.CONFLICT and caught.value.field == ["input", "idempotencyKey"]


# -- a node is one job, read from its input as generate* reads it ------------------------------


def _principal() -> Any:
    from models.teams import Role
    from services.auth import Principal

    return Principal(TEAM, USER, Role.MEMBER, frozenset({"generate"}))


async def _folderless(req: GenerationRequest) -> uuid.UUID:
    return uuid.uuid4()


def test_a_generate_input_maps_every_field_for_a_node_as_for_generate() -> None:
    from resolvers.generate_inputs import generation_request
    from schema.enums import Placement, Provider
    from schema.inputs import GenerateVideoInput

    data = GenerateVideoInput(
        prompt="a runner",
        provider=Provider.KLING_3_0,
        placement=Placement.STORY,
        duration_seconds=8,
        allow_longer_than_placement=True,
        seed=42,
        variants=3,
        client_reference="spring-ad",
        client_metadata={"campaign": 7},
    )
    req = generation_request(_principal(), "video", data, "folder-1")
    assert (req.placement, req.duration_seconds, req.allow_longer_than_placement) == ("STORY", 8, True)
    assert (req.seed, req.variants, req.client_reference) == (42, 3, "spring-ad")
    assert req.client_metadata == {"campaign": 7} and req.drive_folder_id == "folder-1"


async def _plan_nodes(specs: list[NodeSpec]) -> Plan:
    return await creatives.plan(
        specs, team_id=TEAM, user_id=USER, recipe=None, max_jobs=20, nodes_path=["nodes"]
    )


async def _refused_node(request: GenerationRequest) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await _plan_nodes([NodeSpec("v", request, ["nodes", "0", "video"])])
    return caught.value


async def test_a_node_is_one_job_variants_and_placements_are_refused_at_its_field() -> None:
    base = GenerationRequest(type="video", team_id=TEAM, user_id=USER, provider="kling_3_0", text="x")
    many = await _refused_node(replace(base, variants=5))
    assert many.code == ErrorCode.VALIDATION_FAILED
    assert many.field == ["input", "nodes", "0", "video", "variants"] and "one job" in many.message
    none = await _refused_node(replace(base, variants=0))
    assert none.field == ["input", "nodes", "0", "video", "variants"]
    spread = await _refused_node(replace(base, placements=["REELS", "FEED"]))
    assert spread.field == ["input", "nodes", "0", "video", "placements"] and "one job" in spread.message


async def test_a_node_keeps_its_seed_placement_and_client_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import generation

    monkeypatch.setattr(generation, "_folder", _folderless)
    longer = GenerationRequest(
        type="video",
        team_id=TEAM,
        user_id=USER,
        provider="runway_gen4",
        text="a runner",
        placement="STORY",
        duration_seconds=8,
        allow_longer_than_placement=True,
        seed=42,
        client_reference="spring-ad",
        client_metadata={"campaign": 7},
    )
    planned = (await _plan_nodes([NodeSpec("v", longer, ["nodes", "0", "video"])])).nodes[0].new
    assert planned.settings["settings"]["seed"] == 42
    assert planned.client_reference == "spring-ad" and planned.client_metadata == {"campaign": 7}


def test_a_rest_node_without_its_key_is_a_400_naming_it_not_a_fault() -> None:
    """Found by the REST fuzzer: a body missing a required field (a node's ``key``) raised a
    TypeError in the input's constructor, answered 500; it is the client's mistake, named."""
    from schema.creatives import CreateCreativeInput
    from web.errors import HTTPError
    from web.rest_input import build

    with pytest.raises(HTTPError) as refused:
        build(CreateCreativeInput, {"nodes": [{"key": "a", "tts": {"text": "hi"}}, {}]}, [])
    assert refused.value.status == 400 and refused.value.field == ["nodes", "1", "key"]
    assert "key is required" in refused.value.message


# -- the worker's sweep and a creative's waiting jobs -------------------------------------------


class _SweepQueue(Recorder):
    """The queue as the sweep sees it: which jobs have an entry, and what it enqueues."""

    def __init__(self, queued: set[str]) -> None:
        super().__init__()
        self.queued = queued

    async def queued_job_ids(self) -> set[str]:
        return set(self.queued)


class _Lock:
    async def set(self, *args: Any, **kwargs: Any) -> bool:
        return True

    async def delete(self, *args: Any) -> None:
        return None


def _sweep_services(queue: _SweepQueue, events: Recorder) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(settings=Settings(env="development"), redis=_Lock(), queue=queue, events=events)


async def test_the_sweep_leaves_waiting_dependants_alone_and_moves_stranded_ones(
    database: None, caplog: pytest.LogCaptureFixture
) -> None:
    from tasks.worker import requeue_lost

    team = await _team(1000)
    rec = Recorder()
    graph = {"v": ("video", [], 300), "t": ("tts", [], 20), "c": ("composite", ["v", "t"], 10)}
    creative = await creatives.submit(await _plan(team, graph), queue=rec, events=rec)
    jobs = await _jobs(creative)
    # The inputs have their queue entries; the composite waits for them, with none by design.
    queue = _SweepQueue({str(jobs["v"].id), str(jobs["t"].id)})
    events = Recorder()
    caplog.set_level("WARNING", logger="tasks.worker")
    assert await requeue_lost(_sweep_services(queue, events)) == 0
    assert queue.released == [] and events.changed == []
    assert not [r for r in caplog.records if "were lost" in r.getMessage()]
    assert creatives.is_waiting(await CreativeJob.get(id=jobs["c"].id))

    # One input ends, the other is still open: still nothing to do.
    quiet = Recorder()
    quiet.job_changed = lambda job: asyncio.sleep(0)  # type: ignore[method-assign,assignment,return-value]  # the hook is lost
    await _complete(jobs["t"], quiet)
    queue.queued.discard(str(jobs["t"].id))
    assert await requeue_lost(_sweep_services(queue, events)) == 0
    assert queue.released == []

    # Both ended and the hook that should have released the composite was lost (a crash): the
    # sweep releases it, as the hook would have, and enqueues it once.
    await _complete(jobs["v"], quiet)
    queue.queued.discard(str(jobs["v"].id))
    assert await requeue_lost(_sweep_services(queue, events)) == 0
    released = await CreativeJob.get(id=jobs["c"].id)
    assert not creatives.is_waiting(released) and len(released.settings["inputs"]) == 2
    assert queue.released == [str(jobs["c"].id)]
    assert not [r for r in caplog.records if "were lost" in r.getMessage()]


async def test_the_sweep_fails_a_stranded_dependant_of_a_failed_input_free(database: None) -> None:
    from tasks.worker import requeue_lost

    team = await _team(1000)
    rec = Recorder()
    graph = {"v": ("video", [], 300), "c": ("composite", ["v"], 10)}
    creative = await creatives.submit(await _plan(team, graph), queue=rec, events=rec)
    jobs = await _jobs(creative)
    quiet = Recorder()
    quiet.job_changed = lambda job: asyncio.sleep(0)  # type: ignore[method-assign,assignment,return-value]  # the hook is lost
    await job_ops.fail(jobs["v"], "the provider failed", events=quiet)
    queue, events = _SweepQueue(set()), Recorder()
    await requeue_lost(_sweep_services(queue, events))
    ended = await CreativeJob.get(id=jobs["c"].id)
    assert ended.status == JobStatus.FAILED and ended.cost_cents == 0 and queue.released == []
    assert (await Team.get(id=team)).available_cents == 1000


async def test_a_voiced_ad_is_at_its_placements_ratio_when_the_video_was_made_at_the_nearest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models import generation, recipes

    monkeypatch.setattr(generation, "_folder", _folderless)
    video = GenerationRequest(
        type="video", team_id=TEAM, user_id=USER, provider="runway_gen4", text="a lamp", placement="POSTER"
    )
    voice = GenerationRequest(type="tts", team_id=TEAM, user_id=USER, text="Light up.")
    specs = await recipes.video_with_voiceover(video, voice, None)
    made = await generation.validate(specs[0].request)
    assert made.settings["aspect_ratio"] == "9:16"  # Runway renders no 4:5 from text: the nearest it does
    source = specs[-1].request.source
    assert source is not None and source["width"] * 5 == source["height"] * 4  # the ad: POSTER's 4:5
    assert next(e for e in source["elements"] if e["name"] == "Video")["fit"] == "cover"


async def test_a_recipes_ad_is_named_after_its_concept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The composite a recipe makes is titled by its kind and its concept (the Jobs panel and its
    Drive file name), not one lowercase word shared by every ad."""
    from models import generation, recipes

    monkeypatch.setattr(generation, "_folder", _folderless)
    video = GenerationRequest(type="video", team_id=TEAM, user_id=USER, text="a lamp at dusk " * 30)
    voice = GenerationRequest(type="tts", team_id=TEAM, user_id=USER, text="Light up.")
    specs = await recipes.video_with_voiceover(video, voice, None)
    title = specs[-1].request.text
    assert title is not None and title.startswith("Voice-over ad: a lamp at dusk")
    assert len(title) == recipes.COMPOSITE_NOTE_CHARS  # a long concept is cut, not carried whole


# -- found through the public API by a reviewer: each failed on the code before its fix ----------------


def _composite(
    key: str, source: dict[str, Any], i: int, refs: list[tuple[str, str]] | None = None
) -> NodeSpec:
    request = GenerationRequest(type="composite", team_id=TEAM, user_id=USER, source=source)
    return NodeSpec(
        key, request, ["nodes", str(i), "composite"], refs=refs or [], key_path=["nodes", str(i), "key"]
    )


PNG_CARD = {
    "output_format": "png",
    "width": 1080,
    "height": 1080,
    "elements": [{"name": "T", "type": "text"}],
}


async def test_a_composites_output_type_is_read_from_its_output_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: every composite taken for video/mp4: a PNG card refused by an image element, let into a
    video element."""
    from models import generation

    monkeypatch.setattr(generation, "_folder", _folderless)
    still = {"elements": [{"name": "Card", "type": "image"}]}
    moving = {"output_format": "mp4", "duration": 5, "elements": [{"name": "Clip", "type": "video"}]}
    planned = await _plan_nodes([_composite("A", PNG_CARD, 0), _composite("B", still, 1, [("Card", "A")])])
    assert [n.spec.key for n in planned.nodes] == ["A", "B"]
    with pytest.raises(DomainError) as caught:
        await _plan_nodes([_composite("A", PNG_CARD, 0), _composite("B", moving, 1, [("Clip", "A")])])
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    assert caught.value.field == ["input", "nodes", "1", "inputs", "0", "node"]
    assert caught.value.message == "element 'Clip' takes video; this input is image/png"
    # an mp4 composite still fills a video element, and a template renders a video
    mp4 = {**PNG_CARD, "output_format": "mp4", "duration": 3}
    await _plan_nodes([_composite("A", mp4, 0), _composite("B", moving, 1, [("Clip", "A")])])
    # the composite's own settings.output_format wins over its RenderScript's, as the adapter sends it
    jpg = GenerationRequest(
        type="composite", team_id=TEAM, user_id=USER, source=mp4, settings={"output_format": "jpg"}
    )
    card = NodeSpec("A", jpg, ["nodes", "0", "composite"], key_path=["nodes", "0", "key"])
    planned = await _plan_nodes([card, _composite("B", still, 1, [("Card", "A")])])
    assert creatives.output_content_type(planned.nodes[0].new) == "image/jpeg"


async def test_two_inputs_filling_one_element_are_refused_naming_the_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: accepted (two inputs for element "A", one of them silently lost)."""
    from models import generation

    monkeypatch.setattr(generation, "_folder", _folderless)
    source = {"output_format": "mp4", "duration": 5, "elements": [{"name": "A", "type": "video"}]}
    clip = GenerationRequest(type="video", team_id=TEAM, user_id=USER, provider="kling_3_0", text="x")
    videos = [
        NodeSpec(k, clip, ["nodes", str(i), "video"], key_path=["nodes", str(i), "key"])
        for i, k in enumerate("vw")
    ]
    twice = _composite("c", source, 2, [("A", "v"), ("A.source", "w")])
    with pytest.raises(DomainError) as caught:
        await _plan_nodes([*videos, twice])
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    assert caught.value.field == ["input", "nodes", "2", "inputs", "1", "name"]
    assert "already fills element 'A'" in caught.value.message
    # a composite's own inputs: the same rule, on its own field
    with pytest.raises(DomainError) as own:
        generation.check_input_names(["Logo", "Image", "Logo"])
    assert own.value.field == ["input", "inputs", "2", "name"]


async def test_a_creatives_jobs_get_a_picked_seed_where_the_provider_takes_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: seed null on every FLUX and Runway node of a creative (a winner could not be made again)."""
    from models import generation, recipes

    folder = uuid.uuid4()

    async def one_folder(req: GenerationRequest) -> uuid.UUID:
        return folder

    monkeypatch.setattr(generation, "_folder", one_folder)
    image = GenerationRequest(type="image", team_id=TEAM, user_id=USER, text="a lamp", placement="FEED")
    video = GenerationRequest(type="video", team_id=TEAM, user_id=USER, provider="runway_gen4", text="a lamp")
    voice = GenerationRequest(type="tts", team_id=TEAM, user_id=USER, text="Light up.")
    specs = [
        NodeSpec("i", image, ["nodes", "0", "image"], key_path=["nodes", "0", "key"]),
        *await recipes.video_with_voiceover(video, voice, None),
    ]
    planned = {n.spec.key: n.new for n in (await _plan_nodes(specs)).nodes}
    for key in ("i", "video"):
        seed = planned[key].settings["settings"].get("seed")
        assert isinstance(seed, int) and planned[key].metadata.get("seed_auto") is True, key
    assert "seed" not in planned["voiceover"].settings["settings"]  # OpenAI TTS takes none
    assert "variant" not in planned["i"].metadata, "a node is a lone job"
    # another seed is picked each time, outside what was asked: a retry is the same creative
    first, again = await _plan_nodes(specs), await _plan_nodes(specs)
    assert first.request_hash() == again.request_hash()


async def test_an_image_with_logo_at_another_ratio_than_its_placement_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: rendered 1:1 and the 9:16 composite cropped 44% of it away."""
    from models import generation, recipes

    monkeypatch.setattr(generation, "_folder", _folderless)
    image = GenerationRequest(
        type="image", team_id=TEAM, user_id=USER, text="a lamp", placement="STORY", aspect_ratio="1:1"
    )
    with pytest.raises(DomainError) as caught:
        await recipes.image_with_logo(image, str(uuid.uuid4()), None)
    assert caught.value.code == ErrorCode.VALIDATION_FAILED
    assert caught.value.field == ["input", "imageWithLogo", "image", "aspectRatio"]
    assert caught.value.message == "placement STORY implies 9:16; leave aspectRatio out or give 9:16"


class _Unreadable:
    """Libraries that cannot be read: what a wrong provider used to reach."""

    async def avatars(self, provider: str = "heygen", *, fresh: bool = False) -> list[Any]:
        from models.library import LibraryUnavailable

        raise LibraryUnavailable(provider, "avatars", "not a library")

    async def voices(self, provider: str, *, fresh: bool = False) -> list[Any]:
        from models.library import LibraryUnavailable

        raise LibraryUnavailable(provider, "voices", "not a library")

    async def cached_voices(self, provider: str) -> list[Any] | None:
        return None


async def test_a_localized_avatar_on_a_video_provider_is_refused_on_the_provider() -> None:
    """Was: PROVIDER_UNAVAILABLE "...library could not be read... try again in a minute" on a locale."""
    from models import recipes

    avatar = GenerationRequest(
        type="avatar", team_id=TEAM, user_id=USER, provider="runway_gen4", text="Hello", avatar_id="a"
    )
    with pytest.raises(DomainError) as caught:
        await recipes.localized_avatar(
            avatar,
            [recipes.Locale("en-US"), recipes.Locale("es")],
            gender=None,
            max_jobs=20,
            libraries=_Unreadable(),
        )
    assert caught.value.code == ErrorCode.PROVIDER_NOT_SUPPORTED
    assert caught.value.field == ["input", "localizedAvatar", "provider"]
    assert "runway_gen4 does not generate avatar" in caught.value.message
