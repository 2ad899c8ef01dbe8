"""A live stream's credential, watched for as long as the stream lives: every live stream (the
websocket in both subprotocols, ``/graphql/plain``, multipart and SSE subscriptions over HTTP)
holds a :class:`CredentialWatch` and ends when it fires.

It fires when

- a revocation matching the credential arrives over Redis (``EventBus.revocations``): a revoked
  key, a user's tokens revoked, a member removed from the team. The bus calls the watch before it
  hands out any later event, so the stream gets nothing published after the revocation;
- a JWT reaches its ``exp``;
- the periodic re-check (``CH_WS_CREDENTIAL_RECHECK_SECONDS``, jittered) finds the credential no
  longer valid: the backstop for a revocation lost while Redis was away (after Redis comes back
  every watch re-checks at once) or made outside the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.auth import Principal, authenticate

if TYPE_CHECKING:
    from services.container import Services

log = logging.getLogger(__name__)


def revoked_by(principal: Principal, event: dict[str, Any]) -> bool:
    """Whether a revocation event (pubsub.EventBus.credential_revoked) concerns this principal."""
    kind = event.get("kind")
    if kind == "api_key":
        return principal.api_key_id is not None and str(principal.api_key_id) == event.get("key_id")
    if kind == "member_removed":
        return str(principal.user_id) == event.get("user_id") and str(principal.team_id) == event.get(
            "team_id"
        )
    if kind == "user_tokens":
        return (
            principal.api_key_id is None
            and str(principal.user_id) == event.get("user_id")
            and (principal.issued_at or 0.0) < float(event.get("before", 0.0))
        )
    return False


class CredentialWatch:
    """``async with CredentialWatch(...) as watch``: ``watch.ended`` is set (and ``on_end`` called
    once, synchronously) when the credential is revoked or expires."""

    def __init__(
        self,
        services: Services,
        credential: str | None,
        principal: Principal,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.services = services
        self.credential = credential
        self.principal = principal
        self.on_end = on_end
        self.ended = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._recheck_now = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> CredentialWatch:
        bus = self.services.bus
        await self._stack.enter_async_context(
            bus.revocations(self._on_event, since=self.principal.checked_at)
        )
        self._task = asyncio.create_task(self._run(), name="credential-watch")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()

    def end(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            if self.on_end is not None:
                self.on_end()

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("kind") == "resync":
            self._recheck_now.set()
        elif revoked_by(self.principal, event):
            self.end()

    async def _run(self) -> None:
        settings = self.services.settings
        interval = settings.ws_credential_recheck_seconds
        expires_at = self.principal.expires_at
        while not self.ended.is_set():
            wait = interval * random.uniform(0.8, 1.2)
            if expires_at is not None:
                wait = min(wait, expires_at - time.time())
            if self._recheck_now.is_set():  # Redis came back: spread the re-checks over a second
                wait = min(wait, random.uniform(0.0, 1.0))
                self._recheck_now.clear()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._recheck_now.wait()
                    continue  # woken early to re-check soon: go round to spread the re-checks
            if expires_at is not None and time.time() >= expires_at:
                self.end()
                return
            try:
                principal = await authenticate(
                    self.credential, settings.secret, max_jwt_lifetime=settings.jwt_max_lifetime_seconds
                )
            except Exception:  # the database is away for a moment: check again next time
                log.warning("could not re-check a live stream's credential", exc_info=True)
                continue
            if principal is None:
                self.end()
                return
