"""A webhook receiver for the tests: a real HTTP server (uvicorn) that verifies Standard Webhooks
signatures with the ``standardwebhooks`` library (not our code), and can be told to be down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    verified_with: set[str]  # which of the receiver's secrets verify it

    @property
    def verified(self) -> bool:
        return bool(self.verified_with)


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)  # any one verifying is enough
    down_for: int = 0  # answer 503 to this many more requests
    always_down: bool = False
    attempts: list[str] = field(default_factory=list)  # webhook-id of every request, accepted or not
    received: list[Received] = field(default_factory=list)  # accepted (2xx) requests
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        headers = {k: v for k, v in request.headers.items()}
        self.attempts.append(headers.get("webhook-id", ""))
        self._arrived.set()
        if self.always_down or self.down_for > 0:
            self.down_for = max(0, self.down_for - 1)
            return Response("down for maintenance", status_code=503)
        verified_with = set()
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(raw, headers)
                verified_with.add(secret)
        self.received.append(
            Received(
                webhook_id=headers.get("webhook-id", ""),
                timestamp=headers.get("webhook-timestamp", ""),
                signature=headers.get("webhook-signature", ""),
                body=json.loads(raw),
                raw=raw,
                headers=headers,
                verified_with=verified_with,
            )
        )
        return Response(status_code=204)

    async def wait_for(self, predicate: Any, within: float = 30.0) -> None:
        """Until ``predicate(self)`` holds (checked whenever a request arrives)."""
        async with asyncio.timeout(within):
            while not predicate(self):
                self._arrived.clear()
                await self._arrived.wait()

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.body["type"] == event_type]


@contextlib.asynccontextmanager
async def running_receiver(*, tls_pem: str | None = None, host: str = "127.0.0.1") -> AsyncIterator[Receiver]:
    """A receiver on 127.0.0.1; over https with ``tls_pem`` (its key and certificate chain), its
    URL then naming ``host`` (which need not resolve: the sender is told where to connect)."""
    # The socket listens before the server task starts, so requests can come at once.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    scheme = "https" if tls_pem else "http"
    receiver = Receiver(url=f"{scheme}://{host}:{sock.getsockname()[1]}/hooks")
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ssl_certfile=tls_pem))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
