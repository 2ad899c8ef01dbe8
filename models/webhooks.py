"""Team webhook endpoints and their deliveries.

An event (a ``TeamEvent`` outbox row, written in the transaction that caused it) becomes one
``WebhookDelivery`` per enabled endpoint subscribed to its kind. A delivery is retried on the
Standard Webhooks schedule until it succeeds or runs out of attempts (over a day); its
``webhook-id`` is the event id, the same on every attempt and redelivery. An endpoint whose
deliveries keep failing for longer than the retry window is disabled, and a
``webhook.endpoint_disabled`` event says so (to the team's other endpoints, and in the API).
Finished deliveries and the events behind them are kept for a retention period (:func:`prune_log`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.expressions import F, Q, Subquery
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError, ErrorCode
from models.events import (
    ENDPOINT_DISABLED,
    JOB_CANCELED,
    JOB_COMPLETED,
    JOB_FAILED,
    LOW_BALANCE,
    TeamEvent,
)
from models.teams import Team
from models.tenancy import require_team_row
from models.webhook_wire import MAX_URL_LENGTH

WEBHOOK_EVENTS = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, LOW_BALANCE, ENDPOINT_DISABLED)
# Delay before each attempt (the first is immediate): the Standard Webhooks / Svix schedule,
# 8 attempts over about 27.6 hours.
RETRY_SCHEDULE = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPT_LOG = 20
MAX_ENDPOINTS_PER_TEAM = 20


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEndpoint(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField("models.Team", related_name="webhooks")
    team_id: uuid.UUID
    url = fields.CharField(max_length=MAX_URL_LENGTH)
    description = fields.CharField(max_length=500, default="")
    events: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # The signing secret is not stored: it is derived from CH_SECRET_KEY, the endpoint id and this
    # version (webhook_wire.endpoint_secret), so a copy of the database signs nothing. Rotating bumps
    # the version; the previous one keeps signing for a day, so receivers can switch without loss.
    secret_version = fields.IntField(default=1)
    previous_version_expires_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    disabled_reason: str | None = fields.TextField(null=True)  # tortoise types a TextField str, null or not
    disabled_at = fields.DatetimeField(null=True)
    # Set at the first failed attempt after a success; cleared by any success.
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_endpoint"

    def signing_versions(self, at: datetime) -> list[int]:
        """The secret versions that sign now: the current one, and the previous for a day after a rotation."""
        versions = [self.secret_version]
        if (
            self.secret_version > 1
            and self.previous_version_expires_at
            and self.previous_version_expires_at > at
        ):
            versions.append(self.secret_version - 1)
        return versions


class WebhookDelivery(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: uuid.UUID
    team_id = fields.UUIDField()
    event: fields.ForeignKeyRelation[TeamEvent] = fields.ForeignKeyField(
        "models.TeamEvent", related_name="deliveries"
    )
    event_id: uuid.UUID
    event_type = fields.CharField(max_length=64)
    payload = fields.TextField()  # the exact body sent on every attempt
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error: str | None = fields.TextField(null=True)
    # The latest attempts: at, status code, error, ms.
    attempt_log: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_delivery"
        unique_together = (("endpoint", "event"),)
        # event_id: deleting an event (retention) looks for its deliveries; unindexed, that was a
        # scan of the whole table per event.
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "created_at"), ("event_id",))


def now() -> datetime:
    return datetime.now(UTC)


def _invalid(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_FAILED, message, [field])


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise _invalid("subscribe to at least one event", "events")
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        raise _invalid(f"unknown events {', '.join(unknown)}; one of {', '.join(WEBHOOK_EVENTS)}", "events")
    return sorted(set(events), key=WEBHOOK_EVENTS.index)


async def get_endpoint(team_id: uuid.UUID | str, endpoint_id: str) -> WebhookEndpoint:
    """An endpoint of this team; a foreign id answers exactly like a missing one."""
    return await require_team_row(WebhookEndpoint, team_id, endpoint_id, "webhook endpoint")


async def create_endpoint(
    team_id: uuid.UUID | str, *, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """``url`` must already have passed ``webhook_wire.resolve``."""
    if await WebhookEndpoint.filter(team_id=team_id).count() >= MAX_ENDPOINTS_PER_TEAM:
        raise _invalid(f"a team has at most {MAX_ENDPOINTS_PER_TEAM} webhook endpoints", "url")
    return await WebhookEndpoint.create(
        team_id=team_id,
        url=url,
        events=check_events(events),
        description=(description or "")[:500],
    )


async def update_endpoint(
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    if url is not None:
        endpoint.url = url
    if events is not None:
        endpoint.events = check_events(events)
    if description is not None:
        endpoint.description = description[:500]
    if enabled is True and not endpoint.enabled:
        # Re-enabling starts afresh: the failure streak that disabled it is forgotten.
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = True, None, None
        endpoint.failing_since = None
    elif enabled is False and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, "disabled by request", now()
    await endpoint.save()
    return endpoint


async def delete_endpoint(team_id: uuid.UUID | str, endpoint_id: str) -> None:
    endpoint = await get_endpoint(team_id, endpoint_id)
    await endpoint.delete()


async def rotate_secret(team_id: uuid.UUID | str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await get_endpoint(team_id, endpoint_id)
    await WebhookEndpoint.filter(id=endpoint.id).update(
        secret_version=F("secret_version") + 1, previous_version_expires_at=now() + timedelta(hours=24)
    )
    await endpoint.refresh_from_db()
    return endpoint


# -- deliveries ------------------------------------------------------------------------------
async def dispatch_pending_events(
    body_of: Any, team_id: uuid.UUID | str | None = None, limit: int = 200
) -> list[WebhookDelivery]:
    """Turn outbox events not yet dispatched into deliveries (one per subscribed, enabled endpoint).

    Each event is claimed by a guarded update, so concurrent dispatchers create its deliveries once.
    ``body_of(event)`` renders the JSON body that every attempt will send."""
    query = TeamEvent.filter(dispatched_at=None, kind__in=WEBHOOK_EVENTS)
    if team_id is not None:
        query = query.filter(team_id=team_id)
    created: list[WebhookDelivery] = []
    for event in await query.order_by("created_at").limit(limit):
        async with in_transaction() as conn:
            claimed = (
                await TeamEvent.filter(id=event.id, dispatched_at=None)
                .using_db(conn)
                .update(dispatched_at=now())
            )
            if not claimed:
                continue
            endpoints = await WebhookEndpoint.filter(team_id=event.team_id, enabled=True).using_db(conn)
            body = body_of(event)  # the same for every endpoint
            for endpoint in endpoints:
                if event.kind not in endpoint.events:
                    continue
                created.append(
                    await WebhookDelivery.create(
                        endpoint=endpoint,
                        team_id=event.team_id,
                        event=event,
                        event_type=event.kind,
                        payload=body,
                        next_attempt_at=now(),
                        using_db=conn,
                    )
                )
    return created


async def claim_attempt(delivery_id: str, lease: timedelta) -> WebhookDelivery | None:
    """The right to make the next attempt of a due delivery (one sender at a time); None when it
    is not due, already finished, or its endpoint is disabled or gone."""
    at = now()
    changed = await WebhookDelivery.filter(
        id=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=at
    ).update(next_attempt_at=at + lease)
    if not changed:
        return None
    delivery = await WebhookDelivery.get(id=delivery_id).select_related("endpoint")
    if not delivery.endpoint.enabled:
        await WebhookDelivery.filter(id=delivery.id).update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="the endpoint is disabled",
            updated_at=at,
        )
        return None
    return delivery


def _log(delivery: WebhookDelivery, entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [*delivery.attempt_log, entry][-MAX_ATTEMPT_LOG:]


async def record_success(delivery: WebhookDelivery, status_code: int, elapsed_ms: int) -> None:
    at = now()
    entry = {"at": at.isoformat(), "status_code": status_code, "error": None, "duration_ms": elapsed_ms}
    await WebhookDelivery.filter(id=delivery.id).update(
        status=DeliveryStatus.SUCCEEDED,
        attempts=delivery.attempts + 1,
        last_status_code=status_code,
        last_error=None,
        next_attempt_at=None,
        delivered_at=at,
        attempt_log=_log(delivery, entry),
        updated_at=at,
    )
    await WebhookEndpoint.filter(id=delivery.endpoint_id, failing_since__not_isnull=True).update(
        failing_since=None
    )


async def record_failure(
    delivery: WebhookDelivery,
    status_code: int | None,
    error: str,
    elapsed_ms: int,
    *,
    schedule_scale: float = 1.0,
) -> datetime | None:
    """Record a failed attempt. Returns when to try again, or None when the delivery has run out of
    attempts (then the endpoint is disabled if it has been failing for longer than the schedule)."""
    at = now()
    attempts = delivery.attempts + 1
    entry = {"at": at.isoformat(), "status_code": status_code, "error": error, "duration_ms": elapsed_ms}
    retry_at = None
    if attempts < len(RETRY_SCHEDULE):
        retry_at = at + RETRY_SCHEDULE[attempts] * schedule_scale
    await WebhookDelivery.filter(id=delivery.id).update(
        status=DeliveryStatus.PENDING if retry_at else DeliveryStatus.FAILED,
        attempts=attempts,
        last_status_code=status_code,
        last_error=error[:1000],
        next_attempt_at=retry_at,
        attempt_log=_log(delivery, entry),
        updated_at=at,
    )
    await WebhookEndpoint.filter(id=delivery.endpoint_id, failing_since=None).update(failing_since=at)
    if retry_at is None:
        await _disable_if_persistently_failing(delivery.endpoint_id, schedule_scale)
    return retry_at


def retry_window(schedule_scale: float) -> timedelta:
    return sum(RETRY_SCHEDULE, timedelta(0)) * schedule_scale


async def _disable_if_persistently_failing(endpoint_id: uuid.UUID, schedule_scale: float) -> None:
    """Disable an endpoint that has not accepted anything for a whole retry window, and record a
    ``webhook.endpoint_disabled`` event (once: the disable is a guarded update)."""
    since = now() - retry_window(schedule_scale) * 0.9
    async with in_transaction() as conn:
        endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id, using_db=conn)
        if endpoint is None or endpoint.failing_since is None or endpoint.failing_since > since:
            return
        reason = (
            f"disabled after failing continuously since {endpoint.failing_since.isoformat()}; "
            "fix the receiver, then re-enable it (updateWebhookEndpoint enabled: true)"
        )
        disabled = (
            await WebhookEndpoint.filter(id=endpoint_id, enabled=True)
            .using_db(conn)
            .update(enabled=False, disabled_reason=reason, disabled_at=now())
        )
        if disabled:
            await TeamEvent.create(
                team_id=endpoint.team_id,
                kind=ENDPOINT_DISABLED,
                payload={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason},
                using_db=conn,
            )


async def redeliver(team_id: uuid.UUID | str, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now (same webhook-id and body), whatever its state."""
    delivery = await require_team_row(WebhookDelivery, team_id, delivery_id, "webhook delivery")
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
    if not endpoint.enabled:
        raise DomainError(ErrorCode.CONFLICT, "the endpoint is disabled; re-enable it first", ["id"])
    at = now()
    await WebhookDelivery.filter(id=delivery.id).update(
        status=DeliveryStatus.PENDING, next_attempt_at=at, updated_at=at
    )
    await delivery.refresh_from_db()
    return delivery


