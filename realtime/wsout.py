"""Sending to websocket clients: each connection's :class:`Outbox`, and the two ways it reaches its
client — straight to the transport of uvicorn's ``websockets-sansio`` protocol
(:class:`DirectLink`), or through the ASGI ``send`` of any other server (:class:`AsgiLink`).

Why not simply the ASGI ``send``: a subscription event goes to every subscriber of a group at once
(``realtime.server.Group``), and one ASGI ``send`` per subscriber — a queue hand-off, a writer-task
wake-up, uvicorn's frame encoding, then its ``transport.write`` — spends a large share of a
fan-out's CPU around the system calls themselves. Server-to-client frames are not masked, so a
frame is a few header bytes and the message; the message is the same for every member of a group
with the same operation id (``realtime.server`` builds it once), and writing it to the transport
directly leaves one system call per subscriber, or per burst of events (BENCHMARKS.md).

Which path carried the messages is counted (``SENT``, on ``/metrics`` as
``creative_hub_websocket_messages_sent_total{link}``), and the first connection that cannot take
the direct path logs a warning: uvicorn is pinned to the version :class:`DirectLink` is written for.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
from collections.abc import Callable
from typing import Any, Protocol

try:  # the server protocol whose transport may be written to directly
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]  # None: this uvicorn lacks the class

log = logging.getLogger(__name__)

# Queued messages per connection: past it the oldest "next" messages are dropped for newer ones;
# a connection whose other messages (pong, error, complete…) reach it has a client that does not
# read, and is closed (on_overflow).
OUTBOX_SIZE = 1024
# And bytes: past them the oldest "next" messages go first, then the connection (a client asking
# for big answers over and over and never reading them holds no more than this of the server).
OUTBOX_BYTES = 4 * 1024 * 1024
FLUSH_CHUNK = 64  # connections written per turn of the event loop (see _Flusher)

# Messages written to clients, by link: "direct" (DirectLink) or "asgi" (AsgiLink). Plain integers
# on the hot path; realtime/metrics.py exports them at scrape time
# (creative_hub_websocket_messages_sent_total), so a fan-out that lost its fast path shows there.
SENT = {"direct": 0, "asgi": 0}
_fell_back = False  # whether the slow path was announced (once per process)


def outbox_for(send: Any, on_overflow: Callable[[], None] | None = None) -> Outbox:
    """The outbox of a connection accepted with this ASGI ``send``."""
    return Outbox(DirectLink.of(send) or AsgiLink(send), on_overflow)


def _fall_back(reason: str) -> None:
    """The first connection that cannot take the direct path says so, once: after a uvicorn upgrade
    that changed what DirectLink relies on, fan-outs still work but cost several times the CPU."""
    global _fell_back
    if not _fell_back:
        _fell_back = True
        log.warning(
            "websocket messages go through the ASGI send, not straight to the transport (%s): "
            "fan-outs cost more CPU; realtime/wsout.py DirectLink expects uvicorn's websockets-sansio "
            "protocol (CH_WS_IMPLEMENTATION=websockets-sansio, the uvicorn pinned in pyproject.toml)",
            reason,
        )


def _text_frame(message: bytes) -> bytes:
    """A whole, unmasked text frame (RFC 6455 §5.2: FIN and the text opcode, then the payload
    length in 7, 7+16 or 7+64 bits), which is what a server sends: byte for byte what uvicorn's
    own ``send`` (websockets' ``Frame.serialize``) would have written, at a fifth of its cost."""
    length = len(message)
    if length < 126:
        return bytes((0x81, length)) + message
    if length < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, length) + message
    return struct.pack("!BBQ", 0x81, 127, length) + message


class Message:
    """One message to send, and its frame, built on first use: a fan-out puts the same object in
    every outbox of a group (``realtime.server.Group``), so the frame is built once for all of them."""

    __slots__ = ("_frame", "data", "droppable")

    def __init__(self, data: bytes, droppable: bool = False) -> None:
        self.data = data
        self.droppable = droppable  # a "next": may be dropped for a newer one when the client is slow
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        frame = self._frame
        if frame is None:
            frame = self._frame = _text_frame(self.data)
        return frame


class Link(Protocol):
    """How an :class:`Outbox` reaches its client."""

    immediate: bool  # whether write_now can ever write (else every message goes through write)

    def write_now(self, messages: list[Message]) -> bool:
        """Write these messages now, in one go, if that needs no waiting; False when it would have
        to wait (the messages stay queued). A link that is closing drops them and says True."""

    async def write(self, messages: list[Message]) -> None:
        """Write messages in order, waiting as long as the client needs (raises when it is gone)."""


