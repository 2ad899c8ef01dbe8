"""BytePlus ModelArk Seedream 4.5 (docs/providers.md, Seedream): ``POST /api/v3/images/generations``, Bearer,
synchronous, OpenAI-Images-like. ``data[]`` carries ``url`` (signed TOS-style, 24 h) or ``b64_json``.
Errors ``{"error": {code, message, param, type}}``; moderation = 400 ``InputTextSensitiveContentDetected``."""

from __future__ import annotations

import base64
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, MARK_MODERATE, Hub, bearer, is_int, read_json

MODELS_45 = {"seedream-4-5-251128", "doubao-seedream-4-5-251128"}
MODELS_OTHER = {"seedream-4-0-250828", "doubao-seedream-4-0-250828"}
FIELDS = {
    "model",
    "prompt",
    "image",
    "size",
    "seed",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "response_format",
    "watermark",
    "stream",
    "optimize_prompt_options",
    # in the newest SDK; applicability to 4.5 UNVERIFIED: accepted
    "output_format",
    "tools",
    "layer_decomposition",
    "guidance_scale",
}
MIN_PIXELS, MAX_PIXELS = 3_686_400, 16_777_216


def error(
    status: int, code: str, message: str, param: str | None = None, type_: str = "BadRequest"
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "param": param, "type": type_}},
        status,
        headers={"x-request-id": secrets.token_hex(16)},
    )


def parse_size(size: Any, model: str) -> tuple[int, int] | str:
    """(width, height) or why the size is refused."""
    if size is None:
        return (2048, 2048)
    if not isinstance(size, str):
        return "size must be a string"
    if size in ("2K", "4K"):
        return (2048, 2048) if size == "2K" else (4096, 4096)
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if not m:
        return f"size {size!r} is not '2K', '4K' or 'WIDTHxHEIGHT'"
    w, h = int(m[1]), int(m[2])
    if model in MODELS_45 and not MIN_PIXELS <= w * h <= MAX_PIXELS:
        return f"size {size} has {w * h} pixels; Seedream 4.5 needs between {MIN_PIXELS} and {MAX_PIXELS}"
    if not 1 / 16 <= w / h <= 16:
        return f"size {size}: aspect ratio must be between 1/16 and 16"
    return (w, h)


def routes(hub: Hub) -> list[Route]:
    async def generate(request: Request) -> Response:
        token = bearer(request)
        if token != hub.keys["ark"]:
            return error(
                401,
                "AuthenticationError",
                "The API key or AK/SK in the request is missing or invalid.",
                type_="Unauthorized",
            )
        body, problem = await read_json(request)
        if problem or not isinstance(body, dict):
            return error(400, "InvalidParameter", problem or "request body must be a JSON object")
        for key in body:
            if key not in FIELDS:
                return error(400, "InvalidParameter", f"unknown parameter `{key}`", key)
        model = body.get("model")
        if not model:
            return error(400, "MissingParameter", "the parameter `model` is required", "model")
        if model not in MODELS_45 | MODELS_OTHER and not str(model).startswith("ep-"):
            return error(
                404,
                "InvalidEndpointOrModel.NotFound",
                f"the model or endpoint {model} does not exist",
                "model",
                "NotFound",
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return error(400, "MissingParameter", "the parameter `prompt` is required", "prompt")
        size = parse_size(body.get("size"), model)
        if isinstance(size, str):
            return error(400, "InvalidParameter", size, "size")
        images = body.get("image")
        if images is not None:
            refs = images if isinstance(images, list) else [images]
            if len(refs) > 14 or not all(
                isinstance(r, str) and (r.startswith(("http://", "https://", "data:image/"))) for r in refs
            ):
                return error(
                    400,
                    "InvalidParameter",
                    "image must be up to 14 URLs or data:image/<fmt>;base64 strings",
                    "image",
                )
        seed = body.get("seed", -1)
        if not is_int(seed) or not -1 <= seed <= 2147483647:
            return error(400, "InvalidParameter", "seed must be an integer in [-1, 2147483647]", "seed")
        seq = body.get("sequential_image_generation", "disabled")
        if seq not in ("auto", "disabled"):
            return error(
                400,
                "InvalidParameter",
                "sequential_image_generation must be auto or disabled",
                "sequential_image_generation",
            )
        options = body.get("sequential_image_generation_options")
        if options is not None:
            if seq != "auto":
                return error(
                    400,
                    "InvalidParameter",
                    "sequential_image_generation_options needs sequential_image_generation=auto",
                    "sequential_image_generation_options",
                )
            if (
                not isinstance(options, dict)
                or not is_int(options.get("max_images", 15))
                or not 1 <= options.get("max_images", 15) <= 15
            ):
                return error(
                    400,
                    "InvalidParameter",
                    "max_images must be 1-15",
                    "sequential_image_generation_options.max_images",
                )
        fmt = body.get("response_format", "url")
        if fmt not in ("url", "b64_json"):
            return error(
                400, "InvalidParameter", "response_format must be url or b64_json", "response_format"
            )
        if "watermark" in body and not isinstance(body["watermark"], bool):
            return error(400, "InvalidParameter", "watermark must be a boolean", "watermark")
        if body.get("stream"):
            return error(400, "InvalidParameter", "the stand-in does not stream; send stream=false", "stream")
        opt = body.get("optimize_prompt_options")
        if opt is not None and (not isinstance(opt, dict) or opt.get("mode", "standard") != "standard"):
            return error(
                400,
                "InvalidParameter",
                "Seedream 4.5 supports only optimize_prompt_options.mode=standard",
                "optimize_prompt_options.mode",
            )
        if hub.has(MARK_MODERATE, prompt):
            return error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
                "prompt",
            )
        if hub.once(MARK_429, prompt):
            response = error(
                429, "TooManyRequests", "Too many requests, please retry later.", type_="TooManyRequests"
            )
            response.headers["Retry-After"] = "1"
            return response
        if hub.once(MARK_500, prompt):
            return error(
                500,
                "InternalServiceError",
                "The service encountered an unexpected internal error.",
                type_="InternalServiceError",
            )
        w, h = size
        data = media.image("jpeg", w, h)
        item: dict[str, Any] = {"size": f"{w}x{h}"}
        if fmt == "b64_json":
            item["b64_json"] = base64.b64encode(data).decode()
        else:
            url = hub.store(data, "image/jpeg", "ark", "jpeg", ttl=86400)
            item["url"] = url + "&X-Tos-Expires=86400"
        return JSONResponse(
            {
                "model": model,
                "created": int(time.time()),
                "data": [item],
                "usage": {"generated_images": 1, "output_tokens": w * h // 256, "total_tokens": w * h // 256},
            },
            headers={"x-request-id": secrets.token_hex(16)},
        )

    return [Route("/ark/api/v3/images/generations", generate, methods=["POST"])]
