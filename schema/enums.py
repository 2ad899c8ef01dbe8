"""GraphQL enums. Values are the domain's own strings, so conversion is ``Enum(value)``."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class JobType(Enum):
    IMAGE = "image"
    VIDEO = "video"
    AVATAR = "avatar"
    TTS = "tts"
    COMPOSITE = "composite"


@strawberry.enum
class JobStatus(Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


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


@strawberry.enum
class ErrorCode(Enum):
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    PROVIDER_NOT_SUPPORTED = "PROVIDER_NOT_SUPPORTED"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"


@strawberry.enum
class CreditTransactionKind(Enum):
    TOP_UP = "TOP_UP"
    HOLD = "HOLD"
    CAPTURE = "CAPTURE"
    RELEASE = "RELEASE"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"


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


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
