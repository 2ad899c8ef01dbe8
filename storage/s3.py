"""Drive files on any S3-compatible store (AWS S3, Cloudflare R2, MinIO, SeaweedFS), through
aiobotocore: botocore signs every request and presigned URL (nothing here signs by hand)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from storage.base import (
    CHUNK_SIZE,
    MAX_PRESIGN_SECONDS,
    Body,
    ObjectInfo,
    ObjectNotFound,
    PresignedUpload,
    RangeNotSatisfiable,
    S3Settings,
    check_key,
    content_disposition,
)

if TYPE_CHECKING:
    from aiobotocore.session import AioSession
    from types_aiobotocore_s3 import S3Client

# A streamed put is sent as one PUT up to this size, as a multipart upload (parts of this size)
# past it. S3's smallest part is 5 MiB; memory held per streamed put is one part.
PART_SIZE = 8 * 1024 * 1024
MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_session: AioSession | None = None


def _error_code(exc: Exception) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Objects under ``prefix/`` in ``bucket``. :meth:`open` makes the client (no request is sent
    until the first operation); :meth:`close` releases its connections."""

    def __init__(self, bucket: str, prefix: str, settings: S3Settings) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self._client: S3Client | None = None
        self._exit = contextlib.AsyncExitStack()

    async def open(self) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        s = self.settings
        config = AioConfig(
            signature_version="s3v4",
            # Buckets in the path: what MinIO and SeaweedFS answer, and R2 too; AWS decides itself.
            s3={"addressing_style": "path" if s.endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=50,
            # Only what S3 requires: stores that predate the 2025 default checksums refuse them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        global _session
        if _session is None:  # one per process: it loads botocore's service models once
            _session = get_session()
        client = _session.create_client(
            "s3",
            endpoint_url=s.endpoint_url,
            region_name=s.region or "us-east-1",
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key,
            aws_session_token=s.session_token,
            config=config,
        )
        self._client = await self._exit.enter_async_context(client)

    async def close(self) -> None:
        self._client = None
        await self._exit.aclose()

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Storage is not open")
        return self._client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- writing -------------------------------------------------------------------------------
    async def put(self, key: str, data: Body, content_type: str) -> ObjectInfo:
        full = self._key(key)
        if isinstance(data, bytes | bytearray | memoryview):
            await self.client.put_object(
                Bucket=self.bucket, Key=full, Body=bytes(data), ContentType=content_type
            )
            return await self.stat(key)
        chunks = _parts(data if isinstance(data, AsyncIterable) else _file_chunks(data))
        first = await anext(chunks, b"")
        second = await anext(chunks, None) if len(first) >= PART_SIZE else None
        if second is None:  # small: one PUT
            await self.client.put_object(Bucket=self.bucket, Key=full, Body=first, ContentType=content_type)
            return await self.stat(key)
        upload = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=full, ContentType=content_type
        )
        upload_id = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            number = 0

            async def send(part: bytes) -> None:
                nonlocal number
                number += 1
                sent = await self.client.upload_part(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=part
                )
                parts.append({"ETag": sent["ETag"], "PartNumber": number})

            await send(first)
            await send(second)
            async for part in chunks:
                await send(part)
            await self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]  # list of CompletedPartTypeDef built as dicts
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
                )
            raise
        return await self.stat(key)

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    # -- reading -------------------------------------------------------------------------------
    async def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        full = self._key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid range {start}-{end}")
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = await self.client.get_object(**args)
        except Exception as exc:
            code = _error_code(exc)
            if code in MISSING:
                raise ObjectNotFound(key) from None
            if code == "InvalidRange":
                raise RangeNotSatisfiable(f"range {start}-{end} of {key}") from None
            raise
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(CHUNK_SIZE):
                yield chunk

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.open_range(key)])

    async def stat(self, key: str) -> ObjectInfo:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _error_code(exc) in MISSING:
                raise ObjectNotFound(key) from None
            raise
        modified: datetime = head["LastModified"]
        return ObjectInfo(
            size=head["ContentLength"],
            etag=_quoted(head["ETag"]),
            last_modified=modified.astimezone(UTC).replace(microsecond=0),
            content_type=head.get("ContentType") or "application/octet-stream",
        )

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectNotFound:
            return False
        return True

    # -- presigned URLs ------------------------------------------------------------------------
    async def presigned_get(
        self, key: str, *, ttl: int, filename: str | None = None, content_type: str | None = None
    ) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(
                content_type or "application/octet-stream", filename
            )
        return await self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=_ttl(ttl))

    async def presigned_put(
        self,
        key: str,
        *,
        ttl: int,
        content_type: str,
        size: int | None = None,
        max_bytes: int | None = None,
    ) -> PresignedUpload | None:
        if size is not None and (size < 0 or (max_bytes is not None and size > max_bytes)):
            raise ValueError(f"an upload of {size} bytes is over the limit of {max_bytes}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "ContentType": content_type}
        headers = {"Content-Type": content_type}
        if size is not None:  # signed: the store refuses a body of any other length
            params["ContentLength"] = size
            headers["Content-Length"] = str(size)
        expires = _ttl(ttl)
        url = await self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires)
        return PresignedUpload(url=url, method="PUT", headers=headers, expires_in=expires)


def _ttl(ttl: int) -> int:
    return max(1, min(int(ttl), MAX_PRESIGN_SECONDS))


def _quoted(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag if etag.startswith('"') else f'"{etag}"'


async def _file_chunks(source: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, CHUNK_SIZE):
        yield chunk


async def _parts(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` regrouped into PART_SIZE pieces (the last one shorter)."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while len(pending) >= PART_SIZE:
            yield bytes(pending[:PART_SIZE])
            del pending[:PART_SIZE]
    if pending:
        yield bytes(pending)
