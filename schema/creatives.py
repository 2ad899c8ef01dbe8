"""GraphQL inputs and types of creatives: a graph of jobs submitted at once (docs/contract.md,
Creatives). The recipes and the general form build the same graph (models/creatives.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.creatives import CreativeStatus, Recipe
from schema.enums import Provider
from schema.inputs import (
    GenerateAvatarInput,
    GenerateCompositeInput,
    GenerateImageInput,
    GenerateTtsInput,
    GenerateVideoInput,
)
from schema.types import CreativeJob, GenerateWarning, PlacementWarning, UserError

strawberry.enum(Recipe, name="CreativeRecipe", description="A named graph of jobs (createCreative's recipe)")
strawberry.enum(
    CreativeStatus,
    name="CreativeStatus",
    description="Read from its jobs: PENDING until one started, PROCESSING while any is open, then "
    "COMPLETED (all completed), CANCELED (one was canceled) or FAILED (one failed)",
)


@strawberry.input(description="A composite element filled with another job of the creative's first output")
class CreativeNodeRef:
    name: str = strawberry.field(description="The element of the composite's template/source it fills")
    node: str = strawberry.field(description="The key of a job of the same creative")


@strawberry.input(
    description="One job of a creative: a key, exactly one of the generate inputs, and (a composite "
    "only) the elements it fills with other jobs' outputs"
)
class CreativeNodeInput:
    key: str = strawberry.field(description="Unique in the creative: 1-64 letters, digits, '.', '_', '-'")
    image: GenerateImageInput | None = None
    video: GenerateVideoInput | None = None
    avatar: GenerateAvatarInput | None = None
    tts: GenerateTtsInput | None = None
    composite: GenerateCompositeInput | None = None
    inputs: list[CreativeNodeRef] | None = strawberry.field(
        default=None,
        description="A composite's elements filled with other jobs' first outputs: it starts by itself once "
        "they all completed, and fails free if one fails or is canceled",
    )


@strawberry.input(description="VIDEO_WITH_VOICEOVER: a video and a narration, then one composite of both")
class VideoWithVoiceoverInput:
    video: GenerateVideoInput
    voiceover: GenerateTtsInput = strawberry.field(
        description="Trimmed to the video's duration in the composite"
    )
    composite_provider: Provider = Provider.CREATOMATE


@strawberry.input(description="IMAGE_WITH_LOGO: an image, then one composite with a Drive logo over it")
class ImageWithLogoInput:
    image: GenerateImageInput
    logo_file_id: strawberry.ID = strawberry.field(
        description="A Drive image (a PNG with transparency is best), placed at the bottom right"
    )
    composite_provider: Provider = Provider.CREATOMATE


@strawberry.input
class AvatarLocaleInput:
    locale: str = strawberry.field(description='A language or locale ("es", "es-MX"); also the job\'s key')
    script: str | None = strawberry.field(
        default=None, description="This locale's script; default: the recipe's script"
    )
    voice_id: str | None = strawberry.field(
        default=None, description="Default: the first voice of the provider's library listed for the locale"
    )


@strawberry.input(description="LOCALIZED_AVATAR: one avatar video per locale, each with its locale's voice")
class LocalizedAvatarInput:
    locales: list[AvatarLocaleInput]
    script: str | None = strawberry.field(default=None, description="The script of locales without their own")
    avatar_id: str | None = None
    portrait_file_id: strawberry.ID | None = None
    voice_gender: str | None = strawberry.field(
        default=None, description="Pick locale voices of this gender where the library has one"
    )
    provider: Provider = Provider.HEYGEN
    aspect_ratio: str | None = None
    settings: strawberry.scalars.JSON | None = None


@strawberry.input(
    description="A recipe (with its own input) or the general form (nodes): one of them. All jobs are "
    "validated and their estimates held at once; a team without credits for all of them is refused whole"
)
class CreateCreativeInput:
    recipe: Recipe | None = None
    video_with_voiceover: VideoWithVoiceoverInput | None = None
    image_with_logo: ImageWithLogoInput | None = None
    localized_avatar: LocalizedAvatarInput | None = None
    nodes: list[CreativeNodeInput] | None = strawberry.field(
        default=None, description="The general form: at most CH_MAX_JOBS_PER_CREATIVE jobs (20 by default)"
    )
    drive_folder_id: strawberry.ID | None = strawberry.field(
        default=None, description="Where every job's outputs go, unless a job names its own"
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="The same key with the same input within 24 hours returns the first creative, "
        "held once; with another input it is a CONFLICT",
    )


@strawberry.type
class CreativeNode:
    key: str
    job: CreativeJob
    depends_on: list[str] = strawberry.field(description="The keys of the jobs whose outputs it takes")
    waiting_for: list[str] = strawberry.field(
        description="Of those, the ones not completed yet: while any, the job stays PENDING and is not queued"
    )


@strawberry.type(description="A graph of jobs submitted at once")
class Creative:
    id: strawberry.ID
    recipe: Recipe | None
    status: CreativeStatus
    nodes: list[CreativeNode] = strawberry.field(description="Inputs before the jobs that take them")
    estimated_cost_cents: int = strawberry.field(
        description="Every job's estimate: what was held at submission"
    )
    cost_cents: int = strawberry.field(description="What its jobs were charged (failed ones nothing)")
    created_at: datetime
    warnings: list[GenerateWarning] = strawberry.field(
        default_factory=list,
        description="Its jobs' models that shut down soon or were replaced, each once (as generate* says)",
    )
    placement_warnings: list[PlacementWarning] = strawberry.field(
        default_factory=list,
        description="What its jobs made instead of what their placements asked for (the nearest "
        "aspect ratio or duration), each once (as generate* says)",
    )


@strawberry.type
class CreativePayload:
    creative: Creative | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreativeEstimateNode:
    key: str
    provider: Provider
    cents: int


@strawberry.type(description="What createCreative would hold for the same input")
class CreativeEstimate:
    cents: int
    nodes: list[CreativeEstimateNode]
