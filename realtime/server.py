"""GraphQL over websockets, multiplexed: a subscription document is executed ONCE per event for all
the subscribers that share it (same team and scopes, document, variables and operation name), and
the same serialised message is written to each of them.

A plain strawberry subscription executes and serialises every event once per subscriber, so its
cost grows with the subscribers (BENCHMARKS.md compares the two). Here a :class:`Group` runs one
``schema.stream`` and fans its results out; members joining a live group get its latest result
first (the current state), then every later one. Both subprotocols are spoken:
``graphql-transport-ws`` and the legacy ``graphql-ws``. Queries and mutations sent over a socket
run per member, as usual.

What is left per subscriber is the write itself: every connection sends through its
``wsout.Outbox``, which on uvicorn's ``websockets-sansio`` protocol (the one this service runs)
writes the frames straight to the connection's transport, a burst in one write, and on any other
server goes through the ASGI ``send``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, OperationType
from graphql.error import GraphQLSyntaxError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.execution import ExecutionResult, PreExecutionError

from realtime import metrics
from realtime.revocation import CredentialWatch
from realtime.wsout import Message, outbox_for
from schema.context import Context
from schema.wire import loads, parse_document
from services.auth import Principal, authenticate, bearer
from services.container import Services

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_CONNECTION = 100
CONNECTION_INIT_TIMEOUT = 10.0
KEEPALIVE_SECONDS = 15.0  # legacy graphql-ws "ka"
CLOSE_DRAIN_SECONDS = 5.0  # how long a closing connection waits for its queued frames to go out
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)
# Client messages per connection: a bucket of MESSAGE_BURST, refilled at MESSAGES_PER_SECOND; a
# client past it is closed with 1008 (policy violation). Room for a client that opens all of its
# MAX_SUBSCRIPTIONS_PER_CONNECTION operations at once, nothing for a flood.
MESSAGES_PER_SECOND = 20.0
MESSAGE_BURST = 2 * MAX_SUBSCRIPTIONS_PER_CONNECTION


class InvalidMessage(ValueError):
    """A client message that is not a JSON object (graphql-transport-ws: close with 4400)."""


class MessageBudget:
    """A token bucket: whether one more client message is allowed now."""

    def __init__(self, rate: float = MESSAGES_PER_SECOND, burst: float = MESSAGE_BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.at = asyncio.get_running_loop().time()

    def take(self) -> bool:
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _payload(result: ExecutionResult) -> bytes:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return json.dumps(body, separators=(",", ":")).encode()


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _is_subscription(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation to run is a subscription."""
    for definition in document.definitions:
        operation = getattr(definition, "operation", None)
        name = getattr(getattr(definition, "name", None), "value", None)
        if operation is not None and (operation_name is None or name == operation_name):
            return bool(operation == OperationType.SUBSCRIPTION)
    return False


def _reason(reason: str) -> str:
    """A close reason fits in a control frame (123 bytes of UTF-8)."""
    return reason.encode()[:120].decode(errors="ignore")


@dataclass(eq=False)
class Member:
    connection: Connection
    op_id: str
    prefix: bytes = field(init=False)  # its result messages up to the payload (Connection.next_prefix)

    def __post_init__(self) -> None:
        self.prefix = self.connection.next_prefix(self.op_id)


@dataclass(eq=False)
class Group:
    """One execution of one subscription, shared by every member with the same key."""

    key: tuple[Any, ...]
    hub: Hub
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    context: Context
    members: set[Member] = field(default_factory=set)
    latest: bytes | None = None  # the last payload, for members who join later
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            source = await self.hub.schema.stream(
                self.query,
                variable_values=self.variables,
                context_value=self.context,
                operation_name=self.operation_name,
            )
            async with contextlib.aclosing(source):
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        errors = [e.formatted for e in result.errors or []]
                        for member in list(self.members):
                            member.connection.send_error(member.op_id, errors)
                        return
                    first = False
                    if not isinstance(result, ExecutionResult):
                        continue
                    self.latest = payload = _payload(result)
                    self._fan_out(payload)
            for member in list(self.members):
                member.connection.send_complete(member.op_id)
        except Exception:
            log.exception("subscription group failed")
            for member in list(self.members):
                member.connection.send_error(member.op_id, [{"message": "Internal server error"}])
        finally:
            self.hub.retire(self)

    def _fan_out(self, payload: bytes) -> None:
        """One result into every member's outbox (written within a turn or a few of the event loop).
        The message differs between members only by operation id and subprotocol, so members that
        share both (clients number their operations "1", "2", …) share one message object, and its
        websocket frame, instead of building them again."""
        messages: dict[bytes, Message] = {}
        for member in self.members:  # put() never changes the group: no copy on the hot path
            message = messages.get(member.prefix)
            if message is None:
                message = messages[member.prefix] = Message(member.prefix + payload + b"}", droppable=True)
            member.connection.outbox.put(message)


