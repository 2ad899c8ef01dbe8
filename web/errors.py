"""The HTTP API's error answers, in one place: ``{"error": {"code", "message", "field", …}}``.

The REST routes (web/rest.py) raise — :class:`HTTPError` for what the HTTP layer itself refuses
(no credential, a malformed request, nothing at that path), a ``DomainError`` for what the domain
refuses — and the exception handlers here, registered on the app (``EXCEPTION_HANDLERS``, web/app.py),
answer. The body size limit's 413, an outage's 503 (web/middleware.py) and strawberry's HTTP
refusals (web/graphql.py) answer in the same shape through :func:`error_response`.

Starlette's own plain-text 404 and 405 for unknown paths and methods stay as they are: its
``HTTPException`` has no handler here."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from models.errors import DomainError, ErrorCode, RateLimited
from services import outages

STATUS_FOR = {
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.PROVIDER_NOT_SUPPORTED: 400,
    ErrorCode.INSUFFICIENT_CREDITS: 402,
    ErrorCode.SPEND_CAP_EXCEEDED: 402,  # a member's or key's own cap (models/spend_caps.py)
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.IN_PROGRESS: 409,  # an upload still being checked (GraphQL only today)
}


class ErrorResponse(JSONResponse):
    """JSON in ASCII: an error may quote the client's input, lone surrogates and all."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def error_response(
    status: int,
    code: str,
    message: str,
    field: list[str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"code": code, "message": message, "field": field, **(extra or {})}
    return ErrorResponse({"error": body}, status_code=status, headers=headers)


class HTTPError(Exception):
    """A request the HTTP layer refuses before (or instead of) any domain operation: raised by a
    route, answered by :func:`http_error`."""

    def __init__(self, status: int, code: str, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _http_only(request: Request, exc: Exception) -> None:
    """Starlette calls the handlers for websockets too (/graphql/plain), where an answer cannot be
    sent: the exception goes on, as it did before there were handlers."""
    if request.scope["type"] != "http":
        raise exc


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    _http_only(request, exc)
    return error_response(exc.status, exc.code, exc.message, exc.field)


async def domain_error(request: Request, exc: Exception) -> Response:
    """A domain refusal; a rate limit says when to come back (Retry-After, X-RateLimit-Reset)."""
    assert isinstance(exc, DomainError)
    _http_only(request, exc)
    if isinstance(exc, RateLimited):
        return error_response(
            429,
            exc.code.value,
            exc.message,
            extra={"retry_after_seconds": exc.retry_after_seconds, "reset_at": exc.reset_at},
            headers={"Retry-After": str(exc.retry_after_seconds), "X-RateLimit-Reset": str(exc.reset_at)},
        )
    return error_response(STATUS_FOR[exc.code], exc.code.value, exc.message, exc.field)


EXCEPTION_HANDLERS: dict[Any, Any] = {HTTPError: http_error, DomainError: domain_error}


def unavailable() -> JSONResponse:
    """503: the database or Redis could not be reached, nothing was done (``outages``).

    Not an exception handler: an outage is recognised by what caused the exception (a tortoise
    error raised from a refused connection), not by its class (web.middleware.ServiceUnavailable)."""
    return error_response(
        503,
        outages.CODE,
        outages.MESSAGE,
        extra={"retry_after_seconds": outages.RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(outages.RETRY_AFTER_SECONDS)},
    )
