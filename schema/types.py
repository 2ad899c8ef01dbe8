"""GraphQL output types. They hold data only; resolvers build them from domain snapshots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from models.errors import DomainError, RateLimited
from schema.enums import (
    ApiKeyScope,
    CreditTransactionKind,
    CreditUsageGroupBy,
    ErrorCode,
    JobRating,
    JobStatus,
    JobType,
    ModelLifecycle,
    Placement,
    Provider,
    TeamRole,
    WebhookDeliveryStatus,
    WebhookEventType,
)

if TYPE_CHECKING:
    from schema.drive import DriveFile

Node = TypeVar("Node")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type(description="A person of the team (teamMembers; who submitted a job)")
class TeamMember:
    id: strawberry.ID = strawberry.field(description="The person's user id (CreditUsage USER rows key on it)")
    user_id: strawberry.ID = strawberry.field(description="The same as id")
    name: str
    email: str
    role: TeamRole | None = strawberry.field(
        description="null for someone who has left the team (seen on the jobs they submitted)"
    )


@strawberry.type
class CreativeJob:
    id: strawberry.ID
    type: JobType
    status: JobStatus
    provider: Provider
    prompt: str | None
    settings: JSON
    result_urls: list[str] = strawberry.field(description="Signed, expiring URLs of the outputs in Drive")
    cost_cents: int = strawberry.field(
        description="0 until completed; 0 forever when failed or canceled before reaching the provider; "
        "a job canceled after it reached the provider is charged its estimate"
    )
    estimated_cost_cents: int = strawberry.field(description="What was held when the job was accepted")
    overrun_cents: int = strawberry.field(
        description="What the job really cost beyond its hold (not charged; recorded for billing)"
    )
    drive_folder_id: strawberry.ID | None
    metadata: JSON
    error_message: str | None
    user_id: strawberry.ID
    team_id: strawberry.ID
    version: int = strawberry.field(description="Bumped by every change; events carry it")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime = strawberry.field(description="When this state was written (events carry it)")
    batch_id: strawberry.ID | None = strawberry.field(
        default=None, description="The request (batch) that made this job with its variants and placements"
    )
    placement: Placement | None = strawberry.field(default=None, description="The placement it was made for")
    variant: int | None = strawberry.field(
        default=None, description="Its variant number in the batch (1 to variants); null for a lone job"
    )
    seed: int | None = strawberry.field(
        default=None,
        description="The seed sent to the provider (null: the provider takes none, or none was set); "
        "generate again with this seed to make a winner again",
    )
    rating: JobRating | None = strawberry.field(default=None, description="Set by rateJob")
    client_reference: str | None = strawberry.field(default=None, description="The caller's own reference")
    client_metadata: JSON | None = strawberry.field(default=None, description="The caller's own metadata")
    progress: float = strawberry.field(
        default=0.0,
        description="How far the job is, 0 to 1: the provider's own figure where it reports one, else "
        "estimated from the provider's typical generation time; 1 only once completed",
    )
    queue_position: int | None = strawberry.field(
        default=None,
        description="While the job waits for a slot at its provider (concurrency limit): its place "
        "among the team's own jobs waiting for that provider, 1 being the team's next to start "
        "(other teams' jobs are not counted); null otherwise",
    )
    expected_completion_at: datetime | None = strawberry.field(
        default=None,
        description="When the job is expected to finish (an estimate; see the providers' typicalSeconds); "
        "null once it ended",
    )
    warnings: list[Notice] = strawberry.field(
        default_factory=list,
        description="What was noted when the job was accepted: its model's shutdown or replacement "
        "(GenerateWarning) and what was made instead of what its placement asked for (PlacementWarning)",
    )
    # Given the request's context, the outputs (resolvers/outputs.py): read only when selected.
    load_outputs: strawberry.Private[Callable[[Any], Awaitable[list[DriveFile]]] | None] = None
    # Given the request's context, who submitted it (batched per request): read only when selected.
    load_submitted_by: strawberry.Private[Callable[[Any], Awaitable[TeamMember | None]] | None] = None

    @strawberry.field(  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
        description="Who submitted the job (an API key acts as the person who created it)"
    )
    async def submitted_by(self, info: strawberry.Info) -> TeamMember | None:
        return None if self.load_submitted_by is None else await self.load_submitted_by(info.context)

    @strawberry.field(  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
        description="The outputs as Drive files, in order (resultUrls' files, those still in Drive)"
    )
    async def outputs(
        self, info: strawberry.Info
    ) -> list[Annotated[DriveFile, strawberry.lazy("schema.drive")]]:
        return [] if self.load_outputs is None else await self.load_outputs(info.context)

    @classmethod
    def from_snapshot(
        cls,
        snap: dict[str, Any],
        result_urls: list[str],
        load_outputs: Callable[[Any], Awaitable[list[DriveFile]]] | None = None,
        load_submitted_by: Callable[[Any], Awaitable[TeamMember | None]] | None = None,
    ) -> CreativeJob:
        """``result_urls``: the outputs as the caller may fetch them (signed by the resolver);
        ``load_outputs``: how to read them as Drive files when selected."""
        return cls(
            id=strawberry.ID(snap["id"]),
            type=JobType(snap["type"]),
            status=JobStatus(snap["status"]),
            provider=Provider(snap["provider"]),
            prompt=snap["prompt"],
            settings=snap["settings"],
            result_urls=result_urls,
            cost_cents=snap["cost_cents"],
            estimated_cost_cents=snap["estimated_cost_cents"],
            overrun_cents=snap["overrun_cents"],
            drive_folder_id=strawberry.ID(snap["drive_folder_id"]) if snap["drive_folder_id"] else None,
            metadata=snap["metadata"],
            error_message=snap["error_message"],
            user_id=strawberry.ID(snap["user_id"]),
            team_id=strawberry.ID(snap["team_id"]),
            version=snap["version"],
            created_at=datetime.fromisoformat(snap["created_at"]),
            started_at=_dt(snap["started_at"]),
            completed_at=_dt(snap["completed_at"]),
            updated_at=datetime.fromisoformat(snap["updated_at"]),
            # .get: an event published by a version before these fields still reads
            progress=snap.get("progress") or 0.0,
            queue_position=snap.get("queue_position"),
            expected_completion_at=_dt(snap.get("expected_completion_at")),
            load_outputs=load_outputs,
            load_submitted_by=load_submitted_by,
            batch_id=strawberry.ID(snap["batch_id"]) if snap.get("batch_id") else None,
            placement=Placement((snap["metadata"] or {})["placement"])
            if (snap["metadata"] or {}).get("placement")
            else None,
            variant=(snap["metadata"] or {}).get("variant"),
            seed=_seed(snap["settings"]),
            rating=JobRating(snap["rating"]) if snap.get("rating") else None,
            client_reference=snap.get("client_reference"),
            client_metadata=snap.get("client_metadata"),
            warnings=notices(snap["metadata"] or {}),
        )


_INT_MAX = 2**31 - 1


def _seed(settings: Any) -> int | None:
    """The job's seed (its provider settings' ``seed``), when a GraphQL Int holds it."""
    own = settings.get("settings") if isinstance(settings, dict) else None
    seed = own.get("seed") if isinstance(own, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= _INT_MAX else None


# A mutation's payload: its data fields default to null and its userErrors to none, so
# ``Payload(user_errors=[...])`` is a failed answer (resolvers/errors.py builds them).
@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = None
    retry_after_seconds: int | None = strawberry.field(
        default=None, description="With RATE_LIMITED: seconds until the limit resets"
    )

    @classmethod
    def of(cls, exc: DomainError) -> UserError:
        return cls(
            code=exc.code,
            message=exc.message,
            field=exc.field,
            retry_after_seconds=exc.retry_after_seconds if isinstance(exc, RateLimited) else None,
        )


@strawberry.interface(
    name="Warning",
    description="A notice about a job the request still made: GenerateWarning (its model) or "
    "PlacementWarning (its placement's ratio or duration); `code` says which",
)
class Notice:
    code: str
    message: str = strawberry.field(description="For people: what happened and what was chosen")
    provider: Provider


@strawberry.type(description="A notice about the model a job runs on (its shutdown, its replacement)")
class GenerateWarning(Notice):
    code: str = strawberry.field(
        description="MODEL_DEPRECATED: shuts down within 30 days; MODEL_REPLACED: shut down, the job "
        "runs on its successor"
    )
    message: str
    provider: Provider = strawberry.field(description="The provider the warning is about")
    model: str = strawberry.field(description="Its wire model id")
    shutdown_date: date
    successor: Provider | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> GenerateWarning:
        return cls(
            code=data["code"],
            message=data["message"],
            provider=Provider(data["provider"]),
            model=data["model"],
            shutdown_date=date.fromisoformat(data["shutdown_date"]),
            successor=Provider(data["successor"]) if data.get("successor") else None,
        )


@strawberry.type(
    description="What was made instead of what a placement asked for: the nearest aspect ratio or "
    "duration the provider renders"
)
class PlacementWarning(Notice):
    code: str = strawberry.field(
        description="ASPECT_RATIO_ADJUSTED: the placement's ratio was not available, the nearest was made; "
        "DURATION_ADJUSTED: the placement's target duration was not available, the nearest was made; "
        "PROVIDER_CHOSEN: no provider was named and the default cannot serve the placement, so `chosen` "
        "(also `provider`) was used instead of `requested`, the default"
    )
    message: str
    placement: Placement | None
    provider: Provider
    requested: str = strawberry.field(description='What the placement asked for ("9:16", or seconds)')
    chosen: str = strawberry.field(description="What is made instead")

    @classmethod
    def of(cls, data: dict[str, Any]) -> PlacementWarning:
        return cls(
            code=data["code"],
            message=data["message"],
            placement=Placement(data["placement"]) if data.get("placement") else None,
            provider=Provider(data["provider"]),
            requested=str(data["requested"]),
            chosen=str(data["chosen"]),
        )


def notices(metadata: dict[str, Any]) -> list[Notice]:
    """A job's warnings as its metadata records them: its model's, then its placement's."""
    found: list[Notice] = [GenerateWarning.of(w) for w in metadata.get("warnings", [])]
    return found + [PlacementWarning.of(a) for a in metadata.get("adjustments", [])]


