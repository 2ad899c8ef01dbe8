"""One mapping from a generate input (GenerateImageInput …) to the GenerationRequest it asks for,
used by every generate* mutation and by every job of a creative, so a field is never read by one
and dropped by the other."""

from __future__ import annotations

from typing import Any

from models.generation import GenerationRequest
from services.auth import Principal

JOB_TYPES = ("image", "video", "avatar", "tts", "composite")


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _enum_value(value: Any) -> Any:
    return None if value is None else value.value


def _type_fields(job_type: str, data: Any) -> dict[str, Any]:
    """The fields only this type's input has."""
    if job_type == "image":
        return {
            "text": data.prompt,
            "aspect_ratio": data.aspect_ratio,
            "placement": _enum_value(data.placement),
            "reference_file_ids": [str(i) for i in data.reference_file_ids or []],
        }
    if job_type == "video":
        return {
            "text": data.prompt,
            "aspect_ratio": data.aspect_ratio,
            "placement": _enum_value(data.placement),
            "duration_seconds": data.duration_seconds,
            "image_file_id": _opt(data.image_file_id),
        }
    if job_type == "avatar":
        return {
            "text": data.script,
            "avatar_id": data.avatar_id,
            "portrait_file_id": _opt(data.portrait_file_id),
            "voice_id": data.voice_id,
            "aspect_ratio": data.aspect_ratio,
            "placement": _enum_value(data.placement),
        }
    if job_type == "tts":
        return {"text": data.text, "voice_id": data.voice_id}
    if job_type == "composite":
        return {
            "text": data.prompt,
            "template_id": data.template_id,
            "source": data.source,
            "modifications": data.modifications,
            "inputs": [
                {"name": i.name, "jobId": _opt(i.job_id), "fileId": _opt(i.file_id)}
                for i in data.inputs or []
            ],
        }
    raise ValueError(f"unknown job type {job_type}")


def generation_request(
    principal: Principal, job_type: str, data: Any, folder: str | None = None
) -> GenerationRequest:
    """Every field of the input, as the request it asks for (``folder``: the default Drive folder,
    a creative's, when the input names none)."""
    placements = getattr(data, "placements", None)
    return GenerationRequest(
        type=job_type,
        team_id=principal.team_id,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        provider=_enum_value(data.provider),
        drive_folder_id=_opt(data.drive_folder_id) or folder,
        settings=data.settings,
        idempotency_key=data.idempotency_key,
        variants=data.variants,
        placements=None if placements is None else [p.value for p in placements],
        seed=data.seed,
        allow_longer_than_placement=getattr(data, "allow_longer_than_placement", False),
        client_reference=data.client_reference,
        client_metadata=data.client_metadata,
        **_type_fields(job_type, data),
    )
