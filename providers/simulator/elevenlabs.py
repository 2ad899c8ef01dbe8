"""ElevenLabs: ``POST /v1/text-to-speech/{voice_id}?output_format=…`` answers the audio itself;
``GET /v2/voices`` lists the account's voices a page at a time (:mod:`providers.simulator.library`).

Auth is ``xi-api-key``. Errors: ``{"detail": {"status", "message"}}`` (401 ``invalid_api_key``,
400 ``voice_not_found`` / ``max_character_limit_exceeded``, 429 ``too_many_concurrent_requests``) and
FastAPI-style 422 lists for a malformed body. ``[sim:moderate]`` → 400 ``bad_prompt`` (the Terms of
Service refusal seen from ElevenLabs' generation endpoints); ``[sim:fail]`` → 400
``audio_generation_failed``. The answer carries ``character-cost``, ``request-id`` and
``history-item-id`` headers.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator import library
from providers.simulator.common import is_int, is_number, json_object
from providers.simulator.media import audio_at
from providers.simulator.state import SimState, markers_in

FAMILY = "elevenlabs"
PATH = "/elevenlabs"
NOMINAL_SECONDS = 0.5
CHARS_PER_SECOND = 15
DEFAULT_FORMAT = "mp3_44100_128"
MODELS: dict[str, tuple[int, float]] = {  # model → (characters per request, credits per character)
    "eleven_v3": (5_000, 1.0),
    "eleven_multilingual_v2": (10_000, 1.0),
    "eleven_multilingual_v1": (10_000, 1.0),
    "eleven_flash_v2_5": (40_000, 0.5),
    "eleven_turbo_v2_5": (40_000, 0.5),
    "eleven_flash_v2": (30_000, 0.5),
    "eleven_turbo_v2": (30_000, 0.5),
    "eleven_monolingual_v1": (10_000, 1.0),
}
# Premade voices every account has; any other 20-character id is treated as one of the account's own.
PREMADE_VOICES = (
    "JBFqnCBsd6RMkjVDRZzb",
    "21m00Tcm4TlvDq8ikWAM",
    "EXAVITQu4vr4xnSDxMaL",
    "pNInz6obpgDQGcFmaJgB",
)
VOICE_ID = re.compile(r"[A-Za-z0-9]{20}")
FORMAT = re.compile(r"(mp3|opus|pcm|wav|ulaw|alaw)_(\d+)(?:_(\d+))?")
FORMATS = frozenset(
    {"mp3_22050_32", "mp3_24000_48"}
    | {f"mp3_44100_{kbps}" for kbps in (32, 64, 96, 128, 192)}
    | {f"opus_48000_{kbps}" for kbps in (32, 64, 96, 128, 192)}
    | {f"pcm_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)}
    | {f"wav_{rate}" for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000)}
    | {"ulaw_8000", "alaw_8000"}
)
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "ulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
}


def _detail(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"status": code, "message": message}}, status_code=status)


def _unprocessable(loc: list[str | int], message: str, kind: str, value: Any = None) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"type": kind, "loc": loc, "msg": message, "input": value}]}, status_code=422
    )


def _validate(body: dict[str, Any], output_format: str) -> JSONResponse | None:
    if output_format not in FORMATS:
        return _unprocessable(
            ["query", "output_format"],
            f"Input should be one of {', '.join(sorted(FORMATS))}",
            "enum",
            output_format,
        )
    text = body.get("text")
    if "text" not in body:
        return _unprocessable(["body", "text"], "Field required", "missing")
    if not isinstance(text, str):
        return _unprocessable(["body", "text"], "Input should be a valid string", "string_type", text)
    if not text.strip():
        return _detail(400, "empty_text", "The text must not be empty.")
    model = body.get("model_id", "eleven_multilingual_v2")
    if model not in MODELS:
        return _detail(400, "model_not_found", f"A model with model ID {model} does not exist.")
    limit = MODELS[model][0]
    if len(text) > limit:
        return _detail(
            400,
            "max_character_limit_exceeded",
            f"This request's text has {len(text)} characters and exceeds the character limit of {limit} "
            f"characters for non-streaming requests with model {model}.",
        )
    voice_settings = body.get("voice_settings")
    if voice_settings is not None:
        if not isinstance(voice_settings, dict):
            return _unprocessable(
                ["body", "voice_settings"], "Input should be an object", "dict_type", voice_settings
            )
        for key in ("stability", "similarity_boost", "style", "speed"):
            value = voice_settings.get(key)
            if value is not None and (not is_number(value) or (key != "speed" and not 0 <= value <= 1)):
                return _unprocessable(
                    ["body", "voice_settings", key], "Input should be between 0 and 1", "range", value
                )
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not 0 <= seed <= 4_294_967_295):
        return _unprocessable(["body", "seed"], "Input should be between 0 and 4294967295", "range", seed)
    if body.get("apply_text_normalization", "auto") not in ("auto", "on", "off"):
        return _unprocessable(
            ["body", "apply_text_normalization"], "Input should be 'auto', 'on' or 'off'", "enum"
        )
    return None


def _key_refusal(request: Request, sim: SimState) -> Response | None:
    """ElevenLabs' 401 for a missing or wrong ``xi-api-key`` (None: the key is right)."""
    key = request.headers.get("xi-api-key")
    if not key:
        return _detail(401, "needs_authorization", "Neither authorization header nor xi-api-key received.")
    if key != sim.api_key:
        return _detail(401, "invalid_api_key", "Invalid API key")
    return None


