"""Drive I/O of a 100 MiB video: uploads and reads through the API on local storage and on S3,
beside plain requests straight to the S3 server, all in the same run.

Starts the stack (bench/bench_stack.py: API on local storage, worker, simulator) with two more API
processes on the same database and Redis that store Drive files on S3 (SeaweedFS, started as the
tests start it: tests/s3_server.py), the second with CH_STORAGE_REDIRECT. Then, each measurement
repeated ``--repeat`` times, the paths taken in turn, the median printed:

1. Upload throughput of the same real MP4 (H.264, made here with PyAV and checked by content like
   any upload): through the service's upload path to local storage and to S3, and a plain presigned
   ``PUT`` straight to the S3 server.
2. Reads through ``GET /files/{id}`` (a signed link): the whole file (MB/s) and ``--ranges`` seeks
   of 1 MiB ``Range`` requests one after another, as a player scrubbing (p50/p95 latency) — on
   local storage, on S3 streamed by the API, on S3 with the 307 to a presigned GET followed, and a
   plain GET (and the same ranges) of the same object straight from the S3 server.

    .venv/bin/python -m bench.drive_io [--size-mb 100] [--repeat 3] [--ranges 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx

from bench.bench_stack import BenchStack, percentiles
from models import drive, media
from services import db
from services.auth import sign_file_path
from services.settings import Settings
from storage import Storage, open_storage
from tests.s3_server import S3Server, running_s3

MiB = 1024 * 1024
MB = 1_000_000
SECRET = "bench-drive-io-secret-key-not-for-production"
PREFIX = "bench"  # the S3 API processes' CH_STORAGE_URL is s3://<bucket>/bench
LINK_TTL = 3600


# -- the video ---------------------------------------------------------------------------------
def make_video(path: Path, size: int, seed: int = 1) -> dict[str, float]:
    """A real H.264 MP4 (1280x720, 25 fps, ``moov`` first as players want it) of about ``size``
    bytes: a still picture of noise with a band of fresh noise sweeping down it, so that every frame
    costs about 75 KB (about 15 Mbit/s) and ``size`` takes about a minute of video."""
    width, height, rows = 1280, 720, 48
    rng = random.Random(seed)
    luma = bytearray(rng.randbytes(width * height))
    cb, cr = rng.randbytes(width * height // 4), rng.randbytes(width * height // 4)
    frames = written = 0
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast", "qp": "23"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        while written < size:
            top = frames * rows % height
            luma[top * width : (top + rows) * width] = rng.randbytes(rows * width)
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, data in zip(frame.planes, (bytes(luma), cb, cr), strict=True):
                plane.update(data)
            frame.pts = frames
            frames += 1
            for packet in stream.encode(frame):
                written += packet.size
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return {"frames": frames, "seconds": frames / 25, "bytes": path.stat().st_size}


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


@dataclass
class Upload:
    label: str
    part: bool = False  # a part of an upload, not one: its time only
    seconds: list[float] = field(default_factory=list)


async def measure_uploads(
    stack: BenchStack, server: S3Server, data: bytes, repeat: int
) -> tuple[list[Upload], str, str, str]:
    """Uploads of ``data``, ``repeat`` times each; and, for the reads, the ids of a file uploaded to
    local storage and of one uploaded to S3, and a presigned GET of the latter's object."""

    settings = Settings(database_url=stack.env["CH_DATABASE_URL"], data_dir=Path(stack.env["CH_DATA_DIR"]))
    await db.init(settings)
    local_id = s3_id = s3_get = ""
    try:
        async with (
            open_storage(None, local_root=settings.data_dir / "drive") as local,
            open_storage(
                f"s3://{server.bucket}/{PREFIX}", local_root=Path("unused"), s3=server.settings()
            ) as bucket,
            httpx.AsyncClient(timeout=120) as client,
        ):

            async def domain(storage: Storage, n: int) -> str:
                file = await drive.upload_file(
                    storage,
                    stack.team_id,
                    name=f"bench-{n}.mp4",
                    data=data,
                    quota_bytes=settings.drive_quota_bytes,
                )
                return str(file.id)

            async def direct(n: int) -> None:
                put = await bucket.presigned_put(
                    f"direct/bench-{n}.mp4", ttl=LINK_TTL, content_type="video/mp4", size=len(data)
                )
                assert put is not None
                answer = await client.put(put.url, content=data, headers=put.headers)
                answer.raise_for_status()

            async def to_local(n: int) -> None:
                nonlocal local_id
                local_id = await domain(local, n)

            async def to_s3(n: int) -> None:
                nonlocal s3_id
                s3_id = await domain(bucket, n)

            async def content_check(n: int) -> None:
                await asyncio.to_thread(lambda: media.thumbnail(data, media.inspect(data).kind))

            steps: list[tuple[Upload, Callable[[int], Awaitable[None]]]] = [
                (Upload("models/drive.upload_file, local storage"), to_local),
                (Upload("models/drive.upload_file, S3"), to_s3),
                (Upload("S3 server directly (presigned PUT)"), direct),
                (Upload("of the above: the content check alone", part=True), content_check),
            ]
            for n in range(repeat):  # in turn, so that a busy moment of the machine is shared
                for upload, step in steps:
                    began = time.perf_counter()
                    await step(n)
                    upload.seconds.append(time.perf_counter() - began)
            stored = await drive.DriveFile.get(id=s3_id)
            url = await bucket.presigned_get(stored.storage_key, ttl=LINK_TTL)
            assert url is not None
            s3_get = url
    finally:
        await db.close()
    return [upload for upload, _ in steps], local_id, s3_id, s3_get


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
        video = tmp / "bench.mp4"
        facts = make_video(video, args.size_mb * MiB)
        data = video.read_bytes()
        print(
            f"[{timer()}] video: {len(data):,} bytes ({len(data) / MiB:.1f} MiB), H.264 1280x720,"
            f" {facts['seconds']:.1f} s, {facts['frames']:.0f} frames",
            flush=True,
        )
        with running_s3(tmp / "seaweedfs") as server:
            stack = BenchStack(tmp, time_scale="0", poll_scale="0.01", extra_env={"CH_SECRET_KEY": SECRET})
            try:
                s3_env = server.env(PREFIX)
                s3_api = stack.serve_more(s3_env)
                s3_redirect_api = stack.serve_more({**s3_env, "CH_STORAGE_REDIRECT": "1"})
                print(f"[{timer()}] SeaweedFS, the stack and two S3 API processes are up", flush=True)
                uploads, local_id, s3_id, s3_get = asyncio.run(
                    measure_uploads(stack, server, data, args.repeat)
                )
                print(f"[{timer()}] uploads measured", flush=True)
                ways = [
                    Way("API, local storage", stack.url + sign_file_path(local_id, SECRET, LINK_TTL)),
                    Way("API, S3 (streamed by the API)", s3_api + sign_file_path(s3_id, SECRET, LINK_TTL)),
                    Way(
                        "API, S3 + CH_STORAGE_REDIRECT (307 followed)",
                        s3_redirect_api + sign_file_path(s3_id, SECRET, LINK_TTL),
                        follow=True,
                    ),
                    Way("S3 server directly (presigned GET)", s3_get),
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
    for upload in uploads:
        rates = [size_mb / s for s in upload.seconds]
        if upload.part:
            print(f"  {upload.label:<46} {'':>12} {med(upload.seconds):6.2f} s")
            continue
        print(
            f"  {upload.label:<46} {med(rates):7.1f} MB/s  {med(upload.seconds):6.2f} s"
            f"   [{spread(rates, lambda v: f'{v:.1f}')}]"
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
