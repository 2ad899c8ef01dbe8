"""Where Drive file bytes live: the :class:`Storage` interface, its two backends and how one is chosen.

Backends (``CH_STORAGE_URL``, see :func:`open_storage`):

* :class:`storage.local.LocalStorage`: files under one directory (``<CH_DATA_DIR>/drive`` by
  default, or ``file:///path``). One machine: every process that reads or writes Drive files must
  see that directory.
* :class:`storage.s3.S3Storage`: any S3-compatible store (AWS S3, Cloudflare R2, MinIO,
  SeaweedFS), ``s3://bucket/prefix``, with the standard AWS variables. No process needs a shared
  disk; clients may be sent to presigned URLs (downloads, uploads).

The contract every backend keeps (tests/test_storage_contract.py runs it against both):

* **Keys** are ``/``-separated relative paths (``team/job/name``): no empty segment, no ``.`` or
  ``..``, no segment starting with ``.``, at most 900 bytes. Anything else is a ``ValueError``.
* **A key's bytes never change once written**: a new version is a new key. The HTTP layer serves
  objects as immutable (``Cache-Control: immutable``, the ETag is the object's). ``put`` on an
  existing key replaces it whole (readers never see half an object), but callers don't rely on it.
* ``put(key, data, content_type)`` stores ``data``: ``bytes``, an async iterable of ``bytes``
  chunks (streamed: memory stays bounded, S3 uses a multipart upload past
  :data:`storage.s3.PART_SIZE`) or a binary file object opened for reading (read in a thread).
  Returns the stored object's :class:`ObjectInfo`.
* ``open_range(key, start=0, end=None)`` is an async iterator of ``bytes`` chunks (at most about
  :data:`CHUNK_SIZE` each) of the bytes ``start`` to ``end`` **inclusive**, as in an HTTP ``Range``
  (``end=None``: to the last byte; an ``end`` past the last byte is the last byte). It opens the
  object on the first iteration: :class:`ObjectNotFound` or :class:`RangeNotSatisfiable`
  (``start`` at or past the size; any range of an empty object but ``start=0, end=None``) is
  raised there. Close it (``aclose``) when you stop early; ``async for`` to the end closes it.
* ``get(key)`` is the whole object in memory: small files only (inputs handed to a provider).
* ``stat(key)`` → :class:`ObjectInfo` (size, strong quoted ETag, last modified (UTC, whole
  seconds), the content type given to ``put``); :class:`ObjectNotFound` when missing.
* ``exists(key)`` → bool. ``delete(key)``: gone afterwards; deleting a missing key is no error.
* ``presigned_get(key, ttl=..., filename=None, content_type=None)`` → a URL the client ``GET``s
  straight from the store for ``ttl`` seconds (at most :data:`MAX_PRESIGN_SECONDS`); with
  ``filename`` the store answers with this service's ``Content-Disposition`` (:func:`serving_headers`),
  with ``content_type`` that ``Content-Type``. ``None`` where the backend has no such URLs (local):
  the caller serves the bytes itself.
* ``presigned_put(key, ttl=..., content_type=..., size=None, max_bytes=None)`` →
  :class:`PresignedUpload` (url, method ``PUT``, the headers the client must send), or ``None``
  (local: the caller offers an upload route of its own). The store checks the signature, the
  ``Content-Type`` and, when ``size`` is given, the exact ``Content-Length``. A presigned ``PUT``
  cannot cap a size it was not told: with only ``max_bytes`` (a ``size`` over it is a
  ``ValueError``) the caller must ``stat`` the object once the client says it is done, and delete
  it when it is too large or not what was promised.
* ``close()``: release connections (the services lifespan does, :func:`open_storage`).

Errors of the store itself (unreachable, refused credentials) are raised as they come
(``botocore`` exceptions, ``OSError``); only a missing object and an unsatisfiable range have
types of their own here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, unquote, urlsplit

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


def describe(url: str | None) -> str:
    """What ``CH_STORAGE_URL`` selects, for logs (no credentials are ever in it)."""
    scheme = urlsplit(url).scheme if url else ""
    return "local directory" if scheme in ("", "file") else f"{scheme} object storage"


@contextlib.asynccontextmanager
async def open_storage(
    url: str | None, *, local_root: Path, s3: S3Settings | None = None
) -> AsyncIterator[Storage]:
    """The backend ``url`` names, opened, and closed on the way out.

    * unset or empty: :class:`LocalStorage` under ``local_root``;
    * ``file:///abs/path``: :class:`LocalStorage` there;
    * ``s3://bucket`` or ``s3://bucket/prefix``: :class:`S3Storage` (keys under ``prefix/``)."""
    backend: Storage
    parts = urlsplit(url or "")
    if parts.scheme in ("", "file"):
        root = Path(unquote(parts.path)) if parts.scheme == "file" else local_root
        if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not root.is_absolute()):
            raise ValueError(f"CH_STORAGE_URL {url!r}: write file:///absolute/path")
        backend = LocalStorage(root)
    elif parts.scheme == "s3":
        from storage.s3 import S3Storage

        if not parts.netloc:
            raise ValueError(f"CH_STORAGE_URL {url!r}: write s3://bucket or s3://bucket/prefix")
        s3_backend = S3Storage(parts.netloc, unquote(parts.path).strip("/"), s3 or S3Settings())
        await s3_backend.open()
        backend = s3_backend
    else:
        raise ValueError(f"CH_STORAGE_URL {url!r}: the scheme must be file:// or s3://")
    try:
        yield backend
    finally:
        await backend.close()


# Last: storage.local imports the names above. (storage.s3 is imported only when configured: it
# brings aiobotocore.)
from storage.local import LocalStorage  # noqa: E402

__all__ = [
    "CHUNK_SIZE",
    "INLINE_TYPES",
    "MAX_PRESIGN_SECONDS",
    "Body",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "PresignedUpload",
    "RangeNotSatisfiable",
    "S3Settings",
    "Storage",
    "check_key",
    "check_range",
    "content_disposition",
    "describe",
    "open_storage",
    "serving_headers",
]
