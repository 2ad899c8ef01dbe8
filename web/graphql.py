"""GraphQL over HTTP: the schema built from the root types, and strawberry's view with our context,
credentials, limits and the stream guard (websockets go to realtime/server.py first)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, cast

import strawberry
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.http import GraphQLRequestData
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from realtime.revocation import CredentialWatch
from realtime.server import MAX_SUBSCRIPTIONS_PER_CONNECTION
from resolvers.root import Mutation, Query, Subscription
from schema.context import Context
from schema.drive import SCALARS
from schema.extensions import (
    IntrospectionPolicy,
    MaskFaults,
    MaxVariablesLimiter,
    ReadRateLimit,
    rate_limited_retry_after,
    should_mask,
)
from schema.wire import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS, document_too_long, loads
from services import outages
from services.auth import authenticate, bearer
from services.container import Services
from services.settings import Settings
from web import errors, frontend

log = logging.getLogger("creative_hub.graphql")

CREDENTIAL_ENDED = "credential_ended"  # in the request's state: the stream's credential was revoked

SUBSCRIPTION_OVER_PLAIN_HTTP = (
    "subscriptions are not served over a plain HTTP request: open them over a websocket at /graphql "
    "(subprotocol graphql-transport-ws), or POST with Accept: text/event-stream (Server-Sent Events) "
    'or Accept: multipart/mixed;subscriptionSpec="1.0" (multipart HTTP)'
)


class _SubscriptionOverPlainHttp(Exception):
    """A subscription in a request that asked for no stream: answered 400 before any work."""


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """A fault is logged with its traceback; what the client did wrong (no credential, a bad
        document, a refused argument) in one line without one."""
        for error in errors:
            if should_mask(error):
                super().process_errors([error], execution_context)
            else:
                code = (error.extensions or {}).get("code", "GRAPHQL_ERROR")
                # Escaped: the message can quote what the client sent (a newline would forge a line).
                log.info("GraphQL error %s: %s", code, ascii(error.message[:200]))


def build_schema() -> strawberry.Schema:
    """The API's schema: the root types of resolvers/root.py under the document limits, the
    read rate limit and masked faults (schema/extensions.py)."""
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        # Classes or factories, never instances: an extension keeps its operation's state, so one instance
        # shared by concurrent operations could mask (or leave unmasked) another operation's errors.
        extensions=[
            IntrospectionPolicy,
            ReadRateLimit,
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            MaxVariablesLimiter,
            lambda: MaskFaults(should_mask_error=should_mask, error_message="Internal server error"),
        ],
    )


def sdl() -> str:
    """The schema in SDL, as ``schema.graphql`` holds it."""
    return build_schema().as_str() + "\n"


class _GuardedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's websocket writes, none of them once the connection's credential was revoked
    (the 4403 close follows)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.scope.get("state", {}).get(CREDENTIAL_ENDED):
            return
        await super().send_json(message)


class GraphQLView(GraphQL[Context, None]):
    """Strawberry over starlette, with our context and credentials from ``connection_init``; every
    stream it serves (multipart and SSE subscriptions, the benchmark's /graphql/plain websocket)
    ends when its credential is revoked or expires (revocation.CredentialWatch)."""

    websocket_adapter_class = _GuardedWebSocketAdapter

    def __init__(self, settings: Settings, schema: strawberry.Schema) -> None:
        super().__init__(
            schema,
            # Development only; our own page (render_graphql_ide), not strawberry's, which loads its scripts from a CDN.
            graphql_ide="graphiql" if frontend.graphiql_enabled(settings) else None,
            # Subscriptions over plain HTTP too, for clients that cannot open websockets.
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
            ),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
            # The GraphQL multipart request spec (uploadDriveFile). Strawberry leaves it off because a
            # browser may POST a multipart form cross-site with the user's cookies (a CSRF); this API
            # reads no cookies, only the Authorization header, which no cross-site form can send and
            # which makes a script's cross-origin request ask CORS first. Its body cap: web/app.py.
            multipart_uploads_enabled=True,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """A browser's GET /graphql in development: GraphiQL from our vendored files (nothing fetched
        from another host), with the Authorization header of the app's tab (web/static/graphiql)."""
        return frontend.graphiql_page()

    @staticmethod
    async def _authenticate(services: Services, header: str | None) -> tuple[str | None, Any]:
        credential = bearer(header)
        settings = services.settings
        principal = await authenticate(
            credential, settings.secret, max_jwt_lifetime=settings.jwt_max_lifetime_seconds
        )
        return credential, principal

    def decode_json(self, data: str | bytes) -> object:
        """Bodies, query-string variables and /graphql/plain messages: anything malformed (too deep,
        not UTF-8, a 5,000-digit number) is strawberry's "cannot parse" (400, or 4400 on a socket)."""
        try:
            return loads(data)
        except ValueError as exc:
            raise json.JSONDecodeError(str(exc), "", 0) from None

    async def parse_http_body(self, request: Any) -> Any:
        """The request's operation(s), each refused (400) when its document is too long to parse
        within a few milliseconds (schema.wire.MAX_DOCUMENT_CHARS)."""
        try:
            data = await super().parse_http_body(request)
        except (AttributeError, TypeError):  # strawberry's data.get(...) on a body that is no object
            raise HTTPException(400, "the body must be a JSON object") from None
        for item in data if isinstance(data, list) else [data]:
            refusal = document_too_long(item.query)
            if refusal is not None:
                raise HTTPException(400, refusal)
        return data

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's refusals (400 and the like) as short JSON errors, like the REST routes'."""
        try:
            return await super().run(request, *args, **kwargs)
        except _SubscriptionOverPlainHttp:
            # A request error (GraphQL over HTTP): an errors list, no data, a 4xx.
            error = {
                "message": SUBSCRIPTION_OVER_PLAIN_HTTP,
                "extensions": {"code": "BAD_REQUEST"},
            }
            return JSONResponse({"errors": [error]}, status_code=400)
        except HTTPException as exc:
            code = "METHOD_NOT_ALLOWED" if exc.status_code == 405 else "BAD_REQUEST"
            return errors.error_response(exc.status_code, code, exc.reason)
        finally:
            if isinstance(request, Request):  # a multipart upload's parts (spooled to disk when large)
                await request.close()

    async def execute_single(  # strawberry's signature
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, but a subscription here (a request that asked for no stream, which
        strawberry would execute like a query: a null root field, a masked fault) is refused
        with a 400 saying where subscriptions are served."""
        method = request_adapter.method
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise _SubscriptionOverPlainHttp from exc
            raise HTTPException(400, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        credential, principal = await self._authenticate(services, request.headers.get("authorization"))
        request.state.credential, request.state.principal = credential, principal  # for CredentialWatch
        return Context(request=request, services=services, principal=principal)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        if outages.graphql_unavailable(response_data):  # nothing could be done: 503, docs/operations.md
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(outages.RETRY_AFTER_SECONDS)
        retry_after = rate_limited_retry_after(response_data)  # a query refused by the read limit
        if retry_after is not None:
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(retry_after)
        return super().create_response(response_data, sub_response)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        credential = context.request.state.credential
        if header:
            credential, context.principal = await self._authenticate(context.services, str(header))
        if context.principal is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        websocket = cast(WebSocket, context.request)  # on_ws_connect: always a websocket connection
        watch = CredentialWatch(
            context.services,
            credential,
            context.principal,
            on_end=lambda: setattr(websocket.state, CREDENTIAL_ENDED, True),
        )

        async def close_when_revoked() -> None:
            async with watch:
                await watch.ended.wait()
            with contextlib.suppress(Exception):
                await websocket.close(4403, "Forbidden: the credential was revoked or has expired")

        websocket.state.watch_task = asyncio.create_task(close_when_revoked(), name="plain-ws-credential")
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            task = scope.get("state", {}).get("watch_task")
            if task is not None:
                task.cancel()

    async def create_streaming_response(
        self,
        request: Request | WebSocket,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        """The stream, ended (after what was already sent) when its credential is revoked or
        expires; not one chunk produced after the revocation goes out."""
        services: Services = request.app.state.services
        credential, principal = request.state.credential, request.state.principal

        async def guarded() -> AsyncGenerator[str, None]:
            if principal is None:  # nothing to follow: strawberry's own errors, then the end
                async for chunk in stream():
                    yield chunk
                return
            async with CredentialWatch(services, credential, principal) as watch:
                ended = asyncio.ensure_future(watch.ended.wait())
                source = stream()
                try:
                    while True:
                        chunk_task = asyncio.ensure_future(anext(source))
                        await asyncio.wait({chunk_task, ended}, return_when=asyncio.FIRST_COMPLETED)
                        if watch.ended.is_set():
                            chunk_task.cancel()
                            with contextlib.suppress(BaseException):
                                await chunk_task
                            return
                        try:
                            chunk = chunk_task.result()
                        except StopAsyncIteration:
                            return
                        yield chunk
                finally:
                    ended.cancel()
                    with contextlib.suppress(Exception):
                        await source.aclose()  # type: ignore[attr-defined]  # typed AsyncIterator, is an async generator

        return await super().create_streaming_response(request, lambda: guarded(), sub_response, headers)
