"""Independent stand-ins for the twelve providers' real APIs, written from the provider facts in
docs/providers.md (not from the adapters or the built-in simulator), served by one ASGI app under a path prefix per
family. :func:`serve` runs it with uvicorn in a thread and yields the :class:`Hub` that records what it received."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import ark, bfl, creatomate, elevenlabs, gemini, heygen, kling, luma, openai, runway
from tests.standins.common import Hub, Recorded, Recording, Task, file_response

__all__ = ["Hub", "Recorded", "Task", "create_app", "serve"]

FAMILIES = (bfl, openai, ark, luma, runway, kling, gemini, heygen, elevenlabs, creatomate)


def create_app(hub: Hub) -> Recording:
    async def cdn(request: Request) -> Response:
        """Providers' temporary output URLs (signed-looking, unauthenticated)."""
        stored = hub.files.get(request.path_params["token"])
        if stored is None or stored.requires_key or stored.family != request.path_params["family"]:
            return JSONResponse({"error": "NoSuchKey"}, 404)
        if stored.expires_at is not None and time.time() > stored.expires_at:
            return JSONResponse({"error": "AccessDenied: Request has expired"}, 403)
        return file_response(stored)

    routes = [Route("/cdn/{family}/{token}/{name}", cdn, methods=["GET"])]
    for family in FAMILIES:
        routes += family.routes(hub)
    return Recording(Starlette(routes=routes), hub)


@contextmanager
def serve() -> Iterator[Hub]:
    """The stand-ins on a free loopback port (uvicorn in a daemon thread); yields the hub."""
    hub = Hub()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    hub.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        create_app(hub), log_level="warning", lifespan="off", loop="asyncio", http="h11", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the stand-ins did not start")
        time.sleep(0.01)
    try:
        yield hub
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
