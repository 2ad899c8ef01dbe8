"""OpenAI: text-to-speech (``openai_tts``, ``POST /audio/speech``, audio bytes in the answer) and
images (``gpt_image_1_5``, ``gpt_image_2_6_sunburst``, ``gpt_image_2_6_flare``:
``POST /images/generations``, base64 images in the answer).

The model sent is the one the job recorded when it was accepted (``params["wire_model"]``, from the
catalogue or ``CH_PROVIDER_MODELS``: providers/lifecycle.py), else the catalogue's.

Both are synchronous: :meth:`submit` returns :class:`Done`; there is never a task to poll.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, ProviderCheck, Submitted, Usage
from providers.catalog import CATALOG
from providers.errors import (
    InvalidInputError,
    LostTaskError,
    ProviderError,
    ProviderRequestError,
    RetryableError,
)
from providers.http import json_of
from providers.http_adapter import HttpAdapter, check_failure
from providers.library import Voice
from providers.options import TTS_INSTRUCTION_MODELS
from providers.params import aspect_ratio, closest, settings, size_for_ratio

DEFAULT_MODEL = "tts-1"
DEFAULT_VOICE = "alloy"
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_PASSED_SETTINGS = ("instructions", "speed")
# OpenAI has no endpoint listing voices: its built-in voices are a documented set (docs/providers.md,
# Libraries). tts-1 and tts-1-hd speak nine of them; gpt-4o-mini-tts all thirteen (ballad, verse,
# marin and cedar only there). Every voice speaks the language of the input text.
TTS_ALL_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
# Previews of the six original voices on OpenAI's CDN (the text-to-speech guide's samples); the later
# voices' samples are played on the guide page (openai.fm) with no stable file URL.
_PREVIEW = "https://cdn.openai.com/API/docs/audio/{}.wav"
_ORIGINAL_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
TTS_VOICES: tuple[Voice, ...] = tuple(
    Voice(
        id=name,
        provider="openai_tts",
        name=name.capitalize(),
        multilingual=True,
        preview_url=_PREVIEW.format(name) if name in _ORIGINAL_VOICES else None,
        models=TTS_ALL_MODELS if name not in ("ballad", "verse", "marin", "cedar") else ("gpt-4o-mini-tts",),
    )
    for name in (
        "alloy",
        "ash",
        "ballad",
        "cedar",
        "coral",
        "echo",
        "fable",
        "marin",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    )
)


def wire_model(job: JobSpec) -> str:
    """The model this job runs on: recorded on the job when it was accepted, else the catalogue's."""
    recorded = job.params.get("wire_model")
    return recorded if isinstance(recorded, str) and recorded else CATALOG[job.provider].wire_model


class OpenAIAdapter(HttpAdapter):
    """What every OpenAI endpoint shares: bearer auth, the error envelope and its moderation codes."""

    family: ClassVar[str] = "openai"
    provider_name: ClassVar[str] = "OpenAI"
    moderation_codes: ClassVar[tuple[str, ...]] = ("moderation_blocked", "content_policy_violation")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def check_models(self, provider: str) -> tuple[str, ...]:
        # the model this provider sends (lifecycle data, CH_PROVIDER_MODELS first)
        return (self.wire_models.get(provider) or CATALOG[provider].wire_model,)

    async def check(self, provider: str) -> ProviderCheck:
        """admin providers check: ``GET /v1/models/{id}`` — listed, and its ``shutdown_date`` if announced."""
        (model,) = self.check_models(provider)
        where = f"GET /models/{model}"
        try:
            answer = await self.request_json("GET", self.url(f"/models/{model}"))
        except ProviderRequestError as exc:
            if exc.code != "model_not_found":
                return check_failure(exc, model, where)
            return self.check_result((model,), set(), where)
        except ProviderError as exc:
            return check_failure(exc, model, where)
        shutdown = answer.get("shutdown_date") if isinstance(answer, dict) else None
        return replace(self.check_result((model,), {model}, where), shutdown_date=shutdown or None)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        # Nothing to poll: submit already returned the result. Reaching here means the worker lost
        # it, so the job has to be submitted again.
        raise LostTaskError("OpenAI answers synchronously and has no task to poll", code="not_pollable")


