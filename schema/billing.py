"""GraphQL types of team billing beyond the ledger: spend caps and billing contacts
(docs/credits.md, Spend caps). Data only: resolvers/billing.py builds them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.enums import SpendCapPeriod, SpendCapSubjectKind
from schema.types import UserError


@strawberry.type(description="Whom a spend cap limits: a member of the team, or one of its API keys")
class SpendCapSubject:
    kind: SpendCapSubjectKind
    id: strawberry.ID = strawberry.field(description="The member's user id, or the API key's id")
    name: str = strawberry.field(description="The member's name (or email), or the API key's name")


@strawberry.type(
    description="The most a member or an API key may spend in a UTC calendar day or month: what the "
    "jobs it submitted in the period hold (open jobs) or cost (ended jobs). Checked when work is "
    "submitted; a request that would go over it is refused whole (SPEND_CAP_EXCEEDED)"
)
class SpendCap:
    id: strawberry.ID
    subject: SpendCapSubject
    period: SpendCapPeriod
    limit_cents: int
    spent_cents: int = strawberry.field(description="Spent in the current period (UTC)")
    remaining_cents: int = strawberry.field(description="limitCents - spentCents, at least 0")
    period_starts_at: datetime = strawberry.field(description="The current period's start (UTC midnight)")
    period_ends_at: datetime = strawberry.field(description="When the current period ends and spend resets")
    updated_at: datetime


@strawberry.input(description="Exactly one of userId and apiKeyId")
class SetSpendCapInput:
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A member of the team")
    api_key_id: strawberry.ID | None = strawberry.field(default=None, description="An API key of the team")
    period: SpendCapPeriod
    limit_cents: int | None = strawberry.field(description="null clears the cap; 0 allows no spend")


@strawberry.type
class SpendCapPayload:
    spend_cap: SpendCap | None = strawberry.field(default=None, description="null once cleared")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BillingContactsPayload:
    billing_contacts: list[str] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
