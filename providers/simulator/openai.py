"""OpenAI: ``POST /v1/audio/speech`` answers the audio itself, ``POST /v1/images/generations`` the
images as base64 (both synchronous).

A model past its shutdown date (:data:`SHUTDOWN_DATES`, OpenAI's deprecations page) answers 404
``model_not_found`` as OpenAI does. The simulator's day is the UTC date, ``CH_TODAY`` when set, or
whatever a test installs as ``sim.today`` (a callable returning a date)."""

from __future__ import annotations

import asyncio
import base64
import math
import os
import secrets
import time
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers import lifecycle
from providers.simulator.common import bearer_token, is_int, is_number, json_object, read_image
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
# Speech models that take ``instructions`` (the text-to-speech guide: not tts-1 or tts-1-hd).
INSTRUCTION_MODELS = ("gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
# OpenAI's deprecations page and text-to-speech guide (docs/providers.md, OpenAI).
SHUTDOWN_DATES: dict[str, date] = {
    "gpt-image-1.5": date(2026, 12, 1),
    "gpt-image-1.5-2025-12-16": date(2026, 12, 1),
    "gpt-image-1-mini": date(2026, 12, 1),
    "chatgpt-image-latest": date(2026, 12, 1),
    **{model: date(2027, 1, 6) for model in MODELS},
}


def today(sim: SimState) -> date:
    """The simulator's day: a test's ``sim.today()``, ``CH_TODAY``, else :func:`providers.lifecycle.today`."""
    clock = getattr(sim, "today", None)
    if callable(clock):
        day: date = clock()
        return day
    fixed = os.environ.get("CH_TODAY")
    # else the service's own clock (the UTC date), so a test that sets it moves both sides at once
    return date.fromisoformat(fixed) if fixed else lifecycle.today()


def _model_gone(sim: SimState, model: Any) -> JSONResponse | None:
    """OpenAI's answer to a model it has shut down: 404 ``model_not_found``."""
    shutdown = SHUTDOWN_DATES.get(model) if isinstance(model, str) else None
    if shutdown is None or today(sim) < shutdown:
        return None
    return _error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        kind="invalid_request_error",
        code="model_not_found",
    )


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


# POST /images/edits (multipart/form-data): `image` or `image[]`, up to 16 PNG, WebP or JPEG files of
# less than 50 MB each for GPT image models (openai-python's ImageEditParams).
MAX_EDIT_IMAGES = 16
MAX_EDIT_BYTES = 50 * 1024 * 1024
EDIT_TYPES = ("image/png", "image/webp", "image/jpeg")
_FORM_INTS = ("n", "output_compression")


async def _edit_form(request: Request) -> tuple[dict[str, Any], int] | JSONResponse:
    """The edit request's fields (typed as the JSON form would be) and its input image tokens."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _invalid("Invalid Content-Type header (application/json), expected multipart/form-data.", None)
    form = await request.form(max_files=MAX_EDIT_IMAGES + 1, max_part_size=MAX_EDIT_BYTES + 1)
    body: dict[str, Any] = {}
    images = []
    for key, value in form.multi_items():
        if key in ("image", "image[]"):
            if isinstance(value, str):
                return _invalid("'image' must be a file upload.", "image")
            images.append(await value.read())
        elif isinstance(value, str):
            if key in _FORM_INTS:
                if not value.isdigit():
                    return _invalid(f"Invalid '{key}': expected an integer.", key, "invalid_value")
                body[key] = int(value)
            else:
                body[key] = value
    if not images:
        return _invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(images) > MAX_EDIT_IMAGES:
        return _invalid(f"Invalid 'image': at most {MAX_EDIT_IMAGES} images.", "image", "invalid_value")
    tokens = 0
    for raw in images:
        info = read_image(raw)
        if info is None or info.content_type not in EDIT_TYPES:
            return _invalid(
                "Invalid input image - format must be in ['image/png', 'image/webp', 'image/jpeg'].",
                "image",
                "invalid_image_format",
            )
        if len(raw) >= MAX_EDIT_BYTES:
            return _invalid(
                "Invalid input image - the file must be less than 50MB.", "image", "invalid_value"
            )
        tokens += math.ceil(info.width * info.height / 1_000_000 * EDIT_TOKENS_PER_MEGAPIXEL)
    return body, tokens


EDIT_TOKENS_PER_MEGAPIXEL = 5000  # input image tokens (high fidelity): the simulator's own figure


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
    if body.get("instructions") is not None and model not in INSTRUCTION_MODELS:
        return _invalid(
            f"Unsupported parameter: 'instructions' is not supported with the model {model}.",
            "instructions",
            "unsupported_parameter",
        )
    return None


def _refused(request: Request, api_key: str) -> JSONResponse | None:
    """OpenAI's 401 answers for a missing or wrong bearer key; ``None`` when the key is right."""
    token = bearer_token(request)
    if token is None:
        return _error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            kind="invalid_request_error",
        )
    if token != api_key:
        shown = f"{token[:3]}***{token[-2:]}" if len(token) > 6 else "***"
        return _error(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            kind="invalid_request_error",
            code="invalid_api_key",
        )
    return None


