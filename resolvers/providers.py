"""Which provider to pick, what a job would cost, and the providers' avatar and voice libraries."""

from __future__ import annotations

import math
from typing import Any

import strawberry
from strawberry.scalars import JSON

from models import generation, library, placements, pricing
from models.errors import DomainError, ErrorCode
from models.library import LibraryUnavailable
from providers import lifecycle, options, registry
from providers.base import ImageSlot, image_slots
from providers.catalog import AVATAR, CATALOG, COMPOSITE, IMAGE, TTS, VIDEO
from providers.library import VOICE_PROVIDERS, language_code
from resolvers.errors import query_errors
from schema.context import Info
from schema.enums import JobType, ModelLifecycle, Provider
from schema.inputs import EstimateCostInput
from schema.types import Avatar, CostEstimate, ImageInputLimits, PriceRate, ProviderInfo, Voice


def _limits(slot: ImageSlot | None) -> ImageInputLimits | None:
    if slot is None:
        return None
    return ImageInputLimits(
        content_types=list(slot.types),
        max_bytes=slot.max_bytes,
        max_count=slot.max_count,
        min_side_pixels=slot.min_side,
        max_side_pixels=slot.max_side,
        max_pixels=slot.max_pixels,
        max_aspect_ratio=None if math.isinf(slot.max_ratio) else slot.max_ratio,
    )


def _input_limits(provider: str) -> dict[str, ImageInputLimits | None]:
    if not registry.is_supported(provider):
        return {}
    return {name: _limits(slot) for name, slot in image_slots(registry.adapter_class(provider)).items()}


@query_errors
async def providers(info: Info, type: JobType | None = None) -> list[ProviderInfo]:
    info.context.require("read")
    settings = info.context.services.settings
    cfg = lifecycle.config(settings)
    result = []
    for spec in CATALOG.values():
        if type is not None and spec.type != type.value:
            continue
        price = pricing.price_table().get(spec.provider, spec.type)
        life = lifecycle.describe(spec, cfg)
        result.append(
            ProviderInfo(
                provider=Provider(spec.provider),
                type=JobType(spec.type),
                is_default=spec.is_default,
                strengths=spec.strengths,
                takes_seed=spec.takes_seed,
                configured=registry.is_configured(spec.provider, settings),
                available=registry.is_supported(spec.provider),
                aspect_ratios=list(spec.aspect_ratios),
                max_concurrency=settings.provider_concurrency_limit(spec.provider),
                default_aspect_ratio=spec.default_aspect_ratio,
                durations_seconds=list(spec.durations),
                default_duration_seconds=spec.default_duration,
                max_text_characters=spec.max_text_chars,
                typical_seconds=spec.typical_seconds,
                price_unit=price.unit,
                price_cents_per_unit=price.cents_per_unit,
                price_first_unit_cents=price.first_unit_cents,
                price_rates=[
                    PriceRate(cents_per_unit=r.cents_per_unit, when=JSON(r.when)) for r in price.rates
                ],
                cancelable_at_provider=registry.can_cancel(spec.provider),
                wire_model=life["wire_model"],
                lifecycle=ModelLifecycle(life["lifecycle"]),
                shutdown_date=life["shutdown_date"],
                successor=Provider(life["successor"]) if life["successor"] else None,
                successor_model=life["successor_model"],
                **_input_limits(spec.provider),
                price_input_megapixel_cents=price.input_megapixel_cents,
                price_input_megapixels_cap=price.input_megapixels_cap,
                price_input_image_cents=price.input_image_cents,
            )
        )
    return result


MAX_VARIANTS = 10  # estimateCost's variants: how many outputs of the same request


def _estimate_input_error(message: str, name: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, ["input", name])


def _within(value: int | None, low: int, high: int, name: str, what: str) -> None:
    if value is not None and not low <= value <= high:
        raise _estimate_input_error(f"{name} must be from {low} to {high} {what}; got {value}", name)


