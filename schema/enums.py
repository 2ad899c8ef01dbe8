"""GraphQL enums. Values are the domain's own strings, so conversion is ``Enum(value)``.

An enum the domain declares itself (error codes, job and delivery statuses, ledger kinds) is not
declared again here: the domain's class is exposed under its GraphQL name, so resolvers hand its
members to the schema as they are."""

from __future__ import annotations

from enum import Enum

import strawberry

from models.credits import Kind as CreditTransactionKind
from models.drive import FileKind as DriveFileKind
from models.drive import FileSource as DriveFileSource
from models.errors import ErrorCode
from models.jobs import JobStatus
from models.spend_caps import Period as SpendCapPeriod
from models.spend_caps import SubjectKind as SpendCapSubjectKind
from models.teams import Role
from models.webhooks import DeliveryStatus as WebhookDeliveryStatus

__all__ = [
    "ApiKeyScope",
    "CreditTransactionKind",
    "CreditUsageGroupBy",
    "DriveFileKind",
    "DriveFileSource",
    "ErrorCode",
    "JobStatus",
    "JobType",
    "ModelLifecycle",
    "Placement",
    "Provider",
    "SpendCapPeriod",
    "SpendCapSubjectKind",
    "TeamRole",
    "WebhookDeliveryStatus",
    "WebhookEventType",
]

# The domain's own enums, under their GraphQL names (strawberry.enum marks the class, returns it).
strawberry.enum(ErrorCode)
strawberry.enum(JobStatus)
strawberry.enum(CreditTransactionKind, name="CreditTransactionKind")
strawberry.enum(WebhookDeliveryStatus, name="WebhookDeliveryStatus")
strawberry.enum(
    SpendCapPeriod,
    name="SpendCapPeriod",
    description="A spend cap's period: the UTC calendar day or the UTC calendar month",
)
strawberry.enum(SpendCapSubjectKind, name="SpendCapSubjectKind", description="Whom a spend cap limits")


@strawberry.enum(description="A member's role in the team")
class TeamRole(Enum):
    OWNER = Role.OWNER.value
    ADMIN = Role.ADMIN.value
    MEMBER = Role.MEMBER.value


strawberry.enum(DriveFileKind, name="DriveFileKind", description="What a Drive file holds, by its content")
strawberry.enum(DriveFileSource, name="DriveFileSource", description="Made by a job, or uploaded")


@strawberry.enum
class JobType(Enum):
    IMAGE = "image"
    VIDEO = "video"
    AVATAR = "avatar"
    TTS = "tts"
    COMPOSITE = "composite"


@strawberry.enum
class Provider(Enum):
    FLUX_2_PRO = "flux_2_pro"
    GPT_IMAGE_1_5 = "gpt_image_1_5"
    GPT_IMAGE_2_6_SUNBURST = "gpt_image_2_6_sunburst"
    GPT_IMAGE_2_6_FLARE = "gpt_image_2_6_flare"
    SEEDREAM_4_5 = "seedream_4_5"
    LUMA_RAY3 = "luma_ray3"
    RUNWAY_GEN4 = "runway_gen4"
    KLING_2_6 = "kling_2_6"
    KLING_3_0 = "kling_3_0"
    VEO_3_1 = "veo_3_1"
    HEYGEN = "heygen"
    ELEVENLABS = "elevenlabs"
    OPENAI_TTS = "openai_tts"
    CREATOMATE = "creatomate"


@strawberry.enum(description="Whether the provider still serves a model (providers/lifecycle.py)")
class ModelLifecycle(Enum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    SHUT_DOWN = "shut_down"


@strawberry.enum
class Placement(Enum):
    FEED = "FEED"
    STORY = "STORY"
    REELS = "REELS"
    TIKTOK = "TIKTOK"
    IN_STREAM = "IN_STREAM"
    POSTER = "POSTER"


@strawberry.enum(description="How a team rates a job's output: WINNER marks the one(s) picked")
class JobRating(Enum):
    WINNER = "WINNER"
    LIKED = "LIKED"
    REJECTED = "REJECTED"


@strawberry.enum
class CreditUsageGroupBy(Enum):
    PROVIDER = "provider"
    TYPE = "type"
    USER = "user"
    DAY = "day"


@strawberry.enum
class ApiKeyScope(Enum):
    READ = "read"
    GENERATE = "generate"
    BILLING = "billing"


@strawberry.enum(description="What a webhook endpoint can subscribe to (the payload's `type`)")
class WebhookEventType(Enum):
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELED = "job.canceled"
    CREDITS_LOW_BALANCE = "credits.low_balance"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"