def _rate_limited() -> JSONResponse:
    response = _error(
        429,
        "Rate limit reached for requests. Please try again in 1s.",
        kind="requests",
        code="rate_limit_exceeded",
    )
    response.headers["Retry-After"] = "1"
    return response


def _server_error() -> JSONResponse:
    return _error(
        500,
        "The server had an error while processing your request. Sorry about that!",
        kind="server_error",
    )


def routes(sim: SimState) -> list[BaseRoute]:
    async def speech(request: Request) -> Response:
        if (refusal := _refused(request, sim.api_key)) is not None:
            return refusal
        body = await json_object(request)
        if body is None:
            return _invalid("We could not parse the JSON body of your request.", None)
        if (gone := _model_gone(sim, body.get("model"))) is not None:
            return gone
        if (error := _validate(body)) is not None:
            return error
        text: str = body["input"]
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return _rate_limited()
        if sim.trips_once(FAMILY, "500", text, markers):
            return _server_error()
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

    async def images(request: Request) -> Response:
        if (refusal := _refused(request, sim.api_key)) is not None:
            return refusal
        body = await json_object(request)
        if body is None:
            return _invalid("We could not parse the JSON body of your request.", None)
        return await image_answer(body, 0)

    async def edits(request: Request) -> Response:
        if (refusal := _refused(request, sim.api_key)) is not None:
            return refusal
        parsed = await _edit_form(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        body, input_image_tokens = parsed
        if body.get("model") not in GPT_IMAGE_MODELS:
            return _invalid(
                f"Invalid value: '{body.get('model')}'. Edits with several images need a GPT image model.",
                "model",
                "invalid_value",
            )
        return await image_answer(body, input_image_tokens)

    async def image_answer(body: dict[str, Any], input_image_tokens: int) -> Response:
        if (gone := _model_gone(sim, body.get("model"))) is not None:
            return gone
        if (error := _validate_image(body)) is not None:
            return error
        prompt: str = body["prompt"]
        markers = markers_in(prompt)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", prompt, markers):
            return _rate_limited()
        if sim.trips_once(FAMILY, "500", prompt, markers):
            return _server_error()
        if "moderate" in markers:
            return JSONResponse(
                {
                    "error": {
                        "message": "Your request was rejected by the safety system. If you believe this is "
                        "an error, contact us at help.openai.com and include the request ID.",
                        "type": "image_generation_user_error",
                        "param": None,
                        "code": "moderation_blocked",
                        "moderation_details": {"moderation_stage": "input", "categories": ["sim"]},
                    }
                },
                status_code=400,
                headers={"x-request-id": _request_id()},
            )
        if "fail" in markers:
            return _error(
                400,
                "The image could not be generated for this prompt.",
                kind="image_generation_user_error",
                code="image_generation_failed",
            )
        model = body.get("model") or "dall-e-2"
        size = body.get("size") or "auto"
        if size == "auto":
            size = "1024x1024"
        quality = body.get("quality") or "auto"
        if quality == "auto":
            quality = "medium" if model in GPT_IMAGE_MODELS else "standard"
        output_format = body.get("output_format") or "png"
        count = body.get("n") or 1
        delay = sim.scaled(IMAGE_NOMINAL_SECONDS, markers)
        if delay > 0:
            await asyncio.sleep(delay)
        width, height = (int(side) for side in size.split("x"))
        spec = MediaSpec(output_format, width, height)
        data = await run_in_threadpool(spec.render)
        encoded = base64.b64encode(data).decode("ascii")
        request_id = _request_id()
        sim.record_sync_submission(FAMILY, request_id)
        per_megapixel = TOKENS_PER_MEGAPIXEL_26.get(quality, 1000)
        image_tokens = (
            IMAGE_TOKENS.get(quality, {}).get(size, 1056)
            if model not in GPT_IMAGE_26_MODELS
            else math.ceil(width * height / 1_000_000 * per_megapixel)
        ) * count
        text_tokens = max(1, len(prompt) // 4)
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": [{"b64_json": encoded} for _ in range(count)],
                "background": body.get("background") or "opaque",
                "output_format": output_format,
                "quality": quality,
                "size": size,
                "usage": {
                    "input_tokens": text_tokens + input_image_tokens,
                    "input_tokens_details": {"image_tokens": input_image_tokens, "text_tokens": text_tokens},
                    "output_tokens": image_tokens,
                    "total_tokens": text_tokens + input_image_tokens + image_tokens,
                },
            },
            headers={"x-request-id": request_id},
        )

    return [
        Route(f"{PATH}/audio/speech", speech, methods=["POST"]),
        Route(f"{PATH}/images/generations", images, methods=["POST"]),
        Route(f"{PATH}/images/edits", edits, methods=["POST"]),
    ]


