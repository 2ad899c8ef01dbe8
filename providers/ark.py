"""ByteDance Seedream 4.5 on BytePlus ModelArk (``seedream_4_5``): ``POST /images/generations``.

Synchronous and OpenAI-Images-like: the answer's ``data[]`` holds each image as a ``url`` (signed,
24 h) or as ``b64_json``. We ask for base64 by default, so nothing has to be downloaded from a host
we cannot verify (``settings.response_format = "url"`` asks for links instead).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, ClassVar

import httpx

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, Submitted, Usage, data_uri
from providers.download import sniff
from providers.errors import InvalidInputError, LostTaskError, ModerationError, RejectedError, RetryableError
from providers.http import is_moderation
from providers.http_adapter import HttpAdapter
from providers.params import aspect_ratio, parse_ratio, settings, size_for_ratio

# BytePlus model id; Volcengine (China, *.volces.com) names the same model with a "doubao-" prefix.
BYTEPLUS_MODEL = "seedream-4-5-251128"
VOLCENGINE_MODEL = "doubao-seedream-4-5-251128"
# Seedream 4.5 size rules (third-party copies of the BytePlus doc, UNVERIFIED): total pixels within
# [3,686,400, 16,777,216], aspect ratio within 1:16 … 16:1. Our ~1 MP default is below the minimum,
# so such requests are raised to about 2048×2048 worth of pixels at the same shape.
MIN_PIXELS = 3_686_400
MAX_PIXELS = 16_777_216
TARGET_PIXELS = 2048 * 2048
MAX_ASPECT = 16.0
PRESET_SIZES = ("2K", "4K")  # no 1K on Seedream 4.5 (docs/providers.md, Seedream)
RESPONSE_FORMATS = ("b64_json", "url")
# image: up to 14 reference images (with one output, references + outputs stay within 15), each
# JPEG, PNG or WebP, at most 10 MB, sides over 14 px, aspect ratio within 1:16 … 16:1, at most
# 6000×6000 pixels (docs/providers.md, Seedream; third-party copies of the BytePlus doc).
REFERENCE_IMAGES = ImageSlot(
    types=("image/jpeg", "image/png", "image/webp"),
    max_bytes=10 * MB,
    max_count=14,
    min_side=15,
    max_ratio=16.0,
    max_pixels=6000 * 6000,
)
MODERATION_CODES = (
    "SensitiveContentDetected",
    "SensitiveContentDetected.SevereViolation",
    "SensitiveContentDetected.Violence",
    "InputTextSensitiveContentDetected",
    "InputImageSensitiveContentDetected",
    "OutputImageSensitiveContentDetected",
)


def seedream_size(width: int, height: int) -> tuple[int, int]:
    """A size Seedream 4.5 accepts with the shape of ``width``×``height`` (multiples of 16)."""
    ratio = width / height
    if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
        raise InvalidInputError("Seedream accepts aspect ratios between 1:16 and 16:1", code="bad_size")
    if MIN_PIXELS <= width * height <= MAX_PIXELS:
        return width, height
    if width * height > MAX_PIXELS:
        return size_for_ratio(width, height, MAX_PIXELS)
    w, h = size_for_ratio(width, height, TARGET_PIXELS)
    if w * h < MIN_PIXELS:  # only extreme shapes, where rounding down to multiples of 16 cost too much
        w = math.ceil(math.sqrt(MIN_PIXELS * ratio) / 16) * 16
        h = math.ceil(math.sqrt(MIN_PIXELS / ratio) / 16) * 16
    return w, h


def _is_sensitive(code: str | None) -> bool:
    return "sensitivecontentdetected" in (code or "").lower()


class ArkAdapter(HttpAdapter):
    family: ClassVar[str] = "ark"
    provider_name: ClassVar[str] = "BytePlus ModelArk (Seedream)"
    # Seedream takes ~15 s per image (third-party); a 4K image may take much longer.
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(180.0, connect=10.0)
    moderation_codes: ClassVar[tuple[str, ...]] = MODERATION_CODES
    reference_images: ClassVar[ImageSlot | None] = REFERENCE_IMAGES

    # admin providers check: the OpenAI-compatible model list (third-party docs: it needs the key).
    check_path: ClassVar[str] = "/models"

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (self.model,)

    def listed_models(self, answer: Any) -> set[str] | None:
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            return None
        return {str(item.get("id")) for item in data if isinstance(item, dict)}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def model(self) -> str:
        host = httpx.URL(self.base_url).host
        return VOLCENGINE_MODEL if host.endswith("volces.com") else BYTEPLUS_MODEL

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        user = settings(job)
        preset = user.get("size")
        if isinstance(preset, str) and preset.upper() in PRESET_SIZES:
            size = preset.upper()
        else:
            width, height = job.params.get("width"), job.params.get("height")
            if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
                width, height = aspect_ratio(job, "1:1")
            elif width * height < MIN_PIXELS and parse_ratio(job.params.get("aspect_ratio")):
                # Too small anyway (our ~1 MP default): scale the exact aspect ratio, not its rounding.
                width, height = aspect_ratio(job)
            size = "{}x{}".format(*seedream_size(width, height))
        response_format = user.get("response_format", "b64_json")
        if response_format not in RESPONSE_FORMATS:
            raise InvalidInputError("settings.response_format must be b64_json or url", code="bad_setting")
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": job.prompt or "",
            "size": size,
            "response_format": response_format,
            "sequential_image_generation": "disabled",
            # The default is UNVERIFIED (docs' examples send true): always say what we want.
            "watermark": user.get("watermark") is True,
        }
        seed = user.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            body["seed"] = seed
        images = [data_uri(f) for f in job.input_files]
        if images:
            body["image"] = images[0] if len(images) == 1 else images
        return body

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        try:
            answer = await self.request_json("POST", self.url("/images/generations"), json_body=body)
        except ModerationError:
            raise
        except RejectedError as exc:
            if _is_sensitive(exc.code):  # a moderation sub-code we do not list yet
                raise ModerationError(exc.message, code=exc.code) from exc
            raise
        if not isinstance(answer, dict):
            raise RetryableError("Seedream answered with an unexpected body", code="bad_body")
        outputs, sizes, errors = _images(answer)
        if not outputs:
            raise _failure(errors, answer.get("error"))
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        details: dict[str, Any] = {"model": answer.get("model") or body["model"], "sizes": sizes}
        if sizes:
            details["size"] = sizes[0]
        if errors:
            details["failed_images"] = len(errors)
        details |= {key: usage[key] for key in ("generated_images", "output_tokens") if key in usage}
        return Done(outputs=tuple(outputs), usage=Usage(units=len(outputs), details=details))

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        raise LostTaskError("Seedream answers synchronously and has no task to poll", code="not_pollable")


def _images(answer: dict[str, Any]) -> tuple[list[Output], list[str], list[dict[str, Any]]]:
    """The images in ``data[]`` (URL or base64), their sizes, and the per-image errors."""
    outputs: list[Output] = []
    sizes: list[str] = []
    errors: list[dict[str, Any]] = []
    for item in answer.get("data") or ():
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("error"), dict):
            errors.append(item["error"])
            continue
        if isinstance(item.get("b64_json"), str) and item["b64_json"]:
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RetryableError(
                    "Seedream returned an image that is not valid base64", code="bad_body"
                ) from exc
            outputs.append(Output(data=data, content_type=sniff(data[:16]) or "image/jpeg"))
        elif isinstance(item.get("url"), str) and item["url"]:
            outputs.append(Output(url=item["url"], content_type="image/jpeg"))
        else:
            continue
        if isinstance(item.get("size"), str):
            sizes.append(item["size"])
    return outputs, sizes, errors


def _failure(errors: list[dict[str, Any]], top: Any) -> Exception:
    """Why no image came back: the first per-image error, else the top-level one."""
    error = errors[0] if errors else top if isinstance(top, dict) else None
    if error is None:
        return RetryableError("Seedream answered without any image", code="bad_body")
    code = str(error.get("code") or "") or None
    message = str(error.get("message") or "Seedream could not generate the image")
    if _is_sensitive(code) or is_moderation(code, message, MODERATION_CODES):
        return ModerationError(f"the image was blocked by Seedream's moderation: {message}", code=code)
    return RejectedError(f"Seedream could not generate the image: {message}", code=code or "failed")