class OpenAITtsAdapter(OpenAIAdapter):
    # The voice library is this fixed set: read without a call (services/library.py).
    static_voices: ClassVar[tuple[Voice, ...]] = TTS_VOICES
    # A 4,096-character input takes OpenAI most of a minute to speak.
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(180.0, connect=10.0)

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        user = settings(job)
        body: dict[str, Any] = {
            "model": user.get("model") or DEFAULT_MODEL,
            "input": job.prompt or "",
            "voice": job.params.get("voice_id") or DEFAULT_VOICE,
            "response_format": user.get("response_format") or job.params.get("output_format") or "mp3",
        }
        if body["response_format"] not in CONTENT_TYPES:
            body["response_format"] = "mp3"
        body.update({key: user[key] for key in _PASSED_SETTINGS if user.get(key) is not None})
        if body["model"] not in TTS_INSTRUCTION_MODELS:
            body.pop("instructions", None)  # tts-1 and tts-1-hd refuse it (a row from before the rule)
        return body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"model": self.build_request(job)["model"]}

    async def list_voices(self) -> list[Voice]:
        """The documented built-in voices (no call: OpenAI has no voice listing)."""
        return list(TTS_VOICES)

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        response = await self.request(
            "POST", self.url("/audio/speech"), json_body=body, headers={"Accept": "application/octet-stream"}
        )
        if not response.content:
            raise RetryableError("OpenAI answered the speech request with no audio", code="empty_body")
        header_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        content_type = (
            header_type if header_type.startswith("audio/") else CONTENT_TYPES[body["response_format"]]
        )
        characters = len(body["input"])
        return Done(
            outputs=(Output(data=response.content, content_type=content_type),),
            usage=Usage(
                units=characters,
                details={"characters": characters, "model": body["model"], "voice": body["voice"]},
            ),
            metadata={"request_id": response.headers.get("x-request-id")},
        )


# -- images -----------------------------------------------------------------------------------------

IMAGE_MODEL = "gpt-image-1.5"  # the catalogue's gpt_image_1_5 wire model
# The only sizes GPT image models (before gpt-image-2) accept; the job's width/height or aspect
# ratio picks the one of the nearest shape.
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (1024, 1536),
    "3:2": (1536, 1024),
}
# Quality (default medium; "auto" lets OpenAI pick, up to high), background and compression are
# declared in providers.options.GptImageSettings, and checked there before anything is priced.
IMAGE_FORMATS: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# With reference images the request goes to POST /images/edits (multipart/form-data, the files as
# `image[]`): up to 16 PNG, WebP or JPEG files of less than 50 MB each (docs/providers.md, OpenAI images).
REFERENCE_IMAGES = ImageSlot(
    types=("image/png", "image/webp", "image/jpeg"), max_bytes=50 * MB - 1, max_count=16
)
_EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}


def edit_form(body: dict[str, Any]) -> dict[str, str]:
    """The generation body as multipart text fields (the edits endpoint takes the same names)."""
    return {key: str(value) for key, value in body.items() if value is not None}


