"""The providers' libraries (HeyGen's avatars; HeyGen, ElevenLabs and OpenAI voices), read through
their adapters and cached in Redis per provider for ``CH_LIBRARY_CACHE_SECONDS``.

One provider key serves the whole deployment, so the cache is per provider, not per team. A copy
older than the TTL is read again from the provider; while the provider cannot be reached, the last
copy serves for up to ``CH_LIBRARY_STALE_SECONDS``. With no copy at all and the provider down,
:class:`~models.library.LibraryUnavailable` is raised (a query answers PROVIDER_UNAVAILABLE; a
generate request is refused with it, nothing held). A provider read is bounded by
``LIBRARY_FETCH_SECONDS``; concurrent misses in one process share one read.

Redis trouble never fails a read: the library is then read from the provider, uncached.

A copy is parsed once per process: what was parsed is kept with the exact bytes it came from, and
a read whose bytes are the same (the same fetch) reuses it, so a validation does not parse the
whole library again; a new fetch (anywhere) writes new bytes, which are parsed once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis

from models.library import LibraryUnavailable
from providers import registry
from providers.errors import ProviderError, ProviderSetupError, RetryableError
from providers.library import AVATAR_PROVIDERS, VOICE_PROVIDERS, Avatar, Voice
from services.settings import Settings

log = logging.getLogger(__name__)

LIBRARY_FETCH_SECONDS = 20.0  # one whole listing (every page) from the provider
# An id not in the cached copy re-reads the library once the copy is this old, so an avatar or
# voice made in the provider's own app a minute ago is found without waiting out the TTL; unknown
# ids cost at most one provider read per provider per this many seconds.
MISS_REFRESH_SECONDS = 60.0


# How a cached item is read back, by kind.
_KINDS: dict[str, type[Avatar] | type[Voice]] = {"avatars": Avatar, "voices": Voice}


@dataclass(frozen=True)
class _Copy:
    """A cached copy as this process parsed it, with the bytes it was parsed from."""

    raw: bytes
    fetched_at: float
    items: tuple[Any, ...]  # Avatar or Voice, by the key's kind


class Libraries:
    def __init__(self, redis: Redis, http: httpx.AsyncClient, settings: Settings) -> None:
        self.redis, self.http, self.settings = redis, http, settings
        self._reads: dict[str, asyncio.Lock] = {}
        self._copies: dict[str, _Copy] = {}  # by Redis key: the last copy read or written here
        self.clock = time.time  # tests move it

    def _key(self, provider: str, kind: str) -> str:
        return f"{self.settings.queue_name}:library:{provider}:{kind}"

    async def avatars(self, provider: str = "heygen", *, fresh: bool = False) -> list[Avatar]:
        """The avatars; ``fresh``: re-read unless the copy is younger than MISS_REFRESH_SECONDS."""
        if provider not in AVATAR_PROVIDERS:
            raise LibraryUnavailable(provider, "avatars", f"{provider} has no avatar library")
        return list(await self._library(provider, "avatars", fresh))

    async def voices(self, provider: str, *, fresh: bool = False) -> list[Voice]:
        if provider not in VOICE_PROVIDERS:
            raise LibraryUnavailable(provider, "voices", f"{provider} has no voice library")
        static = registry.static_voices(provider, self.settings)
        if static is not None:
            return list(static)
        return list(await self._library(provider, "voices", fresh))

    async def cached_voices(self, provider: str) -> list[Voice] | None:
        static = registry.static_voices(provider, self.settings)
        if static is not None:
            return list(static)
        cached = await self._read(self._key(provider, "voices"), "voices")
        return None if cached is None else list(cached[1])

    async def _library(self, provider: str, kind: str, fresh: bool = False) -> tuple[Any, ...]:
        key = self._key(provider, kind)
        ttl = float(self.settings.library_cache_seconds)
        if fresh:
            ttl = min(ttl, MISS_REFRESH_SECONDS)
        cached = await self._read(key, kind)
        if cached is not None and self.clock() - cached[0] < ttl:
            return cached[1]
        lock = self._reads.setdefault(key, asyncio.Lock())
        async with lock:  # one provider read per process for concurrent misses
            again = await self._read(key, kind)
            if again is not None and self.clock() - again[0] < ttl:
                return again[1]
            try:
                items = await asyncio.wait_for(self._fetch(provider, kind), LIBRARY_FETCH_SECONDS)
            except (ProviderError, TimeoutError) as exc:
                reason = _reason(exc)
                stale = again or cached
                if stale is not None and self.clock() - stale[0] < self.settings.library_stale_seconds:
                    log.warning(
                        "library %s %s: serving the copy of %.0f s ago (%s)",
                        provider,
                        kind,
                        self.clock() - stale[0],
                        reason,
                    )
                    return stale[1]
                log.warning("library %s %s could not be read: %s", provider, kind, str(exc)[:300])
                raise LibraryUnavailable(provider, kind, reason) from exc
            return await self._write(key, kind, items)

    async def _fetch(self, provider: str, kind: str) -> list[dict[str, Any]]:
        adapter: Any = registry.adapter_for(provider, self.http, self.settings)
        listed = await (adapter.list_avatars() if kind == "avatars" else adapter.list_voices())
        return [item.to_json() for item in listed]

    async def _read(self, key: str, kind: str) -> tuple[float, tuple[Any, ...]] | None:
        try:
            raw = await self.redis.get(key)
        except Exception as exc:  # the cache is an optimisation: a Redis outage reads the provider
            log.warning("library cache read %s failed: %s", key, type(exc).__name__)
            return None
        if raw is None:
            return None
        raw = raw.encode() if isinstance(raw, str) else bytes(raw)
        known = self._copies.get(key)
        if known is not None and known.raw == raw:  # the copy parsed before: not again
            return known.fetched_at, known.items
        copy = _parse(raw, kind)
        if copy is not None:
            self._copies[key] = copy
        return None if copy is None else (copy.fetched_at, copy.items)

    async def _write(self, key: str, kind: str, items: list[dict[str, Any]]) -> tuple[Any, ...]:
        """Cache a fresh listing; its items, parsed (once, here)."""
        raw = json.dumps({"fetched_at": self.clock(), "items": items}).encode()
        copy = _parse(raw, kind)
        assert copy is not None  # what we just wrote
        self._copies[key] = copy
        ttl = max(self.settings.library_cache_seconds, self.settings.library_stale_seconds, 1)
        try:
            await self.redis.set(key, raw, ex=int(ttl))
        except Exception as exc:
            log.warning("library cache write %s failed: %s", key, type(exc).__name__)
        return copy.items

    async def forget(self, provider: str | None = None) -> None:
        """Drop cached copies (all providers, or one): the next read asks the provider."""
        names = [provider] if provider else sorted(set(AVATAR_PROVIDERS) | set(VOICE_PROVIDERS))
        keys = [self._key(name, kind) for name in names for kind in ("avatars", "voices")]
        for key in keys:
            self._copies.pop(key, None)
        await self.redis.delete(*keys)


def _parse(raw: bytes, kind: str) -> _Copy | None:
    """A cached copy's bytes, parsed; None when they are not a copy (then it is read again)."""
    try:
        data = json.loads(raw)
        return _Copy(
            raw, float(data["fetched_at"]), tuple(_KINDS[kind].from_json(item) for item in data["items"])
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _reason(exc: Exception) -> str:
    """Why a listing failed, in words a tenant may read: ours, never the provider's own text."""
    if isinstance(exc, TimeoutError):
        return f"no complete answer within {LIBRARY_FETCH_SECONDS:g} s"
    if isinstance(exc, ProviderError) and exc.message_is_ours:
        return exc.message  # e.g. not configured: set its API key
    if isinstance(exc, ProviderSetupError):
        return "the provider refused our credentials"
    if isinstance(exc, RetryableError):
        return "the provider could not be reached or answered with an error"
    return "the provider refused the listing"
