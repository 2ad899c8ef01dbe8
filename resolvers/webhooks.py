"""Team webhook endpoints (managed by owners and admins) and their delivery logs."""

from __future__ import annotations

import json

import strawberry

from models import webhooks
from models.generation import check_text
from models.tenancy import team_row
from models.webhook_wire import endpoint_secret, resolve
from models.webhooks import WebhookDelivery as DeliveryRow
from models.webhooks import WebhookEndpoint as EndpointRow
from resolvers.errors import query_errors, user_errors
from resolvers.pagination import paginate
from schema.context import Info
from schema.enums import WebhookDeliveryStatus, WebhookEventType
from schema.inputs import CreateWebhookEndpointInput, UpdateWebhookEndpointInput
from schema.types import (
    Connection,
    DeletePayload,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)
from services.auth import Principal, require_admin


def endpoint_type(row: EndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=strawberry.ID(str(row.id)),
        url=row.url,
        description=row.description,
        events=[WebhookEventType(e) for e in row.events],
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def delivery_type(row: DeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=strawberry.ID(str(row.id)),
        endpoint_id=strawberry.ID(str(row.endpoint_id)),
        event_id=strawberry.ID(str(row.event_id)),
        webhook_id=f"msg_{row.event_id.hex}",
        event_type=WebhookEventType(row.event_type),
        payload=json.loads(row.payload),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        attempt_log=[WebhookAttempt(**entry) for entry in row.attempt_log],
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


def _secret(info: Info, row: EndpointRow) -> str:
    return endpoint_secret(info.context.services.settings.secret, str(row.id), row.secret_version)


def _admin(info: Info, what: str) -> Principal:
    principal = info.context.require("read")
    require_admin(principal, what)
    return principal


async def _checked_url(info: Info, url: str) -> str:
    url = url.strip()
    settings = info.context.services.settings
    await resolve(
        url, allow_private=settings.webhooks_allow_private_urls, allowed_ports=settings.webhook_allowed_ports
    )
    return url


# -- queries ------------------------------------------------------------------------------------
@query_errors
async def webhook_endpoints(info: Info) -> list[WebhookEndpoint]:
    principal = _admin(info, "see webhook endpoints")
    rows = await EndpointRow.filter(team_id=principal.team_id).order_by("created_at")
    return [endpoint_type(r) for r in rows]


@query_errors
async def webhook_endpoint(info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
    principal = _admin(info, "see webhook endpoints")
    row = await team_row(EndpointRow, principal.team_id, str(id))  # missing or foreign: null
    return endpoint_type(row) if row else None


@query_errors
async def webhook_deliveries(
    info: Info,
    endpoint_id: strawberry.ID,
    first: int | None = 20,
    after: str | None = None,
    status: WebhookDeliveryStatus | None = None,
) -> Connection[WebhookDelivery]:
    """One endpoint's delivery log, newest first."""
    principal = _admin(info, "see webhook deliveries")
    endpoint = await webhooks.get_endpoint(principal.team_id, str(endpoint_id))
    query = DeliveryRow.filter(endpoint_id=endpoint.id)
    if status is not None:
        query = query.filter(status=status.value)
    return await paginate(query, first, after, delivery_type)


# -- mutations ----------------------------------------------------------------------------------
@user_errors(WebhookEndpointPayload)
async def create_webhook_endpoint(info: Info, input: CreateWebhookEndpointInput) -> WebhookEndpointPayload:
    principal = _admin(info, "manage webhooks")
    check_text(input.url, "url")
    check_text(input.description, "description")
    row = await webhooks.create_endpoint(
        principal.team_id,
        url=await _checked_url(info, input.url),
        events=[e.value for e in input.events],
        description=input.description,
    )
    return WebhookEndpointPayload(webhook_endpoint=endpoint_type(row), secret=_secret(info, row))


@user_errors(WebhookEndpointPayload)
async def update_webhook_endpoint(
    info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
) -> WebhookEndpointPayload:
    principal = _admin(info, "manage webhooks")
    endpoint = await webhooks.get_endpoint(principal.team_id, str(id))  # NOT_FOUND before anything
    check_text(input.url, "url")
    check_text(input.description, "description")
    row = await webhooks.update_endpoint(
        endpoint,
        url=await _checked_url(info, input.url) if input.url is not None else None,
        events=[e.value for e in input.events] if input.events is not None else None,
        description=input.description,
        enabled=input.enabled,
    )
    return WebhookEndpointPayload(webhook_endpoint=endpoint_type(row))


@user_errors(DeletePayload)
async def delete_webhook_endpoint(info: Info, id: strawberry.ID) -> DeletePayload:
    principal = _admin(info, "manage webhooks")
    await webhooks.delete_endpoint(principal.team_id, str(id))
    return DeletePayload(deleted_id=id)


@user_errors(WebhookEndpointPayload)
async def rotate_webhook_secret(info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
    """A new signing secret; the old one keeps signing alongside it for 24 hours."""
    principal = _admin(info, "manage webhooks")
    row = await webhooks.rotate_secret(principal.team_id, str(id))
    return WebhookEndpointPayload(webhook_endpoint=endpoint_type(row), secret=_secret(info, row))


@user_errors(WebhookDeliveryPayload)
async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> WebhookDeliveryPayload:
    """Send a delivery again now: the same webhook-id and body."""
    principal = _admin(info, "manage webhooks")
    row = await webhooks.redeliver(principal.team_id, str(delivery_id))
    await info.context.services.queue.enqueue_webhook_delivery(str(row.id), 0)
    return WebhookDeliveryPayload(delivery=delivery_type(row))
