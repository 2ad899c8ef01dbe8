"""Which provider to pick, what a job would cost, and the providers' avatar and voice libraries."""

from __future__ import annotations

import math

import strawberry
from strawberry.scalars import JSON

from models import batches, library, placements, pricing
from models import jobs as job_ops
from models.errors import DomainError, ErrorCode
from models.library import LibraryUnavailable
from providers import lifecycle, registry
from providers.base import ImageSlot, image_slots
from providers.catalog import CATALOG, PLACEMENT_NAMES, PLACEMENTS
from providers.library import VOICE_PROVIDERS, language_code
from resolvers.errors import query_errors
from resolvers.generate_inputs import estimate_request
from schema.context import Info
from schema.enums import JobType, ModelLifecycle, Placement, Provider
from schema.inputs import EstimateCostInput
from schema.types import (
    Avatar,
    CostEstimate,
    GenerateWarning,
    ImageInputLimits,
    PlacementInfo,
    PlacementProvider,
    PlacementWarning,
    PriceRate,
    ProviderInfo,
    Voice,
)


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


@query_errors
async def placement_list(info: Info) -> list[PlacementInfo]:
    """The placements (providers/catalog.py's PLACEMENTS) and what each provider makes for them
    (models.placements.served, the rule generate* plans by)."""
    info.context.require("read")
    result = []
    for placement, (ratio, seconds) in PLACEMENTS.items():
        served = [s for spec in CATALOG.values() if (s := placements.served(spec, placement)) is not None]
        result.append(
            PlacementInfo(
                placement=Placement(placement),
                name=PLACEMENT_NAMES[placement],
                aspect_ratio=ratio,
                target_duration_seconds=seconds,
                providers=[
                    PlacementProvider(
                        provider=Provider(s.provider),
                        aspect_ratio=s.aspect_ratio,
                        duration_seconds=s.duration_seconds,
                        needs_input_image=s.needs_input_image,
                    )
                    for s in served
                ],
            )
        )
    return result


@query_errors
async def estimate_cost(info: Info, input: EstimateCostInput) -> CostEstimate:
    """What the same generate request would hold, planned by the rule generate* plans by
    (models.batches.plan): refused with generate's error and field path, else the sum of its jobs'
    holds with generate's warnings. Its files are stand-ins and nothing is read or held."""
    principal = info.context.require("read")
    settings = info.context.services.settings
    estimate = estimate_request(principal, input)
    try:
        planned = await batches.plan(
            estimate.request,
            lifecycle.config(settings),
            max_jobs=settings.max_jobs_per_request,
            assumed=estimate.assumed,
        )
    except DomainError as exc:
        raise estimate.error(exc) from None
    cents = planned.total_cents
    first = planned.jobs[0]
    metadatas = [job.metadata for job in planned.jobs]  # generate's payload says each note once, so does this
    return CostEstimate(
        cents=cents,
        provider=Provider(first.provider),
        # A cancel after submission captures the hold (models.jobs.cancel): the estimate itself.
        cancel_after_submit_cents=cents,
        cancelable_at_provider=registry.can_cancel(first.provider),
        warnings=[GenerateWarning.of(w) for w in job_ops.distinct_notes(metadatas, job_ops.WARNINGS)],
        placement_warnings=[
            PlacementWarning.of(a) for a in job_ops.distinct_notes(metadatas, job_ops.ADJUSTMENTS)
        ],
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
