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
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from storage.base import (
    CHUNK_SIZE,
    INLINE_TYPES,
    MAX_PRESIGN_SECONDS,
    Body,
    ObjectInfo,
    ObjectNotFound,
    PresignedUpload,
    RangeNotSatisfiable,
    S3Settings,
    Storage,
    check_key,
    check_range,
    content_disposition,
    serving_headers,
)
from storage.local import LocalStorage

# storage.s3 is imported only when configured: it brings aiobotocore.


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
