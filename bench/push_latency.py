"""Push latency of job status changes to websocket subscribers, against the real stack.

Starts the real stack as production runs it — one API process (``main.py serve``), one worker and
the provider simulator (time scale 0), each a process of its own, on SQLite (or a PostgreSQL
database of its own) and an embedded Valkey (or CH_REDIS_URL) — then for 1, 100 and 1,000 concurrent subscribers (all subscribed to
``jobsUpdated`` of one team over graphql-transport-ws, spread over client processes; see
:class:`Subscriber`) creates jobs one after another and measures, for every event each subscriber
receives, arrival time minus the job's ``updatedAt`` (when the new state was written, before
commit). A Redis subscriber of the benchmark's own notes when each event was published, which
splits every figure into "commit + publish" (``updatedAt`` → publish: the database and the
publishing process) and "push" (publish → arrival: the API process's fan-out and the network).
The same run measures strawberry's plain per-subscriber handler (``/graphql/plain``, served only
when a benchmark sets CH_BENCH_PLAIN_WS, as this one does unless ``--skip-plain``) beside the
multiplexed one (``/graphql``), the delay a client polling every 5 s would see, and the server's
memory per idle subscription (5,000 idle subscriptions by default).

    .venv/bin/python -m bench.push_latency [--subscribers 1 100 1000] [--jobs 20] [--idle 5000]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import random
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from bench.bench_stack import BenchStack, percentiles, raise_fd_limit, rss_mb

SUBSCRIPTION = "subscription { jobsUpdated { id status updatedAt } }"
POLL_INTERVAL = 5.0


# -- clients (run in their own processes so the measuring side has CPU of its own) ----------------
class Subscriber(asyncio.Protocol):
    """One websocket subscriber on a bare asyncio protocol: ``websockets``' own sans-I/O
    ``ClientProtocol`` speaks the protocol (handshake, masking, pongs to the server's keep-alive
    pings), and a frame's arrival is stamped in ``data_received``, when its bytes come off the
    socket, before any task wake-up; frames are parsed as JSON after the run.

    Checked against the ``websockets`` asyncio client this benchmark used before (one task per
    connection, stamped when ``recv`` returned): slightly less CPU per received message (most of
    it the kernel's and the event loop's per-socket work), and the same figures within run-to-run
    noise — the client was not the bottleneck (BENCHMARKS.md). It is kept because it stamps
    earlier and holds no task per connection.
    """

    def __init__(self, url: str, key: str, arrivals: list[tuple[float, bytes]], on_message: Any) -> None:
        self.ws = ClientProtocol(
            parse_uri(url), subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
        )
        self.key = key
        self.arrivals = arrivals
        self.on_message = on_message
        self.subscribed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream protocol gets a Transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):  # the handshake answer
                if self.ws.handshake_exc is not None:
                    self._fail(self.ws.handshake_exc)
                else:
                    self._send(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.key}"}}
                    )
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                if self.subscribed.done():
                    self.arrivals.append((arrived, event.data))
                    self.on_message()
                elif json.loads(event.data).get("type") == "connection_ack":
                    self._send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
                    self.subscribed.set_result(None)
                else:
                    self._fail(RuntimeError(f"unexpected before subscribing: {event.data[:200]!r}"))
        self._flush()  # pongs and close replies

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("closed by the server"))

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message).encode())
        self._flush()

    def _flush(self) -> None:
        data = b"".join(self.ws.data_to_send())
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, exc: BaseException) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(exc)


async def _client_main(url: str, key: str, count: int, ready: Any, expected: int, out: Any) -> None:
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, bytes]] = []
    done = asyncio.Event()

    def on_message() -> None:
        if len(arrivals) >= expected * count:
            done.set()

    host, port = url.split("//")[1].split("/")[0].split(":")
    opening = asyncio.Semaphore(100)  # connect in waves: a burst of 500 SYNs overflows the backlog

    async def connect() -> Subscriber:
        async with opening:
            _, subscriber = await loop.create_connection(
                lambda: Subscriber(url, key, arrivals, on_message), host, int(port)
            )
            await asyncio.wait_for(asyncio.shield(subscriber.subscribed), 30)
            return subscriber

    async with asyncio.timeout(120):
        subscribers = await asyncio.gather(*(connect() for _ in range(count)))
    # The measuring side must not pause on its own: a full collection here walks every connection
    # and every stored arrival, and delayed the stamps of a whole event by tens of milliseconds (seen
    # as the first job's "last" arrival landing long after the server had written it; BENCHMARKS.md). Connections are
    # frozen and collection is off while it measures; the arrivals are plain tuples, freed on exit.
    gc.collect()
    gc.freeze()
    gc.disable()
    ready.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 300)
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.abort()
    samples = []  # (arrival, job id, status, updatedAt), all times in seconds since the epoch
    for arrived, raw in arrivals:
        msg = json.loads(raw)
        if msg.get("type") == "next":
            job = msg["payload"]["data"]["jobsUpdated"]
            updated = datetime.fromisoformat(job["updatedAt"]).timestamp()
            samples.append((arrived, job["id"], job["status"], updated))
    out.put(samples)


def _client_process(url: str, key: str, count: int, ready: Any, expected: int, out: Any) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client_main(url, key, count, ready, expected, out))


# -- the service ---------------------------------------------------------------------------------
class Service(BenchStack):
    """The stack with an instant simulator; the API process is the one measured."""

    def __init__(self, tmp: Path, postgres: str | None, *, plain_ws: bool = True) -> None:
        super().__init__(tmp, time_scale="0", poll_scale="0.01", postgres=postgres, plain_ws=plain_ws)
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


class PublishTap:
    """A Redis subscriber of its own that notes when each job event was published, to split every
    latency into the part before the API process could know (the worker's or API's commit and
    publish: ``updatedAt`` → publish) and the push itself (publish → arrival at the subscriber)."""

    def __init__(self, redis_url: str) -> None:
        self.published: dict[tuple[str, str], float] = {}  # (job id, status) -> when
        self._pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe("ch:team:*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "pmessage":
                event = json.loads(message["data"])
                if event.get("kind") == "job":
                    job = event["data"]
                    self.published.setdefault((job["id"], job["status"].upper()), time.time())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()


def measure(service: Service, path: str, subscribers: int, jobs: int, processes: int) -> dict[str, Any]:
    """Latencies (seconds) of every event at every subscriber while ``jobs`` jobs run (``total``),
    split into ``commit`` (per event: ``updatedAt`` → published) and ``push`` (per event and
    subscriber: published → arrival), and how closely each job's changes follow one another
    (``burst``: median of first to last ``updatedAt``)."""
    url = service.url.replace("http://", "ws://") + path
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    per = [subscribers // processes + (1 if i < subscribers % processes else 0) for i in range(processes)]
    per = [n for n in per if n]
    readies = [ctx.Event() for _ in per]
    events_per_job = 3  # pending, processing, completed
    procs = [
        ctx.Process(target=_client_process, args=(url, service.key, n, ready, jobs * events_per_job, out))
        for n, ready in zip(per, readies, strict=True)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 180
    for p, ready in zip(procs, readies, strict=True):
        while not ready.wait(0.5):
            if not p.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("clients did not connect")
    time.sleep(1.0)
    tap = PublishTap(service.env["CH_REDIS_URL"])
    try:
        with httpx.Client(timeout=30) as client:
            for i in range(jobs):
                service.submit(client, i)
                time.sleep(0.25)  # one job at a time: the latency of a change, not of a backlog
        samples: list[tuple[float, str, str, float]] = []
        for _ in procs:
            samples.extend(out.get(timeout=400))
        for p in procs:
            p.join(30)
    finally:
        tap.close()
    changes: dict[tuple[str, str], float] = {(job, status): updated for _, job, status, updated in samples}
    published = tap.published
    spans: dict[str, list[float]] = {}
    for (job, _), updated in changes.items():
        spans.setdefault(job, []).append(updated)
    bursts = sorted(max(t) - min(t) for t in spans.values() if len(t) == events_per_job)
    return {
        "total": {
            **percentiles([arrived - updated for arrived, _, _, updated in samples]),
            "expected": subscribers * jobs * events_per_job,
        },
        "commit": percentiles([published[k] - t for k, t in changes.items() if k in published]),
        "push": percentiles(
            [
                arrived - published[(job, status)]
                for arrived, job, status, _ in samples
                if (job, status) in published
            ]
        ),
        "burst": bursts[len(bursts) // 2] if bursts else float("nan"),
        "events": _per_event(samples, published),
    }


def _per_event(
    samples: list[tuple[float, str, str, float]], published: dict[tuple[str, str], float]
) -> list[tuple[float, str, float, float, float, float]]:
    """Per event, in the order written: (updatedAt, status, commit + publish, push to the first,
    median and last subscriber) in seconds; NaN where the tap missed the publish."""
    arrivals: dict[tuple[str, str], list[float]] = {}
    updated: dict[tuple[str, str], float] = {}
    for arrived, job, status, at in samples:
        arrivals.setdefault((job, status), []).append(arrived)
        updated[(job, status)] = at
    rows = []
    for key, times in arrivals.items():
        times.sort()
        pub = published.get(key, float("nan"))
        rows.append(
            (
                updated[key],
                key[1],
                pub - updated[key],
                times[0] - pub,
                times[len(times) // 2] - pub,
                times[-1] - pub,
            )
        )
    return sorted(rows)


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
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
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


def report(n: int, name: str, result: dict[str, Any]) -> None:
    print(f"  {n:>5} subscribers  {name:<12} {fmt(result['total'])}")
    print(f"        of which commit + publish    {fmt(result['commit'])}")
    print(f"        of which push to subscribers {fmt(result['push'])}")
    print(
        f"        (a job's three changes within {result['burst'] * 1000:.0f} ms of one another, median)",
        flush=True,
    )


def report_events(result: dict[str, Any]) -> None:
    start = result["events"][0][0] if result["events"] else 0.0
    print("        per event: at (s)  status      commit   first  median    last (ms, push from publish)")
    for at, status, commit, first, median, last in result["events"]:
        print(
            f"          {at - start:8.3f}  {status:<10} {commit * 1000:6.1f} {first * 1000:7.1f}"
            f" {median * 1000:7.1f} {last * 1000:7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--per-event", action="store_true", help="print every event's commit and push delays")
    parser.add_argument("--skip-plain", action="store_true", help="do not measure strawberry's plain handler")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="run on a database of its own on this PostgreSQL server instead of SQLite",
    )
    args = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), args.postgres, plain_ws=not args.skip_plain)
        try:
            if args.idle:  # first: RSS only grows by what the allocator cannot take from memory
                # that earlier phases freed, which made this figure far too small when measured last
                mem = idle_memory(service, args.idle)
                print(
                    f"idle (on the fresh API process): {mem['subscriptions']} subscriptions, RSS"
                    f" {mem['rss_before_mb']} → {mem['rss_after_mb']} MB, {mem['kib_per_subscription']} KiB"
                    " per subscription",
                    flush=True,
                )
            print(
                f"push latency, {args.jobs} jobs × 3 status changes, one API process (pid {service.proc.pid})"
            )
            for n in args.subscribers:
                result = measure(service, "/graphql", n, args.jobs, min(args.processes, n))
                report(n, "multiplexed", result)
                if args.per_event:
                    report_events(result)
                if not args.skip_plain:
                    report(
                        n, "plain", measure(service, "/graphql/plain", n, args.jobs, min(args.processes, n))
                    )
            poll = polling_delay(service)
            print(f"  polling every {POLL_INTERVAL:.0f} s (simulated phase + measured request)  {fmt(poll)}")
        finally:
            service.stop()


if __name__ == "__main__":
    main()
