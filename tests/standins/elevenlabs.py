"""ElevenLabs text-to-speech (docs/providers.md, ElevenLabs).

``POST /v1/text-to-speech/{voice_id}?output_format=…`` with ``xi-api-key``; answers the audio bytes
(with ``request-id``, ``history-item-id``, ``character-cost`` headers). Errors ``{"detail": {status,
message}}``; body validation errors are FastAPI 422s."""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, Hub, is_int, is_number, read_json

FIELDS = {
    "text",
    "model_id",
    "language_code",
    "voice_settings",
    "pronunciation_dictionary_locators",
    "seed",
    "previous_text",
    "next_text",
    "previous_request_ids",
    "next_request_ids",
    "use_pvc_as_ivc",
    "apply_text_normalization",
    "apply_language_text_normalization",
}
CHAR_LIMITS = {
    "eleven_v3": 5_000,
    "eleven_multilingual_v2": 10_000,
    "eleven_multilingual_v1": 10_000,
    "eleven_monolingual_v1": 10_000,
    "eleven_flash_v2_5": 40_000,
    "eleven_turbo_v2_5": 40_000,
    "eleven_flash_v2": 30_000,
    "eleven_turbo_v2": 30_000,
}
VOICE_SETTINGS = {"stability", "similarity_boost", "style", "use_speaker_boost", "speed"}
FORMAT = re.compile(
    r"mp3_(22050_32|24000_48|44100_(32|64|96|128|192))"
    r"|opus_48000_(32|64|96|128|192)"
    r"|pcm_(8000|16000|22050|24000|32000|44100|48000)"
    r"|wav_(8000|16000|22050|24000|32000|44100|48000)"
    r"|ulaw_8000|alaw_8000"
)
VOICE_ID = re.compile(r"[A-Za-z0-9]{20}")


def detail(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"status": code, "message": message}}, status)


def unprocessable(loc: list[Any], msg: str, kind: str = "value_error") -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, 422)


def validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return unprocessable(["body"], "body must be a JSON object")
    for key in body:
        if key not in FIELDS:
            return unprocessable(["body", key], "Extra inputs are not permitted", "extra_forbidden")
    if not isinstance(body.get("text"), str) or not body["text"]:
        return unprocessable(["body", "text"], "Field required", "missing")
    model = body.get("model_id", "eleven_multilingual_v2")
    if model not in CHAR_LIMITS:
        return detail(400, "model_not_found", f"A model with model ID {model} does not exist")
    if len(body["text"]) > CHAR_LIMITS[model]:
        return detail(
            400,
            "max_character_limit_exceeded",
            f"Text is too long: {model} accepts at most {CHAR_LIMITS[model]} characters per request.",
        )
    if body.get("language_code") is not None and model == "eleven_multilingual_v2":
        return detail(400, "unsupported_language", "language_code is not supported by eleven_multilingual_v2")
    settings = body.get("voice_settings")
    if settings is not None:
        if not isinstance(settings, dict):
            return unprocessable(["body", "voice_settings"], "Input should be an object")
        for key, value in settings.items():
            if key not in VOICE_SETTINGS:
                return unprocessable(
                    ["body", "voice_settings", key], "Extra inputs are not permitted", "extra_forbidden"
                )
            ok = isinstance(value, bool) if key == "use_speaker_boost" else is_number(value)
            if not ok:
                return unprocessable(["body", "voice_settings", key], "Input has the wrong type")
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not 0 <= seed <= 4294967295):
        return unprocessable(["body", "seed"], "seed must be between 0 and 4294967295")
    if body.get("apply_text_normalization", "auto") not in ("auto", "on", "off"):
        return unprocessable(
            ["body", "apply_text_normalization"], "Input should be 'auto', 'on' or 'off'", "enum"
        )
    for key in ("pronunciation_dictionary_locators", "previous_request_ids", "next_request_ids"):
        if key in body and (not isinstance(body[key], list) or len(body[key]) > 3):
            return unprocessable(["body", key], "at most 3 items")
    return None


