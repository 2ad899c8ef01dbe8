"""One creative job through its provider: start, submit (once), poll by re-enqueueing, copy the
outputs into Drive, settle. Every step assumes it may run twice; the second run is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from models import creatives, drive, pricing
from models import jobs as job_ops
from models.jobs import CreativeJob, JobStatus
from providers import lifecycle, registry
from providers.base import Adapter, Done, InputFile, JobSpec, Pending, Submitted, input_file_ids
from providers.catalog import CATALOG
from providers.download import fetch_output
from providers.errors import (
    InvalidInputError,
    NotConfiguredError,
    OutputError,
    ProviderError,
    RejectedError,
    RetryableError,
)
from providers.hosts import output_hosts
from services.auth import signed_result_urls
from services.container import Services
from services.log_safety import describe_error, redact_query

log = logging.getLogger(__name__)

SUBMISSION_GRACE_SECONDS = 2.0
# The time limit of the worker run this code runs in (tasks/worker.py sets it), if any.
RUN_BUDGET: ContextVar[asyncio.Timeout | None] = ContextVar("run_budget", default=None)


@contextlib.contextmanager
def outside_run_budget() -> Iterator[None]:
    """A submission to the provider (claim, call, task id stored) is never cut by the run's budget:
    a run cut there would be retried at once and, not knowing whether the provider took the job,
    submit it again (billed twice). Inside, only arq's own job timeout applies, and the claim then
    runs out as it always did; after it, an expired budget ends the run at its next wait."""
    budget = RUN_BUDGET.get()
    if budget is None or budget.expired():
        yield
        return
    when = budget.when()
    budget.reschedule(None)
    try:
        yield
    finally:
        # a deadline passed meanwhile leaves the submission's own error handling (a retry counted
        # and scheduled, a refusal recorded) a moment to finish before the run ends
        grace = asyncio.get_running_loop().time() + SUBMISSION_GRACE_SECONDS
        budget.reschedule(None if when is None else max(when, grace))


MAX_RETRIES = 8
OUTPUT_TYPES = {
    "image": ("image/",),
    "video": ("video/",),
    "avatar": ("video/",),
    "tts": ("audio/",),
    "composite": ("video/", "image/", "audio/"),
}


async def job_spec(services: Services, job: CreativeJob, *, submitting: bool = False) -> JobSpec:
    """What the adapter sees: the validated params; to submit, also the input files loaded and the
    composite's inputs as signed URLs. Polls and cancels need neither (the provider has them), so
    they read no input bytes, and an input deleted while the provider works does not fail the job."""
    params: dict[str, Any] = dict(job.settings)
    inputs: list[InputFile] = []
    team_id = job.team_id
    if not submitting:
        return JobSpec(
            job_id=str(job.id), type=job.type, provider=job.provider, prompt=job.prompt, params=params
        )
    for file_id in input_file_ids(params):  # the first frame, the references, the portrait
        file = await drive.team_file(team_id, file_id)
        if file is None:  # deleted after the job was accepted: the job fails free, nothing sent
            raise InvalidInputError("an input image is no longer in Drive", code="input_gone")
        inputs.append(
            InputFile(str(file.id), file.content_type, await services.storage.get(file.storage_key))
        )
    if params.get("inputs"):
        # Each element's file, looked up again: one deleted since acceptance fails the job free
        # rather than sending the provider a link that answers 404.
        if await drive.missing_files(team_id, [item["file_id"] for item in params["inputs"]]):
            raise InvalidInputError("an input file is no longer in Drive", code="input_gone")
        signed = signed_result_urls([item["file_id"] for item in params["inputs"]], services.settings)
        urls = {item["name"]: url for item, url in zip(params["inputs"], signed, strict=True)}
        params["modifications"] = {**params.get("modifications", {}), **urls}
    return JobSpec(
        job_id=str(job.id),
        type=job.type,
        provider=job.provider,
        prompt=job.prompt,
        params=params,
        input_files=tuple(inputs),
    )


# Outcomes after which the job's provider slot is given back (_finish gives its own back first).
ENDED = frozenset({"deadline", "failed"})
# How often a job waiting for a provider slot looks again, in case the hand-off it waits for is lost.
SLOT_RECHECK_SECONDS = 10.0


async def run_job(services: Services, job_id: str) -> str:
    """The arq task. Returns a word for arq's result log."""
    job = await CreativeJob.get_or_none(id=job_id)
    if job is None:
        return "gone"
    return await _run(services, job)


