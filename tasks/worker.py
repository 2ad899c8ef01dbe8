"""arq worker settings: ``python main.py worker`` runs :func:`run_worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import cron
from arq.worker import Retry, Worker, func

from models import creatives, drive
from models import jobs as job_ops
from models.errors import DomainError
from models.jobs import OPEN, CreativeJob
from services import outages
from services.container import Services, open_services
from services.queue import redis_settings, upload_queue_name
from services.settings import Settings
from tasks import billing_email, pipeline
from tasks import webhooks as webhook_tasks

log = logging.getLogger(__name__)

# The most open jobs a sweep re-enqueues as stale (the next sweep takes the rest).
_STALE_BATCH = 500


def _again_later(ctx: dict[str, Any], exc: Exception) -> Retry:
    """A run that failed because the database or Redis could not be reached runs again shortly
    (0.5 s, doubling to 5 s), so a job resumes within seconds of the server's return instead of
    waiting for the stale sweep. Past arq's ``max_tries`` the run ends; the sweep's
    ``requeue_lost`` enqueues the job again once the database answers."""
    delay = min(5.0, 0.5 * 2 ** (int(ctx.get("job_try", 1)) - 1))
    log.warning("run %s: %s; again in %.1f s", ctx.get("job_id"), outages.describe(exc), delay)
    return Retry(defer=delay)


def _run_budget(settings: Settings) -> float:
    """How long one run may take before it gives up and runs again: a little under arq's job
    timeout, so that the run ends here (and is retried) rather than in arq (which drops a timed-out
    run: its job would wait for the sweep)."""
    timeout = float(settings.job_timeout_seconds)
    return timeout - max(1.0, timeout / 10)


async def _through_outages(ctx: dict[str, Any], job_id: str, run: Callable[[], Awaitable[str]]) -> str:
    budget = asyncio.timeout(_run_budget(ctx["services"].settings))
    try:
        if int(ctx.get("job_try", 1)) > 1:  # an earlier attempt met an outage, its time, or its worker died
            await job_ops.release_submission_claimed_since(job_id, ctx["enqueue_time"])
        async with budget:
            token = pipeline.RUN_BUDGET.set(budget)  # a submission in flight steps outside it
            try:
                return await run()
            finally:
                pipeline.RUN_BUDGET.reset(token)
    except Exception as exc:
        # Out of time (mostly waiting for the database: on SQLite its one connection and its write
        # lock, under load) runs again shortly, as after an outage; the next run takes its claim back.
        if not (isinstance(exc, TimeoutError) and budget.expired()) and not outages.is_unavailable(exc):
            raise
        raise _again_later(ctx, exc) from exc


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    return await _through_outages(ctx, job_id, lambda: pipeline.run_job(ctx["services"], job_id))


async def recheck_slot(ctx: dict[str, Any], job_id: str) -> str:
    return await _through_outages(ctx, job_id, lambda: pipeline.recheck_slot(ctx["services"], job_id))


async def dispatch_webhooks(ctx: dict[str, Any], team_id: str) -> int:
    return await webhook_tasks.dispatch(ctx["services"], team_id)


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    return await webhook_tasks.deliver(ctx["services"], delivery_id)


async def deliver_billing_email(ctx: dict[str, Any], email_id: str) -> str:
    return await billing_email.deliver(ctx["services"], email_id)


async def check_upload(ctx: dict[str, Any], team_id: str, file_id: str) -> dict[str, Any]:
    """An upload's content checked here, not in the API (models.drive.complete_upload: the bytes
    are read from storage into a temporary file, decoded, thumbnailed and stored under the file's
    own key). Run by the upload-check worker (``upload_worker``): at most
    ``CH_UPLOAD_CHECK_CONCURRENCY`` at once per process, as decoding is CPU and disk. The outcome is
    what the API answers: ``ok``, or the user error (a refusal, NOT_FOUND)."""
    services: Services = ctx["services"]
    outcome: dict[str, Any] = {"team_id": team_id, "file_id": file_id}
    try:
        await drive.complete_upload(
            services.storage, team_id, file_id, check_timeout=ctx.get("check_timeout", drive.CHECK_TIMEOUT)
        )
    except DomainError as exc:
        error = {"code": exc.code.value, "message": exc.message, "field": exc.field}
        # Still pending (nothing was PUT yet): the next check must run again, not answer this.
        return {**outcome, "error": error, "again": await drive.still_pending(file_id)}
    except Exception as exc:
        if not outages.is_unavailable(exc):
            raise
        raise _again_later(ctx, exc) from exc
    return {**outcome, "ok": True}


async def sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Fail open jobs past their deadline (releasing their holds), re-enqueue jobs nobody has
    touched for a while (their worker died, or an enqueue was lost), catch up on webhooks, and
    remove Drive uploads left pending for a day (their reservations and bytes) and what upload URLs
    wrote after their upload was done with, once they have expired."""
    services: Services = ctx["services"]
    now = datetime.now(UTC)
    failed = requeued = 0
    async for job in CreativeJob.filter(status__in=OPEN, deadline_at__lt=now).limit(500):
        if await job_ops.fail(
            job, "the job did not finish in time; nothing was charged", events=services.events
        ):
            failed += 1
    stale_after = timedelta(seconds=services.settings.stale_after_seconds)
    stale = CreativeJob.filter(status__in=OPEN, updated_at__lt=now - stale_after).order_by("updated_at")
    # A creative's waiting dependant is untouched by design (no worker follows it until its inputs
    # end): not stale. ``requeue_lost`` settles the ones whose inputs all ended.
    async for job in stale.only("id", "status", "metadata").limit(_STALE_BATCH * 2):
        if requeued >= _STALE_BATCH:
            break
        if creatives.is_waiting(job):
            continue
        await services.queue.enqueue_poll(str(job.id), 0)
        requeued += 1
    lost = await requeue_lost(services)
    expired = await drive.cleanup_pending(services.storage, now=now)
    incoming = await drive.cleanup_incoming(services.storage, now=now)
    return {
        "failed": failed,
        "requeued": requeued,
        "lost": lost,
        "uploads_expired": expired,
        "incoming_removed": incoming,
        **await webhook_tasks.sweep(services),
        **await billing_email.sweep(services),
    }


