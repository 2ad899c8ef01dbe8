"""The root types: a table of contents binding each field to its resolver."""

from __future__ import annotations

import strawberry

from resolvers import credits as credit_resolvers
from resolvers import jobs as job_resolvers
from resolvers import providers as provider_resolvers
from resolvers import subscriptions as subscription_resolvers
from schema.types import (
    CostEstimate,
    CreativeJob,
    CreativeJobConnection,
    CreditBalance,
    CreditBalancePayload,
    CreditTransactionConnection,
    CreditUsage,
    GeneratePayload,
    ProviderInfo,
)


@strawberry.type
class Query:
    job: CreativeJob | None = strawberry.field(resolver=job_resolvers.job)
    jobs: CreativeJobConnection = strawberry.field(resolver=job_resolvers.jobs, description="Newest first")
    credit_balance: CreditBalance = strawberry.field(resolver=credit_resolvers.credit_balance)
    credit_transactions: CreditTransactionConnection = strawberry.field(
        resolver=credit_resolvers.credit_transactions, description="The ledger, newest first"
    )
    credit_usage: CreditUsage = strawberry.field(
        resolver=credit_resolvers.credit_usage, description="Completed jobs' costs in [from, to), grouped"
    )
    providers: list[ProviderInfo] = strawberry.field(resolver=provider_resolvers.providers)
    estimate_cost: CostEstimate = strawberry.field(resolver=provider_resolvers.estimate_cost)


@strawberry.type
class Mutation:
    generate_image: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_image)
    generate_video: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_video)
    generate_avatar: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_avatar)
    generate_tts: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_tts)
    generate_composite: GeneratePayload = strawberry.mutation(resolver=job_resolvers.generate_composite)
    cancel_job: GeneratePayload = strawberry.mutation(resolver=job_resolvers.cancel_job)
    set_low_balance_threshold: CreditBalancePayload = strawberry.mutation(
        resolver=credit_resolvers.set_low_balance_threshold,
        description="Team admins only; null turns alerts off",
    )


@strawberry.type
class Subscription:
    job_updated: CreativeJob = strawberry.subscription(
        resolver=subscription_resolvers.job_updated,
        description="The current state first, then every change, in order",
    )
    jobs_updated: CreativeJob = strawberry.subscription(
        resolver=subscription_resolvers.jobs_updated,
        description="Every change to any job of the caller's team",
    )
    credit_balance_updated: CreditBalance = strawberry.subscription(
        resolver=subscription_resolvers.credit_balance_updated,
        description="The current balance first, then every change",
    )
