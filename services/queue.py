"""Enqueueing work for the workers (used by the API and by the pipeline itself)."""

from __future__ import annotations

import time
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import result_key_prefix
from arq.jobs import Job, ResultNotFound

# How often a request waiting for an upload's check looks for its outcome.
CHECK_POLL_SECONDS = 0.05


def upload_queue_name(queue_name: str) -> str:
    """Upload checks have a queue (and workers) of their own: a check may take minutes, and must
    neither take the job workers' slots nor lengthen how long a dead job worker's claims last."""
    return f"{queue_name}:uploads"


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


class JobQueue:
    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool
        self.upload_queue = upload_queue_name(pool.default_queue_name)

    @classmethod
    async def connect(cls, redis_url: str, queue_name: str) -> JobQueue:
        return cls(await create_pool(redis_settings(redis_url), default_queue_name=queue_name))

    async def enqueue_job(self, job_id: str) -> None:
        """Run a creative job; arq's job id is our job id, so a duplicate enqueue is a no-op."""
        await self.pool.enqueue_job("run_job", job_id, _job_id=job_id)

    async def enqueue_poll(self, job_id: str, delay: float) -> None:
        """Come back to a job after ``delay`` seconds (a provider poll or a retry)."""
        await self.pool.enqueue_job(
            "run_job", job_id, _job_id=f"{job_id}:{time.time_ns()}", _defer_by=max(0.0, delay)
        )

    async def enqueue_slot_recheck(self, job_id: str, delay: float) -> None:
        """A job waiting for a provider slot looks again (see ``tasks.provider_slots``)."""
        await self.pool.enqueue_job(
            "recheck_slot", job_id, _job_id=f"{job_id}:slot:{time.time_ns()}", _defer_by=max(0.0, delay)
        )

    async def enqueue_webhook_dispatch(self, team_id: str) -> None:
        """Turn a team's new outbox events into webhook deliveries (idempotent; the sweep is the backstop)."""
        await self.pool.enqueue_job("dispatch_webhooks", team_id, _job_id=f"wh:{team_id}:{time.time_ns()}")

    async def enqueue_webhook_delivery(self, delivery_id: str, delay: float) -> None:
        await self.pool.enqueue_job(
            "deliver_webhook",
            delivery_id,
            _job_id=f"whd:{delivery_id}:{time.time_ns()}",
            _defer_by=max(0.0, delay),
        )

    async def enqueue_billing_email(self, email_id: str, delay: float) -> None:
        """One attempt of a low-balance email (tasks/billing_email.py; the sweep is the backstop)."""
        await self.pool.enqueue_job(
            "deliver_billing_email",
            email_id,
            _job_id=f"mail:{email_id}:{time.time_ns()}",
            _defer_by=max(0.0, delay),
        )

    def _upload_check(self, file_id: str) -> Job:
        return Job(f"upload:{file_id}", self.pool, _queue_name=self.upload_queue)

    async def check_upload(self, team_id: str, file_id: str, wait: float) -> dict[str, Any] | None:
        """Have a worker check an upload's content (``tasks.worker.check_upload``) and wait up to
        ``wait`` seconds for its outcome: None when it has not come yet (the check goes on). One
        check per upload at a time: arq's job id is the upload's, so asking again while it runs
        (or while its final outcome is kept) waits for the same one. An outcome marked ``again``
        (the upload is still pending) is not kept: the next call checks anew."""
        job = self._upload_check(file_id)
        await self._forget_failed(job)
        for _attempt in range(2):
            await self.pool.enqueue_job(
                "check_upload", team_id, file_id, _job_id=job.job_id, _queue_name=self.upload_queue
            )
            try:
                outcome: dict[str, Any] = await job.result(timeout=wait, poll_delay=CHECK_POLL_SECONDS)
                if outcome.get("again"):  # not final (the upload is still pending): not kept
                    await self.pool.delete(result_key_prefix + job.job_id)
                return outcome
            except TimeoutError:
                # Our wait ran out, or the check itself timed out in the worker (arq keeps that
                # TimeoutError as its result): the latter is no outcome, and must not be answered
                # for an hour; the next call runs the check again.
                await self._forget_failed(job)
                return None
            except ResultNotFound:  # its kept outcome expired between the enqueue and the read
                continue
            except Exception:  # the check failed (a fault, logged by the worker): the next call runs it again
                await self.pool.delete(result_key_prefix + job.job_id)
                raise
        return None

    async def _forget_failed(self, job: Job) -> None:
        """A kept result of a check that failed (a fault, a timeout) is not an outcome, nor is one
        marked ``again`` that finished while nobody waited (nothing was PUT then; it may be now):
        dropped, so enqueueing runs the check again instead of answering it."""
        info = await job.result_info()
        if info is None:
            return
        if not info.success or (isinstance(info.result, dict) and info.result.get("again")):
            await self.pool.delete(result_key_prefix + job.job_id)

    async def upload_outcome(self, file_id: str) -> dict[str, Any] | None:
        """The kept outcome of an upload's last check (for an hour), if any."""
        info = await self._upload_check(file_id).result_info()
        return info.result if info is not None and info.success and isinstance(info.result, dict) else None

    async def queued_job_ids(self) -> set[str]:
        """The ids of the creative jobs with an entry in the queue, due, deferred or running (arq
        removes an entry when its run ends): the entry's id is the job id, or it followed by
        ``:`` and a suffix. Webhook and email entries (``wh:…``, ``whd:…``, ``mail:…``) name no job (upload checks are on a
        queue of their own)."""
        entries = await self.pool.zrange(self.pool.default_queue_name, 0, -1)
        return {entry.decode().split(":", 1)[0] for entry in entries}

    async def close(self) -> None:
        await self.pool.aclose()