@strawberry.type(description="The jobs one generate request made (its variants × placements)")
class Batch:
    id: strawberry.ID
    variants: int
    placements: list[Placement]
    client_reference: str | None
    created_at: datetime
    jobs: list[CreativeJob] = strawberry.field(description="In the order they were made")
    counts: BatchCounts
    total_cost_cents: int = strawberry.field(description="What its jobs were charged so far")
    estimated_cost_cents: int = strawberry.field(description="What was held for its jobs")


@strawberry.type(description="A batch's jobs by status")
class BatchCounts:
    total: int
    pending: int
    processing: int
    completed: int
    failed: int
    canceled: int


@strawberry.type
class GeneratePayload:
    job: CreativeJob | None = strawberry.field(default=None, description="The first job of the request")
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    warnings: list[GenerateWarning] = strawberry.field(
        default_factory=list,
        description="The job's model shuts down within 30 days, or was shut down and replaced",
    )
    jobs: list[CreativeJob] = strawberry.field(
        default_factory=list, description="Every job of the request (variants × placements), job first"
    )
    batch: Batch | None = None
    placement_warnings: list[PlacementWarning] = strawberry.field(
        default_factory=list,
        description="Where a placement's ratio or target duration was not available and the nearest was made",
    )


@strawberry.type
class RateJobPayload:
    job: CreativeJob | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    """A Relay edge; ``Edge[CreativeJob]`` is the SDL's ``CreativeJobEdge``."""

    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    """A Relay connection; ``Connection[CreativeJob]`` is the SDL's ``CreativeJobConnection``."""

    edges: list[Edge[Node]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Node]:
        return [edge.node for edge in self.edges]


