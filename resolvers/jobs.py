"""Generate, cancel, read and list creative jobs."""

from __future__ import annotations

from typing import Any

import strawberry

from models import batches as batch_ops
from models import jobs as job_ops
from models.jobs import CreativeJob as JobRow
from resolvers.errors import query_errors, user_errors
from resolvers.generate_inputs import generation_request
from resolvers.outputs import job_output
from resolvers.pagination import filter_id, paginate
from schema.context import Info
from schema.enums import JobRating, Placement
from schema.inputs import (
    GenerateAvatarInput,
    GenerateCompositeInput,
    GenerateImageInput,
    GenerateTtsInput,
    GenerateVideoInput,
    JobFilter,
)
from schema.types import (
    Batch,
    BatchCounts,
    Connection,
    CreativeJob,
    GeneratePayload,
    GenerateWarning,
    PlacementWarning,
    RateJobPayload,
)


def job_type(info: Info, row: JobRow) -> CreativeJob:
    return job_output(row.snapshot(), info.context.services.settings)


async def _generate(info: Info, job_type_name: str, data: Any) -> GeneratePayload:
    principal = info.context.require("generate")
    request = generation_request(principal, job_type_name, data)
    submitted = await info.context.services.generate_batch(principal, request)
    rows = submitted.jobs
    metadatas = [row.metadata for row in rows]
    warnings = [GenerateWarning.of(w) for w in job_ops.distinct_notes(metadatas, job_ops.WARNINGS)]
    adjusted = job_ops.distinct_notes(metadatas, job_ops.ADJUSTMENTS)
    jobs_out = [job_type(info, row) for row in rows]
    return GeneratePayload(
        job=jobs_out[0],
        warnings=warnings,
        jobs=jobs_out,
        batch=batch_type(submitted.batch, rows, jobs_out) if submitted.batch else None,
        placement_warnings=[PlacementWarning.of(a) for a in adjusted],
    )


def batch_type(batch: batch_ops.Batch, rows: list[JobRow], jobs_out: list[CreativeJob]) -> Batch:
    summary = batch_ops.summarize(rows)
    return Batch(
        id=strawberry.ID(str(batch.id)),
        variants=batch.variants,
        placements=[Placement(p) for p in batch.placements or []],
        client_reference=batch.client_reference,
        created_at=batch.created_at,
        jobs=jobs_out,
        counts=BatchCounts(total=len(rows), **summary.counts),
        total_cost_cents=summary.total_cost_cents,
        estimated_cost_cents=summary.estimated_cost_cents,
    )


@query_errors
async def batch(info: Info, id: strawberry.ID) -> Batch | None:
    principal = info.context.require("read")
    row = await batch_ops.get_for_team(principal.team_id, str(id))
    if row is None:
        return None
    rows = await batch_ops.jobs_of(row)
    return batch_type(row, rows, [job_type(info, r) for r in rows])


@user_errors(RateJobPayload)
async def rate_job(info: Info, id: strawberry.ID, rating: JobRating | None = None) -> RateJobPayload:
    principal = info.context.require("generate")
    row = await batch_ops.rate(
        principal.team_id,
        str(id),
        batch_ops.Rating(rating.value) if rating else None,
        events=info.context.services.events,
    )
    return RateJobPayload(job=job_type(info, row))


@user_errors(GeneratePayload)
async def generate_image(info: Info, input: GenerateImageInput) -> GeneratePayload:
    return await _generate(info, "image", input)


@user_errors(GeneratePayload)
async def generate_video(info: Info, input: GenerateVideoInput) -> GeneratePayload:
    return await _generate(info, "video", input)


@user_errors(GeneratePayload)
async def generate_avatar(info: Info, input: GenerateAvatarInput) -> GeneratePayload:
    return await _generate(info, "avatar", input)


@user_errors(GeneratePayload)
async def generate_tts(info: Info, input: GenerateTtsInput) -> GeneratePayload:
    return await _generate(info, "tts", input)


@user_errors(GeneratePayload)
async def generate_composite(info: Info, input: GenerateCompositeInput) -> GeneratePayload:
    return await _generate(info, "composite", input)


@user_errors(GeneratePayload)
async def cancel_job(info: Info, id: strawberry.ID) -> GeneratePayload:
    principal = info.context.require("generate")
    row = await info.context.services.cancel(principal, str(id))
    return GeneratePayload(job=job_type(info, row))


@query_errors
async def job(info: Info, id: strawberry.ID) -> CreativeJob | None:
    principal = info.context.require("read")
    row = await job_ops.get_for_team(principal.team_id, str(id))
    return job_type(info, row) if row else None


@query_errors
async def jobs(
    info: Info, first: int | None = 20, after: str | None = None, filter: JobFilter | None = None
) -> Connection[CreativeJob]:
    principal = info.context.require("read")
    query = JobRow.filter(team_id=principal.team_id)
    if filter:
        if filter.type:
            query = query.filter(type=filter.type.value)
        if filter.status:
            query = query.filter(status=filter.status.value)
        if filter.provider:
            query = query.filter(provider=filter.provider.value)
        if filter.batch_id is not None:
            query = query.filter(batch_id=filter_id(filter.batch_id))
        if filter.rating:
            query = query.filter(rating=filter.rating.value)
        if filter.mine:
            query = query.filter(user_id=principal.user_id)
        if filter.client_reference is not None:
            query = query.filter(client_reference=filter.client_reference)
    return await paginate(query, first, after, lambda row: job_type(info, row))
