"""OpenAI speech: ``POST /v1/audio/speech`` answers the audio itself (synchronous)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import bearer_token, is_number, json_object
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, markers_in

FAMILY = "openai"
PATH = "/openai/v1"
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MAX_INPUT = 4096
CHARS_PER_SECOND = 15
NOMINAL_SECONDS = 0.5  # time to answer, before time_scale


def _error(
    status: int, message: str, *, kind: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers={"x-request-id": _request_id()},
    )


def _invalid(message: str, param: str | None, code: str | None = None) -> JSONResponse:
    return _error(400, message, kind="invalid_request_error", param=param, code=code)


def _request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def _validate(body: dict[str, Any]) -> JSONResponse | None:
    model = body.get("model")
    if model is None:
        return _invalid("you must provide a model parameter", "model")
    if model not in MODELS:
        return _invalid(
            f"Invalid value: '{model}'. Supported values are: {', '.join(MODELS)}.", "model", "invalid_value"
        )
    text = body.get("input")
    if not isinstance(text, str) or not text:
        return _invalid("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    if len(text) > MAX_INPUT:
        return _invalid(
            f"Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT}, "
            f"but got a string with length {len(text)} instead.",
            "input",
            "string_above_max_length",
        )
    voice = body.get("voice")
    if isinstance(voice, dict):
        voice = voice.get("id")
    if not isinstance(voice, str) or not voice:
        return _invalid("Missing required parameter: 'voice'.", "voice", "missing_required_parameter")
    if voice not in VOICES and not voice.startswith("voice_"):
        return _invalid(
            f"Invalid value: '{voice}'. Supported values are: {', '.join(VOICES)}.", "voice", "invalid_value"
        )
    response_format = body.get("response_format", "mp3")
    if response_format not in FORMATS:
        return _invalid(
            f"Invalid value: '{response_format}'. Supported values are: {', '.join(FORMATS)}.",
            "response_format",
            "invalid_value",
        )
    speed = body.get("speed", 1.0)
    if not is_number(speed) or not 0.25 <= speed <= 4.0:
        return _invalid("Invalid 'speed': expected a number between 0.25 and 4.0.", "speed", "invalid_value")
    return None


def routes(sim: SimState) -> list[BaseRoute]:
    async def speech(request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                kind="invalid_request_error",
            )
        if token != sim.api_key:
            shown = f"{token[:3]}***{token[-2:]}" if len(token) > 6 else "***"
            return _error(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                kind="invalid_request_error",
                code="invalid_api_key",
            )
        body = await json_object(request)
        if body is None:
            return _invalid("We could not parse the JSON body of your request.", None)
        if (error := _validate(body)) is not None:
            return error
        text: str = body["input"]
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            response = _error(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                kind="requests",
                code="rate_limit_exceeded",
            )
            response.headers["Retry-After"] = "1"
            return response
        if sim.trips_once(FAMILY, "500", text, markers):
            return _error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                kind="server_error",
            )
        if "moderate" in markers:
            return _invalid(
                "Your request was rejected as a result of our safety system.", None, "moderation_blocked"
            )
        if "fail" in markers:
            return _invalid(
                "The model could not produce audio for this input.", "input", "audio_generation_failed"
            )
        delay = sim.scaled(NOMINAL_SECONDS, markers)
        if delay > 0:
            await asyncio.sleep(delay)
        seconds = max(1.0, round(len(text) / CHARS_PER_SECOND, 1))
        spec = MediaSpec(body.get("response_format", "mp3"), seconds=seconds)
        audio = await run_in_threadpool(spec.render)
        request_id = _request_id()
        sim.record_sync_submission(FAMILY, request_id)
        return Response(audio, media_type=spec.content_type, headers={"x-request-id": request_id})

    return [Route(f"{PATH}/audio/speech", speech, methods=["POST"])]