@strawberry.type
class CreditBalance:
    team_id: strawberry.ID
    balance_cents: int
    available_cents: int
    low_balance_threshold_cents: int | None
    low_balance: bool = strawberry.field(description="Available credits are below the low-balance threshold")
    low_balance_crossed: bool = strawberry.field(
        description="True on the one creditBalanceUpdated event where available credits crossed below the threshold"
    )

    @strawberry.field(description="Credits held for jobs that have not finished yet")  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
    def held_cents(self) -> int:
        return self.balance_cents - self.available_cents

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> CreditBalance:
        return cls(
            team_id=strawberry.ID(snap["team_id"]),
            balance_cents=snap["balance_cents"],
            available_cents=snap["available_cents"],
            low_balance_threshold_cents=snap["low_balance_threshold_cents"],
            low_balance=snap["low_balance"],
            low_balance_crossed=snap["low_balance_crossed"],
        )


@strawberry.type
class CreditTransaction:
    id: strawberry.ID
    kind: CreditTransactionKind
    amount_cents: int
    job_id: strawberry.ID | None
    balance_after_cents: int
    available_after_cents: int
    description: str | None
    created_at: datetime
    # Given the request's context, the row's job (batched per request): read only when selected.
    load_job: strawberry.Private[Callable[[Any], Awaitable[CreativeJob | None]] | None] = None

    @strawberry.field(  # type: ignore[untyped-decorator]  # strawberry types field(description=...) without a resolver as Any
        description="The job the row is for (its type, provider, submittedBy); null for a top-up"
    )
    async def job(self, info: strawberry.Info) -> CreativeJob | None:
        return None if self.load_job is None else await self.load_job(info.context)