async def _run(services: Services, job: CreativeJob) -> str:
    if job.is_terminal:
        await _after_end(services, job)
        return "not open"
    if creatives.is_waiting(job):  # a creative's job whose inputs have not all completed
        return await creatives.recheck(
            job, queue=services.queue, events=services.events, deadline_scale=services.settings.deadline_scale
        )
    if job.provider_task_id is None and not await _provider_slot(services, job):
        return "waiting for a provider slot"
    started = await job_ops.start(job, events=services.events)
    if started is None:  # it ended while we looked
        await _after_end(services, job)
        return "not open"
    outcome = await _advance(services, started)
    if outcome in ENDED:
        await _release_slot(services, started)
    return outcome


async def _provider_slot(services: Services, job: CreativeJob) -> bool:
    """A slot at the job's provider before it submits; without one the job waits (still pending,
    off the worker) for a finishing job to hand its slot over."""
    limit = services.settings.provider_concurrency_limit(job.provider)
    if await services.slots.acquire(job.provider, str(job.id), limit):
        return True
    await services.slots.wait(job.provider, str(job.id))
    # Its place in the line, published when it changed (a waiter looks again every recheck).
    position = await services.slots.position(
        job.provider, str(job.id), await job_ops.may_wait_for_a_slot(job.team_id, job.provider)
    )
    published = await job_ops.record_queue_position(job, position, limit, events=services.events)
    stale = datetime.now(UTC) - timedelta(seconds=services.settings.stale_after_seconds / 2)
    if not published and job.updated_at < stale:
        await job_ops.touch(job)  # still followed: the sweep leaves it alone
    recheck = SLOT_RECHECK_SECONDS * max(0.1, services.settings.poll_interval_scale)
    await services.queue.enqueue_slot_recheck(str(job.id), recheck * random.uniform(0.8, 1.2))
    return False


async def recheck_slot(services: Services, job_id: str) -> str:
    """The waiting job's own periodic look: runs it only if it is still waiting (a job handed a
    slot meanwhile is already running, and must not be run twice)."""
    job = await CreativeJob.get_or_none(id=job_id)
    if job is None or job.is_terminal or not await services.slots.is_waiting(job.provider, job_id):
        return "no longer waiting"
    return await _run(services, job)


async def _release_slot(services: Services, job: CreativeJob) -> None:
    waiter = await services.slots.release(job.provider, str(job.id))
    if waiter is not None:
        await services.queue.enqueue_poll(waiter, 0)


async def _submit(services: Services, job: CreativeJob, adapter: Adapter, spec: JobSpec) -> str:
    """Submit the job to its provider, once: claimed first, the provider's task id stored after (a
    provider answering at once is finished here: its outputs copied and the job settled)."""
    # A claim outlives any run that could still be submitting (job timeout + arq's 10 s).
    claim_ttl = timedelta(seconds=services.settings.job_timeout_seconds + 10)
    if not await job_ops.claim_submission(job, claim_ttl):
        # Another run of this job is submitting right now: come back and follow its task.
        await services.queue.enqueue_poll(str(job.id), 1.0 * services.settings.poll_interval_scale)
        return "another run is submitting"
    try:
        # accepted before its model's shutdown, run after it: fail free, never call
        lifecycle.ensure_served(job.provider, job.settings, lifecycle.config(services.settings))
        submitted = await adapter.submit(spec)
    except Exception:  # not accepted (as far as we know): a later run may submit again
        await job_ops.release_submission(job)
        raise
    if isinstance(submitted, Done):
        return await _finish(services, job, submitted)
    assert isinstance(submitted, Submitted)
    if not await job_ops.record_provider_task(job, submitted.task_id, submitted.state):
        if job.is_terminal:  # canceled while submitting: stop here (the task id is kept)
            await _after_end(services, job)
            return "not open"
        log.warning("job %s: another run submitted first; following task %s", job.id, job.provider_task_id)
    await services.queue.enqueue_poll(str(job.id), submitted.retry_after)
    return "submitted"