class Hub:
    """This process's live subscription groups, executed by ``schema`` (web/graphql.py builds it)."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.schema = schema
        self.groups: dict[tuple[Any, ...], Group] = {}

    def join(self, connection: Connection, op_id: str, payload: dict[str, Any]) -> Member:
        principal = connection.principal
        assert principal is not None
        query = payload["query"]
        variables = payload.get("variables") or None
        operation_name = payload.get("operationName")
        key = (
            principal.team_id,
            principal.scopes,
            query,
            json.dumps(variables, sort_keys=True),
            operation_name,
        )
        member = Member(connection, op_id)
        group = self.groups.get(key)
        if group is None:
            context = Context(request=connection.websocket, services=connection.services, principal=principal)
            group = Group(key, self, query, variables, operation_name, context)
            group.members.add(member)
            self.groups[key] = group
            group.task = asyncio.create_task(group.run(), name="subscription-group")
            metrics.SUBSCRIPTION_GROUPS.inc()
        else:
            group.members.add(member)
            if group.latest is not None:  # the current state first, as the subscription promises
                connection.send_next(op_id, group.latest)
        connection.memberships[op_id] = (group, member)
        metrics.SUBSCRIPTIONS.inc()
        return member

    def leave(self, group: Group, member: Member) -> None:
        if member in group.members:
            group.members.discard(member)
            metrics.SUBSCRIPTIONS.dec()
        if not group.members and group.task is not None and not group.task.done():
            group.task.cancel()
            self.retire(group)

    def retire(self, group: Group) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
            metrics.SUBSCRIPTION_GROUPS.dec()
        for member in list(group.members):
            member.connection.memberships.pop(member.op_id, None)
        metrics.SUBSCRIPTIONS.dec(len(group.members))
        group.members.clear()


class Connection:
    """One websocket: the protocol state machine; everything it sends goes through its outbox."""

    def __init__(
        self, websocket: WebSocket, raw_send: Any, services: Services, hub: Hub, protocol: str
    ) -> None:
        self.websocket = websocket
        self.services = services
        self.hub = hub
        self.protocol = protocol
        self.legacy = protocol == GRAPHQL_WS_PROTOCOL
        self.principal: Principal | None = None
        self.credential: str | None = None
        self.memberships: dict[str, tuple[Group, Member]] = {}
        self.operations: dict[str, asyncio.Task[None]] = {}  # queries and mutations in flight
        # The server's own ASGI send, or better its transport: the fan-out skips starlette's wrappers.
        self.outbox = outbox_for(raw_send, on_overflow=self._overflowed)
        self.budget = MessageBudget()
        self.closing: asyncio.Task[None] | None = None  # a close on overflow, under way

    # -- sending (never blocks the caller) ------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put(_encode(message))

    def next_prefix(self, op_id: str) -> bytes:
        """A result message of this operation up to its payload (the payload and "}" follow)."""
        kind = "data" if self.legacy else "next"
        return f'{{"id":{json.dumps(op_id)},"type":"{kind}","payload":'.encode()

    def send_next(self, op_id: str, payload: bytes) -> None:
        self.outbox.put(self.next_prefix(op_id) + payload + b"}", droppable=True)

    def send_error(self, op_id: str, errors: list[Any]) -> None:
        self.send({"id": op_id, "type": "error", "payload": errors[0] if self.legacy else errors})
        self.memberships.pop(op_id, None)

    def send_complete(self, op_id: str) -> None:
        self.send({"id": op_id, "type": "complete"})
        self.memberships.pop(op_id, None)

    # -- receiving ------------------------------------------------------------------------------
    async def serve(self) -> None:
        keepalive = asyncio.create_task(self._keepalive(), name="ws-keepalive") if self.legacy else None
        watch: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(CONNECTION_INIT_TIMEOUT) as init_deadline:
                while self.principal is None:
                    if not await self._handle(await self._receive()):
                        return
            del init_deadline
            watch = asyncio.create_task(self._watch_credential(), name="ws-credential")
            while await self._handle(await self._receive()):
                pass
        except TimeoutError:
            await self._close(4408, "Connection initialisation timeout")
        except (WebSocketDisconnect, RuntimeError):
            pass
        except (ValueError, KeyError, TypeError):
            await self._close(4400, "Invalid message")
        finally:
            self.outbox.close()  # the client is gone, or _close drained what it was owed
            for group, member in list(self.memberships.values()):
                self.hub.leave(group, member)
            for task in self.operations.values():
                task.cancel()
            for background in (keepalive, watch):
                if background:
                    background.cancel()

    async def _receive(self) -> dict[str, Any]:
        """The next client message: a JSON object in a text frame (InvalidMessage otherwise), within
        the connection's message budget (closed with 1008 past it). Frames are at most
        CH_MAX_BODY_BYTES (uvicorn's ws_max_size, web.app.uvicorn_options)."""
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        if not self.budget.take():
            log.info("websocket closed: more than %s messages a second", MESSAGES_PER_SECOND)
            await self._abort(1008, "Too many messages")
            raise WebSocketDisconnect(1008)
        text = message.get("text")
        if text is None:
            raise InvalidMessage("a binary frame")
        parsed = loads(text)
        if not isinstance(parsed, dict):
            raise InvalidMessage("not a JSON object")
        return parsed

    def _overflowed(self) -> None:
        """The outbox is full of messages it may not drop (the client does not read)."""
        log.info("websocket closed: the client does not read what it is sent")
        self.closing = asyncio.get_running_loop().create_task(self._abort(1013, "Too many unread messages"))

    async def _abort(self, code: int, reason: str) -> None:
        """Close now, dropping what is queued (the client asked for more than it may have)."""
        self.outbox.close()
        await self._send_close(code, reason)

    async def _send_close(self, code: int, reason: str) -> None:
        """The close frame; when even that cannot be written (the client stopped reading long ago),
        the connection is dropped instead of waiting for it."""
        if self.websocket.application_state == WebSocketState.DISCONNECTED:
            return
        try:
            async with asyncio.timeout(CLOSE_DRAIN_SECONDS):
                await self.websocket.close(code=code, reason=_reason(reason))
        except TimeoutError:
            self.outbox.abort()
        except Exception:  # the client is gone already
            log.debug("websocket close failed", exc_info=True)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            if self.principal is not None:
                self.send({"type": "ka"})

    async def _watch_credential(self) -> None:
        """A key revoked (or a token expired) while the socket is open ends the socket too, within
        a second: a revocation arrives over Redis (revocation.CredentialWatch; the periodic
        re-check is the backstop) and closes with 4403 after leaving every subscription at once,
        so nothing published after the revocation is sent."""
        assert self.principal is not None
        watch = CredentialWatch(self.services, self.credential, self.principal, on_end=self._credential_ended)
        async with watch:
            await watch.ended.wait()
        await self._close(4403, "Forbidden: the credential was revoked or has expired")

    def _credential_ended(self) -> None:
        """Synchronously, in the event bus's reader: no later event reaches this connection."""
        self.principal = None
        for op_id in list(self.memberships):
            self._stop(op_id)
        for task in self.operations.values():
            task.cancel()

    async def _close(self, code: int, reason: str) -> None:
        """Close after what was already queued (e.g. graphql-ws's connection_error) has gone out."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_DRAIN_SECONDS):
                await self.outbox.drain()
        await self._send_close(code, reason)

    async def _handle(self, message: dict[str, Any]) -> bool:
        """Handle one client message; False when the connection is to end."""
        kind = message.get("type")
        if kind == "connection_init":
            return await self._init(message.get("payload"))
        if kind == "ping" and not self.legacy:
            self.send({"type": "pong"})
            return True
        if kind == "pong":
            return True
        if kind == "connection_terminate" and self.legacy:
            await self._close(1000, "")
            return False
        if kind in ("subscribe", "start"):
            if self.principal is None:
                await self._close(4401, "Unauthorized")
                return False
            return await self._subscribe(message)
        if kind in ("complete", "stop"):
            self._stop(str(message.get("id")))
            return True
        await self._close(4400, f"Unknown message type: {kind!r:.60}")
        return False

    async def _init(self, payload: Any) -> bool:
        if self.principal is not None:
            await self._close(4429, "Too many initialisation requests")
            return False
        params = payload if isinstance(payload, dict) else {}
        header = (
            params.get("Authorization")
            or params.get("authorization")
            or self.websocket.headers.get("authorization")
        )
        self.credential = bearer(str(header)) if header else None
        settings = self.services.settings
        self.principal = await authenticate(
            self.credential, settings.secret, max_jwt_lifetime=settings.jwt_max_lifetime_seconds
        )
        if self.principal is None:
            if self.legacy:
                self.send({"type": "connection_error", "payload": {"message": "authentication required"}})
                await self._close(1011, "")
            else:
                await self._close(4403, "Forbidden")
            return False
        self.send({"type": "connection_ack"})
        if self.legacy:
            self.send({"type": "ka"})
        return True

    async def _subscribe(self, message: dict[str, Any]) -> bool:
        op_id = str(message["id"])
        payload = message.get("payload") or {}
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables"), dict | None)
            and isinstance(payload.get("operationName"), str | None)
        ):
            await self._close(4400, "Invalid message")
            return False
        if op_id in self.memberships or op_id in self.operations:
            await self._close(4409, f"Subscriber for {op_id} already exists")
            return False
        if len(self.memberships) + len(self.operations) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
            self.send_error(op_id, [{"message": "Subscription limit reached"}])
            return True
        try:  # under the limits every operation runs under (schema.wire.MAX_TOKENS), before any work
            document = parse_document(payload["query"])
        except GraphQLSyntaxError as error:
            self.send_error(op_id, [error.formatted])
            return True
        if _is_subscription(document, payload.get("operationName")):
            self.hub.join(self, op_id, payload)
        else:
            self.operations[op_id] = asyncio.create_task(self._run_single(op_id, payload))
        return True

    async def _run_single(self, op_id: str, payload: dict[str, Any]) -> None:
        """A query or mutation (or a document that fails validation) for this member alone."""
        try:
            context = Context(request=self.websocket, services=self.services, principal=self.principal)
            source = await self.hub.schema.stream(
                payload["query"],
                variable_values=payload.get("variables"),
                context_value=context,
                operation_name=payload.get("operationName"),
            )
            async with contextlib.aclosing(source):
                async for result in source:
                    if isinstance(result, PreExecutionError):
                        self.send_error(op_id, [e.formatted for e in result.errors or []])
                        return
                    if isinstance(result, ExecutionResult):
                        self.send_next(op_id, _payload(result))
            self.send_complete(op_id)
        except GraphQLError as error:
            self.send_error(op_id, [error.formatted])
        finally:
            self.operations.pop(op_id, None)

    def _stop(self, op_id: str) -> None:
        if op_id in self.memberships:
            group, member = self.memberships.pop(op_id)
            self.hub.leave(group, member)
        elif op_id in self.operations:
            self.operations.pop(op_id).cancel()


class ClientFaultsInOneLine(logging.Filter):
    """uvicorn logs a client's invalid UTF-8 text frame with a traceback (and closes with 1007): the
    client's fault, one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Invalid UTF-8 sequence received from client"):
            record.exc_info = record.exc_text = None
        return True


CLIENT_FAULTS = ClientFaultsInOneLine()  # one instance: adding it again is a no-op


class WebSocketFront:
    """In front of the Starlette app: ``WS /graphql`` goes straight to :class:`Connection` with the
    server's own ASGI ``send`` (no middleware on the fan-out path); everything else to the app."""

    def __init__(self, app: Any, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        offered = scope.get("subprotocols") or []
        protocol = next((p for p in offered if p in PROTOCOLS), None)
        if protocol is None:
            await websocket.close(code=4406, reason="Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=protocol)
        state = self.app.state
        await Connection(websocket, send, state.services, state.hub, protocol).serve()