@strawberry.type(description="What a provider takes in one image input (limits checked at submission)")
class ImageInputLimits:
    content_types: list[str]
    max_bytes: int
    max_count: int
    min_side_pixels: int = strawberry.field(description="0: no minimum")
    max_side_pixels: int = strawberry.field(description="0: no maximum")
    max_pixels: int = strawberry.field(description="width × height; 0: no maximum")
    max_aspect_ratio: float | None = strawberry.field(description="longer side / shorter side; null: any")


@strawberry.type(description="What one provider makes for a placement by default (as generate* plans it)")
class PlacementProvider:
    provider: Provider
    aspect_ratio: str = strawberry.field(
        description="The ratio it makes: the placement's, or the nearest it renders (a PlacementWarning says so)"
    )
    duration_seconds: int | None = strawberry.field(
        description="A video's length without durationSeconds: the placement's target, or the nearest "
        "the provider renders; null for other types"
    )
    needs_input_image: bool = strawberry.field(
        description="True when the provider makes it only from an input image (Runway's image-to-video: "
        "a video with imageFileId)"
    )


@strawberry.type(
    description="An ad placement (generate*'s placements): the aspect ratio and, for video, the target "
    "duration it asks for, and the providers that can make it"
)
class PlacementInfo:
    placement: Placement
    name: str = strawberry.field(description='How people call it ("Feed", "In-stream")')
    aspect_ratio: str
    target_duration_seconds: int = strawberry.field(
        description="A video's default length for it (the nearest each provider renders)"
    )
    providers: list[PlacementProvider] = strawberry.field(
        description="The image, video and avatar providers that can make it, in the providers query's "
        "order; one missing refuses the placement"
    )


@strawberry.type
class ProviderInfo:
    provider: Provider
    type: JobType
    is_default: bool
    strengths: str
    configured: bool = strawberry.field(description="True when the provider's real API key is set")
    available: bool = strawberry.field(description="False until this provider's adapter exists")
    aspect_ratios: list[str]
    default_aspect_ratio: str | None
    durations_seconds: list[int]
    default_duration_seconds: int | None
    max_text_characters: int
    takes_seed: bool = strawberry.field(
        default=False, description="generate* accepts seed, and variants get different seeds"
    )
    typical_seconds: int = strawberry.field(
        default=0,
        description="How long a job typically takes at this provider, in seconds (an estimate: "
        "the base of progress and expectedCompletionAt where the provider reports none)",
    )
    max_concurrency: int = strawberry.field(
        description="How many of our tasks this provider runs at once (jobs beyond wait their turn); 0: no cap"
    )
    price_unit: str
    price_cents_per_unit: float = strawberry.field(description="The base rate; priceRates may override it")
    price_first_unit_cents: float | None = strawberry.field(
        description="The price of the first unit, when it differs"
    )
    price_rates: list[PriceRate] = strawberry.field(
        description="Rates that apply when a job's settings match"
    )
    cancelable_at_provider: bool = strawberry.field(
        default=False,
        description="True when the provider can stop a task it accepted (cancelJob then stops it there)",
    )
    wire_model: str = strawberry.field(default="", description="The model id sent to the provider")
    lifecycle: ModelLifecycle = strawberry.field(
        default=ModelLifecycle.ACTIVE,
        description="DEPRECATED: a shutdown date is announced; SHUT_DOWN: jobs run on the successor "
        "or are refused",
    )
    shutdown_date: date | None = strawberry.field(
        default=None, description="The day the provider stops serving the model"
    )
    successor: Provider | None = strawberry.field(
        default=None, description="What a job picking this provider runs on once it is shut down"
    )
    start_image: ImageInputLimits | None = strawberry.field(
        default=None, description="The first frame a video takes (imageFileId); null: none"
    )
    reference_images: ImageInputLimits | None = strawberry.field(
        default=None, description="The reference images an image takes (referenceFileIds); null: none"
    )
    portrait_image: ImageInputLimits | None = strawberry.field(
        default=None,
        description="The portrait an avatar takes instead of an avatarId (portraitFileId); null: none",
    )
    price_input_megapixel_cents: float = strawberry.field(
        default=0.0, description="Charged per megapixel of reference images, where the provider bills them"
    )
    price_input_megapixels_cap: float | None = strawberry.field(
        default=None,
        description="The most reference-image megapixels a job is charged for (what the provider processes); null: no cap",
    )
    price_input_image_cents: float = strawberry.field(
        default=0.0,
        description="Charged per reference image whatever its size, where the provider resizes inputs before billing them",
    )
    successor_model: str | None = strawberry.field(
        default=None, description="The replacement the provider itself recommends"
    )


