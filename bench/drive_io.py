"""Drive I/O of a 100 MiB video: uploads and reads through the API on local storage and on S3,
beside plain requests straight to the S3 server, all in the same run.

Starts the stack (bench/bench_stack.py: API on local storage, worker, simulator) with two more API
processes on the same database and Redis that keep Drive files on S3 (SeaweedFS, started as the
tests start it: tests/s3_server.py), the second with CH_STORAGE_REDIRECT. Then, each measurement
repeated ``--repeat`` times, the ways taken in turn, the median printed:

1. Upload throughput of the same real MP4 (H.264, made with PyAV as the browser tests make theirs;
   completeUpload decodes it like any upload): ``createUpload``, the ``PUT`` to the URL it answers (the API's own on local
   storage, a presigned URL of the bucket on S3) and ``completeUpload``, on local storage and on
   S3; beside a presigned ``PUT`` of the same bytes straight to the S3 server.
2. Reads of the uploaded file through its signed link (``GET /files/{id}``): the whole file (MB/s)
   and ``--ranges`` 1 MiB ``Range`` requests at random offsets, one after another, as a player
   seeking (p50/p95 latency): on local storage, on S3 streamed by the API, on S3 with the 307 to a
   presigned GET followed, and a plain GET (and the same ranges) of the same object straight from
   the S3 server.

    .venv/bin/python -m bench.drive_io [--size-mb 100] [--repeat 5] [--ranges 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.bench_stack import BenchStack, percentiles
from models import drive
from services import db
from services.settings import Settings
from storage import open_storage
from tests.media import decoded_av, seekable_mp4
from tests.s3_server import S3Server, running_s3

MiB = 1024 * 1024
MB = 1_000_000
PREFIX = "bench"  # the S3 API processes' CH_STORAGE_URL is s3://<bucket>/bench
LINK_TTL = 3600


# -- the video ---------------------------------------------------------------------------------
FPS, FRAME, NOISE_ROWS = 25, (1280, 720), 96  # about 2.4 MB a second of video


def make_video(size: int) -> bytes:
    """A real H.264 MP4 of about ``size`` bytes, made as the browser tests make theirs
    (tests/media.py, ``seekable_mp4``: fast start, a keyframe every half second, every frame showing
    its time, a band of noise so that it compresses like a busy picture): a two-second probe gives
    the bytes per second, which give the duration."""
    per_second = len(seekable_mp4(2, FPS, FRAME, NOISE_ROWS)) / 2
    return seekable_mp4(max(1, round(size / per_second)), FPS, FRAME, NOISE_ROWS)


# -- measuring ---------------------------------------------------------------------------------
@dataclass
class Way:
    """One way to the file: a label, the URL (a signed link or a presigned GET), whether to follow
    a redirect; and what was measured on it."""

    label: str
    url: str
    follow: bool = False
    size: int = 0
    full_mb_s: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p95_ms: list[float] = field(default_factory=list)


def full_read(client: httpx.Client, way: Way, data: bytes | None = None) -> float:
    """MB/s of one sequential read of the whole file, as a download or a player that does not seek
    reads it (nothing kept); with ``data``, the bytes are also checked (the untimed warm-up)."""
    received = 0
    kept: list[bytes] = []
    started = time.perf_counter()
    with client.stream("GET", way.url, follow_redirects=way.follow) as answer:
        for chunk in answer.iter_raw():
            received += len(chunk)
            if data is not None:
                kept.append(chunk)
    elapsed = time.perf_counter() - started
    whole = b"".join(kept) == data if data is not None else received == way.size
    if answer.status_code != 200 or not whole:
        raise RuntimeError(f"{way.label}: the whole file did not come back ({answer.status_code})")
    return received / elapsed / MB


def ranged_reads(client: httpx.Client, way: Way, data: bytes, starts: list[int]) -> list[float]:
    """Seconds of each 1 MiB ``Range`` request, one after another on one connection, as a player
    seeks; each answer checked (206, the right bytes)."""
    took = []
    for start in starts:
        began = time.perf_counter()
        answer = client.get(
            way.url, headers={"Range": f"bytes={start}-{start + MiB - 1}"}, follow_redirects=way.follow
        )
        took.append(time.perf_counter() - began)
        if answer.status_code != 206 or answer.content != data[start : start + MiB]:
            raise RuntimeError(f"{way.label}: range at {start} answered {answer.status_code}")
    return took


def measure_reads(ways: list[Way], data: bytes, repeat: int, ranges: int) -> None:
    rng = random.Random(13)
    starts = [rng.randrange(0, len(data) - MiB) for _ in range(ranges)]
    with httpx.Client(timeout=120) as client:
        for way in ways:  # checked whole; connections opened, the API's S3 clients warm: untimed
            way.size = len(data)
            full_read(client, way, data)
            ranged_reads(client, way, data, starts[:2])
        for _ in range(repeat):  # the ways in turn, so that a busy moment of the machine is shared
            for way in ways:
                way.full_mb_s.append(full_read(client, way))
            for way in ways:
                took = percentiles(ranged_reads(client, way, data, starts))
                way.p50_ms.append(took["p50"] * 1000)
                way.p95_ms.append(took["p95"] * 1000)


CREATE_UPLOAD = """mutation Create($input: CreateUploadInput!) {
  createUpload(input: $input) { upload { fileId url method headers { name value } } userErrors { code message } }
}"""
COMPLETE_UPLOAD = """mutation Complete($id: ID!) {
  completeUpload(fileId: $id) { file { id sizeBytes url } userErrors { code message } }
}"""


@dataclass
class Upload:
    """One way to upload; per run the whole upload's seconds, and of it the PUT's and (through the
    API) completeUpload's."""

    label: str
    seconds: list[float] = field(default_factory=list)
    put: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)


