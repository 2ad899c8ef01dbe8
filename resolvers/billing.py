"""Team billing beyond the ledger: spend caps, billing contacts, the team's members."""

from __future__ import annotations

import strawberry

from models import billing, spend_caps
from models.teams import Membership
from resolvers.errors import query_errors, user_errors
from resolvers.outputs import team_member_output
from schema.billing import (
    BillingContactsPayload,
    SetSpendCapInput,
    SpendCap,
    SpendCapPayload,
    SpendCapSubject,
)
from schema.context import Info
from schema.enums import SpendCapPeriod, SpendCapSubjectKind
from schema.types import TeamMember
from services.auth import require_admin


def _cap(status: spend_caps.CapStatus) -> SpendCap:
    cap = status.cap
    subject_id = cap.user_id if cap.user_id is not None else cap.api_key_id
    return SpendCap(
        id=strawberry.ID(str(cap.id)),
        subject=SpendCapSubject(
            kind=SpendCapSubjectKind(cap.kind.value),
            id=strawberry.ID(str(subject_id)),
            name=status.subject_name,
        ),
        period=SpendCapPeriod(cap.period.value),
        limit_cents=cap.limit_cents,
        spent_cents=status.spent_cents,
        remaining_cents=status.remaining_cents,
        period_starts_at=status.period_start,
        period_ends_at=status.period_end,
        updated_at=cap.updated_at,
    )


@query_errors
async def spend_caps_query(info: Info) -> list[SpendCap]:
    principal = info.context.require("billing")
    return [_cap(status) for status in await spend_caps.team_caps(principal.team_id)]


@user_errors(SpendCapPayload)
async def set_spend_cap(info: Info, input: SetSpendCapInput) -> SpendCapPayload:
    """Team admins only; limitCents null clears the cap."""
    principal = info.context.require("billing")
    require_admin(principal, "set spend caps")
    cap = await spend_caps.set_cap(
        principal.team_id,
        user_id=str(input.user_id) if input.user_id is not None else None,
        api_key_id=str(input.api_key_id) if input.api_key_id is not None else None,
        period=spend_caps.Period(input.period.value),
        limit_cents=input.limit_cents,
    )
    if cap is None:
        return SpendCapPayload(spend_cap=None)
    return SpendCapPayload(spend_cap=_cap(await spend_caps.cap_status(principal.team_id, cap)))


@query_errors
async def billing_contacts(info: Info) -> list[str]:
    principal = info.context.require("billing")
    return await billing.contacts(principal.team_id)


@user_errors(BillingContactsPayload)
async def set_billing_contacts(info: Info, emails: list[str]) -> BillingContactsPayload:
    """Team admins only; replaces the list (an empty list removes every contact)."""
    principal = info.context.require("billing")
    require_admin(principal, "change the billing contacts")
    return BillingContactsPayload(billing_contacts=await billing.set_contacts(principal.team_id, emails))


@query_errors
async def team_members(info: Info) -> list[TeamMember]:
    principal = info.context.require("read")
    rows = await Membership.filter(team_id=principal.team_id).select_related("user").order_by("created_at")
    return [team_member_output(row.user, row.role) for row in rows]