@strawberry.type
class PriceRate:
    cents_per_unit: float
    when: JSON = strawberry.field(description="The settings this rate applies to, e.g. {quality: high}")


@strawberry.type
class CreditUsageRow:
    key: str = strawberry.field(description="The provider, type, user id or day (YYYY-MM-DD) of this row")
    cost_cents: int
    job_count: int
    by_type: list[CreditUsageRow] = strawberry.field(
        default_factory=list,
        description="This row's spend split by job type (key: the type), the biggest first; empty in TYPE rows",
    )


@strawberry.type
class CreditUsage:
    group_by: CreditUsageGroupBy
    from_: datetime = strawberry.field(name="from")
    to: datetime
    total_cents: int
    rows: list[CreditUsageRow]


@strawberry.type
class CreditBalancePayload:
    credit_balance: CreditBalance | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CostEstimate:
    cents: int = strawberry.field(
        description="The sum of the holds the same generate request would place (one job per variant × placement)"
    )
    provider: Provider
    cancel_after_submit_cents: int = strawberry.field(
        default=0,
        description="What cancelJob charges once the job reached its provider (before that it is free)",
    )
    cancelable_at_provider: bool = strawberry.field(
        default=False, description="True when the provider can stop a task it accepted"
    )
    warnings: list[GenerateWarning] = strawberry.field(
        default_factory=list, description="The generate payload's warnings for the same input"
    )
    placement_warnings: list[PlacementWarning] = strawberry.field(
        default_factory=list, description="The generate payload's placementWarnings for the same input"
    )


@strawberry.type(description="A team API key. Its secret is shown once, when created; only a hash is kept.")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The key's first characters, to recognise it")
    scopes: list[ApiKeyScope]
    created_by_user_id: strawberry.ID
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="To the minute")
    revoked_at: datetime | None


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The whole key: shown this once, store it now"
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="The receiver's HTTP status, if it answered")
    error: str | None
    duration_ms: int


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(description="The `webhook-id` header is msg_ + this, hex")
    webhook_id: str = strawberry.field(description="The `webhook-id` header: the same on every attempt")
    event_type: WebhookEventType
    payload: JSON
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[WebhookAttempt] = strawberry.field(description="The latest attempts, oldest first")
    delivered_at: datetime | None
    created_at: datetime


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    events: list[WebhookEventType]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None = strawberry.field(description="Set while deliveries keep failing")
    created_at: datetime
    updated_at: datetime


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (whsec_…): returned when created or rotated, and only then",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Who is calling: what the frontend needs to show or hide")
class Viewer:
    user_id: strawberry.ID
    team_id: strawberry.ID
    team_name: str
    role: str = strawberry.field(description="owner, admin or member")
    is_admin: bool = strawberry.field(
        description="Owner or admin: may manage API keys, webhooks and the low-balance threshold"
        " (with a credential holding every scope)"
    )
    scopes: list[ApiKeyScope]
    api_key_id: strawberry.ID | None = strawberry.field(description="Set when the caller is an API key")


@strawberry.type(description="An avatar of HeyGen's library (a look): its id is generateAvatar's avatarId")
class Avatar:
    id: strawberry.ID
    provider: Provider
    name: str
    gender: str | None = strawberry.field(
        description="As the provider says it (male, female); null: not said"
    )
    preview_image_url: str | None
    preview_video_url: str | None
    avatar_type: str | None = strawberry.field(
        description="HeyGen's avatar_type: studio_avatar, digital_twin or photo_avatar"
    )
    default_voice_id: str | None = strawberry.field(
        description="The voice HeyGen pairs with it (a HeyGen voiceId), when it names one"
    )


@strawberry.type(description="A voice of a provider's library: its id is a voiceId for that provider")
class Voice:
    id: strawberry.ID
    provider: Provider
    name: str
    language: str | None = strawberry.field(
        description="Its main language, ISO 639-1 (en, es …); null: not said"
    )
    languages: list[str] = strawberry.field(description="Every language it is listed for, ISO 639-1")
    locales: list[str] = strawberry.field(description="BCP 47 locales it is listed for (en-US …), where said")
    multilingual: bool = strawberry.field(
        description="It speaks the language of the text it is given, listed or not (OpenAI; ElevenLabs' "
        "multilingual models)"
    )
    gender: str | None
    accent: str | None
    age: str | None
    description: str | None
    category: str | None = strawberry.field(
        description="The provider's kind of voice (ElevenLabs: premade, cloned …; HeyGen: public, private)"
    )
    preview_url: str | None = strawberry.field(description="A short audio sample; null: none published")
    models: list[str] = strawberry.field(
        description="The provider's models it works with (settings.model); empty: every model"
    )