async def _advance(services: Services, job: CreativeJob) -> str:
    """One step of an open job: submit it (once), or poll its provider task, or finish it."""
    events = services.events
    if job.deadline_at and datetime.now(UTC) > job.deadline_at:
        await job_ops.fail(job, "the job did not finish in time; nothing was charged", events=events)
        return "deadline"
    try:
        adapter = registry.adapter_for(job.provider, services.http, services.settings)
        spec = await job_spec(services, job, submitting=job.provider_task_id is None)
        if job.provider_task_id is None:
            with outside_run_budget():
                return await _submit(services, job, adapter, spec)
        result = await adapter.poll(spec, job.provider_task_id, job.provider_state)
        if isinstance(result, Done):
            return await _finish(services, job, result)
        assert isinstance(result, Pending)
        # Touches the job; stores and publishes its progress when it moved enough (models/progress.py).
        await job_ops.record_progress(job, result.progress, events=events)
        await services.slots.keep(
            job.provider, str(job.id), services.settings.provider_concurrency_limit(job.provider)
        )
        await services.queue.enqueue_poll(str(job.id), result.retry_after)
        return "pending"
    except RetryableError as exc:
        return await _retry_later(services, job, exc)
    except (RejectedError, NotConfiguredError) as exc:
        await _fail(services, job, exc)
        return "failed"


async def _fail(services: Services, job: CreativeJob, exc: ProviderError) -> None:
    """Fail the job with the error class's fixed text; the provider's own words (which may hold
    anything: internals, other people's data) go to the server log only, with the job id, and
    with the capabilities of any signed link they quote (an input's URL) redacted."""
    log.warning(
        "job %s (%s) failed: %s: %s [code %s]",
        job.id,
        job.provider,
        type(exc).__name__,
        redact_query(exc.message),
        exc.code,
    )
    await job_ops.fail(job, exc.public, events=services.events)


async def _retry_later(services: Services, job: CreativeJob, exc: RetryableError) -> str:
    retries = int(job.metadata.get("retries", 0)) + 1
    if retries > MAX_RETRIES:
        await _fail(services, job, exc)
        return "failed"
    await CreativeJob.filter(id=job.id).update(metadata={**job.metadata, "retries": retries})
    # Exponential backoff with jitter, or the provider's own Retry-After when it gave one.
    delay = (
        exc.retry_after if exc.retry_after is not None else min(60.0, 2.0**retries) * random.uniform(0.5, 1.0)
    )
    await services.queue.enqueue_poll(str(job.id), delay * services.settings.poll_interval_scale)
    log.info(
        "job %s: retryable provider error (%s), retry %d in %.1fs",
        job.id,
        redact_query(exc.message),
        retries,
        delay,
    )
    return "retry"


