"""GraphQL inputs of the generate mutations and queries (names fixed by docs/contract.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.enums import (
    ApiKeyScope,
    CreditTransactionKind,
    DriveFileKind,
    JobRating,
    JobStatus,
    JobType,
    Placement,
    Provider,
    WebhookEventType,
)


@strawberry.input
class GenerateImageInput:
    prompt: str
    provider: Provider = Provider.FLUX_2_PRO
    aspect_ratio: str | None = None
    placement: Placement | None = None
    reference_file_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Drive images that guide the image (FLUX.2 pro up to 8, GPT Image up to 16, "
        "Seedream up to 14); a provider that takes none refuses them",
    )
    drive_folder_id: strawberry.ID | None = None
    settings: JSON | None = None
    idempotency_key: str | None = None
    variants: int = strawberry.field(
        default=1,
        description="1 to 5 outputs of this request, one job each (each held and charged on its own)",
    )
    seed: int | None = strawberry.field(
        default=None,
        description="Where the provider takes a seed (see the providers query, takesSeed); variants use "
        "seed, seed+1, …; refused by a provider that takes none",
    )
    client_reference: str | None = strawberry.field(
        default=None,
        description="Your own reference (up to 255 characters): returned, filterable, in webhooks",
    )
    client_metadata: JSON | None = strawberry.field(
        default=None, description="Your own JSON object (up to 4 KiB): returned and in webhooks"
    )
    placements: list[Placement] | None = strawberry.field(
        default=None,
        description="One job per placement (× variants), each at the placement's ratio (the nearest the "
        "provider renders) and, for video, its target duration",
    )


@strawberry.input
class GenerateVideoInput:
    prompt: str
    # No default in the schema: naming none lets the service pick one that serves the placements
    # (models/generation.py, serving_provider); a fixed RUNWAY_GEN4 would read as named, and refuse FEED.
    provider: Provider | None = strawberry.field(
        default=None,
        description="Default: RUNWAY_GEN4, or, when it cannot serve every placement asked for, the first "
        "video provider that does (a PROVIDER_CHOSEN warning says so). A provider named is never replaced",
    )
    duration_seconds: int | None = None
    aspect_ratio: str | None = None
    placement: Placement | None = None
    image_file_id: strawberry.ID | None = strawberry.field(
        default=None, description="image-to-video: a Drive image"
    )
    drive_folder_id: strawberry.ID | None = None
    settings: JSON | None = None
    idempotency_key: str | None = None
    variants: int = strawberry.field(
        default=1,
        description="1 to 5 outputs of this request, one job each (each held and charged on its own)",
    )
    seed: int | None = strawberry.field(
        default=None,
        description="Where the provider takes a seed (see the providers query, takesSeed); variants use "
        "seed, seed+1, …; refused by a provider that takes none",
    )
    client_reference: str | None = strawberry.field(
        default=None,
        description="Your own reference (up to 255 characters): returned, filterable, in webhooks",
    )
    client_metadata: JSON | None = strawberry.field(
        default=None, description="Your own JSON object (up to 4 KiB): returned and in webhooks"
    )
    placements: list[Placement] | None = strawberry.field(
        default=None,
        description="One job per placement (× variants), each at the placement's ratio (the nearest the "
        "provider renders) and, for video, its target duration",
    )
    allow_longer_than_placement: bool = strawberry.field(
        default=False, description="Accept a durationSeconds longer than the placement's target"
    )


@strawberry.input
class GenerateAvatarInput:
    script: str
    avatar_id: str | None = strawberry.field(
        default=None, description="A HeyGen avatar; give this or portraitFileId"
    )
    voice_id: str
    portrait_file_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Drive portrait (PNG or JPEG) HeyGen animates as a photo avatar"
    )
    provider: Provider = Provider.HEYGEN
    aspect_ratio: str | None = None
    placement: Placement | None = None
    drive_folder_id: strawberry.ID | None = None
    settings: JSON | None = None
    idempotency_key: str | None = None
    variants: int = strawberry.field(
        default=1,
        description="1 to 5 outputs of this request, one job each (each held and charged on its own)",
    )
    seed: int | None = strawberry.field(
        default=None,
        description="Where the provider takes a seed (see the providers query, takesSeed); variants use "
        "seed, seed+1, …; refused by a provider that takes none",
    )
    client_reference: str | None = strawberry.field(
        default=None,
        description="Your own reference (up to 255 characters): returned, filterable, in webhooks",
    )
    client_metadata: JSON | None = strawberry.field(
        default=None, description="Your own JSON object (up to 4 KiB): returned and in webhooks"
    )
    placements: list[Placement] | None = strawberry.field(
        default=None,
        description="One job per placement (× variants), each at the placement's ratio (the nearest the "
        "provider renders) and, for video, its target duration",
    )


@strawberry.input
class GenerateTtsInput:
    text: str
    # No default in the schema: the lifecycle picks it (OPENAI_TTS while its models run, then the
    # first TTS provider still served), as REST does; a fixed OPENAI_TTS would be refused from 2027-01-06.
    provider: Provider | None = strawberry.field(
        default=None,
        description="Default: OPENAI_TTS while its models run, then the first TTS provider still served",
    )
    voice_id: str | None = None
    drive_folder_id: strawberry.ID | None = None
    settings: JSON | None = None
    idempotency_key: str | None = None
    variants: int = strawberry.field(
        default=1,
        description="1 to 5 outputs of this request, one job each (each held and charged on its own)",
    )
    seed: int | None = strawberry.field(
        default=None,
        description="Where the provider takes a seed (see the providers query, takesSeed); variants use "
        "seed, seed+1, …; refused by a provider that takes none",
    )
    client_reference: str | None = strawberry.field(
        default=None,
        description="Your own reference (up to 255 characters): returned, filterable, in webhooks",
    )
    client_metadata: JSON | None = strawberry.field(
        default=None, description="Your own JSON object (up to 4 KiB): returned and in webhooks"
    )


@strawberry.input
class CompositeInputRef:
    """Fills the template/source element ``name`` with another job's first output or a Drive file."""

    name: str
    job_id: strawberry.ID | None = None
    file_id: strawberry.ID | None = None