async def _graphql(client: httpx.AsyncClient, api: str, key: str, query: str, **variables: object) -> dict:
    answer = await client.post(
        api + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = answer.json()
    if answer.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{api}/graphql answered {answer.status_code}: {body}")
    payload: dict = next(iter(body["data"].values()))
    if payload["userErrors"]:
        raise RuntimeError(f"{api}/graphql refused: {payload['userErrors']}")
    return payload


async def api_upload(
    client: httpx.AsyncClient, api: str, key: str, data: bytes, n: int, upload: Upload
) -> dict:
    """``data`` uploaded as a client does: ``createUpload``, the PUT to the URL it answers (the API's
    own on local storage, the bucket's on S3) and ``completeUpload``, which checks the content.
    The file as completeUpload answers it."""
    began = time.perf_counter()
    target = (
        await _graphql(
            client,
            api,
            key,
            CREATE_UPLOAD,
            input={"name": f"bench-{n}.mp4", "contentType": "video/mp4", "sizeBytes": len(data)},
        )
    )["upload"]
    putting = time.perf_counter()
    headers = {h["name"]: h["value"] for h in target["headers"]}
    answer = await client.request(target["method"], target["url"], content=data, headers=headers)
    if answer.status_code >= 300:
        raise RuntimeError(f"the PUT to {target['url']} answered {answer.status_code}: {answer.text[:300]}")
    completing = time.perf_counter()
    file: dict = (await _graphql(client, api, key, COMPLETE_UPLOAD, id=target["fileId"]))["file"]
    done = time.perf_counter()
    if int(file["sizeBytes"]) != len(data):
        raise RuntimeError(f"completeUpload answered {file}")
    upload.seconds.append(done - began)
    upload.put.append(completing - putting)
    upload.complete.append(done - completing)
    return file


@dataclass
class Uploaded:
    """What the reads need: the signed links completeUpload answered for the last file uploaded to
    local storage and to S3, and a presigned GET of the latter's object in the bucket."""

    local_url: str = ""
    s3_url: str = ""
    s3_get: str = ""


async def measure_uploads(
    stack: BenchStack, s3_api: str, server: S3Server, data: bytes, repeat: int
) -> tuple[list[Upload], Uploaded]:
    """Uploads of ``data``, ``repeat`` times each way, the ways in turn (a busy moment of the
    machine is shared): through the API on local storage and on S3, and a presigned PUT straight
    to the bucket."""
    through_local = Upload("API, local storage (PUT to the API)")
    through_s3 = Upload("API, S3 (PUT to a presigned URL of the bucket)")
    direct = Upload("S3 server directly (presigned PUT)")
    got = Uploaded()
    s3_file_id = ""
    async with (
        open_storage(
            f"s3://{server.bucket}/{PREFIX}", local_root=Path("unused"), s3=server.settings()
        ) as bucket,
        httpx.AsyncClient(timeout=300) as client,
    ):
        for n in range(repeat):
            got.local_url = (await api_upload(client, stack.url, stack.key, data, n, through_local))["url"]
            file = await api_upload(client, s3_api, stack.key, data, n, through_s3)
            got.s3_url, s3_file_id = file["url"], file["id"]
            began = time.perf_counter()
            put = await bucket.presigned_put(
                f"direct/bench-{n}.mp4", ttl=LINK_TTL, content_type="video/mp4", size=len(data)
            )
            assert put is not None
            answer = await client.put(put.url, content=data, headers=put.headers)
            answer.raise_for_status()
            direct.seconds.append(time.perf_counter() - began)
            direct.put.append(direct.seconds[-1])
        settings = Settings(
            database_url=stack.env["CH_DATABASE_URL"], data_dir=Path(stack.env["CH_DATA_DIR"])
        )
        await db.init(settings)
        try:  # where the file's bytes are: the storage key is the service's business, read from its row
            stored = await drive.team_file(stack.team_id, s3_file_id)
        finally:
            await db.close()
        assert stored is not None
        url = await bucket.presigned_get(stored.storage_key, ttl=LINK_TTL)
        assert url is not None
        got.s3_get = url
    return [through_local, through_s3, direct], got


# -- the run -----------------------------------------------------------------------------------
def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    return ", ".join(fmt(v) for v in values)


@dataclass
class Timer:
    began: float = field(default_factory=time.monotonic)

    def __call__(self) -> str:
        return f"{time.monotonic() - self.began:5.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=100, help="size of the video, MiB")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (median printed)")
    parser.add_argument("--ranges", type=int, default=40, help="1 MiB Range requests per run and path")
    args = parser.parse_args()
    timer = Timer()
    print(f"load average at start: {load()} ({os.cpu_count()} CPUs)", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = make_video(args.size_mb * MiB)
        facts = decoded_av(data, "video")
        print(
            f"[{timer()}] video: {len(data):,} bytes ({len(data) / MiB:.1f} MiB), H.264"
            f" {facts['width']:.0f}x{facts['height']:.0f}, {facts['duration']:.1f} s",
            flush=True,
        )
        with running_s3(tmp / "seaweedfs") as server:
            stack = BenchStack(tmp, time_scale="0", poll_scale="0.01")
            try:
                # Their own queue and worker: uploads are checked by a worker on the same storage.
                s3_env = {**server.env(PREFIX), "CH_QUEUE_NAME": stack.env["CH_QUEUE_NAME"] + ":s3"}
                stack.work_more(s3_env)
                s3_api = stack.serve_more(s3_env)
                s3_redirect_api = stack.serve_more({**s3_env, "CH_STORAGE_REDIRECT": "1"})
                print(
                    f"[{timer()}] SeaweedFS, the stack, two S3 API processes and their worker are up",
                    flush=True,
                )
                uploads, got = asyncio.run(measure_uploads(stack, s3_api, server, data, args.repeat))
                print(f"[{timer()}] uploads measured", flush=True)
                link = urlsplit(got.s3_url)  # the same signed link, from the API process that redirects
                ways = [
                    Way("API, local storage", got.local_url),
                    Way("API, S3 (streamed by the API)", got.s3_url),
                    Way(
                        "API, S3 + CH_STORAGE_REDIRECT (307 followed)",
                        f"{s3_redirect_api}{link.path}?{link.query}",
                        follow=True,
                    ),
                    Way("S3 server directly (presigned GET)", got.s3_get),
                ]
                measure_reads(ways, data, args.repeat, args.ranges)
                print(f"[{timer()}] reads measured", flush=True)
            finally:
                stack.stop()
    size_mb = len(data) / MB
    print()
    print(
        f"uploads of the {size_mb:.1f} MB video, median of {args.repeat} (MB = 10^6 bytes; all runs in brackets)"
    )
    print(f"  {'way':<48} {'upload':>10}  {'its PUT':>10}  {'completeUpload':>14}")
    for upload in uploads:
        rates = [size_mb / s for s in upload.seconds]
        puts = [size_mb / s for s in upload.put]
        complete = f"{med(upload.complete):11.2f} s" if upload.complete else f"{'':>13}"
        print(
            f"  {upload.label:<48} {med(rates):5.1f} MB/s  {med(puts):5.1f} MB/s  {complete}"
            f"   [upload {spread(rates, lambda v: f'{v:.1f}')};"
            f" PUT {spread(puts, lambda v: f'{v:.1f}')}"
            + (f"; complete {spread(upload.complete, lambda v: f'{v:.2f}')}]" if upload.complete else "]")
        )
    print()
    print(
        f"reads through GET /files/{{id}} (signed link), median of {args.repeat};"
        f" ranges: {args.ranges} random 1 MiB seeks per run"
    )
    print(f"  {'path':<46} {'full read':>10}   {'range p50':>9}  {'range p95':>9}")
    for way in ways:
        print(
            f"  {way.label:<46} {med(way.full_mb_s):6.1f} MB/s   {med(way.p50_ms):6.1f} ms  {med(way.p95_ms):6.1f} ms"
            f"   [full {spread(way.full_mb_s, lambda v: f'{v:.0f}')};"
            f" p50 {spread(way.p50_ms, lambda v: f'{v:.1f}')}; p95 {spread(way.p95_ms, lambda v: f'{v:.1f}')}]"
        )
    print()
    print(f"load average at end: {load()}; total {timer()}")


if __name__ == "__main__":
    main()