async def _finish(services: Services, job: CreativeJob, done: Done) -> str:
    """Copy every output into the team's Drive, then complete and settle in one transaction."""
    await job.refresh_from_db()
    if job.is_terminal:  # canceled while the provider worked: nothing more to fetch or settle
        await _after_end(services, job, task_over=True)
        return "not open"
    await _release_slot(services, job)  # the provider's task is over: its slot is free for the next
    team_id = job.team_id
    folder_id = job.drive_folder_id  # store_output falls back to the default folder
    urls = []
    production = services.settings.env == "production"
    # In production outputs come only from the provider's own hosts, over https.
    hosts = output_hosts(CATALOG[job.provider].family, services.settings.provider_env) if production else None
    for index, output in enumerate(done.outputs):
        data, content_type = await fetch_output(
            services.http,
            output,
            max_bytes=services.settings.max_output_bytes,
            allowed_types=OUTPUT_TYPES[job.type],
            allowed_hosts=hosts,
            require_https=production,
        )
        file = await drive.store_output(
            services.storage,
            team_id=team_id,
            folder_id=folder_id,
            job_id=job.id,
            job_type=job.type,
            provider=job.provider,
            prompt=job.prompt or "",
            index=index,
            data=data,
            content_type=content_type,
            take=drive.take_of(
                (job.metadata or {}).get("placement"),
                (job.metadata or {}).get("variant"),
                (job.metadata or {}).get("variants"),
            ),
        )
        urls.append(f"/files/{file.id}")
    if not urls:
        raise OutputError("the provider finished without any output", code="no_output")
    if done.usage is not None:
        cost = pricing.final_cost(job, done.usage)
        usage = {"units": done.usage.units, **done.usage.details}
    else:
        cost, usage = job.estimated_cost_cents, {}
    if services.settings.fault_crash_before_settle:
        log.error("job %s: CH_FAULT_CRASH_BEFORE_SETTLE is set: exiting before settling", job.id)
        os._exit(137)
    won = await job_ops.complete(
        job,
        result_urls=urls,
        cost_cents=cost,
        metadata={**done.metadata, "usage": usage},
        events=services.events,
    )
    return "completed" if won else "already settled"


async def _after_end(services: Services, job: CreativeJob, *, task_over: bool = False) -> None:
    """A job that ended outside the pipeline (canceled, or failed by the deadline sweep): give its
    provider slot back once the provider no longer runs its task (``task_over``: the caller saw it
    end), and ask the provider to stop its task where the provider can cancel (once).
    ``provider_canceled`` is recorded only when the provider confirmed it."""
    if not task_over and await _still_rendering(services, job):
        return
    await _release_slot(services, job)
    if job.status != JobStatus.CANCELED or not job.provider_task_id:
        return
    if job.metadata.get("provider_canceled") or not registry.can_cancel(job.provider):
        return  # a provider without a cancel finishes the task; the cancel charged it
    try:
        adapter = registry.adapter_for(job.provider, services.http, services.settings)
        confirmed = await adapter.cancel(
            await job_spec(services, job), job.provider_task_id, job.provider_state
        )
    except Exception as exc:  # the provider's error may name a presigned URL: redacted, no traceback
        log.warning("job %s: cancel at the provider failed: %s", job.id, describe_error(exc))
        return
    if confirmed:
        await CreativeJob.filter(id=job.id).update(metadata={**job.metadata, "provider_canceled": True})


async def _still_rendering(services: Services, job: CreativeJob) -> bool:
    """True while a canceled job's task still runs at a provider that cannot stop it: the provider
    counts that task against our concurrency until it ends, so the job keeps its slot (a waiter
    would otherwise be submitted over the provider's cap) and is looked at again after the
    provider's poll interval. Nothing of the job changes. The slot is given back once the provider
    reports the task over (done, failed or unknown), or once the job's deadline has passed."""
    if job.status != JobStatus.CANCELED or not job.provider_task_id or registry.can_cancel(job.provider):
        return False
    limit = services.settings.provider_concurrency_limit(job.provider)
    if limit <= 0 or not await services.slots.holds(job.provider, str(job.id)):
        return False
    if job.deadline_at and datetime.now(UTC) > job.deadline_at:
        return False
    try:
        adapter = registry.adapter_for(job.provider, services.http, services.settings)
        result = await adapter.poll(await job_spec(services, job), job.provider_task_id, job.provider_state)
    except RetryableError as exc:  # the provider is briefly unavailable: the task may still run
        wait = exc.retry_after if exc.retry_after is not None else 5.0
        delay = wait * services.settings.poll_interval_scale
    except ProviderError:  # failed or unknown at the provider: over
        return False
    else:
        if not isinstance(result, Pending):
            return False
        delay = result.retry_after
    await services.slots.keep(job.provider, str(job.id), limit)
    await services.queue.enqueue_poll(str(job.id), delay)
    return True
