"""The storage interface every backend implements, its value types and errors, and the checks
they share (keys, ranges, serving headers). ``storage/__init__.py`` documents the contract."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol
from urllib.parse import quote

# Served inline (a browser shows or plays them): media types that cannot run script. Anything else
# (SVG, HTML, XML, PDF, unknown types) is served as an attachment, so it never renders on our origin.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/wav",
        "audio/ogg",
        "audio/flac",
        "audio/webm",
    }
)

# Chunks open_range yields (and put reads a file object by).
CHUNK_SIZE = 256 * 1024
# The longest a presigned URL lives: SigV4's limit (7 days).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
MAX_KEY_BYTES = 900


def serving_headers(content_type: str, name: str) -> dict[str, str]:
    """Headers for serving a Drive file: the browser must not guess the type (``nosniff``), and only
    the media types of :data:`INLINE_TYPES` are shown inline."""
    return {
        "Content-Disposition": content_disposition(content_type, name),
        "X-Content-Type-Options": "nosniff",
    }


def content_disposition(content_type: str, name: str) -> str:
    disposition = "inline" if content_type.split(";")[0].strip().lower() in INLINE_TYPES else "attachment"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class ObjectNotFound(KeyError):
    """No object under the key."""


class RangeNotSatisfiable(ValueError):
    """The range starts at or past the object's end."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # strong, quoted as in an HTTP ETag header: '"…"'
    last_modified: datetime  # UTC, whole seconds (what Last-Modified can say)
    content_type: str


@dataclass(frozen=True)
class PresignedUpload:
    """What a client does to upload straight to the store: ``method url`` with these headers."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)
    expires_in: int = 0


Body = bytes | bytearray | memoryview | AsyncIterable[bytes] | BinaryIO


class Storage(Protocol):
    async def put(self, key: str, data: Body, content_type: str) -> ObjectInfo: ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...

    async def get(self, key: str) -> bytes: ...

    async def stat(self, key: str) -> ObjectInfo: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def presigned_get(
        self, key: str, *, ttl: int, filename: str | None = None, content_type: str | None = None
    ) -> str | None: ...

    async def presigned_put(
        self,
        key: str,
        *,
        ttl: int,
        content_type: str,
        size: int | None = None,
        max_bytes: int | None = None,
    ) -> PresignedUpload | None: ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """``key`` if it is a valid storage key (see the module's contract), else ``ValueError``."""
    parts = key.split("/")
    if (
        not key
        or len(key.encode()) > MAX_KEY_BYTES
        or any(not p or p in (".", "..") or p.startswith(".") for p in parts)
        or any(ord(c) < 32 or c in "\\\x7f" for c in key)
    ):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def check_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """The (first, last) byte positions of ``start``..``end`` (inclusive) in an object of ``size``
    bytes; (0, -1) for a whole empty object. :class:`RangeNotSatisfiable` when it starts past the end."""
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid range {start}-{end}")
    if size == 0 and start == 0 and end is None:
        return 0, -1
    if start >= size:
        raise RangeNotSatisfiable(f"range {start}-{end} of {size} bytes")
    return start, size - 1 if end is None else min(end, size - 1)


@dataclass(frozen=True)
class S3Settings:
    """Where and as whom S3Storage connects; ``None`` leaves it to botocore's defaults (its own
    environment variables, ~/.aws, an instance role)."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