@strawberry.input
class GenerateCompositeInput:
    provider: Provider = Provider.CREATOMATE
    template_id: str | None = None
    source: JSON | None = strawberry.field(default=None, description="A Creatomate RenderScript")
    modifications: JSON | None = None
    inputs: list[CompositeInputRef] | None = None
    prompt: str | None = strawberry.field(
        default=None, description="A note for people; not sent to the provider"
    )
    drive_folder_id: strawberry.ID | None = None
    settings: JSON | None = None
    idempotency_key: str | None = None
    variants: int = strawberry.field(
        default=1,
        description="1 to 5 outputs of this request, one job each (each held and charged on its own)",
    )
    seed: int | None = strawberry.field(
        default=None,
        description="Where the provider takes a seed (see the providers query, takesSeed); variants use "
        "seed, seed+1, …; refused by a provider that takes none",
    )
    client_reference: str | None = strawberry.field(
        default=None,
        description="Your own reference (up to 255 characters): returned, filterable, in webhooks",
    )
    client_metadata: JSON | None = strawberry.field(
        default=None, description="Your own JSON object (up to 4 KiB): returned and in webhooks"
    )


@strawberry.input
class JobFilter:
    type: JobType | None = None
    status: JobStatus | None = None
    provider: Provider | None = None
    batch_id: strawberry.ID | None = strawberry.field(default=None, description="The jobs of one batch")
    rating: JobRating | None = None
    mine: bool | None = strawberry.field(default=None, description="true: only the jobs the caller submitted")
    client_reference: str | None = strawberry.field(default=None, description="Exactly this clientReference")


@strawberry.input(description="Every filter given must match")
class DriveFileFilter:
    kind: DriveFileKind | None = None
    job_id: strawberry.ID | None = strawberry.field(default=None, description="The job's outputs")
    name: str | None = strawberry.field(
        default=None, description="Part of the name, any case (% and _ are plain characters)"
    )


@strawberry.input
class EstimateCostInput:
    type: JobType
    provider: Provider | None = None
    duration_seconds: int | None = None
    aspect_ratio: str | None = None
    characters: int | None = None
    variants: int | None = None
    placements: list[Placement] | None = strawberry.field(
        default=None,
        description="Priced as generate* makes them: one job per placement (× variants), at its ratio "
        "and (video, without durationSeconds) its target duration",
    )
    settings: JSON | None = strawberry.field(
        default=None,
        description="The job's provider settings (quality, model, mode, resolution…), as in generate*",
    )
    with_input_image: bool = strawberry.field(
        default=False, description="Image-to-video (Runway prices it apart)"
    )
    width: int | None = None
    height: int | None = None
    reference_megapixels: float | None = strawberry.field(
        default=None,
        description="Megapixels of the reference images in all (image; BFL bills them)",
    )
    reference_images: int | None = strawberry.field(
        default=None,
        description="How many reference images (image; OpenAI bills each); null: one when referenceMegapixels is given",
    )
    with_portrait: bool = strawberry.field(
        default=False, description="An avatar from a portrait (portraitFileId): HeyGen's photo avatar rate"
    )
    placement: Placement | None = strawberry.field(
        default=None,
        description="As in generate*: its ratio (the nearest the provider renders) and, for video, its target duration",
    )
    seed: int | None = strawberry.field(
        default=None, description="As in generate*: refused by a provider that takes none"
    )
    allow_longer_than_placement: bool = strawberry.field(
        default=False,
        description="As in generateVideo: accept a durationSeconds longer than the placement's target",
    )


@strawberry.input
class CreditTransactionFilter:
    kinds: list[CreditTransactionKind] | None = None
    job_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[ApiKeyScope] = strawberry.field(
        default_factory=lambda: [ApiKeyScope.READ, ApiKeyScope.GENERATE],
        description="What the key may do; billing (the ledger and usage) is opt-in",
    )


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="A public https URL (private addresses are refused)")
    events: list[WebhookEventType]
    description: str = ""


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = None
    events: list[WebhookEventType] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None, description="true re-enables an endpoint disabled after persistent failure"
    )
