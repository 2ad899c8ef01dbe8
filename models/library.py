"""Avatar and voice ids checked against the providers' libraries, and the libraries filtered.

The libraries themselves are read (and cached) by the service (services/library.py), which hands
:func:`models.generation.validate` a :class:`LibraryLookup`. The rules live here, as functions:

* an ``avatarId`` must be an avatar of HeyGen's library (the ``avatars`` query lists them);
* a ``voiceId`` must be a voice of the job's provider's library (``voices(provider: …)``) — a voice
  of another provider's library is named as such; an OpenAI voice must work with the job's model;
* an id missing from the cached copy re-reads the library first (at most once a minute per
  provider), so an avatar or voice made in the provider's app is found without waiting out the TTL;
* a library that cannot be read (the provider down and nothing cached) refuses the job with
  ``PROVIDER_UNAVAILABLE`` on that field, nothing held: never waited on without end, never let
  through unchecked (docs/contract.md, the rule on avatarId and voiceId).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from models.errors import DomainError, ErrorCode
from providers.catalog import CATALOG
from providers.library import AVATAR_PROVIDERS, VOICE_PROVIDERS, Avatar, Voice

# How each provider is named in messages, and as the GraphQL Provider enum value.
PROVIDER_NAMES = {"heygen": "HeyGen", "elevenlabs": "ElevenLabs", "openai_tts": "OpenAI"}


class LibraryUnavailable(Exception):
    """A provider's library could not be read and no copy of it is cached."""

    def __init__(self, provider: str, kind: str, reason: str) -> None:
        super().__init__(f"{provider} {kind}: {reason}")
        self.provider, self.kind, self.reason = provider, kind, reason


class LibraryLookup(Protocol):
    """What validation reads of the libraries (services.library.Libraries has it)."""

    async def avatars(self, provider: str = "heygen", *, fresh: bool = False) -> list[Avatar]:
        """The cached library; ``fresh``: read again unless the copy is a minute old or less."""
        ...

    async def voices(self, provider: str, *, fresh: bool = False) -> list[Voice]: ...
    async def cached_voices(self, provider: str) -> list[Voice] | None:
        """The cached copy only (no provider call), ``None`` when none is cached."""
        ...


def voices_query(provider: str) -> str:
    return f"voices(provider: {provider.upper()})"


def unavailable(exc: LibraryUnavailable, field: str) -> DomainError:
    what = "avatar" if exc.kind == "avatars" else "voice"
    return DomainError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"{PROVIDER_NAMES.get(exc.provider, exc.provider)}'s {what} library could not be read "
        f"({exc.reason}), so {field} cannot be checked; nothing was held: try again in a minute",
        ["input", field],
    )


def find_avatar(avatars: Iterable[Avatar], avatar_id: str) -> Avatar | None:
    return next((a for a in avatars if a.id == avatar_id), None)


def find_voice(voices: Iterable[Voice], voice_id: str) -> Voice | None:
    return next((v for v in voices if v.id == voice_id), None)


def filter_voices(
    voices: Iterable[Voice],
    *,
    language: str | None = None,
    gender: str | None = None,
    search: str | None = None,
) -> list[Voice]:
    """Voices listed for ``language`` (an ISO 639-1 code or a locale: "es", "es-MX") first, then the
    multilingual ones that speak any language; of ``gender``; whose name holds ``search``."""
    picked = list(voices)
    if gender:
        picked = [v for v in picked if (v.gender or "").lower() == gender.strip().lower()]
    if search:
        needle = search.strip().lower()
        picked = [v for v in picked if needle in v.name.lower() or needle in (v.description or "").lower()]
    if language:
        listed = [v for v in picked if v.speaks(language)]
        picked = listed + [v for v in picked if v.multilingual and v not in listed]
    return picked


def listed_for(voices: Iterable[Voice], language: str) -> list[Voice]:
    """Only the voices listed for ``language`` (a code or a locale): no multilingual fallback. What a
    localized avatar needs (a HeyGen voice per locale): empty means that locale has no voice."""
    return [v for v in voices if v.speaks(language)]