async def requeue_lost(services: Services) -> int:
    """Enqueue every open job that has no entry in the queue: Redis lost it (a restart without
    persistence loses the whole queue) or an enqueue failed while Redis was away. Runs when a
    worker starts (``run_worker`` starts a new one when Redis comes back) and in every sweep.

    A creative's dependant waiting for its inputs has no entry by design and is left alone, unless
    it is stranded (every input ended, the hook that should have moved it lost: see
    ``models.creatives.stranded``): that one is settled here as the hook would have (released and
    enqueued, or failed free), and counted apart from the lost entries.

    One worker at a time (a short lock in Redis). A job whose enqueue lands between the two reads
    below may get a second entry; a job runs twice harmlessly (see ``tasks.pipeline``)."""
    lock = f"{services.settings.queue_name}:requeue-lost"
    if not await services.redis.set(lock, "1", nx=True, ex=60):
        return 0
    settled = 0
    try:
        open_jobs = await CreativeJob.filter(status__in=OPEN).only("id", "status", "metadata")
        queued = await services.queue.queued_job_ids()
        missing = [job for job in open_jobs if str(job.id) not in queued]
        waiting = [job for job in missing if creatives.is_waiting(job)]
        lost = [str(job.id) for job in missing if not creatives.is_waiting(job)]
        for job_id in lost:
            await services.queue.enqueue_poll(job_id, 0)
        for partial in await creatives.stranded(waiting):
            job = await CreativeJob.get_or_none(id=partial.id)
            if job is not None and creatives.is_waiting(job):
                await creatives.recheck(
                    job,
                    queue=services.queue,
                    events=services.events,
                    deadline_scale=services.settings.deadline_scale,
                )
                settled += 1
    finally:
        await services.redis.delete(lock)
    if lost:
        log.warning("re-enqueued %d open jobs whose queue entries were lost", len(lost))
    if settled:
        log.warning("moved %d waiting jobs of creatives whose inputs had all ended", settled)
    return len(lost)


def _every(seconds: int) -> set[int]:
    """The seconds of each minute at which a cron job every ``seconds`` (at most 60) runs."""
    step = min(60, max(1, seconds))
    return set(range(0, 60, step))