class AsgiLink:
    """Any ASGI server: one ``websocket.send`` per message, always from the outbox's writer task."""

    immediate = False

    def __init__(self, send: Any) -> None:
        self.send = send

    def write_now(self, messages: list[Message]) -> bool:
        return False  # an ASGI send is a coroutine

    async def write(self, messages: list[Message]) -> None:
        for message in messages:
            await self.send({"type": "websocket.send", "text": message.data.decode()})
            SENT["asgi"] += 1


class DirectLink:
    """uvicorn's ``websockets-sansio`` protocol, written to through its transport.

    uvicorn passes its protocol's bound ``send`` as the ASGI ``send``, so ``send.__self__`` is the
    protocol. Its ``send`` for a text message encodes the same frame and calls ``transport.write``
    too, after an ``await`` on the protocol's ``writable`` event; for a fan-out that is a queue
    hand-off, a writer-task wake-up and an ASGI call per subscriber and event, a large share of the
    fan-out's CPU (BENCHMARKS.md). Writing the frames directly is safe under these
    conditions, checked for every write:

    - the handshake is done and no extension was negotiated (no per-message deflate: a frame
      written here is a plain text frame) — checked once, in :meth:`of`;
    - neither side has started closing (``close_sent``, ``disconnected``, a closing transport):
      from then on the protocol's state machine owns the socket, and the messages are dropped as
      uvicorn drops a send to a closed socket;
    - the transport is not paused (``writable``, cleared by ``pause_writing`` above the write
      buffer's high-water mark): a slow client's messages wait in its outbox instead, where the
      oldest "next" messages can be dropped, rather than in an unbounded transport buffer.

    The protocol's own writes (handshake, keep-alive pings, pongs, close) are whole frames written
    synchronously too, so they never split one of ours. Closing still goes through the ASGI
    ``send`` (the protocol must record it), after the outbox has been drained.
    """

    immediate = True

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport: asyncio.Transport = protocol.transport
        self.writable: asyncio.Event = protocol.writable

    @classmethod
    def of(cls, send: Any) -> DirectLink | None:
        """The direct link behind an ASGI ``send``, when it is uvicorn's sansio protocol in the state
        this class relies on; None otherwise (another server or implementation, a wrapped send),
        with a warning the first time."""
        protocol = getattr(send, "__self__", None)
        if WebSocketsSansIOProtocol is None:
            _fall_back("this uvicorn has no websockets_sansio_impl.WebSocketsSansIOProtocol")
            return None
        if not isinstance(protocol, WebSocketsSansIOProtocol):
            _fall_back(f"the server's websocket protocol is {type(protocol).__name__}")
            return None
        try:
            if protocol.conn.extensions:
                _fall_back("an extension (per-message deflate?) was negotiated")
                return None
            usable = (
                protocol.handshake_complete
                and isinstance(protocol.writable, asyncio.Event)
                and isinstance(protocol.close_sent, bool)
                and isinstance(protocol.disconnected, bool)
                and protocol.transport is not None
            )
        except AttributeError as exc:  # another uvicorn version: keep to the ASGI interface
            _fall_back(f"uvicorn's protocol has no {exc.name!r}")
            return None
        if not usable:
            _fall_back("uvicorn's protocol is not in the state DirectLink expects")
            return None
        return cls(protocol)

    def _open(self) -> bool:
        protocol = self.protocol
        return not (protocol.close_sent or protocol.disconnected or self.transport.is_closing())

    def _write(self, messages: list[Message]) -> None:
        if not self._open():
            return  # dropped: the connection is closing
        if len(messages) == 1:
            self.transport.write(messages[0].frame)
        else:  # a burst goes out in one write: one system call
            self.transport.write(b"".join([m.frame for m in messages]))
        SENT["direct"] += len(messages)

    def abort(self) -> None:
        """Drop the connection at once (its close frame could not be written)."""
        self.transport.abort()

    def write_now(self, messages: list[Message]) -> bool:
        if not self.writable.is_set():
            return False
        self._write(messages)
        return True

    async def write(self, messages: list[Message]) -> None:
        await self.writable.wait()  # uvicorn sets it on connection_lost too: this never hangs
        self._write(messages)


class _Flusher:
    """Writes the outboxes of direct links that got messages, soon after, a chunk per turn of the
    event loop.

    The write to a socket (a system call) is most of what a fan-out costs, and a job's status
    changes come in bursts (two jobs started by one worker poll, a job's PROCESSING and COMPLETED
    a few milliseconds apart). Writing ``FLUSH_CHUNK`` connections per
    turn lets the next event of a burst reach the outboxes while a fan-out is still in progress:
    connections not yet written then get both messages in ONE write, and only those already
    written need a second one (they go to the back of the line). Writing every connection in one
    go would make the next event wait for the whole fan-out and then cost a whole one itself;
    it would also stall everything else on the loop (requests, pings, other groups) for the whole
    fan-out instead of for one chunk (BENCHMARKS.md, "What the measurements changed").

    One per process: uvicorn runs one event loop, which every connection of the process is on.
    """

    def __init__(self) -> None:
        self._outboxes: collections.deque[Outbox] = collections.deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, outbox: Outbox) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests, a restart): the old one took its callback
            self._loop, self._scheduled = loop, False  # and its connections along
            self._outboxes.clear()
        self._outboxes.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        outboxes = self._outboxes
        for _ in range(min(FLUSH_CHUNK, len(outboxes))):
            outbox = outboxes.popleft()
            try:
                outbox.flush()
            except Exception:  # one broken connection must not hold up the others
                log.exception("websocket write failed")
                outbox.close()
        if outboxes:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False


