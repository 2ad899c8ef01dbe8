"""The Storage contract (storage/__init__.py), the same tests against both backends: the local
directory and S3 on a real S3-compatible server (SeaweedFS, tests/s3_server.py)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from storage import (
    CHUNK_SIZE,
    LocalStorage,
    ObjectNotFound,
    RangeNotSatisfiable,
    S3Settings,
    Storage,
    content_disposition,
    open_storage,
)
from storage.s3 import PART_SIZE, S3Storage
from tests.s3_server import S3Server

DATA = os.urandom(300_000)  # more than one chunk


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        url = None
        s3 = None
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        url = f"s3://{server.bucket}/contract-{uuid.uuid4().hex[:8]}"  # a prefix per test
        s3 = server.settings()
    async with open_storage(url, local_root=tmp_path / "drive", s3=s3) as opened:
        yield opened


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def test_put_stat_get_exists(store: Storage) -> None:
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    info = await store.put("team/job/clip.mp4", DATA, "video/mp4")
    assert (info.size, info.content_type) == (len(DATA), "video/mp4")
    assert info.etag.startswith('"') and info.etag.endswith('"') and len(info.etag) > 2
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=2)
    assert info.last_modified.microsecond == 0
    assert await store.stat("team/job/clip.mp4") == info
    assert await store.get("team/job/clip.mp4") == DATA
    assert await store.exists("team/job/clip.mp4")
    assert not await store.exists("team/job/other.mp4")
    chunks = await collect(store.open_range("team/job/clip.mp4"))
    assert b"".join(chunks) == DATA and len(chunks) > 1 and max(map(len, chunks)) <= CHUNK_SIZE


async def test_ranges_are_inclusive_and_clamped(store: Storage) -> None:
    await store.put("k/data.bin", DATA, "application/octet-stream")
    size = len(DATA)
    for start, end in [
        (0, 0),
        (5, 9),
        (1000, 299_999),
        (size - 1, None),
        (123_456, None),
        (size - 10, size + 50),
    ]:
        got = b"".join(await collect(store.open_range("k/data.bin", start, end)))
        assert got == DATA[start : (size if end is None else end + 1)], (start, end)
    for start in (size, size + 1):
        with pytest.raises(RangeNotSatisfiable):
            await collect(store.open_range("k/data.bin", start, None))


async def test_a_missing_key(store: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await store.stat("k/none.png")
    with pytest.raises(ObjectNotFound):
        await store.get("k/none.png")
    with pytest.raises(ObjectNotFound):
        await collect(store.open_range("k/none.png", 10, 20))
    await store.delete("k/none.png")  # no error


async def test_delete_and_replace(store: Storage) -> None:
    await store.put("k/a.txt", b"first", "text/plain")
    await store.put("k/a.txt", b"second!", "text/markdown")
    assert await store.get("k/a.txt") == b"second!"
    assert (await store.stat("k/a.txt")).content_type == "text/markdown"
    await store.delete("k/a.txt")
    assert not await store.exists("k/a.txt")
    with pytest.raises(ObjectNotFound):
        await store.stat("k/a.txt")


async def test_an_empty_object(store: Storage) -> None:
    info = await store.put("k/empty", b"", "text/plain")
    assert info.size == 0
    assert await store.get("k/empty") == b""
    with pytest.raises(RangeNotSatisfiable):
        await collect(store.open_range("k/empty", 0, 0))


async def test_streamed_puts_keep_memory_bounded(store: Storage) -> None:
    """An async iterator past one multipart part (S3: a multipart upload), and a file object."""
    piece = os.urandom(1 << 20)
    count = PART_SIZE // len(piece) * 2 + 1  # two whole parts and one more MiB

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield piece

    info = await store.put("k/big.mp4", chunks(), "video/mp4")
    assert (info.size, (await store.stat("k/big.mp4")).size) == (count * len(piece),) * 2
    tail = b"".join(await collect(store.open_range("k/big.mp4", PART_SIZE - 3, PART_SIZE + 2)))
    assert tail == piece[-3:] + piece[:3]
    info = await store.put("k/file.bin", io.BytesIO(DATA), "application/octet-stream")
    assert info.size == len(DATA) and await store.get("k/file.bin") == DATA


@pytest.mark.parametrize(
    "key", ["../x", "/abs", "a//b", "a/./b", "a/../b", ".meta/x", "a/.tmp", "", "a\\b", "a\nb"]
)
async def test_keys_that_could_escape_are_refused(store: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, b"x", "text/plain")
    with pytest.raises(ValueError):
        await store.stat(key)


async def test_presigned_urls_where_the_backend_has_them(store: Storage) -> None:
    put = await store.presigned_put("up/logo.png", ttl=300, content_type="image/png", size=len(DATA))
    got = await store.presigned_get(
        "up/logo.png", ttl=300, filename="Logo «final».png", content_type="image/png"
    )
    if isinstance(store, LocalStorage):
        assert (put, got) == (None, None)  # the API serves and takes the bytes itself
        return
    assert put is not None and got is not None
    assert put.method == "PUT" and put.headers == {
        "Content-Type": "image/png",
        "Content-Length": str(len(DATA)),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        wrong_type = await http.put(put.url, content=DATA, headers={"Content-Type": "text/html"})
        assert wrong_type.status_code == 403
        assert not await store.exists("up/logo.png")
        wrong_size = await http.put(put.url, content=DATA + b"x", headers={"Content-Type": "image/png"})
        assert wrong_size.status_code == 403
        assert not await store.exists("up/logo.png")
        assert (await http.put(put.url, content=DATA, headers=put.headers)).status_code == 200
        info = await store.stat("up/logo.png")
        assert (info.size, info.content_type) == (len(DATA), "image/png")
        answer = await http.get(got)
        assert answer.status_code == 200 and answer.content == DATA
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["content-disposition"] == content_disposition("image/png", "Logo «final».png")
        ranged = await http.get(got, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == DATA[10:20]
        tampered = got.replace("up/logo.png", "up/other.png")
        assert (await http.get(tampered)).status_code == 403


async def test_open_storage_reads_the_url(tmp_path: Path) -> None:
    async with open_storage(None, local_root=tmp_path / "drive") as default:
        assert isinstance(default, LocalStorage) and default.root == (tmp_path / "drive").resolve()
    async with open_storage(f"file://{tmp_path}/elsewhere", local_root=tmp_path) as chosen:
        assert isinstance(chosen, LocalStorage) and chosen.root == (tmp_path / "elsewhere").resolve()
    async with open_storage("s3://bucket/some/prefix/", local_root=tmp_path, s3=S3Settings()) as s3:
        assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    for bad in ("gs://bucket", "file://relative/path", "s3:///prefix"):
        with pytest.raises(ValueError):
            async with open_storage(bad, local_root=tmp_path):
                pass