def due_deliveries(before: datetime, limit: int = 500) -> Any:
    """Pending deliveries due before ``before`` (the sweep re-enqueues them if an enqueue was lost)."""
    return (
        WebhookDelivery.filter(Q(status=DeliveryStatus.PENDING), next_attempt_at__lte=before)
        .order_by("next_attempt_at")
        .limit(limit)
    )


PRUNE_BATCH = 1000


async def prune_log(before: datetime, batch: int = PRUNE_BATCH) -> dict[str, int]:
    """Forget what is older than ``before``, one batch of each in one transaction:

    - deliveries finished (succeeded or failed) and untouched since ``before`` — a pending one is
      still being tried, and a redelivered one counts from its redelivery;
    - then events created before ``before`` that were dispatched, that no delivery refers to any
      more, and (for a low-balance crossing) that were published to realtime subscribers.

    Every condition is checked again by the delete itself, so a concurrent redelivery is never
    deleted. Call again while it returns full batches."""
    finished = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
    old_deliveries = WebhookDelivery.filter(updated_at__lt=before, status__in=finished)
    old_events = TeamEvent.filter(
        Q(published_at__isnull=False) | ~Q(kind=LOW_BALANCE),
        created_at__lt=before,
        dispatched_at__isnull=False,
    ).exclude(id__in=Subquery(WebhookDelivery.all().values("event_id")))
    async with in_transaction() as conn:
        ids = await old_deliveries.using_db(conn).limit(batch).values_list("id", flat=True)
        deliveries = await old_deliveries.filter(id__in=list(ids)).using_db(conn).delete() if ids else 0
        event_ids = await old_events.using_db(conn).limit(batch).values_list("id", flat=True)
        events = await old_events.filter(id__in=list(event_ids)).using_db(conn).delete() if event_ids else 0
    return {"webhook_deliveries_pruned": deliveries, "team_events_pruned": events}