@query_errors
async def estimate_cost(info: Info, input: EstimateCostInput) -> CostEstimate:
    """The hold a job with these inputs would take (the same function the generate mutations use).
    Inputs are held to the provider's limits first (VALIDATION_FAILED past them), so the estimate
    is arithmetic on small numbers whatever the caller asks."""
    info.context.require("read")
    cfg = lifecycle.config(info.context.services.settings)
    spec = CATALOG[input.provider.value if input.provider else lifecycle.default_for(input.type.value, cfg)]
    if spec.type != input.type.value:
        raise DomainError(
            ErrorCode.PROVIDER_NOT_SUPPORTED, f"{spec.provider} does not generate {input.type.value}"
        )
    # a shut-down model is priced as its successor, or refused, as the generate mutations do
    spec = CATALOG[generation.runs_on(spec.provider, cfg).provider]
    _within(input.variants, 1, MAX_VARIANTS, "variants", "outputs")
    if spec.type in (TTS, AVATAR):
        _within(input.characters, 1, spec.max_text_chars, "characters", f"for {spec.provider}")
    if spec.aspect_ratios and input.aspect_ratio is not None and input.aspect_ratio not in spec.aspect_ratios:
        raise _estimate_input_error(
            f"{spec.provider} supports the aspect ratios {', '.join(spec.aspect_ratios)}", "aspectRatio"
        )
    raw: Any = input.settings  # any JSON value until provider_settings checks it
    if spec.type == IMAGE and input.width and input.height and isinstance(raw or {}, dict):
        # the image's settings.width/height: held to the provider's own size rules (BFL's multiples
        # of 16…) as generateImage holds them, unless the settings name a size themselves
        fields = options.names(spec.provider)
        if "width" in fields and "height" in fields and not {"width", "height"} & set(raw or {}):
            raw = {**(raw or {}), "width": input.width, "height": input.height}
    if spec.type == COMPOSITE and isinstance(raw or {}, dict):
        # priced as generateComposite prices a template of this declared size and length
        declared = {"width": input.width, "height": input.height, "duration": input.duration_seconds}
        raw = {**(raw or {}), **{key: value for key, value in declared.items() if value}}
    # the same declared settings and request-built price as the generate mutations
    settings = generation.provider_settings(spec.provider, raw)
    params: dict[str, Any] = {"settings": settings}
    if spec.aspect_ratios:
        params["aspect_ratio"] = input.aspect_ratio or spec.default_aspect_ratio
    if spec.type == IMAGE:
        if input.width and input.height:
            # the generate mutations' own size rule
            params["width"], params["height"] = generation._image_size(
                {"width": input.width, "height": input.height}, params["aspect_ratio"]
            )
        else:
            params["width"], params["height"] = pricing.image_size(params["aspect_ratio"])
    if spec.type == VIDEO:
        params["duration_seconds"] = input.duration_seconds or spec.default_duration
        if params["duration_seconds"] not in spec.durations:
            raise _estimate_input_error(
                f"{spec.provider} renders {min(spec.durations)} to {max(spec.durations)} seconds",
                "durationSeconds",
            )
        if input.with_input_image:
            params["image_file_id"] = "estimate"
    if spec.type == IMAGE and input.reference_megapixels is not None:
        if not (math.isfinite(input.reference_megapixels) and 0 <= input.reference_megapixels <= 1000):
            raise _estimate_input_error("referenceMegapixels must be from 0 to 1000", "referenceMegapixels")
        params["input_megapixels"] = input.reference_megapixels
    if spec.type == IMAGE and (input.reference_images is not None or input.reference_megapixels):
        count = input.reference_images if input.reference_images is not None else 1
        slot = image_slots(registry.adapter_class(spec.provider))["reference_images"]
        most = min(slot.max_count, generation.MAX_REFERENCE_FILES) if slot is not None else 0
        _within(count, 0, most, "referenceImages", f"images for {spec.provider}")
        # stand-ins for the files, as generateImage records them (what the request and the price read)
        params["reference_file_ids"] = ["estimate"] * count
    if spec.type == AVATAR and input.with_portrait:
        params["portrait_file_id"] = "estimate"
    if spec.type == AVATAR:
        longest = math.ceil(spec.max_text_chars / pricing.AVATAR_CHARS_PER_SECOND)
        _within(input.duration_seconds, 1, longest, "durationSeconds", f"seconds for {spec.provider}")
    if spec.type == COMPOSITE:
        for name, value in (
            ("width", input.width),
            ("height", input.height),
            ("durationSeconds", input.duration_seconds),
        ):
            if value is not None and value < 1:
                raise _estimate_input_error(f"{name} must be positive", name)
        params["template_id"] = "estimate"
    text = None
    if spec.type == TTS:
        text = "x" * (input.characters or 1000)
    elif spec.type == AVATAR:
        seconds = input.duration_seconds or math.ceil(
            (input.characters or 600) / pricing.AVATAR_CHARS_PER_SECOND
        )
        text = "x" * (seconds * pricing.AVATAR_CHARS_PER_SECOND)
    try:
        cents = sum(
            generation.price(spec.provider, spec.type, text, one) * max(1, input.variants or 1)
            for one in placements.priced_params(
                spec,
                params,
                [p.value for p in input.placements] if input.placements is not None else None,
                ratio_given=input.aspect_ratio is not None,
                size_given=bool(input.width and input.height),
                duration_given=input.duration_seconds is not None,
                with_image=input.with_input_image,
            )
        )
    except placements.Unservable as exc:
        raise DomainError(ErrorCode.VALIDATION_FAILED, exc.message, ["input", *exc.path]) from None
    except (ValueError, TypeError, OverflowError):  # settings the price cannot read
        raise _estimate_input_error(f"settings that {spec.provider} cannot price", "settings") from None
    return CostEstimate(
        cents=cents,
        provider=Provider(spec.provider),
        # A cancel after submission captures the hold (models.jobs.cancel): the estimate itself.
        cancel_after_submit_cents=cents,
        cancelable_at_provider=registry.can_cancel(spec.provider),
    )


