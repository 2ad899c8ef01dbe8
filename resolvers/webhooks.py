"""Team webhook endpoints (managed by owners and admins) and their delivery logs."""

from __future__ import annotations

import json

import strawberry

from models import webhooks
from models.errors import DomainError, ErrorCode
from models.generation import check_text
from models.webhook_wire import endpoint_secret, resolve
from models.webhooks import WebhookDelivery as DeliveryRow
from models.webhooks import WebhookEndpoint as EndpointRow
from resolvers.pagination import paginate
from schema.context import Info, query_error
from schema.enums import WebhookDeliveryStatus, WebhookEventType
from schema.inputs import CreateWebhookEndpointInput, UpdateWebhookEndpointInput
from schema.types import (
    DeletePayload,
    PageInfo,
    UserError,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
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
        status=WebhookDeliveryStatus(row.status.value),
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
async def webhook_endpoints(info: Info) -> list[WebhookEndpoint]:
    try:
        principal = _admin(info, "see webhook endpoints")
    except DomainError as exc:
        raise query_error(exc) from None
    rows = await EndpointRow.filter(team_id=principal.team_id).order_by("created_at")
    return [endpoint_type(r) for r in rows]


async def webhook_endpoint(info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
    try:
        principal = _admin(info, "see webhook endpoints")
        return endpoint_type(await webhooks.get_endpoint(principal.team_id, str(id)))
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            return None
        raise query_error(exc) from None


async def webhook_deliveries(
    info: Info,
    endpoint_id: strawberry.ID,
    first: int | None = 20,
    after: str | None = None,
    status: WebhookDeliveryStatus | None = None,
) -> WebhookDeliveryConnection:
    """One endpoint's delivery log, newest first."""
    try:
        principal = _admin(info, "see webhook deliveries")
        endpoint = await webhooks.get_endpoint(principal.team_id, str(endpoint_id))
    except DomainError as exc:
        raise query_error(exc) from None
    query = DeliveryRow.filter(endpoint_id=endpoint.id)
    if status is not None:
        query = query.filter(status=status.value)
    page = await paginate(query, first, after)
    return WebhookDeliveryConnection(
        edges=[WebhookDeliveryEdge(cursor=c, node=delivery_type(r)) for c, r in page.rows],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
    )


# -- mutations ----------------------------------------------------------------------------------
def _endpoint_error(exc: DomainError) -> WebhookEndpointPayload:
    return WebhookEndpointPayload(webhook_endpoint=None, secret=None, user_errors=[UserError.of(exc)])


async def create_webhook_endpoint(info: Info, input: CreateWebhookEndpointInput) -> WebhookEndpointPayload:
    try:
        principal = _admin(info, "manage webhooks")
        check_text(input.url, "url")
        check_text(input.description, "description")
        row = await webhooks.create_endpoint(
            principal.team_id,
            url=await _checked_url(info, input.url),
            events=[e.value for e in input.events],
            description=input.description,
        )
    except DomainError as exc:
        return _endpoint_error(exc)
    return WebhookEndpointPayload(
        webhook_endpoint=endpoint_type(row), secret=_secret(info, row), user_errors=[]
    )


async def update_webhook_endpoint(
    info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
) -> WebhookEndpointPayload:
    try:
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
    except DomainError as exc:
        return _endpoint_error(exc)
    return WebhookEndpointPayload(webhook_endpoint=endpoint_type(row), secret=None, user_errors=[])


async def delete_webhook_endpoint(info: Info, id: strawberry.ID) -> DeletePayload:
    try:
        principal = _admin(info, "manage webhooks")
        await webhooks.delete_endpoint(principal.team_id, str(id))
    except DomainError as exc:
        return DeletePayload(deleted_id=None, user_errors=[UserError.of(exc)])
    return DeletePayload(deleted_id=id, user_errors=[])


async def rotate_webhook_secret(info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
    """A new signing secret; the old one keeps signing alongside it for 24 hours."""
    try:
        principal = _admin(info, "manage webhooks")
        row = await webhooks.rotate_secret(principal.team_id, str(id))
    except DomainError as exc:
        return _endpoint_error(exc)
    return WebhookEndpointPayload(
        webhook_endpoint=endpoint_type(row), secret=_secret(info, row), user_errors=[]
    )


async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> WebhookDeliveryPayload:
    """Send a delivery again now: the same webhook-id and body."""
    try:
        principal = _admin(info, "manage webhooks")
        row = await webhooks.redeliver(principal.team_id, str(delivery_id))
    except DomainError as exc:
        return WebhookDeliveryPayload(delivery=None, user_errors=[UserError.of(exc)])
    await info.context.services.queue.enqueue_webhook_delivery(str(row.id), 0)
    return WebhookDeliveryPayload(delivery=delivery_type(row), user_errors=[])
