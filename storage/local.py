"""Drive files in a local directory: one machine (every process must see the directory)."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from storage.base import (
    CHUNK_SIZE,
    Body,
    ObjectInfo,
    ObjectNotFound,
    PresignedUpload,
    check_key,
    check_range,
)

# Beside the objects, never a key (keys have no segment starting with "."): files being written
# (moved into place whole), and each object's content type.
TMP_DIR = ".tmp"
META_DIR = ".meta"


class LocalStorage:
    """Files under one directory; keys are relative paths (``team/job/name``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str, under: str | None = None) -> Path:
        check_key(key)
        base = self.root / under if under else self.root
        path = (base / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    async def put(self, key: str, data: Body, content_type: str) -> ObjectInfo:
        path, meta = self._path(key), self._path(key, META_DIR)
        tmp_dir = self.root / TMP_DIR
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                await asyncio.to_thread(tmp.write_bytes, data)
            elif isinstance(data, AsyncIterable):
                out = await asyncio.to_thread(tmp.open, "wb")
                try:
                    async for chunk in data:
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
            else:
                await asyncio.to_thread(_copy_file, data, tmp)
            await asyncio.to_thread(_place, tmp, path, meta, content_type)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        return await self.stat(key)

    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        try:
            size = os.fstat(handle.fileno()).st_size
            first, last = check_range(size, start, end)
            await asyncio.to_thread(handle.seek, first)
            left = last - first + 1
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_SIZE, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.open_range(key)])

    async def stat(self, key: str) -> ObjectInfo:
        path, meta = self._path(key), self._path(key, META_DIR)
        return await asyncio.to_thread(_stat, key, path, meta)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        path, meta = self._path(key), self._path(key, META_DIR)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        await asyncio.to_thread(meta.unlink, missing_ok=True)

    async def presigned_get(
        self, key: str, *, ttl: int, filename: str | None = None, content_type: str | None = None
    ) -> str | None:
        check_key(key)
        return None  # the API serves the bytes itself (GET /files/{id})

    async def presigned_put(
        self,
        key: str,
        *,
        ttl: int,
        content_type: str,
        size: int | None = None,
        max_bytes: int | None = None,
    ) -> PresignedUpload | None:
        check_key(key)
        return None  # the API takes the bytes itself

    async def close(self) -> None:
        return None


def _copy_file(source: BinaryIO, target: Path) -> None:
    with target.open("wb") as out:
        while chunk := source.read(CHUNK_SIZE):
            out.write(chunk)


def _place(tmp: Path, path: Path, meta: Path, content_type: str) -> None:
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta_tmp = tmp.with_suffix(".type")
    meta_tmp.write_text(content_type)
    os.replace(meta_tmp, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, path)  # readers never see half a file


def _stat(key: str, path: Path, meta: Path) -> ObjectInfo:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ObjectNotFound(key) from None
    if not path.is_file():
        raise ObjectNotFound(key)
    try:
        content_type = meta.read_text().strip()
    except OSError:  # written before the content type was kept
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return ObjectInfo(
        size=st.st_size,
        etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"',
        last_modified=datetime.fromtimestamp(int(st.st_mtime), UTC),
        content_type=content_type,
    )