# -- libraries: avatars and voices (services/library.py; models/library.py) ----------------------------


def _library_error(exc: LibraryUnavailable) -> DomainError:
    return DomainError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{library.PROVIDER_NAMES.get(exc.provider, exc.provider)}'s {exc.kind} could not be read "
        f"({exc.reason}); try again in a minute",
    )


@query_errors
async def avatars(info: Info, gender: str | None = None, search: str | None = None) -> list[Avatar]:
    """HeyGen's avatars this deployment's key may use, cached (CH_LIBRARY_CACHE_SECONDS)."""
    info.context.require("read")
    try:
        listed = await info.context.services.libraries.avatars("heygen")
    except LibraryUnavailable as exc:
        raise _library_error(exc) from None
    return [
        Avatar(
            id=strawberry.ID(a.id),
            provider=Provider.HEYGEN,
            name=a.name,
            gender=a.gender,
            preview_image_url=a.preview_image_url,
            preview_video_url=a.preview_video_url,
            avatar_type=a.avatar_type,
            default_voice_id=a.default_voice_id,
        )
        for a in library.filter_avatars(listed, gender=gender, search=search)
    ]


@query_errors
async def voices(
    info: Info,
    provider: Provider,
    language: str | None = None,
    gender: str | None = None,
    search: str | None = None,
) -> list[Voice]:
    """A provider's voices; with ``language`` (ISO 639-1 "es" or a locale "es-MX") the voices listed
    for it, then the multilingual ones that speak it too."""
    info.context.require("read")
    if provider.value not in VOICE_PROVIDERS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"{provider.value} has no voices; voices are listed for "
            f"{', '.join(p.upper() for p in VOICE_PROVIDERS)}",
            ["provider"],
        )
    if language is not None and language_code(language) is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            'language must be an ISO 639-1 code or a locale, for example "es" or "es-MX"',
            ["language"],
        )
    try:
        listed = await info.context.services.libraries.voices(provider.value)
    except LibraryUnavailable as exc:
        raise _library_error(exc) from None
    return [
        Voice(
            id=strawberry.ID(v.id),
            provider=provider,
            name=v.name,
            language=v.language,
            languages=list(v.languages),
            locales=list(v.locales),
            multilingual=v.multilingual,
            gender=v.gender,
            accent=v.accent,
            age=v.age,
            description=v.description,
            category=v.category,
            preview_url=v.preview_url,
            models=list(v.models),
        )
        for v in library.filter_voices(listed, language=language, gender=gender, search=search)
    ]
