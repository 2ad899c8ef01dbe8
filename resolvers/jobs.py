"""Generate, cancel, read and list creative jobs."""

from __future__ import annotations

from typing import Any

import strawberry

from models import jobs as job_ops
from models.generation import GenerationRequest
from models.jobs import CreativeJob as JobRow
from resolvers.errors import query_errors, user_errors
from resolvers.outputs import job_output
from resolvers.pagination import paginate
from schema.context import Info
from schema.inputs import (
    GenerateAvatarInput,
    GenerateCompositeInput,
    GenerateImageInput,
    GenerateTtsInput,
    GenerateVideoInput,
    JobFilter,
)
from schema.types import (
    Connection,
    CreativeJob,
    GeneratePayload,
    GenerateWarning,
)


def job_type(info: Info, row: JobRow) -> CreativeJob:
    return job_output(row.snapshot(), info.context.services.settings)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _enum_value(value: Any) -> Any:
    return None if value is None else value.value


async def _generate(info: Info, job_type_name: str, data: Any, **fields: Any) -> GeneratePayload:
    principal = info.context.require("generate")
    request = GenerationRequest(
        type=job_type_name,
        team_id=principal.team_id,
        user_id=principal.user_id,
        provider=_enum_value(data.provider),
        drive_folder_id=_opt(data.drive_folder_id),
        settings=data.settings,
        idempotency_key=data.idempotency_key,
        **fields,
    )
    row = await info.context.services.generate(principal, request)
    warnings = [GenerateWarning.of(w) for w in (row.metadata or {}).get("warnings", [])]
    return GeneratePayload(job=job_type(info, row), warnings=warnings)


@user_errors(GeneratePayload)
async def generate_image(info: Info, input: GenerateImageInput) -> GeneratePayload:
    return await _generate(
        info,
        "image",
        input,
        text=input.prompt,
        aspect_ratio=input.aspect_ratio,
        placement=_enum_value(input.placement),
        reference_file_ids=[str(i) for i in input.reference_file_ids or []],
    )


@user_errors(GeneratePayload)
async def generate_video(info: Info, input: GenerateVideoInput) -> GeneratePayload:
    return await _generate(
        info,
        "video",
        input,
        text=input.prompt,
        aspect_ratio=input.aspect_ratio,
        placement=_enum_value(input.placement),
        duration_seconds=input.duration_seconds,
        image_file_id=_opt(input.image_file_id),
    )


@user_errors(GeneratePayload)
async def generate_avatar(info: Info, input: GenerateAvatarInput) -> GeneratePayload:
    return await _generate(
        info,
        "avatar",
        input,
        text=input.script,
        avatar_id=input.avatar_id,
        portrait_file_id=_opt(input.portrait_file_id),
        voice_id=input.voice_id,
        aspect_ratio=input.aspect_ratio,
        placement=_enum_value(input.placement),
    )


@user_errors(GeneratePayload)
async def generate_tts(info: Info, input: GenerateTtsInput) -> GeneratePayload:
    return await _generate(info, "tts", input, text=input.text, voice_id=input.voice_id)


@user_errors(GeneratePayload)
async def generate_composite(info: Info, input: GenerateCompositeInput) -> GeneratePayload:
    inputs = [
        {"name": i.name, "jobId": _opt(i.job_id), "fileId": _opt(i.file_id)} for i in input.inputs or []
    ]
    return await _generate(
        info,
        "composite",
        input,
        text=input.prompt,
        template_id=input.template_id,
        source=input.source,
        modifications=input.modifications,
        inputs=inputs,
    )


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
    return await paginate(query, first, after, lambda row: job_type(info, row))
