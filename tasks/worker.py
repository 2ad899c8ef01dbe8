"""arq worker settings: ``python main.py worker`` runs :func:`run_worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron
from arq.worker import Worker

from models import jobs as job_ops
from models.jobs import OPEN, CreativeJob
from services import Services, open_services
from settings import Settings
from tasks import pipeline
from tasks import webhooks as webhook_tasks
from tasks.queue import redis_settings

log = logging.getLogger(__name__)


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    return await pipeline.run_job(ctx["services"], job_id)


async def recheck_slot(ctx: dict[str, Any], job_id: str) -> str:
    return await pipeline.recheck_slot(ctx["services"], job_id)


async def dispatch_webhooks(ctx: dict[str, Any], team_id: str) -> int:
    return await webhook_tasks.dispatch(ctx["services"], team_id)


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    return await webhook_tasks.deliver(ctx["services"], delivery_id)


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Fail open jobs past their deadline (releasing their holds), re-enqueue jobs nobody has
    touched for a while (their worker died, or an enqueue was lost), and catch up on webhooks."""
    services: Services = ctx["services"]
    now = datetime.now(UTC)
    failed = requeued = 0
    async for job in CreativeJob.filter(status__in=OPEN, deadline_at__lt=now).limit(500):
        if await job_ops.fail(
            job, "the job did not finish in time; nothing was charged", events=services.events
        ):
            failed += 1
    stale_after = timedelta(seconds=services.settings.stale_after_seconds)
    stale = CreativeJob.filter(status__in=OPEN, updated_at__lt=now - stale_after).limit(500)
    async for job in stale:
        await services.queue.enqueue_poll(str(job.id), 0)
        requeued += 1
    return {"failed": failed, "requeued": requeued, **await webhook_tasks.sweep(services)}


def _every(seconds: int) -> set[int]:
    """The seconds of each minute at which a cron job every ``seconds`` (at most 60) runs."""
    step = min(60, max(1, seconds))
    return set(range(0, 60, step))


def worker(settings: Settings, services: Services | None = None, *, burst: bool = False) -> Worker:
    """An arq worker. With ``services`` it shares the caller's resources (``dev`` runs API and worker
    in one process); otherwise it opens its own at start-up."""
    holder: dict[str, Any] = {}

    async def startup(ctx: dict[str, Any]) -> None:
        if services is not None:
            ctx["services"] = services
        else:
            holder["cm"] = open_services(settings)
            ctx["services"] = await holder["cm"].__aenter__()

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "cm" in holder:
            await holder["cm"].__aexit__(None, None, None)

    assert settings.redis_url
    return Worker(
        functions=[run_job, recheck_slot, dispatch_webhooks, deliver_webhook],
        cron_jobs=[
            cron(sweep, second=_every(settings.sweep_interval_seconds), run_at_startup=False, unique=True)
        ],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        max_jobs=settings.worker_max_jobs,
        # Each run is one provider call or poll, so a short timeout lets a killed worker's job
        # be picked up again quickly (arq re-runs it after timeout + 10 s).
        job_timeout=settings.job_timeout_seconds,
        max_tries=20,
        # How often arq looks for due jobs (default 0.5 s): every hop of a job (submit, each poll,
        # a slot hand-off) waits up to this long, so a short one is a real latency and throughput gain.
        poll_delay=0.1,
        keep_result=60,
        burst=burst,
        handle_signals=services is None,
    )


async def run_worker(settings: Settings, services: Services | None = None) -> None:
    """Run an arq worker until cancelled, starting a fresh one whenever it dies (a Redis outage
    ends arq's loop); open jobs are recovered by the sweep once Redis is back."""
    while True:
        w = worker(settings, services)
        try:
            await w.async_run()
            return
        except asyncio.CancelledError:  # a signal (arq cancels its main task) or our caller: stop
            return
        except Exception:
            log.exception("the worker stopped; starting a new one in 2 s")
            await asyncio.sleep(2)
        finally:
            with contextlib.suppress(Exception):
                await w.close()
