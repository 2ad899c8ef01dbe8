"""Push latency of job status changes to websocket subscribers, against the real stack.

Starts the real stack as production runs it — one API process (``main.py serve``), one worker and
the provider simulator (time scale 0), each a process of its own, on SQLite and an embedded Valkey
(or CH_REDIS_URL) — then for 1, 100 and 1,000 concurrent subscribers (all subscribed to
``jobsUpdated`` of one team, over graphql-transport-ws with the third-party ``websockets`` client,
spread over client processes) creates jobs and measures, for every event each subscriber receives,
arrival time minus the job's ``updatedAt`` (when the new state was written). The same run measures
strawberry's plain per-subscriber handler (``/graphql/plain``) beside the multiplexed one
(``/graphql``), the delay a client polling every 5 s would see, and the server's memory per idle
subscription (5,000 idle subscriptions by default).

    .venv/bin/python bench/push_latency.py [--subscribers 1 100 1000] [--jobs 20] [--idle 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from bench_stack import BenchStack, raise_fd_limit, rss_mb

SUBSCRIPTION = "subscription { jobsUpdated { id status updatedAt } }"
POLL_INTERVAL = 5.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(values), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


# -- clients (run in their own processes so the measuring side has CPU of its own) ----------------
async def _client_main(url: str, key: str, count: int, ready: Any, go: Any, expected: int, out: Any) -> None:
    arrivals: list[tuple[float, str | bytes]] = []  # parsed after the run: measuring costs no CPU
    done = asyncio.Event()
    received = 0

    async def one() -> None:
        nonlocal received
        async with websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],
            max_queue=None,
            compression=None,  # type: ignore[list-item]
        ) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
            opened.append(1)
            async for raw in ws:
                arrivals.append((time.time(), raw))
                received += 1
                if received >= expected * count:
                    done.set()

    opened: list[int] = []
    tasks = [asyncio.create_task(one()) for _ in range(count)]
    async with asyncio.timeout(120):
        while len(opened) < count:  # a connection appends once subscribed
            await asyncio.wait(tasks, timeout=0.05)
    ready.set()
    await asyncio.sleep(0.5)  # the subscribe messages are in; the server has joined them
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 120)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = []
    for arrived, raw in arrivals:
        msg = json.loads(raw)
        if msg.get("type") == "next":
            job = msg["payload"]["data"]["jobsUpdated"]
            latencies.append(arrived - datetime.fromisoformat(job["updatedAt"]).timestamp())
    out.put(latencies)


def _client_process(url: str, key: str, count: int, ready: Any, go: Any, expected: int, out: Any) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client_main(url, key, count, ready, go, expected, out))


# -- the service ---------------------------------------------------------------------------------
class Service(BenchStack):
    """The stack with an instant simulator; the API process is the one measured."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, time_scale="0", poll_scale="0.01")
        self.proc = self.api

    def submit(self, client: httpx.Client, i: int) -> str:
        r = client.post(
            f"{self.url}/api/v1/creative-hub/generate/tts",
            json={"text": f"bench line {i}"},
            headers=self.headers,
        )
        r.raise_for_status()
        job_id: str = r.json()["job_id"]
        return job_id


def measure(service: Service, path: str, subscribers: int, jobs: int, processes: int) -> dict[str, float]:
    """Latencies (seconds) of every event at every subscriber while ``jobs`` jobs run."""
    url = service.url.replace("http://", "ws://") + path
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    per = [subscribers // processes + (1 if i < subscribers % processes else 0) for i in range(processes)]
    per = [n for n in per if n]
    readies = [ctx.Event() for _ in per]
    events_per_job = 3  # pending, processing, completed
    procs = [
        ctx.Process(
            target=_client_process, args=(url, service.key, n, ready, None, jobs * events_per_job, out)
        )
        for n, ready in zip(per, readies, strict=True)
    ]
    for p in procs:
        p.start()
    for ready in readies:
        if not ready.wait(180):
            raise RuntimeError("clients did not connect")
    time.sleep(1.0)
    with httpx.Client(timeout=30) as client:
        for i in range(jobs):
            service.submit(client, i)
            time.sleep(0.25)  # one job at a time: the latency of a change, not of a backlog
    latencies: list[float] = []
    for _ in procs:
        latencies.extend(out.get(timeout=300))
    for p in procs:
        p.join(30)
    result = percentiles(latencies)
    result["expected"] = subscribers * jobs * events_per_job
    return result


def polling_delay(service: Service, samples: int = 200) -> dict[str, float]:
    """What a client polling GET /jobs/{id} every 5 s sees: a uniform wait for its next poll plus
    the request itself (measured here)."""
    with httpx.Client(timeout=30) as client:
        job_id = service.submit(client, -1)
        headers = {"Authorization": f"Bearer {service.key}"}
        costs = []
        for _ in range(50):
            t0 = time.perf_counter()
            client.get(f"{service.url}/api/v1/creative-hub/jobs/{job_id}", headers=headers).raise_for_status()
            costs.append(time.perf_counter() - t0)
    rng = random.Random(7)
    return percentiles([rng.uniform(0, POLL_INTERVAL) + rng.choice(costs) for _ in range(samples * 10)])


async def _idle(url: str, key: str, count: int) -> list[Any]:
    sockets = []
    for i in range(count):
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        sockets.append(ws)
        if i % 500 == 499:
            await asyncio.sleep(0.1)
    return sockets


def idle_memory(service: Service, count: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        url = service.url.replace("http://", "ws://") + "/graphql"
        before = rss_mb(service.proc.pid)
        sockets = await _idle(url, service.key, count)
        await asyncio.sleep(2)
        after = rss_mb(service.proc.pid)
        for ws in sockets:
            await ws.close()
        return {
            "subscriptions": count,
            "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1),
            "kib_per_subscription": round((after - before) * 1024 / count, 1),
        }

    return asyncio.run(run())


def fmt(result: dict[str, float]) -> str:
    if not result.get("n"):
        return "no events"
    ms = {k: result[k] * 1000 for k in ("p50", "p95", "p99", "max")}
    got = (
        f"{int(result['n'])}/{int(result['expected'])} events"
        if "expected" in result
        else f"{int(result['n'])} samples"
    )
    return f"p50 {ms['p50']:8.1f} ms   p95 {ms['p95']:8.1f} ms   p99 {ms['p99']:8.1f} ms   max {ms['max']:8.1f} ms   ({got})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--skip-plain", action="store_true", help="do not measure strawberry's plain handler")
    args = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp))
        try:
            print(
                f"push latency, {args.jobs} jobs × 3 status changes, one API process (pid {service.proc.pid})"
            )
            for n in args.subscribers:
                ours = measure(service, "/graphql", n, args.jobs, min(args.processes, n))
                print(f"  {n:>5} subscribers  multiplexed  {fmt(ours)}", flush=True)
                if not args.skip_plain:
                    plain = measure(service, "/graphql/plain", n, args.jobs, min(args.processes, n))
                    print(f"  {n:>5} subscribers  plain        {fmt(plain)}", flush=True)
            poll = polling_delay(service)
            print(f"  polling every {POLL_INTERVAL:.0f} s (simulated phase + measured request)  {fmt(poll)}")
            if args.idle:
                mem = idle_memory(service, args.idle)
                print(
                    f"  idle: {mem['subscriptions']} subscriptions, RSS {mem['rss_before_mb']} → {mem['rss_after_mb']} MB,"
                    f" {mem['kib_per_subscription']} KiB per subscription"
                )
        finally:
            service.stop()


if __name__ == "__main__":
    main()
