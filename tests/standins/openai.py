"""OpenAI Images (``gpt-image-1.5``, GPT Image 2.6) and Speech (docs/providers.md, OpenAI).

Models past their shutdown day (:data:`SHUTDOWNS`, ``Hub.day``) answer 404 ``model_not_found``.

Both synchronous, ``Authorization: Bearer``. Images answer ``data[].b64_json`` (GPT image models
never return URLs and refuse ``response_format``); speech answers the audio bytes. Errors use the
``{"error": {message, type, param, code}}`` envelope; unknown parameters are refused like the real
API does (``unknown_parameter``)."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, MARK_MODERATE, Hub, bearer, is_int, is_number, read_json

IMAGE_MODELS = {
    "gpt-image-1.5",
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
    "gpt-image-2.6-sunburst",
    "gpt-image-2.6-flare",
}
# OpenAI's deprecations page: these answer 404 from their shutdown day (UTC).
SHUTDOWNS: dict[str, date] = {
    "gpt-image-1.5": date(2026, 12, 1),
    "gpt-image-1.5-2025-12-16": date(2026, 12, 1),
    "gpt-image-1-mini": date(2026, 12, 1),
    "chatgpt-image-latest": date(2026, 12, 1),
    "tts-1": date(2027, 1, 6),
    "tts-1-hd": date(2027, 1, 6),
    "gpt-4o-mini-tts": date(2027, 1, 6),
    "gpt-4o-mini-tts-2025-12-15": date(2027, 1, 6),
}
# GPT Image 2.6: any WxH with sides multiples of 16, at most 3840 px a side and 3:1, 655,360 to
# 8,294,400 pixels; five quality tiers and auto.
GPT_IMAGE_26 = {"gpt-image-2.6-sunburst", "gpt-image-2.6-flare"}
QUALITIES_26 = ("low", "medium", "high", "xhigh", "max", "auto")
INSTRUCTION_MODELS = {"gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}
IMAGE_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "stream",
    "partial_images",
    "user",
}
SIZES = {
    "1024x1024": (1024, 1024),
    "1536x1024": (1536, 1024),
    "1024x1536": (1024, 1536),
    "auto": (1024, 1024),
}
SPEECH_MODELS = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}
SPEECH_FIELDS = {"model", "input", "voice", "instructions", "response_format", "speed", "stream_format"}
VOICES = {
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
}


def error(
    status: int, message: str, *, type_: str, param: str | None = None, code: str | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}},
        status,
        headers={"x-request-id": "req_" + secrets.token_hex(16)},
    )


def invalid(param: str, message: str, code: str = "invalid_value") -> JSONResponse:
    return error(400, message, type_="invalid_request_error", param=param, code=code)


def unknown(param: str) -> JSONResponse:
    return invalid(param, f"Unknown parameter: '{param}'.", "unknown_parameter")


def enum(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> JSONResponse | None:
    if name in body and body[name] not in allowed:
        return invalid(
            name,
            f"Invalid value: '{body[name]}'. Supported values are: {', '.join(repr(a) for a in allowed)}.",
        )
    return None


def size_26(size: Any) -> tuple[int, int] | None:
    """The sides of a GPT Image 2.6 ``size`` it renders, else ``None``."""
    if size == "auto":
        return (1024, 1024)
    try:
        w, h = (int(part) for part in str(size).split("x"))
    except ValueError:
        return None
    if w % 16 or h % 16 or max(w, h) > 3840 or max(w, h) > 3 * min(w, h):
        return None
    return (w, h) if 655_360 <= w * h <= 8_294_400 else None


def routes(hub: Hub) -> list[Route]:
    def gone(model: Any) -> JSONResponse | None:
        shutdown = SHUTDOWNS.get(model) if isinstance(model, str) else None
        if shutdown is None or hub.day() < shutdown:
            return None
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            type_="invalid_request_error",
            code="model_not_found",
        )

    def auth(request: Request) -> JSONResponse | None:
        token = bearer(request)
        if token is None:
            return error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                type_="invalid_request_error",
            )
        if token != hub.keys["openai"]:
            return error(
                401,
                f"Incorrect API key provided: {token[:3]}***{token[-4:]}.",
                type_="invalid_request_error",
                code="invalid_api_key",
            )
        return None

    def transient(text: str) -> JSONResponse | None:
        if hub.once(MARK_429, text):
            response = error(
                429,
                "Rate limit reached for requests. Please try again in 1s.",
                type_="requests",
                code="rate_limit_exceeded",
            )
            response.headers["retry-after"] = "1"
            return response
        if hub.once(MARK_500, text):
            return error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
            )
        return None

    async def images(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        body, problem = await read_json(request)
        if problem or not isinstance(body, dict):
            return invalid(
                "body", problem or "We could not parse the JSON body of your request.", "invalid_json"
            )
        return await image_answer(body)

    async def edits(request: Request) -> Response:
        """POST /images/edits: multipart/form-data, `image` or `image[]` files (up to 16 PNG, WebP or
        JPEG files under 50 MB each, openai-python's ImageEditParams), the other fields as text."""
        denied = auth(request)
        if denied:
            return denied
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return invalid(
                "body", "Invalid Content-Type header, expected multipart/form-data.", "invalid_request"
            )
        form = await request.form(max_files=17, max_part_size=50 * 1024 * 1024 + 1)
        body: dict[str, Any] = {}
        images = []
        for key, value in form.multi_items():
            if key in ("image", "image[]") and not isinstance(value, str):
                images.append(await value.read())
            elif isinstance(value, str):
                body[key] = int(value) if key in ("n", "output_compression") and value.isdigit() else value
            else:
                return unknown(key)
        if not 1 <= len(images) <= 16:
            return invalid("image", "Provide 1 to 16 images.")
        for raw in images:
            kind = media.sniff_image(raw)
            if kind not in ("image/png", "image/webp", "image/jpeg") or len(raw) >= 50 * 1024 * 1024:
                return invalid(
                    "image",
                    "Invalid input image - format must be png, webp or jpeg, under 50MB.",
                    "invalid_image_format",
                )
        return await image_answer(body)

    async def image_answer(body: dict[str, Any]) -> Response:
        for key in body:
            if key not in IMAGE_FIELDS:
                return unknown(key)  # e.g. response_format: GPT image models always return base64
        model = body.get("model")
        if (shut := gone(model)) is not None:
            return shut
        if model not in IMAGE_MODELS:
            return invalid("model", f"Invalid value: '{model}'. Value must be a GPT image model.")
        new = model in GPT_IMAGE_26
        if new and "size" in body and size_26(body["size"]) is None:
            return invalid(
                "size",
                f"Invalid size '{body['size']}'. Width and height must be multiples of 16, at most 3840 px, "
                "at most 3:1, with 655,360 to 8,294,400 pixels.",
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return invalid("prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter")
        if len(prompt) > 32000:
            return invalid(
                "prompt",
                "Invalid 'prompt': string too long. Expected a string with maximum length 32000.",
                "string_above_max_length",
            )
        n = body.get("n", 1)
        if not is_int(n) or not 1 <= n <= 10:
            return invalid("n", f"Invalid 'n': {n}. Expected an integer between 1 and 10.")
        for name, allowed in (
            ("size", tuple(SIZES) if not new else (body.get("size", "auto"),)),
            ("quality", ("low", "medium", "high", "auto") if not new else QUALITIES_26),
            ("background", ("transparent", "opaque", "auto")),
            ("output_format", ("png", "jpeg", "webp")),
            ("moderation", ("low", "auto")),
        ):
            bad = enum(body, name, allowed)
            if bad:
                return bad
        fmt = body.get("output_format", "png")
        if body.get("background") == "transparent" and fmt == "jpeg":
            return invalid("background", "Transparent background requires output_format png or webp.")
        if "output_compression" in body:
            c = body["output_compression"]
            if not is_int(c) or not 0 <= c <= 100:
                return invalid(
                    "output_compression", "output_compression must be an integer between 0 and 100."
                )
            if fmt == "png" and c != 100:
                return invalid(
                    "output_compression", "output_compression is only supported for jpeg and webp."
                )
        if body.get("stream"):
            return invalid("stream", "The stand-in does not stream; send stream=false.", "unsupported_value")
        if "partial_images" in body:
            return invalid("partial_images", "partial_images is only supported when streaming.")
        if hub.has(MARK_MODERATE, prompt):
            return error(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, contact us "
                "at help.openai.com and include the request ID.",
                type_="image_generation_user_error",
                code="moderation_blocked",
                moderation_details={"moderation_stage": "input", "categories": ["violence"]},
            )
        busy = transient(prompt)
        if busy:
            return busy
        size = body.get("size", "auto")
        w, h = size_26(size) if new else SIZES[size]  # type: ignore[misc]  # size was checked above: not None
        data = [{"b64_json": base64.b64encode(media.image(fmt, w, h)).decode()} for _ in range(n)]
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": data,
                "background": "opaque",
                "output_format": fmt,
                "quality": body.get("quality", "auto") if body.get("quality") != "auto" else "medium",
                "size": f"{w}x{h}",
                "usage": {
                    "input_tokens": 20,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 20},
                    "output_tokens": 1056 * n,
                    "total_tokens": 20 + 1056 * n,
                },
            },
            headers={"x-request-id": "req_" + secrets.token_hex(16)},
        )

    async def speech(request: Request) -> Response:
        denied = auth(request)
        if denied:
            return denied
        body, problem = await read_json(request)
        if problem or not isinstance(body, dict):
            return invalid(
                "body", problem or "We could not parse the JSON body of your request.", "invalid_json"
            )
        for key in body:
            if key not in SPEECH_FIELDS:
                return unknown(key)
        model = body.get("model")
        if (shut := gone(model)) is not None:
            return shut
        if model not in SPEECH_MODELS:
            return invalid(
                "model", f"Invalid value: '{model}'. Supported values are: {sorted(SPEECH_MODELS)}."
            )
        text = body.get("input")
        if not isinstance(text, str) or not text:
            return invalid("input", "Missing required parameter: 'input'.", "missing_required_parameter")
        if len(text) > 4096:
            return invalid(
                "input",
                "Invalid 'input': string too long. Expected a string with maximum length 4096.",
                "string_above_max_length",
            )
        voice = body.get("voice")
        custom = isinstance(voice, dict) and set(voice) == {"id"} and str(voice["id"]).startswith("voice_")
        if not custom and voice not in VOICES:
            return invalid("voice", f"Invalid value: '{voice}'. Supported values are: {sorted(VOICES)}.")
        bad = enum(body, "response_format", ("mp3", "opus", "aac", "flac", "wav", "pcm"))
        if bad:
            return bad
        bad = enum(body, "stream_format", ("sse", "audio"))
        if bad:
            return bad
        if body.get("stream_format") == "sse":
            return invalid(
                "stream_format", "The stand-in answers audio only; sse is not for tts-1 and unsupported here."
            )
        if "instructions" in body and not isinstance(body["instructions"], str):
            return invalid("instructions", "instructions must be a string.")
        if "instructions" in body and model not in INSTRUCTION_MODELS:
            return invalid("instructions", f"instructions is not supported with the model {model}.")
        speed = body.get("speed", 1.0)
        if not is_number(speed) or not 0.25 <= speed <= 4.0:
            return invalid("speed", f"Invalid 'speed': {speed}. Expected a value between 0.25 and 4.0.")
        busy = transient(text)
        if busy:
            return busy
        fmt = body.get("response_format", "mp3")
        seconds = min(8.0, max(0.5, len(text) / 15 / speed))
        return Response(
            media.audio(fmt, seconds),
            media_type=media.AUDIO_TYPES[fmt],
            headers={"x-request-id": "req_" + secrets.token_hex(16)},
        )

    return [
        Route("/openai/v1/images/generations", images, methods=["POST"]),
        Route("/openai/v1/images/edits", edits, methods=["POST"]),
        Route("/openai/v1/audio/speech", speech, methods=["POST"]),
    ]
