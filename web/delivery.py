"""Serving a stored object over HTTP as a media player wants it (RFC 9110): byte ranges, validators
and conditional requests, streamed from storage.

What a request gets, in RFC 9110's order of evaluation (section 13.2.2):

1. ``If-Match`` that matches no current ETag (strong comparison), or without it an
   ``If-Unmodified-Since`` before the last modification: ``412``.
2. ``If-None-Match`` that matches (weak comparison), or without it an ``If-Modified-Since`` at or
   after the last modification: ``304`` (with the ETag, Last-Modified and Cache-Control).
3. ``Range: bytes=…`` with a single range, honoured unless an ``If-Range`` names another
   representation (an ETag compared strongly, or a date not equal to Last-Modified): ``206`` with
   ``Content-Range``; a range that starts past the end (or any range of an empty file) is ``416``
   with ``Content-Range: bytes */size``. Several ranges, another unit or bad syntax: the whole file
   (a server may ignore ``Range``).
4. Otherwise ``200`` with the whole file.

``HEAD`` answers the same headers without a body."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from storage import ObjectInfo, Storage

RANGE = re.compile(r"bytes=\s*(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))\s*", re.IGNORECASE)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _weak_match(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or any(t.removeprefix("W/") == etag.removeprefix("W/") for t in tags)


def _strong_match(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or (not etag.startswith("W/") and etag in tags)


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(first, last) of a single satisfiable range; ``None`` to serve the whole file (no header,
    several ranges, not bytes, bad syntax); ``False`` when unsatisfiable (416)."""
    if not header:
        return None
    match = RANGE.fullmatch(header)
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        return None  # invalid: ignored (RFC 9110 14.1.1)
    if start >= size:
        return False
    return start, size - 1 if end is None else min(end, size - 1)


def _range_applies(request: Request, info: ObjectInfo) -> bool:
    if_range = request.headers.get("if-range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return not info.etag.startswith("W/") and if_range == info.etag
    when = _parse_date(if_range)
    return when is not None and when == info.last_modified


def precondition(request: Request, info: ObjectInfo) -> int | None:
    """412 or 304 when a conditional header says so (steps 1 and 2 above), else None."""
    headers = request.headers
    if (if_match := headers.get("if-match")) is not None:
        if not _strong_match(if_match, info.etag):
            return 412
    elif (
        since := _parse_date(headers.get("if-unmodified-since"))
    ) is not None and info.last_modified > since:
        return 412
    if (if_none := headers.get("if-none-match")) is not None:
        if _weak_match(if_none, info.etag):
            return 304 if request.method in ("GET", "HEAD") else 412
    elif request.method in ("GET", "HEAD") and (
        (modified := _parse_date(headers.get("if-modified-since"))) is not None
        and info.last_modified <= modified
    ):
        return 304
    return None


def serve(
    request: Request,
    storage: Storage,
    key: str,
    info: ObjectInfo,
    *,
    content_type: str,
    headers: dict[str, str],
) -> Response:
    """The answer for the object ``key`` (``info`` its stat) with ``headers`` (Content-Disposition,
    Cache-Control…) added: 200, 206, 304, 412 or 416, streamed from ``storage``."""
    validators = {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)}
    common = {**headers, "Accept-Ranges": "bytes", **validators}
    status = precondition(request, info)
    if status == 304:
        return Response(
            status_code=304, headers={k: v for k, v in common.items() if k != "Content-Disposition"}
        )
    if status == 412:
        return Response(status_code=412, headers=validators)
    size = info.size
    wanted = byte_range(request.headers.get("range"), size) if _range_applies(request, info) else None
    if wanted is False:
        return Response(status_code=416, headers={**validators, "Content-Range": f"bytes */{size}"})
    if isinstance(wanted, tuple):
        first, last = wanted
        status, extra = 206, {"Content-Range": f"bytes {first}-{last}/{size}"}
    else:
        first, last = 0, size - 1
        status, extra = 200, {}
    length = last - first + 1
    out = {**common, **extra, "Content-Length": str(length)}
    if request.method == "HEAD" or length == 0:
        return Response(b"", status_code=status, media_type=content_type, headers=out)
    return StreamingResponse(
        _stream(storage, key, first, last), status_code=status, media_type=content_type, headers=out
    )


async def _stream(storage: Storage, key: str, first: int, last: int) -> AsyncIterator[bytes]:
    chunks = storage.open_range(key, first, last)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
