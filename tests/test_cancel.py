"""What a cancel costs, in-process: the state machine, the ledger and the worker's pipeline against the
provider simulator (served through httpx's ASGI transport), on a SQLite file of the test's own.

Before a job reached its provider the cancel is free; once a run claimed its submission the provider
bills the work, so the cancel captures the job's estimate. Where the provider can cancel (Runway)
the worker stops the task there, and only a confirmed cancel is recorded as ``provider_canceled``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from models import batches, credits
from models import jobs as job_ops
from models.audit import audit_team
from models.credits import CreditTransaction
from models.drive import default_folder
from models.errors import DomainError
from models.jobs import CreativeJob, JobStatus, NewJob
from models.teams import Team, create_team
from models.usage import UsageRow, credit_usage
from providers import registry
from providers.catalog import CATALOG
from providers.registry import SIMULATOR_API_KEY
from providers.simulator import create_simulator_app
from services import db
from services.settings import Settings
from tasks import pipeline

SIM_ROOT = "http://simulator.test/simulator"
VEO_4K_8S = 480  # 8 s at 60 ¢ (prices.toml); the number only has to be the hold
RUNWAY_10S = 120


class Recorder:
    async def job_changed(self, job: CreativeJob) -> None:
        pass

    async def balance_changed(self, team_id: Any) -> None:
        pass

    async def enqueue_job(self, job_id: str) -> None:
        pass

    async def enqueue_poll(self, job_id: str, delay: float) -> None:
        pass

    async def enqueue_slot_recheck(self, job_id: str, delay: float) -> None:
        pass


class Slots:
    async def acquire(self, provider: str, job_id: str, limit: int) -> bool:
        return True

    async def keep(self, provider: str, job_id: str, limit: int) -> None:
        pass

    async def release(self, provider: str, job_id: str) -> str | None:
        return None

    async def holds(self, provider: str, job_id: str) -> bool:
        return False  # no slots are kept here: a canceled job is not followed to its task's end


@dataclass
class Provider(httpx.AsyncBaseTransport):
    """The simulator, with every request we send it recorded (and a hook to act mid-request)."""

    app: Starlette
    sent: list[tuple[str, str]] = field(default_factory=list)
    during: Callable[[httpx.Request], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        if self.during is not None:
            await self.during(request)
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


@dataclass
class World:
    team: Team
    services: Any
    provider: Provider
    sim: Any

    async def job(self, provider: str, prompt: str, estimate: int, **params: Any) -> CreativeJob:
        new = NewJob(
            team_id=self.team.id,
            user_id=uuid.uuid4(),
            type=CATALOG[provider].type,
            provider=provider,
            prompt=f"{prompt} #{uuid.uuid4().hex[:8]}",
            settings={"settings": {}, **params},
            drive_folder_id=(await default_folder(self.team.id)).id,
            estimated_cost_cents=estimate,
        )
        plan = batches.Plan([new], 1, [])
        return (await batches.submit(plan, queue=Recorder(), events=Recorder())).jobs[0]

    async def run(self, job: CreativeJob) -> str:
        """One worker run of the job (what each enqueued poll does)."""
        return await pipeline.run_job(self.services, str(job.id))

    async def cancel(self, job: CreativeJob) -> CreativeJob:
        return await job_ops.cancel(self.team.id, str(job.id), events=Recorder())

    async def available(self) -> int:
        return (await Team.get(id=self.team.id)).available_cents

    async def balance(self) -> int:
        return (await Team.get(id=self.team.id)).balance_cents

    async def ledger(self, job: CreativeJob) -> dict[str, int]:
        rows = await CreditTransaction.filter(job_id=job.id).values("kind", "amount_cents")
        return {row["kind"]: row["amount_cents"] for row in rows}

    async def audit_clean(self) -> None:
        problems, _ = await audit_team(await Team.get(id=self.team.id))
        assert problems == []


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        env="development",
        data_dir=tmp_path,
        database_url=f"sqlite://{tmp_path / 'cancel.sqlite3'}",
        simulator_url=SIM_ROOT,
        simulator_time_scale=0.05,
        poll_interval_scale=0.01,
        provider_env={},
    )
    await db.migrate(settings)
    await db.init(settings)
    sim_app = create_simulator_app(SIMULATOR_API_KEY, 0.05)
    provider = Provider(Starlette(routes=[Mount("/simulator", app=sim_app)]))
    async with httpx.AsyncClient(transport=provider, timeout=10) as client:
        team = (await create_team("cancel")).team
        await credits.top_up(team.id, 5_000)
        services = SimpleNamespace(
            settings=settings, http=client, events=Recorder(), queue=Recorder(), slots=Slots(), storage=None
        )
        try:
            yield World(team, services, provider, sim_app.state.sim)
        finally:
            await db.close()


def test_only_runway_says_it_can_cancel_a_submitted_task() -> None:
    # docs/providers.md: Runway documents DELETE /v1/tasks/{id}; Luma's Agents API has no cancel, and the others
    # (BFL, OpenAI, Ark, Kling, Veo, HeyGen, ElevenLabs, Creatomate) have no cancel.
    assert {p for p in CATALOG if registry.can_cancel(p)} == {"runway_gen4"}


async def test_a_job_canceled_before_the_worker_submitted_it_is_free(world: World) -> None:
    pending = await world.job("veo_3_1", "a 4K sunrise [sim:slow]", VEO_4K_8S, duration_seconds=8)
    started = await world.job("veo_3_1", "another 4K sunrise [sim:slow]", VEO_4K_8S, duration_seconds=8)
    assert await job_ops.start(started, events=Recorder()) is not None  # processing, not yet submitted
    for job in (pending, started):
        canceled = await world.cancel(job)
        assert canceled.status == JobStatus.CANCELED and canceled.cost_cents == 0
        assert "nothing was charged" in (canceled.error_message or "")
        assert await world.ledger(job) == {"HOLD": VEO_4K_8S, "RELEASE": VEO_4K_8S}
        assert await world.run(job) == "not open"  # the worker never submits it
    assert world.provider.sent == []
    assert await world.balance() == await world.available() == 5_000
    await world.audit_clean()


async def test_a_veo_job_canceled_while_processing_is_charged_and_not_canceled_at_the_provider(
    world: World,
) -> None:
    job = await world.job("veo_3_1", "a 4K sunrise [sim:slow]", VEO_4K_8S, duration_seconds=8)
    assert await world.run(job) == "submitted"
    assert await world.run(job) == "pending"  # rendering at the provider
    sent = len(world.provider.sent)

    canceled = await world.cancel(job)
    assert canceled.status == JobStatus.CANCELED
    assert canceled.cost_cents == VEO_4K_8S, "Veo bills the render it cannot stop"
    assert "reached the provider" in (canceled.error_message or "")
    assert await world.ledger(job) == {"HOLD": VEO_4K_8S, "CAPTURE": VEO_4K_8S}
    assert await world.balance() == await world.available() == 5_000 - VEO_4K_8S

    assert await world.run(job) == "not open"  # the poll the cancel enqueued
    assert world.provider.sent[sent:] == [], "no more polls, no download, no cancel Veo does not have"
    row = await CreativeJob.get(id=job.id)
    assert "provider_canceled" not in row.metadata and row.cost_cents == VEO_4K_8S
    assert world.sim.stats()["cancellations"] == {}
    await world.audit_clean()


async def test_a_runway_job_canceled_mid_render_is_stopped_at_runway(world: World) -> None:
    job = await world.job("runway_gen4", "a long take [sim:slow]", RUNWAY_10S, duration_seconds=10)
    assert await world.run(job) == "submitted"
    task_id = (await CreativeJob.get(id=job.id)).provider_task_id
    canceled = await world.cancel(job)
    # Assumed (docs/credits.md): Runway spends the task's credits when it accepts it and documents no
    # refund for a canceled task, so the cancel is charged like at any provider.
    assert canceled.cost_cents == RUNWAY_10S
    assert await world.run(job) == "not open"
    assert ("DELETE", f"/simulator/runway/v1/tasks/{task_id}") in world.provider.sent
    assert world.sim.stats()["cancellations"] == {"runway": 1}
    row = await CreativeJob.get(id=job.id)
    assert row.metadata["provider_canceled"] is True
    assert await world.run(job) == "not open"  # asked once: a second run sends nothing more
    assert world.provider.sent.count(("DELETE", f"/simulator/runway/v1/tasks/{task_id}")) == 1
    await world.audit_clean()


async def test_a_cancel_during_the_submission_call_is_charged_and_the_task_still_stopped(
    world: World,
) -> None:
    job = await world.job("runway_gen4", "canceled mid-submit [sim:slow]", RUNWAY_10S, duration_seconds=10)
    results: list[CreativeJob] = []

    async def cancel_on_submit(request: httpx.Request) -> None:
        if request.method == "POST":  # the provider is being handed the task right now
            results.append(await world.cancel(job))

    world.provider.during = cancel_on_submit
    assert await world.run(job) == "not open"
    world.provider.during = None
    assert results[0].cost_cents == RUNWAY_10S, "the submission was claimed: the provider may have it"
    row = await CreativeJob.get(id=job.id)
    assert row.status == JobStatus.CANCELED and row.provider_task_id, "the task id is kept after the cancel"
    assert ("DELETE", f"/simulator/runway/v1/tasks/{row.provider_task_id}") in world.provider.sent
    assert row.metadata["provider_canceled"] is True
    await world.audit_clean()


async def test_a_cancel_that_lands_while_the_output_is_ready_downloads_nothing(world: World) -> None:
    job = await world.job("veo_3_1", "a quick one", VEO_4K_8S, duration_seconds=8)
    assert await world.run(job) == "submitted"
    seen = await CreativeJob.get(id=job.id)  # what a worker run read before the cancel
    await world.cancel(job)
    later = time.monotonic() + 3600
    world.sim.clock = lambda: later  # the render is done by the time that run polls
    sent = len(world.provider.sent)
    assert await pipeline._advance(world.services, seen) == "not open"
    assert [method for method, _ in world.provider.sent[sent:]] == ["GET"], "the poll; no download"
    row = await CreativeJob.get(id=job.id)
    assert row.status == JobStatus.CANCELED and row.result_urls == [] and row.cost_cents == VEO_4K_8S
    await world.audit_clean()


async def test_cancel_racing_completion_charges_once(world: World) -> None:
    outcomes = []
    for n in range(6):
        job = await world.job("veo_3_1", f"race {n}", VEO_4K_8S, duration_seconds=8)
        job = await job_ops.start(job, events=Recorder())
        assert job is not None
        await job_ops.record_provider_task(job, f"operations/{n}", {})
        actual = VEO_4K_8S - 60  # the render came out shorter than asked

        async def cancel(job: CreativeJob = job) -> str:
            try:
                await world.cancel(job)
            except DomainError as exc:
                return exc.code.value
            return "canceled"

        completed, canceled = await asyncio.gather(
            job_ops.complete(job, result_urls=[], cost_cents=actual, metadata={}, events=Recorder()),
            cancel(),
        )
        row = await CreativeJob.get(id=job.id)
        entries = await world.ledger(job)
        if row.status == JobStatus.COMPLETED:
            assert completed and canceled == "CONFLICT"
            assert entries == {"HOLD": VEO_4K_8S, "CAPTURE": actual, "RELEASE": 60}
        else:
            assert not completed and canceled == "canceled" and row.status == JobStatus.CANCELED
            assert entries == {"HOLD": VEO_4K_8S, "CAPTURE": VEO_4K_8S}
        assert row.cost_cents == entries["CAPTURE"]
        outcomes.append(row.status)
    assert await CreditTransaction.filter(team_id=world.team.id, kind="CAPTURE").count() == 6
    assert await world.balance() == await world.available()
    await world.audit_clean()


async def test_a_submit_and_cancel_loop_is_not_free(world: World) -> None:
    rounds = 5
    for n in range(rounds):
        job = await world.job("veo_3_1", f"loop {n} [sim:slow]", VEO_4K_8S, duration_seconds=8)
        assert await world.run(job) == "submitted"
        await world.cancel(job)
        assert await world.run(job) == "not open"
    assert world.sim.stats()["submissions"] == {"gemini": rounds}
    assert await world.balance() == await world.available() == 5_000 - rounds * VEO_4K_8S
    # The billing page counts what was charged, canceled or not.
    now = datetime.now(UTC)
    usage = await credit_usage(world.team.id, now - timedelta(hours=1), now + timedelta(hours=1), "provider")
    spent = rounds * VEO_4K_8S
    assert usage == [UsageRow("veo_3_1", spent, rounds, (UsageRow("video", spent, rounds),))]
    await world.audit_clean()