def routes(hub: Hub) -> list[Route]:
    async def tts(request: Request) -> Response:
        if request.headers.get("xi-api-key") != hub.keys["elevenlabs"]:
            return detail(401, "invalid_api_key", "Invalid API key")
        voice_id = request.path_params["voice_id"]
        fmt = request.query_params.get("output_format", "mp3_44100_128")  # default UNVERIFIED
        if not FORMAT.fullmatch(fmt):
            return unprocessable(["query", "output_format"], f"Invalid output_format {fmt}", "enum")
        latency = request.query_params.get("optimize_streaming_latency")
        if latency is not None and latency not in {"0", "1", "2", "3", "4"}:
            return unprocessable(["query", "optimize_streaming_latency"], "must be 0-4")
        body, bad_json = await read_json(request)
        if bad_json:
            return unprocessable(["body"], bad_json, "json_invalid")
        bad = validate(body)
        if bad:
            return bad
        if not VOICE_ID.fullmatch(voice_id):
            return detail(400, "voice_not_found", f"A voice with voice_id {voice_id} was not found.")
        text = body["text"]
        if hub.once(MARK_429, text):
            return JSONResponse(
                {
                    "detail": {
                        "status": "too_many_concurrent_requests",
                        "message": "Too many concurrent requests for your subscription.",
                    }
                },
                429,
                headers={"Retry-After": "1"},
            )
        if hub.once(MARK_500, text):
            return detail(500, "internal_server_error", "An internal error occurred")
        codec, rate = fmt.split("_")[:2]
        seconds = min(8.0, max(0.5, len(text) / 15))
        if codec == "ulaw":
            data, ctype = media.ulaw(seconds), "audio/basic"
        elif codec == "alaw":
            data, ctype = media.ulaw(seconds), "audio/alaw"
        else:
            kind = {"mp3": "mp3", "opus": "opus", "pcm": "pcm", "wav": "wav"}[codec]
            data = (
                media.audio(kind, seconds, int(rate))
                if kind in ("pcm", "wav")
                else media.audio(kind, seconds)
            )
            ctype = media.AUDIO_TYPES[kind]
        return Response(
            data,
            media_type=ctype,
            headers={
                "request-id": secrets.token_hex(10),
                "history-item-id": secrets.token_hex(10),
                "character-cost": str(len(text)),
            },
        )

    async def voices(request: Request) -> Response:
        """``GET /v2/voices`` (docs/providers.md, Libraries): page_size ≤ 100 (default 10),
        next_page_token → {voices, has_more, total_count, next_page_token}."""
        if request.headers.get("xi-api-key") != hub.keys["elevenlabs"]:
            return detail(401, "invalid_api_key", "Invalid API key")
        size = request.query_params.get("page_size", "10")
        if not size.isdigit() or not 1 <= int(size) <= 100:
            return unprocessable(["query", "page_size"], "Input should be less than or equal to 100")
        token = request.query_params.get("next_page_token") or "0"
        if not token.isdigit():
            return detail(400, "invalid_page_token", "Invalid next_page_token")
        start, count = int(token), int(size)
        more = start + count < len(LIBRARY)
        return JSONResponse(
            {
                "voices": LIBRARY[start : start + count],
                "has_more": more,
                "total_count": len(LIBRARY),
                "next_page_token": str(start + count) if more else None,
            }
        )

    return [
        Route("/elevenlabs/v1/text-to-speech/{voice_id}", tts, methods=["POST"]),
        Route("/elevenlabs/v2/voices", voices, methods=["GET"]),
    ]


# Premade voices (ElevenLabs' own ids): the library GET /v2/voices lists.
LIBRARY = [
    {
        "voice_id": voice_id,
        "name": name,
        "category": "premade",
        "labels": {"gender": gender, "accent": accent, "language": "en"},
        "preview_url": f"https://storage.googleapis.com/eleven-public-prod/premade/voices/{voice_id}/preview.mp3",
        "verified_languages": [],
    }
    for voice_id, name, gender, accent in (
        ("JBFqnCBsd6RMkjVDRZzb", "George", "male", "british"),
        ("21m00Tcm4TlvDq8ikWAM", "Rachel", "female", "american"),
        ("EXAVITQu4vr4xnSDxMaL", "Sarah", "female", "american"),
        ("pNInz6obpgDQGcFmaJgB", "Adam", "male", "american"),
    )
]
