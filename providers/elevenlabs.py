"""ElevenLabs text-to-speech (``elevenlabs``): ``POST /v1/text-to-speech/{voice_id}?output_format=…``,
the audio itself in the answer (synchronous)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx

from providers.base import Done, JobSpec, Output, Pending, Submitted, Usage
from providers.errors import InvalidInputError, LostTaskError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.library import MAX_PAGES, Voice, language_code, locale_tag, lowered, text
from providers.params import settings

# "George", a premade voice every account has (the voice of ElevenLabs' own quickstart).
DEFAULT_VOICE = "JBFqnCBsd6RMkjVDRZzb"
DEFAULT_MODEL = "eleven_multilingual_v2"
VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # it goes into the path
DEFAULT_FORMAT = "mp3_44100_128"
# Characters per request by model (third-party figures, consistent across sources); unknown models
# are left to ElevenLabs to judge.
MAX_CHARACTERS: dict[str, int] = {
    "eleven_v3": 5_000,
    "eleven_multilingual_v2": 10_000,
    "eleven_flash_v2_5": 40_000,
    "eleven_turbo_v2_5": 40_000,
    "eleven_flash_v2": 30_000,
    "eleven_turbo_v2": 30_000,
}
OUTPUT_FORMATS = frozenset(
    {"mp3_22050_32", "mp3_24000_48"}
    | {f"mp3_44100_{kbps}" for kbps in (32, 64, 96, 128, 192)}
    | {f"opus_48000_{kbps}" for kbps in (32, 64, 96, 128, 192)}
    | {f"pcm_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)}
    | {f"wav_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)}
    | {"ulaw_8000", "alaw_8000"}
)
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "ulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
}
_VOICE_NUMBERS = ("stability", "similarity_boost", "style", "speed")
MODERATION_MARKERS = ("bad_prompt", "violated our terms of service")


class ElevenLabsAdapter(HttpAdapter):
    family: ClassVar[str] = "elevenlabs"
    provider_name: ClassVar[str] = "ElevenLabs"
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(180.0, connect=10.0)
    moderation_codes: ClassVar[tuple[str, ...]] = MODERATION_MARKERS

    # admin providers check: the models the key may use.
    check_path: ClassVar[str] = "/v1/models"

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (DEFAULT_MODEL,)

    def listed_models(self, answer: Any) -> set[str] | None:
        if not isinstance(answer, list):
            return None
        return {str(m.get("model_id")) for m in answer if isinstance(m, dict)}

    def auth_headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key}

    def build_request(self, job: JobSpec) -> tuple[str, str, dict[str, Any]]:
        """(voice id, output format, JSON body)."""
        user = settings(job)
        voice_id = str(job.params.get("voice_id") or user.get("voice_id") or DEFAULT_VOICE).strip()
        if not VOICE_ID.fullmatch(voice_id):
            raise InvalidInputError(f"{voice_id!r} is not an ElevenLabs voice id", code="bad_voice")
        model = str(user.get("model") or DEFAULT_MODEL)
        text = job.prompt or ""
        limit = MAX_CHARACTERS.get(model)
        if limit is not None and len(text) > limit:
            raise InvalidInputError(
                f"{model} speaks at most {limit} characters per request; got {len(text)}",
                code="text_too_long",
            )
        output_format = str(user.get("output_format") or DEFAULT_FORMAT)
        if output_format not in OUTPUT_FORMATS:
            raise InvalidInputError(
                f"settings.output_format {output_format!r} is not an ElevenLabs output format",
                code="bad_setting",
            )
        body: dict[str, Any] = {"text": text, "model_id": model}
        voice_settings = _voice_settings(user)
        if voice_settings:
            body["voice_settings"] = voice_settings
        if isinstance(user.get("language_code"), str):
            body["language_code"] = user["language_code"]
        seed = user.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= 4_294_967_295:
            body["seed"] = seed
        if user.get("apply_text_normalization") in ("auto", "on", "off"):
            body["apply_text_normalization"] = user["apply_text_normalization"]
        return voice_id, output_format, body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"model_family": model_family(self.build_request(job)[2]["model_id"])}

    # -- the library: GET /v2/voices (docs/providers.md, Libraries) -----------------------------------

    voices_page_size: ClassVar[int] = 100  # /v2/voices' page_size "can not exceed 100"

    async def list_voices(self) -> list[Voice]:
        """Every voice of the account (premade, cloned, generated, professional and the library voices
        it added), followed through ``next_page_token`` while ``has_more``."""
        voices: list[Voice] = []
        seen: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            params = {"page_size": str(self.voices_page_size)} | ({"next_page_token": token} if token else {})
            answer = await self.request_json("GET", self.url("/v2/voices"), params=params)
            listed = answer.get("voices") if isinstance(answer, dict) else None
            if not isinstance(listed, list):
                raise RetryableError("ElevenLabs answered /v2/voices without a voices list", code="bad_body")
            for item in listed:
                voice = _voice(item) if isinstance(item, dict) else None
                if voice is not None and voice.id not in seen:
                    seen.add(voice.id)
                    voices.append(voice)
            token = text(answer.get("next_page_token"))
            if not answer.get("has_more") or token is None:
                break
        return voices

    async def submit(self, job: JobSpec) -> Submitted | Done:
        voice_id, output_format, body = self.build_request(job)
        response = await self.request(
            "POST",
            self.url(f"/v1/text-to-speech/{voice_id}"),
            json_body=body,
            params={"output_format": output_format},
        )
        if not response.content:
            raise RetryableError("ElevenLabs answered the speech request with no audio", code="empty_body")
        header_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        content_type = (
            header_type if header_type.startswith("audio/") else CONTENT_TYPES[output_format.split("_", 1)[0]]
        )
        characters = len(body["text"])
        details: dict[str, Any] = {
            "characters": characters,
            "model": body["model_id"],
            "voice": voice_id,
            "output_format": output_format,
        }
        cost = response.headers.get("character-cost")
        if cost and cost.strip().isdigit():
            details["character_cost"] = int(cost)  # credits charged (Flash/Turbo bill half a credit per char)
            details["model_family"] = billed_family(characters, int(cost), body["model_id"])
        return Done(
            outputs=(Output(data=response.content, content_type=content_type),),
            usage=Usage(units=characters, details=details),
            metadata={"request_id": response.headers.get("request-id")},
        )

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        raise LostTaskError("ElevenLabs answers synchronously and has no task to poll", code="not_pollable")


def model_family(model: str) -> str:
    """The price family of an ElevenLabs model: flash and turbo bill half a credit per character."""
    return next((family for family in ("flash", "turbo") if family in model), "multilingual")


def billed_family(characters: int, credits: int, model: str) -> str:
    """The price family ElevenLabs billed, from the credits it reports: a credit per character is
    multilingual, half a credit flash/turbo (short texts round too much to tell: the model decides)."""
    family = model_family(model)
    if characters < 20:
        return family
    if credits > 0.75 * characters:
        return "multilingual"
    return family if family != "multilingual" else "flash"


def _voice_settings(user: dict[str, Any]) -> dict[str, Any]:
    voice_settings = user.get("voice_settings")
    given = voice_settings if isinstance(voice_settings, dict) else user
    out: dict[str, Any] = {}
    for key in _VOICE_NUMBERS:
        value = given.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"settings.{key} must be a number", code="bad_setting")
        if key != "speed" and not 0 <= value <= 1:
            raise InvalidInputError(f"settings.{key} must be between 0 and 1", code="bad_setting")
        out[key] = value
    if isinstance(given.get("use_speaker_boost"), bool):
        out["use_speaker_boost"] = given["use_speaker_boost"]
    return out


def _voice(item: dict[str, Any]) -> Voice | None:
    """One voice of ``/v2/voices``: ``labels`` (gender, accent, age, language …) and
    ``verified_languages`` ({language, locale, accent, model_id, preview_url}) say what it speaks."""
    voice_id = text(item.get("voice_id"))
    if voice_id is None:
        return None
    raw_labels = item.get("labels")
    labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
    verified = [v for v in item.get("verified_languages") or [] if isinstance(v, dict)]
    languages: list[str] = []
    locales: list[str] = []
    for code in [
        language_code(labels.get("language")),
        *(language_code(v.get("language")) for v in verified),
    ]:
        if code and code not in languages:
            languages.append(code)
    for v in verified:
        locale = locale_tag(v.get("locale"))
        if locale and locale not in locales:
            locales.append(locale)
    return Voice(
        id=voice_id,
        provider="elevenlabs",
        name=text(item.get("name")) or voice_id,
        languages=tuple(languages),
        locales=tuple(locales),
        # the multilingual models speak the text's language with any voice (ElevenLabs' models page)
        multilingual=True,
        gender=lowered(labels.get("gender")),
        accent=text(labels.get("accent")),
        age=text(labels.get("age")),
        description=text(labels.get("descriptive"))
        or text(labels.get("description"))
        or text(item.get("description")),
        category=text(item.get("category")),
        # verified_languages' model_id says which model a language was verified with, not that the
        # voice refuses the others: no model restriction is recorded
        preview_url=text(item.get("preview_url")),
    )
