"""Shared by the adapter-against-simulator tests: serving the simulator over real HTTP, building
jobs, driving an adapter like the worker does, and decoding what comes back."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import av
import httpx
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import Done, JobSpec
from providers.http_adapter import HttpAdapter
from providers.simulator import SIMULATOR_BASE_PATHS, create_simulator_app

POLL_SCALE = 0.01
MAX_BYTES = 20 * 1024 * 1024
ANY_MEDIA = ("image/", "video/", "audio/")

A = TypeVar("A", bound=HttpAdapter)


@contextmanager
def serve_simulator(api_key: str, time_scale: float, *, tls_cert: str | None = None) -> Iterator[str]:
    """The simulator mounted under /simulator like the main app does, served by uvicorn in a
    thread on a free loopback port; yields its root URL (https with ``tls_cert``, a PEM holding
    the certificate chain and key)."""
    app = Starlette(routes=[Mount("/simulator", app=create_simulator_app(api_key, time_scale))])
    with serve_app(app, tls_cert=tls_cert) as root:
        yield root + "/simulator"


@contextmanager
def serve_app(app: Any, *, tls_cert: str | None = None) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread on a free loopback port; yields its root URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        loop="asyncio",
        http="h11",
        ws="none",
        ssl_certfile=tls_cert,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.01)
    try:
        yield f"{'https' if tls_cert else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def make_adapter(cls: type[A], root: str, client: httpx.AsyncClient, key: str) -> A:
    return cls(client, root + SIMULATOR_BASE_PATHS[cls.family], key, poll_interval_scale=POLL_SCALE)


def job(kind: str, provider: str, prompt: str | None, **params: Any) -> JobSpec:
    files = params.pop("input_files", ())
    return JobSpec(
        job_id=str(uuid.uuid4()),
        type=kind,
        provider=provider,
        prompt=prompt,
        params=params,
        input_files=files,
    )


def unique(text: str) -> str:
    """Markers trip once per distinct text; a suffix keeps tests independent."""
    return f"{text} #{uuid.uuid4().hex[:8]}"


async def run(adapter_: HttpAdapter, spec: JobSpec, limit: float = 10.0) -> Done:
    """Submit and poll like the worker: wait exactly what the adapter asks, bounded overall."""
    first = await adapter_.submit(spec)
    if isinstance(first, Done):
        return first
    async with asyncio.timeout(limit):
        wait = first.retry_after
        while True:
            await asyncio.sleep(wait)
            outcome = await adapter_.poll(spec, first.task_id, first.state)
            if isinstance(outcome, Done):
                return outcome
            wait = outcome.retry_after


def image_facts(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return str(img.format), img.size


def video_facts(data: bytes) -> tuple[int, int, float]:
    """(width, height, seconds) of an MP4 whose H.264 video stream decodes."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frame = next(container.decode(stream))
        assert frame.width > 0
        return stream.codec_context.width, stream.codec_context.height, float(container.duration or 0) / 1e6


def audio_facts(data: bytes) -> tuple[float, int]:
    """(seconds, sample rate) of an audio file, every frame decoded."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = 0
        for frame in container.decode(stream):
            samples += frame.samples
        assert samples > 0
        rate = stream.codec_context.sample_rate
        return samples / rate, rate


def audio_seconds(data: bytes) -> float:
    return audio_facts(data)[0]


def mock_client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))