_flusher = _Flusher()


class Outbox:
    """Everything one connection sends after the handshake, in order, through ONE path.

    Messages are queued; on a direct link the queue is written within a turn or a few of the event
    loop (:class:`_Flusher`: no task, no wake-up per connection). When the link cannot take
    them at once (an ASGI link always; a direct link whose client is slow), a writer task, started
    on demand and gone once the queue is empty, writes the queue in order; while it exists new
    messages queue behind it, so nothing is ever written out of order. Sending never blocks the
    caller: a slow client only fills its own queue, where past ``OUTBOX_SIZE`` "next" messages the
    oldest are dropped (it keeps the newest state; ``complete``, ``error`` and protocol messages
    are never dropped). Those others are capped too: past ``OUTBOX_SIZE`` of them the client is
    not reading, the queue is dropped, the outbox takes nothing more and ``on_overflow`` is called
    (once; the connection closes with 1013).
    """

    def __init__(self, link: Link, on_overflow: Callable[[], None] | None = None) -> None:
        self.link = link
        self.on_overflow = on_overflow
        self.closed = False  # no more messages: the connection is closing or gone
        self._queue: list[Message] = []
        self._droppable = 0  # how many of the queued messages are droppable
        self._bytes = 0  # the size of the queued messages
        self._scheduled = False  # waiting in _flusher's line
        self._writer: asyncio.Task[None] | None = None

    def put(self, message: bytes | Message, *, droppable: bool = False) -> None:
        """Queue a message: bytes, or a :class:`Message` shared with other outboxes (whose own
        ``droppable`` then counts)."""
        if self.closed:
            return
        if not isinstance(message, Message):
            message = Message(message, droppable)
        if message.droppable:
            if self._droppable >= OUTBOX_SIZE:
                self._drop_oldest()
            self._droppable += 1
        elif len(self._queue) - self._droppable >= OUTBOX_SIZE:
            self._overflow()
            return
        self._queue.append(message)
        self._bytes += len(message.data)
        if self._bytes > OUTBOX_BYTES:
            while self._droppable and self._bytes > OUTBOX_BYTES:
                self._drop_oldest()
            if self._bytes > OUTBOX_BYTES:
                self._overflow()
                return
        if self._writer is not None or self._scheduled:
            return  # it will take this message along
        if self.link.immediate:
            self._scheduled = True
            _flusher.add(self)
        else:
            self._start_writer()

    @property
    def queued(self) -> int:
        """Messages waiting to be written."""
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def flush(self) -> None:
        """Write the queue now if the link can take it, else hand it to a writer task."""
        self._scheduled = False
        if self._writer is not None or not self._queue:
            return
        if self.link.write_now(self._queue):
            self._queue, self._droppable, self._bytes = [], 0, 0
        else:
            self._start_writer()

    def _drop_oldest(self) -> None:
        for i, message in enumerate(self._queue):
            if message.droppable:
                del self._queue[i]
                self._droppable -= 1
                self._bytes -= len(message.data)
                return

    def _start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="ws-writer")

    async def _write(self) -> None:
        try:
            while self._queue:
                batch, self._queue, self._droppable, self._bytes = self._queue, [], 0, 0
                await self.link.write(batch)
        except Exception:  # the client is gone: what is queued cannot be delivered
            log.debug("websocket write failed; dropping %d queued messages", len(self._queue), exc_info=True)
            self.closed = True
            self._queue.clear()
        finally:
            self._writer = None

    async def drain(self) -> None:
        """Take no more messages, and wait until the queued ones are written: before a close
        frame, which must not overtake them. (Cancelling the wait leaves the writer running.)"""
        self.closed = True
        self.flush()
        if self._writer is not None:
            await asyncio.wait([self._writer])

    def _overflow(self) -> None:
        """The client does not read: drop everything, take nothing more, tell the connection."""
        self.close()
        if self.on_overflow is not None:
            self.on_overflow()

    def close(self) -> None:
        """Take no more messages and drop the queued ones (the connection has ended)."""
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        if self._writer is not None:
            self._writer.cancel()

    def abort(self) -> None:
        """Close, and drop the connection itself where the link can (a direct link's transport)."""
        self.close()
        abort = getattr(self.link, "abort", None)
        if abort is not None:
            abort()
