"""A team's billing contacts and the low-balance emails sent to them.

The email is an outbox like webhooks (models/webhooks.py): when a low-balance crossing is recorded
(``credits._low_balance_check`` writes the ``credits.low_balance`` TeamEvent), one
``BillingEmail`` row is written in the same transaction, addressed to the contacts of that
moment. Workers send it after the commit (tasks/billing_email.py), one sender at a time (a lease
claimed by a guarded update), retried with backoff while the SMTP server refuses or is away, and
marked sent once: one email per crossing, never one per charge."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError, ErrorCode
from models.events import TeamEvent
from models.teams import Team

MAX_CONTACTS = 10
MAX_CONTACTS_SENT = 10 * MAX_CONTACTS  # a list longer than this is refused before it is read
# Deliberately plain: one @, no spaces or angle brackets, a dot in the domain (RFC 5321 lengths).
EMAIL = re.compile(
    r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
# Delay before each attempt after the first (immediate): about 11 hours in all, then given up.
RETRY_SCHEDULE = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
)


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class BillingContact(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="billing_contacts"
    )
    team_id: uuid.UUID
    email = fields.CharField(max_length=254)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "billing_contact"
        unique_together = (("team", "email"),)


class BillingEmail(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="billing_emails"
    )
    team_id: uuid.UUID
    # One email per event: the crossing it tells of.
    event: fields.ForeignKeyRelation[TeamEvent] = fields.ForeignKeyField(
        "models.TeamEvent", related_name="emails", on_delete=fields.CASCADE, unique=True
    )
    event_id: uuid.UUID
    recipients: fields.JSONField[list[str]] = fields.JSONField(default=list)
    status = fields.CharEnumField(EmailStatus, max_length=16, default=EmailStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error: str | None = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "billing_email"
        indexes = (("status", "next_attempt_at"),)


def now() -> datetime:
    return datetime.now(UTC)


def normalize_contacts(emails: list[str]) -> list[str]:
    """The list as stored: trimmed, lower-cased domain, duplicates dropped, in the order given.
    VALIDATION_FAILED names the first bad entry."""
    if len(emails) > MAX_CONTACTS_SENT:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"a team has at most {MAX_CONTACTS} billing contacts; {len(emails)} were sent",
            ["emails"],
        )
    out: list[str] = []
    for i, raw in enumerate(emails):
        email = (raw or "").strip()
        if len(email) > 254 or not EMAIL.match(email):
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, f"{raw!r} is not an email address", ["emails", str(i)]
            )
        local, _, domain = email.rpartition("@")
        email = f"{local}@{domain.lower()}"
        if email.lower() not in (e.lower() for e in out):
            out.append(email)
    if len(out) > MAX_CONTACTS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"a team has at most {MAX_CONTACTS} billing contacts", ["emails"]
        )
    return out


async def contacts(team_id: uuid.UUID | str, conn: BaseDBAsyncClient | None = None) -> list[str]:
    query = BillingContact.filter(team_id=team_id).order_by("created_at", "email")
    if conn is not None:
        query = query.using_db(conn)
    return [row.email for row in await query]


async def set_contacts(team_id: uuid.UUID | str, emails: list[str]) -> list[str]:
    """Replace the team's billing contacts (an empty list removes them all)."""
    wanted = normalize_contacts(emails)
    async with in_transaction() as conn:
        await BillingContact.filter(team_id=team_id).using_db(conn).delete()
        for email in wanted:
            await BillingContact.create(team_id=team_id, email=email, using_db=conn)
    return wanted


async def record_low_balance_email(conn: BaseDBAsyncClient, event: TeamEvent) -> BillingEmail | None:
    """In the crossing's transaction: the email to the team's billing contacts (none: nothing)."""
    recipients = await contacts(event.team_id, conn)
    if not recipients:
        return None
    return await BillingEmail.create(
        team_id=event.team_id,
        event_id=event.id,
        recipients=recipients,
        next_attempt_at=now(),
        using_db=conn,
    )


async def due_ids(team_id: uuid.UUID | str | None = None, limit: int = 200) -> list[str]:
    query = BillingEmail.filter(status=EmailStatus.PENDING, next_attempt_at__lte=now())
    if team_id is not None:
        query = query.filter(team_id=team_id)
    return [str(i) for i in await query.order_by("next_attempt_at").limit(limit).values_list("id", flat=True)]


async def claim(email_id: str, lease: timedelta) -> BillingEmail | None:
    """The right to make the next attempt of a due email (one sender at a time: the lease moves
    its next attempt past the attempt's length); None when not due or already sent."""
    at = now()
    changed = await BillingEmail.filter(
        Q(next_attempt_at__lte=at), id=email_id, status=EmailStatus.PENDING
    ).update(next_attempt_at=at + lease)
    if not changed:
        return None
    return await BillingEmail.get(id=email_id).select_related("event", "team")


async def record_sent(email: BillingEmail) -> None:
    at = now()
    await BillingEmail.filter(id=email.id).update(
        status=EmailStatus.SENT,
        attempts=email.attempts + 1,
        sent_at=at,
        next_attempt_at=None,
        last_error=None,
        updated_at=at,
    )


async def record_failure(
    email: BillingEmail, error: str, *, schedule_scale: float = 1.0, permanent: bool = False
) -> datetime | None:
    """A failed attempt; when to try again, or None once the schedule is used up or the failure is
    ``permanent`` (a message that cannot be built fails the same way every time): then FAILED."""
    at = now()
    attempts = email.attempts + 1
    retry_at = (
        at + RETRY_SCHEDULE[attempts - 1] * schedule_scale
        if attempts <= len(RETRY_SCHEDULE) and not permanent
        else None
    )
    await BillingEmail.filter(id=email.id).update(
        status=EmailStatus.PENDING if retry_at else EmailStatus.FAILED,
        attempts=attempts,
        next_attempt_at=retry_at,
        last_error=error[:1000],
        updated_at=at,
    )
    return retry_at


def low_balance_message(team_name: str, payload: dict[str, Any], billing_url: str) -> tuple[str, str]:
    """The email's subject and plain-text body (the team's name on one line: no control
    characters, so it can never end the Subject header)."""
    team_name = one_line(team_name)
    available = int(payload.get("available_cents") or 0)
    balance = int(payload.get("balance_cents") or 0)
    threshold = int(payload.get("low_balance_threshold_cents") or 0)
    subject = (
        f"Creative Hub: {team_name} credits are low ({_dollars(available)} available, "
        f"threshold {_dollars(threshold)})"
    )
    body = (
        f"The available credits of the team {team_name} fell below the low-balance threshold.\n"
        "\n"
        f"  Available: {_dollars(available)}\n"
        f"  Balance:   {_dollars(balance)} (available plus credits held for running jobs)\n"
        f"  Threshold: {_dollars(threshold)}\n"
        "\n"
        "New jobs are refused once the available credits do not cover their estimate.\n"
        f"Top up, or change the threshold, on the billing page: {billing_url}\n"
        "\n"
        "You get this email once each time the credits cross below the threshold, because you are\n"
        "a billing contact of the team.\n"
    )
    return subject, body


def one_line(text: str) -> str:
    """``text`` with every control character and line or paragraph separator made a space, and
    runs of white space made one."""
    spaced = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(spaced.split())


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"
