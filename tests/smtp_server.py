"""A real SMTP server in the test process (aiosmtpd, on 127.0.0.1 at a free port): the stacks send
their low-balance emails to it (CH_SMTP_HOST/PORT), and tests read what arrived, waiting on its
arrival with a timeout. A recipient can be told to be refused a number of times first (a 451, as a
busy server answers), to see the sender retry."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.stack import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]  # EmailMessage parts have get_content


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        return self.server._arrived(envelope)


class SMTPServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusals: list[str] = []  # the recipients refused, once per refusal
        self._refuse: dict[str, int] = {}
        self._changed = threading.Condition()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=free_port())

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def refuse(self, recipient: str, times: int) -> None:
        """Answer 451 to the next ``times`` messages addressed to ``recipient``."""
        with self._changed:
            self._refuse[recipient.lower()] = times

    def _arrived(self, envelope: Any) -> str:
        with self._changed:
            for rcpt in envelope.rcpt_tos:
                if self._refuse.get(rcpt.lower(), 0) > 0:
                    self._refuse[rcpt.lower()] -= 1
                    self.refusals.append(rcpt.lower())
                    self._changed.notify_all()
                    return "451 4.3.0 try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 OK"

    def to(self, recipient: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if recipient.lower() in (t.lower() for t in r.rcpt_tos)]

    async def wait_for(self, recipient: str, count: int, within: float = 60.0) -> list[Received]:
        """Until ``count`` messages to ``recipient`` arrived (AssertionError after ``within`` seconds)."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self._to(recipient)) >= count, within)

        if not await asyncio.to_thread(wait):
            raise AssertionError(
                f"{len(self.to(recipient))} of {count} emails to {recipient} within {within}s"
            )
        return self.to(recipient)

    def _to(self, recipient: str) -> list[Received]:
        return [r for r in self.received if recipient.lower() in (t.lower() for t in r.rcpt_tos)]


@contextlib.contextmanager
def running_smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()
