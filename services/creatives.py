"""Creatives as the API submits them: rate-limited once, planned (every job validated and priced),
held and queued in one go (models/creatives.py), and canceled whole."""

from __future__ import annotations

import uuid

from models import creatives, drive
from models.creatives import Creative, NodeSpec, Plan
from models.errors import DomainError, ErrorCode
from providers import lifecycle
from services import outages
from services.auth import Principal
from services.container import Services


async def check_folder(principal: Principal, folder_id: str) -> None:
    """The creative's driveFolderId: the team's own folder, or NOT_FOUND on it."""
    try:
        found = await drive.team_folder(principal.team_id, uuid.UUID(folder_id))
    except ValueError:
        found = None
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "driveFolderId not found", ["input", "driveFolderId"])


def lifecycle_config(services: Services) -> lifecycle.LifecycleConfig:
    return lifecycle.config(services.settings)


async def plan(
    services: Services,
    principal: Principal,
    recipe: str | None,
    nodes: list[NodeSpec],
    nodes_path: list[str],
    idempotency_key: str | None = None,
) -> Plan:
    return await creatives.plan(
        nodes,
        team_id=principal.team_id,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        recipe=recipe,
        max_jobs=services.settings.max_jobs_per_creative,
        nodes_path=nodes_path,
        cfg=lifecycle_config(services),
        libraries=services.libraries,
        idempotency_key=idempotency_key,
    )


class _AfterCommitQueue:
    """The creative is committed before its jobs are enqueued: a failed enqueue is logged; the
    workers re-enqueue open jobs whose entry is missing (tasks.worker.requeue_lost)."""

    def __init__(self, services: Services) -> None:
        self.queue = services.queue

    async def enqueue_job(self, job_id: str) -> None:
        await outages.best_effort(self.queue.enqueue_job(job_id), f"enqueue job {job_id}")


async def create(
    services: Services,
    principal: Principal,
    recipe: str | None,
    nodes: list[NodeSpec],
    nodes_path: list[str],
    idempotency_key: str | None = None,
) -> Creative:
    """One submission for the rate limit, whatever the number of jobs."""
    await services.limiter.submission(principal)
    planned = await plan(services, principal, recipe, nodes, nodes_path, idempotency_key)
    return await creatives.submit(
        planned,
        queue=_AfterCommitQueue(services),
        events=services.events,
        deadline_scale=services.settings.deadline_scale,
    )


async def cancel(services: Services, principal: Principal, creative_id: str) -> Creative:
    """Every open job canceled (dependants first); the worker is asked to stop provider tasks now."""
    canceled = await creatives.cancel(principal.team_id, creative_id, events=services.events)
    for job in canceled:
        await outages.best_effort(
            services.queue.enqueue_poll(str(job.id), 0), f"enqueue the provider cancel of job {job.id}"
        )
    row = await creatives.get_for_team(principal.team_id, creative_id)
    assert row is not None
    return row
