"""HTTP middleware: the request body size limit and the answer to an outage (CORS is Starlette's own
middleware, see web/app.py). Both answer in the API's error shape (web/errors.py)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from services import outages
from web import errors

Message = dict[str, Any]


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 before the app reads them.

    A declared Content-Length is checked at once; a chunked body is read up to the limit first,
    then replayed to the app (bodies here are JSON documents of at most a few MiB)."""

    def __init__(self, app: Any, max_bytes: int, exempt_prefix: str | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefix = exempt_prefix  # the dev simulator's mount: provider requests carry images

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        exempt = self.exempt_prefix and scope.get("path", "").startswith(self.exempt_prefix)
        if scope["type"] != "http" or exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body"):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        await errors.error_response(413, "VALIDATION_FAILED", message)(scope, receive, send)


class ServiceUnavailable:
    """A request that failed because the database or Redis could not be reached answers 503 with
    ``Retry-After`` and one log line, never a bare 500 with a traceback (``outages``). GraphQL
    errors raised during execution are mapped by the schema and ``web.graphql.GraphQLView``; this catches
    what fails outside them (authentication, the REST routes, file downloads)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not outages.is_unavailable(exc):
                raise
            outages.log.warning("503 for %s %s: %s", scope["method"], scope["path"], outages.describe(exc))
            headers = {"Retry-After": str(outages.RETRY_AFTER_SECONDS)}
            if scope["path"].startswith("/graphql"):
                response: Any = JSONResponse(outages.graphql_body(), status_code=503, headers=headers)
            else:
                response = errors.unavailable()
            await response(scope, receive, send)