def edit_files(job: JobSpec) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The reference images as multipart files: ``image`` for one, ``image[]`` for several (what
    the official SDK sends for a file or a list of files)."""
    field = "image" if len(job.input_files) == 1 else "image[]"
    return [
        (field, (f"reference-{i + 1}.{_EXTENSIONS.get(f.content_type, 'png')}", f.data, f.content_type))
        for i, f in enumerate(job.input_files)
    ]


class OpenAIImageAdapter(OpenAIAdapter):
    # High-quality images take OpenAI up to a couple of minutes; the SDK itself waits 600 s.
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(300.0, connect=10.0)
    # gpt-image-1.5 takes three sizes only; GPT Image 2.6 any size within its limits (size()).
    fixed_sizes: ClassVar[bool] = True
    reference_images: ClassVar[ImageSlot | None] = REFERENCE_IMAGES

    def size(self, job: JobSpec, wanted: tuple[int, int]) -> tuple[int, int]:
        return wanted

    def units(self, size: str, count: int) -> float:
        """What the price table counts for ``count`` images of ``size``: images."""
        return float(count)

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        user = settings(job)
        width, height = job.params.get("width"), job.params.get("height")
        shape = (
            (width, height)
            if isinstance(width, int) and isinstance(height, int)
            else aspect_ratio(job, "1:1")
        )
        size_w, size_h = closest(shape, IMAGE_SIZES) if self.fixed_sizes else shape
        quality = user["quality"]
        output_format = str(user.get("output_format") or job.params.get("output_format") or "png").lower()
        output_format = "jpeg" if output_format == "jpg" else output_format
        if output_format not in IMAGE_FORMATS:
            raise InvalidInputError(
                f"settings.output_format must be png, jpeg or webp for {wire_model(job)}", code="bad_setting"
            )
        size_w, size_h = self.size(job, (size_w, size_h))
        body: dict[str, Any] = {
            "model": wire_model(job),
            "prompt": job.prompt or "",
            "n": 1,
            "size": f"{size_w}x{size_h}",
            "quality": quality,
            "output_format": output_format,
        }
        background = user.get("background")
        if background is not None:
            if background == "transparent" and output_format == "jpeg":
                raise InvalidInputError(
                    "a transparent background needs png or webp output", code="bad_setting"
                )
            body["background"] = background
        compression = user.get("output_compression")
        if compression is not None and output_format != "png":
            body["output_compression"] = compression
        return body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        body = self.build_request(job)
        return {"quality": body["quality"], "size": body["size"]}

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        if job.input_files:
            response = await self.request(
                "POST", self.url("/images/edits"), form=edit_form(body), files=edit_files(job)
            )
        else:
            response = await self.request("POST", self.url("/images/generations"), json_body=body)
        answer = json_of(response, provider=self.provider_name)
        items = answer.get("data") if isinstance(answer, dict) else None
        outputs: list[Output] = []
        output_format = str(answer.get("output_format") or body["output_format"]) if items else ""
        for item in items or ():
            encoded = item.get("b64_json") if isinstance(item, dict) else None
            if not isinstance(encoded, str) or not encoded:
                continue
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RetryableError(
                    "OpenAI returned an image that is not valid base64", code="bad_body"
                ) from exc
            outputs.append(Output(data=data, content_type=IMAGE_FORMATS.get(output_format, "image/png")))
        if not outputs:
            raise RetryableError("OpenAI answered the image request without an image", code="bad_body")
        details: dict[str, Any] = {
            "size": answer.get("size") or body["size"],
            "quality": answer.get("quality") or body["quality"],
            "output_format": output_format,
            "model": body["model"],
        }
        if isinstance(answer.get("usage"), dict):
            details["tokens"] = answer["usage"]
        return Done(
            outputs=tuple(outputs),
            usage=Usage(units=self.units(str(details["size"]), len(outputs)), details=details),
            metadata={"request_id": response.headers.get("x-request-id")},
        )


# GPT Image 2.6 (gpt-image-2.6-sunburst, gpt-image-2.6-flare): any size whose sides are multiples
# of 16, at most 3840 px per side, at most 3:1, from 655,360 to 8,294,400 pixels (the gpt-image-2
# size rule the 2.6 models keep; docs/providers.md). Priced per output megapixel by quality.
SIZE_STEP_26 = 16
MIN_PIXELS_26 = 655_360
MAX_PIXELS_26 = 8_294_400
MAX_EDGE_26 = 3840
MAX_RATIO_26 = 3.0


def size_26(width: int, height: int) -> tuple[int, int]:
    """The size GPT Image 2.6 renders for a wanted ``width`` × ``height``: scaled up to its least
    pixel count, each side rounded up to a multiple of 16. Raises ``InvalidInputError`` beyond it."""
    if max(width, height) / min(width, height) > MAX_RATIO_26:
        raise InvalidInputError(
            "settings.width and settings.height: GPT Image 2.6 renders aspect ratios up to 3:1",
            code="bad_setting",
        )
    if width * height < MIN_PIXELS_26:
        factor = math.sqrt(MIN_PIXELS_26 / (width * height))
        width, height = math.ceil(width * factor), math.ceil(height * factor)
    width = math.ceil(width / SIZE_STEP_26) * SIZE_STEP_26
    height = math.ceil(height / SIZE_STEP_26) * SIZE_STEP_26
    if max(width, height) > MAX_EDGE_26 or width * height > MAX_PIXELS_26:
        raise InvalidInputError(
            f"settings.width and settings.height: GPT Image 2.6 renders at most {MAX_EDGE_26} px per side",
            code="bad_setting",
        )
    return width, height


class OpenAIImage26Adapter(OpenAIImageAdapter):
    fixed_sizes: ClassVar[bool] = False

    def size(self, job: JobSpec, wanted: tuple[int, int]) -> tuple[int, int]:
        width, height = job.params.get("width"), job.params.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            width, height = size_for_ratio(*aspect_ratio(job, "1:1"))
        return size_26(width, height)

    def units(self, size: str, count: int) -> float:
        width, _, height = size.partition("x")
        try:
            pixels = int(width) * int(height)
        except ValueError:
            return float(count)
        return count * pixels / 1_000_000

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"quality": self.build_request(job)["quality"]}

    def estimated_units(self, job: JobSpec) -> float | None:
        return self.units(self.build_request(job)["size"], 1)