def worker(settings: Settings, services: Services, *, handle_signals: bool, burst: bool = False) -> Worker:
    """An arq worker on the caller's resources (``run_worker`` opens them once, however often the
    worker is replaced; ``dev`` shares its API's)."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["services"] = services
        try:  # a worker starts after Redis came back: what the queue lost is queued again at once
            await requeue_lost(services)
        except Exception as exc:  # the sweep tries again
            log.warning("could not look for open jobs missing from the queue (%s)", outages.describe(exc))

    assert settings.redis_url
    return Worker(
        functions=[
            run_job,
            recheck_slot,
            dispatch_webhooks,
            deliver_webhook,
            deliver_billing_email,
        ],
        cron_jobs=[
            cron(sweep, second=_every(settings.sweep_interval_seconds), run_at_startup=False, unique=True)
        ],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=startup,
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
        handle_signals=handle_signals,
    )


def upload_worker(settings: Settings, services: Services) -> Worker:
    """The upload checks' own arq worker, on their own queue (``services.queue.upload_queue_name``),
    in the same process as the job worker. A check reads, decodes and writes up to a GB: it has its
    own timeout, and its slots are its own, so checks neither hold up jobs, polls and webhooks nor
    lengthen how long a dead worker's job claims last (arq's claim is its longest timeout + 10 s).
    Its outcome is kept an hour, so asking again answers it (``JobQueue.check_upload``)."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["services"] = services
        # What a check writes is kept from the sweep this long (models.drive.complete_upload).
        ctx["check_timeout"] = timedelta(seconds=settings.upload_check_timeout_seconds)

    assert settings.redis_url
    return Worker(
        functions=[func(check_upload, timeout=settings.upload_check_timeout_seconds, keep_result=3600)],
        redis_settings=redis_settings(settings.redis_url),
        queue_name=upload_queue_name(settings.queue_name),
        on_startup=startup,
        max_jobs=settings.upload_check_concurrency,
        max_tries=20,
        poll_delay=0.1,
        handle_signals=False,  # the job worker's signal handling stops both (_run_workers)
    )


async def run_worker(settings: Settings, services: Services | None = None) -> None:
    """Run an arq worker until cancelled, starting a fresh one whenever it dies (a Redis outage
    ends arq's loop). The fresh one starts once Redis answers again and re-enqueues at once the
    open jobs the queue lost (``requeue_lost``). Without ``services`` (``python main.py worker``)
    it opens its own, once, waiting for Redis and the database when they are not there yet."""
    if services is not None:  # dev: the caller's resources, and the caller handles signals
        await _run_workers(settings, services, handle_signals=False)
        return
    while True:
        resources = open_services(settings)
        try:
            opened = await resources.__aenter__()
        except Exception as exc:
            if not outages.is_unavailable(exc):
                raise
            log.warning("the worker cannot start yet (%s); trying again in 2 s", outages.describe(exc))
            await asyncio.sleep(2)
            continue
        try:
            await _run_workers(settings, opened, handle_signals=True)
        finally:
            with contextlib.suppress(Exception):
                await resources.__aexit__(None, None, None)
        return


async def _run_workers(settings: Settings, services: Services, *, handle_signals: bool) -> None:
    await _remove_stale_spools(settings)
    checks = asyncio.create_task(_run_upload_checks(settings, services))
    try:
        while True:
            w = worker(settings, services, handle_signals=handle_signals)
            try:
                await w.async_run()
                return
            except asyncio.CancelledError:  # a signal (arq cancels its main task) or our caller: stop
                return
            except Exception as exc:
                log.warning("the worker stopped (%s); starting a new one", outages.describe(exc))
                await _let_runs_finish(w, settings.job_timeout_seconds)
                await asyncio.sleep(1)
            finally:
                await _close(w)
    finally:
        checks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checks


async def _remove_stale_spools(settings: Settings) -> None:
    """Before this process runs a check: the temporary files a killed worker's checks left."""
    longest = timedelta(seconds=settings.upload_check_timeout_seconds) + drive.PUT_MARGIN
    try:
        removed = await asyncio.to_thread(drive.remove_stale_spools, older_than=longest)
    except OSError as exc:
        log.warning("could not look for upload checks' stale temporary files (%s)", exc)
        return
    if removed:
        log.warning("removed %d temporary files of upload checks that were killed", removed)


async def _run_upload_checks(settings: Settings, services: Services) -> None:
    """The upload-check worker, started again whenever it dies (a Redis outage ends arq's loop)."""
    while True:
        checker = upload_worker(settings, services)
        try:
            await checker.async_run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("the upload-check worker stopped (%s); starting a new one", outages.describe(exc))
            await asyncio.sleep(1)
        finally:
            await _close(checker)


async def _let_runs_finish(w: Worker, within: float) -> None:
    """Runs in flight when arq's loop died finish by themselves rather than being cancelled (one
    cancelled while submitting would hold its job's submission claim for a whole job timeout).
    What they could not enqueue without Redis, the next worker's ``requeue_lost`` enqueues."""
    running = [task for task in w.tasks.values() if not task.done()]
    if running:
        await asyncio.wait(running, timeout=within)
    for key, task in list(w.tasks.items()):
        if task.done():
            if not task.cancelled():
                task.exception()  # retrieved: arq logged it, or could not without Redis
            del w.tasks[key]


async def _close(w: Worker) -> None:
    """Close a worker whose Redis may be gone (the services outlive it)."""
    try:
        await w.close()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except Exception:
        pass
