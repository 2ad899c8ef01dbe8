"""Low-balance emails to a team's billing contacts, sent by the workers from the outbox
(models/billing.py) after the transaction that recorded the crossing committed.

One attempt claims the email (a lease, so one sender at a time), sends it through an SMTP client
(aiosmtplib; STARTTLS, implicit TLS or plain, with optional login: CH_SMTP_*) and records it sent;
a refusal or an unreachable server is retried on the backoff schedule; a message that cannot be
built at all fails for good at once. With no CH_SMTP_HOST (development) the message is written to
the log instead, and counts as sent.

One attempt is cut at ``attempt_seconds`` (connect, STARTTLS, login and the send are each bounded
by CH_SMTP_TIMEOUT_SECONDS, but not their sum), and the lease lasts longer than that, so the sweep
never starts a second attempt while the first may still be sending."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from models import billing
from services.container import Services
from services.settings import Settings

log = logging.getLogger(__name__)
BILLING_PATH = "/app/#/billing"
# One attempt's steps, each bounded by the SMTP timeout: connect (and implicit TLS), STARTTLS,
# login, the send (MAIL, RCPT, DATA).
ATTEMPT_STEPS = 4
# Past the attempt: claiming the email and recording the outcome (database writes).
LEASE_MARGIN = timedelta(seconds=60)


def attempt_seconds(settings: Settings) -> float:
    """The longest one attempt may send for, after which it is cut (and retried)."""
    return ATTEMPT_STEPS * settings.smtp_timeout_seconds


def lease(settings: Settings) -> timedelta:
    """How long a claimed email is left to its sender before the sweep may try it again."""
    return timedelta(seconds=attempt_seconds(settings)) + LEASE_MARGIN


def build_message(settings: Settings, email: billing.BillingEmail) -> EmailMessage:
    subject, body = billing.low_balance_message(
        email.team.name, dict(email.event.payload), settings.public_url + BILLING_PATH
    )
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(email.recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # The same id on every attempt: a receiver that got an earlier attempt can tell.
    message["Message-ID"] = make_msgid(idstring=email.id.hex, domain="creative-hub.invalid")
    message.set_content(body)
    return message


def readable(message: EmailMessage) -> str:
    """The message as a person reads it (headers, then the plain text, not transfer-encoded)."""
    head = "\n".join(f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date"))
    body = message.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return f"{head}\n\n{text}"


async def send(settings: Settings, message: EmailMessage) -> None:
    """Hand the message to the configured SMTP server (raises on any refusal or failure)."""
    assert settings.smtp_host
    async with asyncio.timeout(attempt_seconds(settings)):
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_security == "tls",
            start_tls=True if settings.smtp_security == "starttls" else False,
            timeout=settings.smtp_timeout_seconds,
        )


async def deliver(services: Services, email_id: str) -> str:
    """One attempt of one email, then the next scheduled (or the email given up)."""
    settings = services.settings
    email = await billing.claim(email_id, lease(settings))
    if email is None:
        return "not due"
    try:
        message = build_message(settings, email)
    except (ValueError, TypeError) as exc:  # the email library refuses it: so would every retry
        error = f"{type(exc).__name__}: {exc}"
        log.error("low-balance email %s cannot be built, given up: %s", email.id, error)
        await billing.record_failure(email, error, permanent=True)
        return "unsendable"
    if not settings.smtp_host:
        log.warning("no CH_SMTP_HOST: the low-balance email is logged, not sent\n%s", readable(message))
        await billing.record_sent(email)
        return "logged"
    try:
        await send(settings, message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.info("low-balance email %s to %s failed: %s", email.id, settings.smtp_host, error)
        retry_at = await billing.record_failure(email, error, schedule_scale=settings.email_retry_scale)
        if retry_at is None:
            return "gave up"
        delay = (retry_at - datetime.now(UTC)).total_seconds()
        await services.queue.enqueue_billing_email(str(email.id), delay)
        return f"retry in {delay:.1f}s"
    await billing.record_sent(email)
    return "sent"


async def sweep(services: Services) -> dict[str, int]:
    """The backstop: emails due whose enqueue was lost (or whose sender died) are enqueued again."""
    ids = await billing.due_ids()
    for email_id in ids:
        await services.queue.enqueue_billing_email(email_id, 0)
    return {"billing_emails_requeued": len(ids)}
