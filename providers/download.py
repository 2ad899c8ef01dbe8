"""Copying a finished job's outputs off the provider: bounded, type-checked, errors mapped."""

from __future__ import annotations

from collections.abc import Collection

import httpx

from providers.base import Output
from providers.errors import OutputError, RetryableError
from providers.http import host_matches, origin, provider_error, transport_errors

GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})
GONE_STATUSES = frozenset({403, 404, 410})
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_REDIRECTS = 5


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file announce, for the formats providers hand out."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:11] == b"M4A" else "video/mp4"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync; AAC in ADTS shares the first 12 bits but has layer bits 00.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    return None


# Types that can carry script (SVG, HTML, XML, JavaScript): never accepted as an output, even where
# a prefix ("image/") would admit them.
SCRIPTABLE_MARKERS = ("svg", "xml", "html", "javascript", "ecmascript")


def allowed(content_type: str, allowed_types: Collection[str]) -> bool:
    """``allowed_types`` holds exact types ("image/png") and prefixes ending in "/" ("video/")."""
    if any(marker in content_type for marker in SCRIPTABLE_MARKERS):
        return False
    return any(content_type.startswith(t) if t.endswith("/") else content_type == t for t in allowed_types)


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _host_allowed(url: httpx.URL, allowed_hosts: Collection[str] | None, require_https: bool) -> bool:
    if require_https and url.scheme != "https":
        return False
    return allowed_hosts is None or host_matches(url.host, allowed_hosts)


def _checked(
    data: bytes, content_type: str, *, max_bytes: int, allowed_types: Collection[str]
) -> tuple[bytes, str]:
    if len(data) > max_bytes:
        raise OutputError(f"output is larger than the {max_bytes}-byte limit", code="too_large")
    if content_type in GENERIC_TYPES:
        content_type = sniff(data[:16]) or content_type
    if not allowed(content_type, allowed_types):
        raise OutputError(f"output has an unexpected type ({content_type or 'unknown'})", code="bad_type")
    return data, content_type


async def fetch_output(
    client: httpx.AsyncClient,
    output: Output,
    *,
    max_bytes: int,
    allowed_types: tuple[str, ...],
    allowed_hosts: Collection[str] | None = None,
    require_https: bool = False,
) -> tuple[bytes, str]:
    """The bytes and media type of one output: inline bytes as they are, a URL streamed with a cap.

    ``allowed_hosts`` (exact names, or suffixes written ".bfl.ai") and ``require_https`` restrict
    where the URL and any redirect may lead; production passes the provider's hosts.
    Every hop, the first and each redirect, is checked before it is requested.
    Raises :class:`OutputError` for an expired/missing file, an oversized body or a wrong type,
    and :class:`RetryableError` for timeouts and 5xx answers.
    """
    if output.data is not None:
        return _checked(
            output.data, _media_type(output.content_type), max_bytes=max_bytes, allowed_types=allowed_types
        )
    if not output.url:
        raise OutputError("output has neither bytes nor a URL", code="no_output")
    url = _parsed(output.url)
    headers = dict(output.headers)
    for _ in range(MAX_REDIRECTS + 1):
        if not _host_allowed(url, allowed_hosts, require_https):
            raise OutputError(
                f"output URL points at a host we do not fetch from ({url.host})", code="bad_host"
            )
        with transport_errors("output download"):
            async with client.stream(
                "GET", url, headers=headers, timeout=DOWNLOAD_TIMEOUT, follow_redirects=False
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    target = _parsed(response.headers["location"], base=url)
                    if origin(target) != origin(url):
                        # Credentials for the provider (Veo's API key) never go to another origin,
                        # not even the same host over plain http or on another port.
                        headers = {}
                    url = target
                    continue
                return await _read(response, max_bytes=max_bytes, allowed_types=allowed_types)
    raise OutputError("output URL redirects too many times", code="too_many_redirects")


def _parsed(url: str, *, base: httpx.URL | None = None) -> httpx.URL:
    """A provider-supplied URL (relative to ``base`` for a redirect), or :class:`OutputError`."""
    try:
        return base.join(url) if base is not None else httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise OutputError("output URL is not a usable address", code="bad_url") from exc


async def _read(
    response: httpx.Response, *, max_bytes: int, allowed_types: Collection[str]
) -> tuple[bytes, str]:
    status = response.status_code
    if status in GONE_STATUSES:
        raise OutputError("output expired or missing", code=f"http_{status}")
    if not response.is_success:
        await response.aread()
        error = provider_error(response, provider="output download")
        if isinstance(error, RetryableError):
            raise error
        raise OutputError(f"output could not be downloaded (HTTP {status})", code=f"http_{status}")
    content_type = _media_type(response.headers.get("content-type"))
    # Refuse what we can from the headers alone, before reading any body.
    if content_type not in GENERIC_TYPES and not allowed(content_type, allowed_types):
        raise OutputError(f"output has an unexpected type ({content_type})", code="bad_type")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise OutputError(f"output is larger than the {max_bytes}-byte limit", code="too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise OutputError(f"output is larger than the {max_bytes}-byte limit", code="too_large")
        chunks.append(chunk)
    return _checked(b"".join(chunks), content_type, max_bytes=max_bytes, allowed_types=allowed_types)
