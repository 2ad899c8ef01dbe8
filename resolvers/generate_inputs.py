"""One mapping from a generate input (GenerateImageInput …) to the GenerationRequest it asks for,
used by every generate* mutation and by every job of a creative, so a field is never read by one
and dropped by the other."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from models import pricing
from models.errors import DomainError, ErrorCode
from models.generation import MAX_REFERENCE_FILES, Assumed, GenerationRequest
from providers.catalog import CATALOG
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


# -- estimateCost: the same request, its files and text stated instead of given -------------------


@dataclass(frozen=True)
class Estimate:
    """``estimateCost``'s input as the generate request it prices, the stand-ins for what it does
    not name (models.generation.Assumed), and where an error about a generate field is reported
    on the estimate's own fields."""

    request: GenerationRequest
    assumed: Assumed
    renames: dict[str, list[str]]
    declared: dict[str, list[str]]

    def error(self, exc: DomainError) -> DomainError:
        """``exc`` with its field path on the estimate's input (``referenceFileIds`` →
        ``referenceImages``; a size the estimate declared → ``width``…)."""
        path = exc.field or []
        if len(path) < 2 or path[0] != "input":
            return exc
        moved = self.renames.get(path[1])
        if path[1] == "settings" and len(path) > 2:
            moved = self.declared.get(path[2])
        elif path[1] == "settings":
            moved = self.declared.get("")
        if moved is None:
            return exc
        return DomainError(exc.code, exc.message, ["input", *moved])


def _stated(value: int | None, low: int, high: int, name: str, what: str) -> None:
    """An estimate-only number, bounded before it is used to make a stand-in."""
    if value is not None and not low <= value <= high:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"{name} must be from {low} to {high} {what}; got {value}",
            ["input", name],
        )


def _most_text(job_type: str) -> int:
    return max(spec.max_text_chars for spec in CATALOG.values() if spec.type == job_type)


def estimate_request(principal: Principal, data: Any) -> Estimate:
    """The generate request an ``EstimateCostInput`` describes: its text as ``characters`` (or an
    avatar's ``durationSeconds``), its files as ``withInputImage``, ``referenceImages``/
    ``referenceMegapixels`` and ``withPortrait``, an image's or composite's size as ``width``/
    ``height`` (its settings' own), everything else as generate* takes it."""
    job_type = data.type.value
    renames: dict[str, list[str]] = {
        "referenceFileIds": ["referenceImages"],
        "imageFileId": ["withInputImage"],
        "portraitFileId": ["withPortrait"],
    }
    declared: dict[str, list[str]] = {}
    settings: Any = data.settings
    fields: dict[str, Any] = {}
    text: str | None = "estimate"  # an image's or video's prompt: its length is not priced
    if job_type in ("image", "composite") and (settings is None or isinstance(settings, dict)):
        size = {"width": data.width, "height": data.height}
        if job_type == "composite":
            size["duration"] = data.duration_seconds
        elif not (data.width and data.height):
            size = {}
        size = {k: v for k, v in size.items() if v is not None and k not in (settings or {})}
        if size:
            declared = {k: ["durationSeconds" if k == "duration" else k] for k in size}
            if settings is None and len(size) == 1:
                declared[""] = next(iter(declared.values()))
            settings = {**(settings or {}), **size}
    if job_type == "tts":
        _stated(data.characters, 1, _most_text("tts"), "characters", "characters")
        text = "x" * (data.characters or 1000)
        renames["text"] = ["characters"]
    elif job_type == "avatar":
        longest = math.ceil(_most_text("avatar") / pricing.AVATAR_CHARS_PER_SECOND)
        _stated(data.duration_seconds, 1, longest, "durationSeconds", "seconds")
        _stated(data.characters, 1, _most_text("avatar"), "characters", "characters")
        if data.duration_seconds is not None:
            text = "x" * (data.duration_seconds * pricing.AVATAR_CHARS_PER_SECOND)
            renames["script"] = ["durationSeconds"]
        else:
            text = "x" * (data.characters or 600)
            renames["script"] = ["characters"]
        portrait = data.with_portrait
        fields = {
            "avatar_id": None if portrait else "estimate",
            "portrait_file_id": "estimate" if portrait else None,
            "voice_id": "estimate",
        }
    elif job_type == "composite":
        text = None
        fields = {"template_id": "estimate"}
    elif job_type == "video":
        fields = {
            "duration_seconds": data.duration_seconds,
            "image_file_id": "estimate" if data.with_input_image else None,
        }
    if job_type in ("tts", "composite"):
        for name, value in (("placement", data.placement), ("placements", data.placements)):
            if value is not None:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    f"a {job_type} job takes no {name} (generate{job_type.capitalize()} has none)",
                    ["input", name],
                )
    megapixels = data.reference_megapixels
    if job_type == "image":
        if megapixels is not None and not (math.isfinite(megapixels) and 0 <= megapixels <= 1000):
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                "referenceMegapixels must be from 0 to 1000",
                ["input", "referenceMegapixels"],
            )
        _stated(data.reference_images, 0, MAX_REFERENCE_FILES, "referenceImages", "images")
        count = data.reference_images if data.reference_images is not None else 1 if megapixels else 0
        fields = {"reference_file_ids": ["estimate"] * count}
    request = GenerationRequest(
        type=job_type,
        team_id=principal.team_id,
        user_id=principal.user_id,
        provider=_enum_value(data.provider),
        text=text,
        aspect_ratio=data.aspect_ratio if job_type in ("image", "video", "avatar") else None,
        placement=_enum_value(data.placement) if job_type in ("image", "video", "avatar") else None,
        settings=settings,
        variants=1 if data.variants is None else data.variants,
        placements=None if data.placements is None else [p.value for p in data.placements],
        seed=data.seed,
        allow_longer_than_placement=data.allow_longer_than_placement,
        **fields,
    )
    return Estimate(request, Assumed(reference_megapixels=megapixels), renames, declared)
