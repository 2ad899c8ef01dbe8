"""BytePlus ModelArk (Seedream): ``POST /api/v3/images/generations``, images in the answer.

Errors use Ark's OpenAI-like envelope ``{"error": {"code", "message", "param", "type"}}`` with Ark's
codes. ``[sim:moderate]`` → 400 ``InputTextSensitiveContentDetected``; ``[sim:fail]`` → 200 whose only
``data[]`` item carries an ``error`` (a set whose images all failed); ``[sim:slow]`` answers late.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import bearer_token, decode_data_uri_image, file_url, is_int, json_object
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, markers_in

FAMILY = "ark"
PATH = "/ark"
NOMINAL_SECONDS = 1.5  # answer time before time_scale (the real API takes ~15 s)
URL_TTL = 24 * 3600.0
MODELS = (
    "seedream-4-5-251128",
    "seedream-4-0-250828",
    "doubao-seedream-4-5-251128",
    "doubao-seedream-4-0-250828",
)
MIN_PIXELS = 3_686_400
MAX_PIXELS = 16_777_216
# Seedream 4.5 has no 1K preset (its minimum is 3,686,400 pixels): "1K" is refused as invalid.
PRESETS = {"2K": (2048, 2048), "4K": (4096, 4096)}
MAX_REFERENCE_IMAGES = 14
MAX_IMAGES = 15
SIZE_PATTERN = re.compile(r"(\d+)x(\d+)")


def _error(
    status: int, code: str, message: str, *, param: str = "", kind: str = "BadRequest"
) -> JSONResponse:
    request_id = _request_id()
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": f"{message} Request id: {request_id}",
                "param": param,
                "type": kind,
            }
        },
        status_code=status,
        headers={"x-request-id": request_id},
    )


def _invalid(param: str, message: str) -> JSONResponse:
    return _error(
        400,
        "InvalidParameter",
        f"The parameter `{param}` specified in the request is not valid: {message}",
        param=param,
    )


def _request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)


def _size(value: Any) -> tuple[int, int] | str:
    """The output size a ``size`` value asks for, or why it is not valid."""
    if value is None:
        return PRESETS["2K"]
    if not isinstance(value, str):
        return "size must be a string such as 2K or 2048x2048"
    if value.upper() in PRESETS:
        return PRESETS[value.upper()]
    if value.upper() == "1K":
        return "1K is not supported by seedream-4-5; use 2K, 4K or WIDTHxHEIGHT"
    match = SIZE_PATTERN.fullmatch(value.strip())
    if match is None:
        return "size must be 2K, 4K or WIDTHxHEIGHT"
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        return "width and height must be positive"
    if not MIN_PIXELS <= width * height <= MAX_PIXELS:
        return f"the total pixels must be within [{MIN_PIXELS}, {MAX_PIXELS}]"
    if not 1 / 16 <= width / height <= 16:
        return "the aspect ratio must be within [1/16, 16]"
    return width, height


def _image_problem(value: Any) -> str | None:
    images = value if isinstance(value, list) else [value]
    if not images or len(images) > MAX_REFERENCE_IMAGES:
        return f"up to {MAX_REFERENCE_IMAGES} reference images are accepted"
    for image in images:
        if not isinstance(image, str) or not image:
            return "each image must be a URL or a data URI"
        if image.startswith(("https://", "http://")):
            continue
        decoded = decode_data_uri_image(image)
        if isinstance(decoded, str):
            return f"an image data URI {decoded}"
        if decoded.content_type not in ("image/jpeg", "image/png", "image/webp"):
            return "a reference image must be JPEG, PNG or WebP"
        if decoded.size > 10 * 1024 * 1024:
            return "a reference image must be at most 10 MB"
        if min(decoded.width, decoded.height) <= 14 or decoded.width * decoded.height > 6000 * 6000:
            return "a reference image's sides must exceed 14 px, within 6000×6000 pixels"
        if not 1 / 16 <= decoded.width / decoded.height <= 16:
            return "a reference image's aspect ratio must be within [1/16, 16]"
    return None


def _validate(body: dict[str, Any]) -> JSONResponse | tuple[int, int]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error(
            400,
            "MissingParameter",
            "The request failed because it is missing one or multiple required parameters: model.",
            param="model",
        )
    if model not in MODELS and not model.startswith("ep-"):
        return _error(
            404,
            "InvalidEndpointOrModel.NotFound",
            f"The model or endpoint {model} does not exist or you do not have access to it.",
            kind="NotFound",
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _error(
            400,
            "MissingParameter",
            "The request failed because it is missing one or multiple required parameters: prompt.",
            param="prompt",
        )
    size = _size(body.get("size"))
    if isinstance(size, str):
        return _invalid("size", size)
    if body.get("response_format", "url") not in ("url", "b64_json"):
        return _invalid("response_format", "must be url or b64_json")
    if "watermark" in body and not isinstance(body["watermark"], bool):
        return _invalid("watermark", "must be a boolean")
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not -1 <= seed <= 2_147_483_647):
        return _invalid("seed", "must be an integer from -1 to 2147483647")
    if body.get("sequential_image_generation", "disabled") not in ("auto", "disabled"):
        return _invalid("sequential_image_generation", "must be auto or disabled")
    options = body.get("sequential_image_generation_options")
    if options is not None:
        count = options.get("max_images") if isinstance(options, dict) else None
        if not is_int(count) or not 1 <= count <= MAX_IMAGES:
            return _invalid("sequential_image_generation_options.max_images", f"must be 1 to {MAX_IMAGES}")
    if "image" in body and (problem := _image_problem(body["image"])) is not None:
        return _invalid("image", problem)
    if body.get("stream"):
        return _invalid("stream", "the simulator does not stream")
    return size


def routes(sim: SimState) -> list[BaseRoute]:
    async def generate(request: Request) -> Response:
        token = bearer_token(request)
        if token != sim.api_key:
            return _error(
                401,
                "AuthenticationError",
                "The API key or AK/SK in the request is missing or invalid.",
                kind="Unauthorized",
            )
        body = await json_object(request)
        if body is None:
            return _error(400, "InvalidParameter", "The request body is not valid JSON.")
        checked = _validate(body)
        if isinstance(checked, JSONResponse):
            return checked
        width, height = checked
        prompt: str = body["prompt"]
        markers = markers_in(prompt)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", prompt, markers):
            return _error(
                429,
                "RateLimitExceeded.EndpointIPMExceeded",
                "The request has exceeded the images-per-minute limit of the model. Please try again later.",
                kind="TooManyRequests",
            )
        if sim.trips_once(FAMILY, "500", prompt, markers):
            return _error(
                500,
                "InternalServiceError",
                "The service encountered an unexpected internal error.",
                kind="InternalServerError",
            )
        if "moderate" in markers:
            return _error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            )
        delay = sim.scaled(NOMINAL_SECONDS, markers)
        if delay > 0:
            await asyncio.sleep(delay)
        answer: dict[str, Any] = {"model": body["model"], "created": int(time.time())}
        if "fail" in markers:
            error = {"code": "InternalServiceError", "message": "The image could not be generated."}
            sim.record_sync_submission(FAMILY, _request_id())
            return JSONResponse(
                answer
                | {
                    "data": [{"error": error}],
                    "usage": {"generated_images": 0, "output_tokens": 0, "total_tokens": 0},
                }
            )
        spec = MediaSpec("jpeg", width, height)
        item: dict[str, Any] = {"size": f"{width}x{height}"}
        if body.get("response_format") == "b64_json":
            item["b64_json"] = base64.b64encode(await run_in_threadpool(spec.render)).decode("ascii")
            sim.record_sync_submission(FAMILY, _request_id())
        else:
            # A finished task holds the file the signed URL serves (and counts the submission).
            task = sim.new_task(FAMILY, markers, 0.0, {})
            item["url"] = file_url(request, PATH, sim.add_file(task, spec, URL_TTL), "jpeg")
        tokens = width * height // 256
        return JSONResponse(
            answer
            | {
                "data": [item],
                "usage": {"generated_images": 1, "output_tokens": tokens, "total_tokens": tokens},
            }
        )

    return [Route(f"{PATH}/api/v3/images/generations", generate, methods=["POST"])]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /api/v3/models``: the OpenAI-compatible model list (UNVERIFIED shape: OpenAI's)."""

    async def models(request: Request) -> Response:
        if bearer_token(request) != sim.api_key:
            return _error(
                401,
                "AuthenticationError",
                "The API key or AK/SK in the request is missing or invalid.",
                kind="Unauthorized",
            )
        data = [
            {"id": m, "object": "model", "created": 1_764_000_000, "owned_by": "bytedance"} for m in MODELS
        ]
        return JSONResponse({"object": "list", "data": data})

    return [Route(f"{PATH}/api/v3/models", models, methods=["GET"])]