async def voice_for_locale(
    lookup: LibraryLookup, provider: str, locale: str, field: list[str], gender: str | None = None
) -> Voice:
    """A voice of ``provider`` listed for ``locale`` (of ``gender`` when one is, else any), or
    VALIDATION_FAILED on ``field`` naming the locale and where to look."""
    try:
        voices = await lookup.voices(provider)
    except LibraryUnavailable as exc:
        raise unavailable(exc, field[-1]) from None
    listed = listed_for(voices, locale)
    preferred = [v for v in listed if gender and (v.gender or "").lower() == gender.lower()]
    if not (preferred or listed):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"{PROVIDER_NAMES.get(provider, provider)} has no voice for {locale}; see "
            f'{voices_query(provider)[:-1]}, language: "{locale}")',
            ["input", *field],
        )
    return (preferred or listed)[0]


def filter_avatars(
    avatars: Iterable[Avatar], *, gender: str | None = None, search: str | None = None
) -> list[Avatar]:
    picked = list(avatars)
    if gender:
        picked = [a for a in picked if (a.gender or "").lower() == gender.strip().lower()]
    if search:
        needle = search.strip().lower()
        picked = [a for a in picked if needle in a.name.lower()]
    return picked


async def check_avatar(lookup: LibraryLookup, provider: str, avatar_id: str) -> Avatar:
    """The avatar ``avatar_id`` names in ``provider``'s library, or VALIDATION_FAILED on avatarId."""
    if provider not in AVATAR_PROVIDERS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"{provider} has no avatar library", ["input", "avatarId"]
        )
    try:
        found = find_avatar(await lookup.avatars(provider), avatar_id)
        if found is None:  # made in HeyGen's app since the copy was read? read it again (rate-bounded)
            found = find_avatar(await lookup.avatars(provider, fresh=True), avatar_id)
    except LibraryUnavailable as exc:
        raise unavailable(exc, "avatarId") from None
    if found is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"avatarId {avatar_id!r} is not an avatar of {PROVIDER_NAMES[provider]}'s library for this "
            "account; see the avatars query (or give portraitFileId for a photo avatar)",
            ["input", "avatarId"],
        )
    return found


async def check_voice(
    lookup: LibraryLookup, provider: str, voice_id: str, field: list[str], model: str | None = None
) -> Voice:
    """The voice ``voice_id`` names in ``provider``'s library (usable with ``model``), or
    VALIDATION_FAILED on ``field`` naming where to look."""
    name = field[-1]
    where = voices_query(provider)
    if provider not in VOICE_PROVIDERS:
        raise DomainError(ErrorCode.VALIDATION_FAILED, f"{provider} takes no voice", ["input", *field])
    try:
        found = find_voice(await lookup.voices(provider), voice_id)
        if found is None:  # a voice cloned since the copy was read? read it again (rate-bounded)
            found = find_voice(await lookup.voices(provider, fresh=True), voice_id)
    except LibraryUnavailable as exc:
        raise unavailable(exc, name) from None
    if found is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            await _not_a_voice(lookup, provider, voice_id, name),
            ["input", *field],
        )
    if model and found.models and model not in found.models:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"{name} {voice_id!r} works with {', '.join(found.models)} only, not {model} (settings.model); "
            f"see {where} (each voice's models)",
            ["input", *field],
        )
    return found


async def _not_a_voice(lookup: LibraryLookup, provider: str, voice_id: str, name: str) -> str:
    """Why ``voice_id`` is refused: another provider's voice (from what is cached, no call made), or unknown."""
    own = PROVIDER_NAMES[provider]
    for other in VOICE_PROVIDERS:
        if other == provider:
            continue
        cached = await lookup.cached_voices(other)
        if cached and find_voice(cached, voice_id) is not None:
            return (
                f"{name} {voice_id!r} is a voice of {PROVIDER_NAMES[other]} ({other}), not of {own} "
                f"({provider}, the provider of this job); see {voices_query(provider)}"
            )
    return f"{name} {voice_id!r} is not a voice of {own}'s library for this account; see {voices_query(provider)}"


def has_library(provider: str, kind: str) -> bool:
    return provider in (AVATAR_PROVIDERS if kind == "avatars" else VOICE_PROVIDERS) and provider in CATALOG
