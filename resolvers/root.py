"""The root types: a table of contents binding each field to its resolver."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import api_keys as key_resolvers
from resolvers import billing as billing_resolvers
from resolvers import creatives as creative_resolvers
from resolvers import credits as credit_resolvers
from resolvers import drive as drive_resolvers
from resolvers import jobs as job_resolvers
from resolvers import providers as provider_resolvers
from resolvers import subscriptions as subscription_resolvers
from resolvers import uploads as upload_resolvers
from resolvers import viewer as viewer_resolvers
from resolvers import webhooks as webhook_resolvers
from schema.billing import BillingContactsPayload, SpendCap, SpendCapPayload
from schema.creatives import Creative, CreativeEstimate, CreativePayload
from schema.drive import (
    DeleteDrivePayload,
    DriveFile,
    DriveFileConnection,
    DriveFilePayload,
    DriveFolder,
    DriveFolderPayload,
    DriveUsage,
)
from schema.types import (
    ApiKey,
    ApiKeyPayload,
    Avatar,
    Batch,
    Connection,
    CostEstimate,
    CreateApiKeyPayload,
    CreativeJob,
    CreditBalance,
    CreditBalancePayload,
    CreditTransaction,
    CreditUsage,
    DeletePayload,
    GeneratePayload,
    PlacementInfo,
    ProviderInfo,
    RateJobPayload,
    TeamMember,
    Viewer,
    Voice,
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)
from schema.uploads import CreateUploadPayload  # uploads


@strawberry.type
class Query:
    viewer: Viewer = strawberry.field(resolver=viewer_resolvers.viewer)
    job: CreativeJob | None = strawberry.field(resolver=job_resolvers.job)
    jobs: Connection[CreativeJob] = strawberry.field(resolver=job_resolvers.jobs, description="Newest first")
    batch: Batch | None = strawberry.field(
        resolver=job_resolvers.batch,
        description="The jobs one generate request made (variants × placements), counted and costed",
    )
    credit_balance: CreditBalance = strawberry.field(resolver=credit_resolvers.credit_balance)
    credit_transactions: Connection[CreditTransaction] = strawberry.field(
        resolver=credit_resolvers.credit_transactions, description="The ledger, newest first"
    )
    credit_usage: CreditUsage = strawberry.field(
        resolver=credit_resolvers.credit_usage,
        description="Charged jobs' costs in [from, to), grouped: completed jobs, and jobs canceled "
        "after they reached their provider",
    )
    # Team billing (resolvers/billing.py; docs/credits.md, Spend caps)
    spend_caps: list[SpendCap] = strawberry.field(
        resolver=billing_resolvers.spend_caps_query,
        description="The team's spend caps with what each subject spent in the current UTC day or month",
    )
    billing_contacts: list[str] = strawberry.field(
        resolver=billing_resolvers.billing_contacts,
        description="Who gets the low-balance email (once per crossing of the threshold)",
    )
    team_members: list[TeamMember] = strawberry.field(
        resolver=billing_resolvers.team_members, description="The people of the caller's team, oldest first"
    )
    providers: list[ProviderInfo] = strawberry.field(resolver=provider_resolvers.providers)
    estimate_cost: CostEstimate = strawberry.field(resolver=provider_resolvers.estimate_cost)
    placements: list[PlacementInfo] = strawberry.field(
        resolver=provider_resolvers.placement_list,
        description="The ad placements generate* takes: each one's aspect ratio, target duration and "
        "the providers that can make it",
    )
    avatars: list[Avatar] = strawberry.field(
        resolver=provider_resolvers.avatars,
        description="HeyGen's avatars (generateAvatar's avatarId), filtered by gender and a name search",
    )
    voices: list[Voice] = strawberry.field(
        resolver=provider_resolvers.voices,
        description="A provider's voices (HEYGEN, ELEVENLABS, OPENAI_TTS): voiceId values for it. With "
        "language (ISO 639-1 or a locale such as es-MX) the voices listed for it first, then the "
        "multilingual ones",
    )
    api_keys: list[ApiKey] = strawberry.field(
        resolver=key_resolvers.api_keys, description="Team owners and admins only; newest first"
    )
    webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
        resolver=webhook_resolvers.webhook_endpoints, description="Team owners and admins only"
    )
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(resolver=webhook_resolvers.webhook_endpoint)
    webhook_deliveries: Connection[WebhookDelivery] = strawberry.field(
        resolver=webhook_resolvers.webhook_deliveries, description="One endpoint's delivery log, newest first"
    )
    drive_folders: list[DriveFolder] = strawberry.field(
        resolver=drive_resolvers.drive_folders,
        description="The team's folders as a tree (top-level folders, each with its children), by name",
    )
    drive_files: DriveFileConnection = strawberry.field(
        resolver=drive_resolvers.drive_files,
        description="The team's files, newest first: in one folder (folderId; not its subfolders) or "
        "all, matching the filter",
    )
    drive_file: DriveFile | None = strawberry.field(resolver=drive_resolvers.drive_file)
    drive_usage: DriveUsage = strawberry.field(resolver=drive_resolvers.drive_usage)
    # Creatives (resolvers/creatives.py; docs/contract.md, Creatives)
    creative: Creative | None = strawberry.field(resolver=creative_resolvers.creative)
    estimate_creative: CreativeEstimate = strawberry.field(
        resolver=creative_resolvers.estimate_creative,
        description="What createCreative would hold for the same input (every job validated, nothing held)",
    )


@strawberry.type
class Mutation:
    generate_image: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_image)
    generate_video: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_video)
    generate_avatar: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_avatar)
    generate_tts: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_tts)
    generate_composite: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_composite)
    rate_job: RateJobPayload = strawberry.mutation(
        resolver=job_resolvers.rate_job,
        description="Rate a completed job's output (WINNER marks a pick; null clears); jobs filters by rating",
    )
    cancel_job: GeneratePayload = strawberry.mutation(
        resolver=job_resolvers.cancel_job,
        description=(
            "Cancel an open job. Free (costCents 0) until the job reached its provider; after that the "
            "provider bills the work it started, so the job is charged its estimate (costCents, the "
            "estimate's cancelAfterSubmitCents) and the provider is asked to stop where it can "
            "(providers.cancelableAtProvider; metadata.provider_canceled once the provider confirmed)"
        ),
    )
    set_low_balance_threshold: CreditBalancePayload = strawberry.mutation(
        resolver=credit_resolvers.set_low_balance_threshold,
        description="Team admins only; null turns alerts off",
    )
    set_spend_cap: SpendCapPayload = strawberry.mutation(
        resolver=billing_resolvers.set_spend_cap,
        description="Team admins only: the daily or monthly (UTC) cap of a member or an API key; "
        "limitCents null clears it",
    )
    set_billing_contacts: BillingContactsPayload = strawberry.mutation(
        resolver=billing_resolvers.set_billing_contacts,
        description="Team admins only: the emails (at most 10) that get the low-balance email; replaces the list",
    )
    create_api_key: CreateApiKeyPayload = strawberry.mutation(
        resolver=key_resolvers.create_api_key, description="Team admins only; the secret is shown once"
    )
    revoke_api_key: ApiKeyPayload = strawberry.mutation(resolver=key_resolvers.revoke_api_key)
    create_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhook_resolvers.create_webhook_endpoint, description="Team admins only"
    )
    update_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhook_resolvers.update_webhook_endpoint
    )
    delete_webhook_endpoint: DeletePayload = strawberry.mutation(
        resolver=webhook_resolvers.delete_webhook_endpoint
    )
    rotate_webhook_secret: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhook_resolvers.rotate_webhook_secret
    )
    redeliver_webhook: WebhookDeliveryPayload = strawberry.mutation(
        resolver=webhook_resolvers.redeliver_webhook
    )
    create_drive_folder: DriveFolderPayload = strawberry.mutation(
        resolver=drive_resolvers.create_drive_folder,
        description="In parentId, or at the top level; names are unique among siblings (CONFLICT)",
    )
    rename_drive_folder: DriveFolderPayload = strawberry.mutation(
        resolver=drive_resolvers.rename_drive_folder
    )
    move_drive_folder: DriveFolderPayload = strawberry.mutation(
        resolver=drive_resolvers.move_drive_folder,
        description="Into parentId (null: to the top level); never into itself or a folder under it",
    )
    delete_drive_folder: DeleteDrivePayload = strawberry.mutation(
        resolver=drive_resolvers.delete_drive_folder,
        description="An empty folder; one with files or folders in it only with recursive: true (then "
        "everything in it, their bytes freed from the team's usage)",
    )
    rename_drive_file: DriveFilePayload = strawberry.mutation(
        resolver=drive_resolvers.rename_drive_file,
        description="The extension follows the content (renaming a PNG to logo gives logo.png)",
    )
    move_drive_file: DriveFilePayload = strawberry.mutation(resolver=drive_resolvers.move_drive_file)
    delete_drive_file: DeleteDrivePayload = strawberry.mutation(resolver=drive_resolvers.delete_drive_file)
    # Uploads (resolvers/uploads.py; docs/contract.md, Uploads)
    upload_drive_file: DriveFilePayload = strawberry.mutation(
        resolver=upload_resolvers.upload_drive_file,
        description="A small file (at most CH_MAX_UPLOAD_BYTES, 20 MiB by default) as a GraphQL "
        "multipart request; larger ones with createUpload. Needs the generate scope",
    )
    create_upload: CreateUploadPayload = strawberry.mutation(
        resolver=upload_resolvers.create_upload,
        description="A large file, step one: reserves sizeBytes of the quota and answers where to PUT "
        "the bytes; then completeUpload. Needs the generate scope",
    )
    complete_upload: DriveFilePayload = strawberry.mutation(
        resolver=upload_resolvers.complete_upload,
        description="A large file, step two: checks the bytes PUT by content; refused, nothing is kept",
    )
    # Creatives (resolvers/creatives.py; docs/contract.md, Creatives)
    create_creative: CreativePayload = strawberry.mutation(
        resolver=creative_resolvers.create_creative,
        description="A graph of jobs at once (a recipe, or nodes): all validated and held in one go, or "
        "nothing; a job taking other jobs' outputs starts by itself once they completed",
    )
    cancel_creative: CreativePayload = strawberry.mutation(
        resolver=creative_resolvers.cancel_creative,
        description="Cancel every open job of the creative (each as cancelJob would: free until it "
        "reached its provider)",
    )


@strawberry.type
class Subscription:
    job_updated: AsyncGenerator[CreativeJob, None] = strawberry.subscription(
        resolver=subscription_resolvers.job_updated,
        description="The current state first, then every change, in order",
    )
    jobs_updated: AsyncGenerator[CreativeJob, None] = strawberry.subscription(
        resolver=subscription_resolvers.jobs_updated,
        description="Every change to any job of the caller's team",
    )
    credit_balance_updated: AsyncGenerator[CreditBalance, None] = strawberry.subscription(
        resolver=subscription_resolvers.credit_balance_updated,
        description="The current balance first, then every change",
    )
    creative_updated: AsyncGenerator[Creative, None] = strawberry.subscription(
        resolver=creative_resolvers.creative_updated,
        description="The whole creative first, then again at every change of one of its jobs, until all ended",
    )
