"""How every adapter talks HTTP: one request helper and one mapping from answers to provider errors.

The mapping is shared by all adapters so that a 429 from BFL and a 429 from HeyGen mean the same
thing to the worker:

* timeouts, connection failures, 5xx, 408, 409 and 429 → :class:`RetryableError` (``retry_after``
  from the ``Retry-After`` header when the provider sends one);
* 401 / 403 → :class:`ProviderSetupError` saying the provider refused our credentials;
* 402 → :class:`ProviderSetupError` (the provider account is out of credits);
* any other 4xx → :class:`ProviderRequestError` carrying the provider's own message, or
  :class:`ModerationError` when the provider's error code says the content was blocked.

The provider's words go into ``message`` (the server log); tenants see the error class's fixed text.

Credentials stay with their hosts: :func:`send` never lets httpx follow a redirect; it follows one
itself only to the same origin (scheme, host and port) and refuses any other with
:class:`UnsafeUrlError`, so a key header is never sent anywhere the request was not meant for.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from providers.errors import (
    ModerationError,
    ProviderError,
    ProviderRequestError,
    ProviderSetupError,
    RetryableError,
    UnsafeUrlError,
)

RETRYABLE_STATUSES = frozenset({408, 409, 429})
_MAX_MESSAGE_CHARS = 500
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what "same origin" compares."""
    url = httpx.URL(url)
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


def host_matches(host: str, patterns: Collection[str]) -> bool:
    """Whether ``host`` is one of ``patterns``: exact names, or suffixes written ``".bfl.ai"``."""
    host = host.lower()
    return any(host == p or (p.startswith(".") and host.endswith(p)) for p in patterns)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_body(body: Any) -> tuple[str | None, str | None]:
    """The (message, code) of a provider's JSON error body, whatever its dialect.

    Understands OpenAI / HeyGen / Ark ``{"error": {"message", "code"}}``, Google's
    ``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}`` (the status is the code),
    Runway ``{"error": "text"}``, BFL / Luma / FastAPI ``{"detail": "text" | [{"loc", "msg"}]}``,
    ElevenLabs ``{"detail": {"status", "message"}}``, Creatomate ``{"hint": "text"}``, and HeyGen's
    legacy / Kling's ``{"code": 40001, "message": "MISSING_PARAMS"}``.
    """
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("detail") or error.get("msg")
        detail = error.get("detail")
        if isinstance(message, str) and isinstance(detail, str) and detail and detail != message:
            message = f"{message}: {detail}"
        code = error.get("code")
        if not isinstance(code, str) and isinstance(error.get("status"), str) and error["status"]:
            code = error["status"]  # Google: a numeric HTTP code and the canonical status name
        return (str(message) if message else None), (str(code) if code is not None else None)
    if isinstance(error, str) and error:
        return error, None
    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        return detail, None
    if isinstance(detail, list) and detail:
        return "; ".join(_describe_validation_item(item) for item in detail), "validation_error"
    if isinstance(detail, dict):
        message = detail.get("message") or detail.get("msg")
        code = detail.get("status") or detail.get("code")
        if isinstance(message, str) and message:
            return message, (str(code) if code is not None else None)
    hint = body.get("hint")
    if isinstance(hint, str) and hint:
        return hint, None
    message = body.get("message")
    code = body.get("code")
    if isinstance(message, str) and message and message.lower() != "success":
        return message, (str(code) if code is not None else None)
    return None, None


def _describe_validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc if part != "body") if isinstance(loc, list) else ""
    message = str(item.get("msg") or item.get("message") or item)
    return f"{where}: {message}" if where else message


def is_moderation(code: str | None, message: str | None, markers: Collection[str]) -> bool:
    """Whether a provider error code (or message) is one of the provider's moderation markers."""
    code_l = (code or "").lower()
    message_l = (message or "").lower()
    return any(marker.lower() == code_l or marker.lower() in message_l for marker in markers)


