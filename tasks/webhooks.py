"""Webhook delivery by the workers: outbox events become deliveries, each sent signed and retried
on the Standard Webhooks schedule (``models.webhooks``) until the receiver answers 2xx."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from models import webhooks
from models.errors import DomainError
from models.events import TeamEvent
from models.webhook_wire import endpoint_secret, headers, resolve
from services.auth import signed_result_urls
from services.container import Services
from services.log_safety import url_host
from services.settings import Settings

log = logging.getLogger(__name__)
ATTEMPT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# The whole of one attempt: the timeouts above bound each read, so a receiver dripping its answer a
# byte at a time would otherwise hold the attempt (and a worker) for as long as it liked.
ATTEMPT_DEADLINE_SECONDS = 30.0
LEASE = timedelta(seconds=60)  # longer than one attempt; a sender that died is replaced after it


def event_body(settings: Settings, event: TeamEvent) -> str:
    """The JSON body for an event: ``{"type", "timestamp", "data"}`` (result URLs signed)."""
    data = dict(event.payload)
    if isinstance(data.get("result_urls"), list):
        data["result_urls"] = signed_result_urls(data["result_urls"], settings)
    return json.dumps(
        {"type": event.kind, "timestamp": event.created_at.astimezone(UTC).isoformat(), "data": data},
        separators=(",", ":"),
    )


async def dispatch(services: Services, team_id: str | None = None) -> int:
    """Deliveries for the outbox events not yet dispatched, each enqueued for its first attempt."""
    created = await webhooks.dispatch_pending_events(
        lambda event: event_body(services.settings, event), team_id
    )
    for delivery in created:
        await services.queue.enqueue_webhook_delivery(str(delivery.id), 0)
    return len(created)


async def _post(services: Services, url: str, hdrs: dict[str, str], body: bytes) -> httpx.Response:
    """POST to the endpoint, connecting only to an address that passed the public-address check."""
    settings = services.settings
    target = await resolve(
        url, allow_private=settings.webhooks_allow_private_urls, allowed_ports=settings.webhook_allowed_ports
    )
    extensions: dict[str, Any] = {}
    if target.address is not None:
        parts = urlsplit(url)
        address = f"[{target.address}]" if ":" in target.address else target.address
        netloc = address + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
        hdrs = {**hdrs, "host": parts.netloc.rsplit("@", 1)[-1]}
        extensions["sni_hostname"] = target.host
    return await services.http.post(
        url,
        content=body,
        headers=hdrs,
        timeout=ATTEMPT_TIMEOUT,
        follow_redirects=False,  # a redirect could lead anywhere, including inside the network
        extensions=extensions,
    )


def _certificate_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def failure_class(exc: httpx.HTTPError, url: str) -> str:
    """What the delivery log says about an attempt that got no HTTP answer. Coarse on purpose: a
    refused connection, a reset, a silent port and a port that speaks something else all read
    "connection failed", so the log cannot be used to tell open ports from closed. Two classes say
    more, as both need the receiver to have shown a certificate: one not valid for the endpoint's host
    ("tls error"), and no answer to a request sent over a verified https connection ("timeout")."""
    if _certificate_refused(exc):
        return "tls error: the receiver's certificate was not accepted for its host"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout) and url.lower().startswith("https:"):
        return f"timeout: no answer within {ATTEMPT_TIMEOUT.read:.0f} s"
    return "connection failed"


async def attempt(
    services: Services, url: str, hdrs: dict[str, str], body: bytes
) -> tuple[int | None, str | None]:
    """One POST: the receiver's status code if it answered, and the error (None for a 2xx)."""
    try:
        async with asyncio.timeout(ATTEMPT_DEADLINE_SECONDS):
            response = await _post(services, url, hdrs, body)
    except DomainError as exc:  # the address rule, checked again at delivery
        return None, exc.message
    except TimeoutError:
        log.info("a webhook attempt passed its %.0f s deadline", ATTEMPT_DEADLINE_SECONDS)
        if url.lower().startswith("https:"):  # as failure_class: only a verified receiver is told apart
            return (
                None,
                f"timeout: the receiver did not finish answering within {ATTEMPT_DEADLINE_SECONDS:.0f} s",
            )
        return None, "connection failed"
    except httpx.HTTPError as exc:
        log.info("a webhook attempt got no answer: %s", type(exc).__name__)
        return None, failure_class(exc, url)
    status = response.status_code
    return status, None if 200 <= status < 300 else f"the receiver answered HTTP {status}"


async def deliver(services: Services, delivery_id: str) -> str:
    """One attempt of a delivery, then the next one scheduled (or the delivery given up)."""
    delivery = await webhooks.claim_attempt(delivery_id, LEASE)
    if delivery is None:
        return "not due"
    endpoint = delivery.endpoint
    body = delivery.payload.encode()
    timestamp = int(time.time())
    hdrs = headers(
        [
            endpoint_secret(services.settings.secret, str(endpoint.id), version)
            for version in endpoint.signing_versions(datetime.now(UTC))
        ],
        f"msg_{delivery.event_id.hex}",
        timestamp,
        body,
    )
    started = time.perf_counter()
    status_code, error = await attempt(services, endpoint.url, hdrs, body)
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    if error is None:
        assert status_code is not None  # no error means the receiver answered 2xx
        await webhooks.record_success(delivery, status_code, elapsed_ms)
        return "delivered"
    # The endpoint by its host only: its path or query may be the tenant's secret.
    log.info("webhook delivery %s to %s failed: %s", delivery.id, url_host(endpoint.url), error)
    retry_at = await webhooks.record_failure(
        delivery, status_code, error, elapsed_ms, schedule_scale=services.settings.webhook_retry_scale
    )
    if retry_at is None:
        await dispatch(services, str(delivery.team_id))  # an endpoint-disabled event, if any
        return "gave up"
    delay = (retry_at - datetime.now(UTC)).total_seconds()
    await services.queue.enqueue_webhook_delivery(str(delivery.id), delay)
    return f"retry in {delay:.1f}s"


async def sweep(services: Services) -> dict[str, int]:
    """The safety net: dispatch events whose dispatch was lost, re-enqueue overdue deliveries; and
    the retention: one batch of the delivery log and outbox older than the retention period."""
    dispatched = await dispatch(services)
    overdue = 0
    async for delivery in webhooks.due_deliveries(datetime.now(UTC) - timedelta(seconds=5)):
        await services.queue.enqueue_webhook_delivery(str(delivery.id), 0)
        overdue += 1
    pruned = await webhooks.prune_log(
        datetime.now(UTC) - timedelta(days=services.settings.webhook_log_retention_days)
    )
    return {"webhooks_dispatched": dispatched, "webhooks_requeued": overdue, **pruned}
