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
    then replayed to the app (bodies here are JSON documents of at most a few MiB). A multipart
    POST to ``upload_path`` (a GraphQL file upload) has a limit of its own, ``upload_max_bytes``.
    Paths under ``exempt_prefixes`` have none here: they enforce their own."""

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...] = (),
        *,
        upload_path: str | None = None,
        upload_max_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # The dev simulator's mount (provider requests carry images) and the upload PUT route.
        self.exempt_prefixes = exempt_prefixes
        self.upload_path = upload_path
        self.upload_max_bytes = upload_max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        exempt = any(path.startswith(prefix) for prefix in self.exempt_prefixes)
        if scope["type"] != "http" or exempt:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = self.max_bytes
        if (
            self.upload_max_bytes is not None
            and path == self.upload_path
            and headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        ):
            limit = self.upload_max_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(scope, receive, send, limit)
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
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body"):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any, limit: int) -> None:
        message = f"the request body is larger than {limit} bytes"
        if limit == self.upload_max_bytes:
            message += "; upload larger files with createUpload (docs/contract.md, Uploads)"
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