def provider_error(
    response: httpx.Response, *, provider: str, moderation_codes: Collection[str] = ()
) -> ProviderError:
    """The error a non-2xx provider answer means (see the module docstring for the table)."""
    status = response.status_code
    try:
        text = response.text
    except httpx.ResponseNotRead:  # a streamed answer whose body we chose not to read
        text = ""
    try:
        body: Any = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = None
    message, code = error_from_body(body)
    if message is None:
        message = text.strip()[:_MAX_MESSAGE_CHARS] or response.reason_phrase or f"HTTP {status}"
    message = message[:_MAX_MESSAGE_CHARS]
    if status >= 500 or status in RETRYABLE_STATUSES:
        return RetryableError(
            f"{provider} is unavailable right now (HTTP {status}): {message}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            code=code or f"http_{status}",
        )
    if status in (401, 403):
        return ProviderSetupError(
            f"provider refused our credentials (HTTP {status} from {provider}): {message}",
            code=code or "unauthorized",
        )
    if status == 402:
        return ProviderSetupError(
            f"provider account has insufficient credits (HTTP 402 from {provider}): {message}",
            code=code or "insufficient_credits",
        )
    if is_moderation(code, message, moderation_codes):
        return ModerationError(message, code=code or "moderation")
    return ProviderRequestError(message, code=code or f"http_{status}")


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Turn httpx's transport failures (no answer at all) into provider errors."""
    try:
        yield
    except httpx.UnsupportedProtocol as exc:
        # A misconfigured base URL: retrying cannot help.
        raise ProviderSetupError(f"{provider} base URL is not usable: {exc}", code="bad_base_url") from exc
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{provider} timed out ({type(exc).__name__})", code="timeout") from exc
    except httpx.TransportError as exc:
        raise RetryableError(f"{provider} could not be reached: {exc!r}", code="transport") from exc


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    headers: dict[str, str],
    json_body: Any = None,
    params: dict[str, str] | None = None,
    request_timeout: httpx.Timeout | float | None = None,
    moderation_codes: Collection[str] = (),
    form: dict[str, str] | None = None,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> httpx.Response:
    """Make one request and return the 2xx response, or raise the provider error it means.

    Redirects are followed here, not by httpx, and only within the origin of ``url``: a redirect to
    another origin raises :class:`UnsafeUrlError` before anything (above all ``headers``) is sent there.
    """
    extra: dict[str, Any] = {}
    if request_timeout is not None:
        extra["timeout"] = request_timeout
    if files is not None:  # multipart/form-data: text fields and files (OpenAI's image edits)
        extra["data"] = form or {}
        extra["files"] = files
    with transport_errors(provider):
        response = await client.request(
            method, url, headers=headers, json=json_body, params=params, follow_redirects=False, **extra
        )
        for _ in range(MAX_REDIRECTS):
            target = response.next_request  # set by httpx for a redirect it did not follow
            if target is None:
                break
            if origin(target.url) != origin(response.request.url):
                await response.aclose()
                raise UnsafeUrlError(
                    f"{provider} redirected {response.request.url.host} to another origin "
                    f"({target.url.scheme}://{target.url.host}); not followed with our credentials",
                    code="cross_origin_redirect",
                )
            await response.aclose()
            response = await client.send(target, follow_redirects=False)
        else:
            if response.next_request is not None:
                await response.aclose()
                raise UnsafeUrlError(f"{provider} redirected too many times", code="too_many_redirects")
    if response.is_success:
        return response
    raise provider_error(response, provider=provider, moderation_codes=moderation_codes)


def json_of(response: httpx.Response, *, provider: str) -> Any:
    """The JSON body of a 2xx answer; an unreadable one is treated as a transient fault."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetryableError(
            f"{provider} answered HTTP {response.status_code} with a body that is not JSON",
            code="bad_body",
        ) from exc