def routes(sim: SimState) -> list[BaseRoute]:
    async def speak(request: Request) -> Response:
        refusal = _key_refusal(request, sim)
        if refusal is not None:
            return refusal
        voice_id = str(request.path_params["voice_id"])
        if voice_id not in PREMADE_VOICES and not VOICE_ID.fullmatch(voice_id):
            return _detail(400, "voice_not_found", f"A voice with voice_id {voice_id} does not exist.")
        body = await json_object(request)
        if body is None:
            return _unprocessable(["body"], "JSON decode error", "json_invalid")
        output_format = request.query_params.get("output_format", DEFAULT_FORMAT)
        if (error := _validate(body, output_format)) is not None:
            return error
        text: str = body["text"]
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return _detail(
                429,
                "too_many_concurrent_requests",
                "Too many concurrent requests for your subscription. Please try again shortly.",
            )
        if sim.trips_once(FAMILY, "500", text, markers):
            return _detail(
                500,
                "something_went_wrong",
                "We are sorry, something went wrong. You are not charged for this request.",
            )
        if "moderate" in markers:
            return _detail(
                400,
                "bad_prompt",
                "Your prompt appears to have violated our Terms of Service. Please try again with a different prompt.",
            )
        if "fail" in markers:
            return _detail(400, "audio_generation_failed", "The audio could not be generated for this text.")
        delay = sim.scaled(NOMINAL_SECONDS, markers)
        if delay > 0:
            await asyncio.sleep(delay)
        match = FORMAT.fullmatch(output_format)
        assert match is not None  # FORMATS only holds names of this shape
        kind, rate, kbps = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        seconds = max(1.0, round(len(text) / CHARS_PER_SECOND, 1))
        audio = await run_in_threadpool(audio_at, kind, seconds, rate, kbps)
        request_id = secrets.token_hex(16)
        sim.record_sync_submission(FAMILY, request_id)
        model = body.get("model_id", "eleven_multilingual_v2")
        cost = max(1, round(len(text) * MODELS[model][1]))
        headers = {
            "character-cost": str(cost),
            "request-id": request_id,
            "history-item-id": secrets.token_urlsafe(15),
        }
        return Response(audio, media_type=CONTENT_TYPES[kind], headers=headers)

    voices = library.eleven_voices  # previews on the host called

    async def list_voices(request: Request) -> Response:
        """``GET /v2/voices``: page_size (≤ 100, default 10), next_page_token, search, category,
        voice_type, include_total_count → ``{voices, has_more, total_count, next_page_token}``."""
        refusal = _key_refusal(request, sim)
        if refusal is not None:
            return refusal
        q = request.query_params
        raw_size = q.get("page_size", "10")
        if not raw_size.lstrip("-").isdigit():
            return _unprocessable(
                ["query", "page_size"], "Input should be a valid integer", "int_parsing", raw_size
            )
        if not 1 <= int(raw_size) <= 100:
            return _unprocessable(
                ["query", "page_size"],
                "Input should be less than or equal to 100",
                "less_than_equal",
                raw_size,
            )
        if q.get("category") not in (None, "premade", "cloned", "generated", "professional"):
            return _unprocessable(
                ["query", "category"],
                "Input should be 'premade', 'cloned', 'generated' or 'professional'",
                "enum",
            )
        needle = (q.get("search") or "").lower()
        picked = [
            v
            for v in voices(library.media_root(request))
            if q.get("category") in (None, v["category"])
            and q.get("voice_type") in (None, "default", "saved")
            and (not needle or needle in v["name"].lower() or needle in json_dumps_lower(v["labels"]))
        ]
        scope = "v2:" + ",".join(q.get(k) or "" for k in ("search", "category", "voice_type"))
        offset = library.offset_of(q.get("next_page_token"), scope)
        if offset is None:
            return _detail(400, "invalid_page_token", "The next_page_token is invalid.")
        sim.record_read(FAMILY, "voices")
        chunk, token = library.page(picked, offset, int(raw_size), scope)
        return JSONResponse(
            {
                "voices": chunk,
                "has_more": token is not None,
                "total_count": len(picked),
                "next_page_token": token,
            }
        )

    return [
        Route(f"{PATH}/v1/text-to-speech/{{voice_id}}", speak, methods=["POST"]),
        Route(f"{PATH}/v2/voices", list_voices, methods=["GET"]),
    ]


def json_dumps_lower(value: Any) -> str:
    return str(value).lower()


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/models``: the models the key can use (a JSON array)."""

    async def models(request: Request) -> Response:
        refusal = _key_refusal(request, sim)
        if refusal is not None:
            return refusal
        listed = [
            {
                "model_id": model,
                "name": model,
                "can_do_text_to_speech": True,
                "max_characters_request_subscribed_user": limit,
            }
            for model, (limit, _) in MODELS.items()
        ]
        return JSONResponse(listed)

    return [Route(f"{PATH}/v1/models", models, methods=["GET"])]