# -- images -----------------------------------------------------------------------------------------

GPT_IMAGE_26_MODELS = ("gpt-image-2.6-sunburst", "gpt-image-2.6-flare")
GPT_IMAGE_MODELS = ("gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", *GPT_IMAGE_26_MODELS)
QUALITIES_26 = ("low", "medium", "high", "xhigh", "max", "auto")
# Output image tokens per megapixel at each GPT Image 2.6 quality (the simulator's own figures).
TOKENS_PER_MEGAPIXEL_26: dict[str, int] = {
    "low": 500,
    "medium": 1500,
    "high": 4500,
    "xhigh": 8000,
    "max": 12000,
}
IMAGE_MODELS = (*GPT_IMAGE_MODELS, "dall-e-2", "dall-e-3")
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
MAX_IMAGE_PROMPT = 32_000
IMAGE_NOMINAL_SECONDS = 1.0
IMAGE_FORMATS = ("png", "jpeg", "webp")
# Output image tokens per image (community figures for gpt-image-1.5: docs/providers.md, Prices).
IMAGE_TOKENS: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}


def _size_26(size: Any) -> JSONResponse | None:
    """GPT Image 2.6 sizes: "auto" or WxH, sides multiples of 16 up to 3840, at most 3:1, from
    655,360 to 8,294,400 pixels."""
    if size is None or size == "auto":
        return None
    width, sep, height = str(size).partition("x")
    ok = sep and width.isdigit() and height.isdigit()
    if ok:
        w, h = int(width), int(height)
        ok = (
            w % 16 == 0
            and h % 16 == 0
            and 0 < min(w, h)
            and max(w, h) <= 3840
            and max(w, h) / min(w, h) <= 3
            and 655_360 <= w * h <= 8_294_400
        )
    if ok:
        return None
    return _invalid(
        f"Invalid size '{size}'. Requested resolution must have both edges divisible by 16, a maximum "
        "edge of 3840px, an aspect ratio of at most 3:1 and between 655,360 and 8,294,400 total pixels.",
        "size",
        "invalid_value",
    )


def _one_of(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> JSONResponse | None:
    value = body.get(name)
    if value is None or value in allowed or (name == "size" and not allowed):
        return None
    return _invalid(
        f"Invalid value: '{value}'. Supported values are: {', '.join(repr(v) for v in allowed)}.",
        name,
        "invalid_value",
    )


def _validate_image(body: dict[str, Any]) -> JSONResponse | None:
    """The parts of ``POST /images/generations`` the simulator renders (GPT image models only)."""
    model = body.get("model") or "dall-e-2"
    if model not in IMAGE_MODELS:
        return _invalid(f"The model '{model}' does not exist.", "model", "model_not_found")
    if model not in GPT_IMAGE_MODELS:
        return _invalid(
            f"The simulator renders only {', '.join(GPT_IMAGE_MODELS)}.", "model", "invalid_value"
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return _invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if len(prompt) > MAX_IMAGE_PROMPT:
        return _invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_IMAGE_PROMPT}, "
            f"but got a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    if "response_format" in body:
        return _invalid(
            f"Unknown parameter: 'response_format' is not supported with {model}.", "response_format"
        )
    count = body.get("n", 1)
    if not is_int(count) or not 1 <= count <= 10:
        return _invalid("Invalid 'n': expected an integer between 1 and 10.", "n", "invalid_value")
    if model in GPT_IMAGE_26_MODELS:
        if (error := _size_26(body.get("size"))) is not None:
            return error
    for name, allowed in (
        ("size", GPT_IMAGE_SIZES if model not in GPT_IMAGE_26_MODELS else ()),
        ("quality", ("low", "medium", "high", "auto") if model not in GPT_IMAGE_26_MODELS else QUALITIES_26),
        ("background", ("transparent", "opaque", "auto")),
        ("output_format", IMAGE_FORMATS),
        ("moderation", ("low", "auto")),
    ):
        if (error := _one_of(body, name, allowed)) is not None:
            return error
    if body.get("background") == "transparent" and body.get("output_format") == "jpeg":
        return _invalid("Transparent background requires output_format png or webp.", "background")
    compression = body.get("output_compression")
    if compression is not None and (not is_int(compression) or not 0 <= compression <= 100):
        return _invalid(
            "Invalid 'output_compression': expected 0 to 100.", "output_compression", "invalid_value"
        )
    return None


# What GET /v1/models lists: model id → shutdown date (None: none announced). The dates are the
# deprecations page's (docs/providers.md, OpenAI images and OpenAI speech).
LISTED_MODELS: dict[str, str | None] = {
    "gpt-image-1.5": "2026-12-01",
    "gpt-image-1.5-2025-12-16": "2026-12-01",
    "gpt-image-1-mini": "2026-12-01",
    "gpt-image-1": None,
    "gpt-image-2.6-sunburst": None,
    "gpt-image-2.6-flare": None,
    "dall-e-3": None,
    "tts-1": "2027-01-06",
    "tts-1-hd": "2027-01-06",
    "gpt-4o-mini-tts": "2027-01-06",
    "gpt-4o-mini-tts-2025-12-15": "2027-01-06",
}


def _model_object(model_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id": model_id, "object": "model", "created": 1_765_000_000, "owned_by": "system"}
    if LISTED_MODELS.get(model_id):
        body["shutdown_date"] = LISTED_MODELS[model_id]
    return body


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/models`` and ``GET /v1/models/{id}`` (each with its ``shutdown_date`` when announced)."""

    async def list_models(request: Request) -> Response:
        if (refusal := _refused(request, sim.api_key)) is not None:
            return refusal
        listed = [m for m in LISTED_MODELS if _model_gone(sim, m) is None]
        return JSONResponse({"object": "list", "data": [_model_object(m) for m in listed]})

    async def retrieve_model(request: Request) -> Response:
        if (refusal := _refused(request, sim.api_key)) is not None:
            return refusal
        model_id = str(request.path_params["model"])
        if (gone := _model_gone(sim, model_id)) is not None:
            return gone  # past its shutdown date OpenAI no longer lists it
        if model_id not in LISTED_MODELS:
            return _error(
                404,
                f"The model '{model_id}' does not exist or you do not have access to it.",
                kind="invalid_request_error",
                code="model_not_found",
            )
        return JSONResponse(_model_object(model_id))

    return [
        Route(f"{PATH}/models", list_models, methods=["GET"]),
        Route(f"{PATH}/models/{{model:path}}", retrieve_model, methods=["GET"]),
    ]
