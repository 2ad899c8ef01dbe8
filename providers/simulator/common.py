"""Helpers every simulated provider uses: reading requests, auth, markers, stages, URLs."""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse

from providers.simulator.state import SimTask


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request's JSON body when it is an object; ``None`` when it is missing or malformed."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def public_base(request: Request) -> str:
    """The absolute URL of the simulator's root, mount path included (``http://host/simulator``)."""
    root_path = str(request.scope.get("root_path") or "")
    return str(request.url.replace(path=root_path, query="", fragment="")).rstrip("/")


def file_url(request: Request, family_path: str, token: str, extension: str) -> str:
    return f"{public_base(request)}{family_path}/_files/{token}.{extension}"


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere inside a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def stage(task: SimTask, now: float, stages: Sequence[tuple[float, str]]) -> str | None:
    """The in-progress stage name for the task's progress, or ``None`` once it reached the end.

    ``stages`` lists (start fraction, name) in order, the first starting at 0.
    """
    progress = task.progress(now)
    if progress >= 1.0:
        return None
    current = stages[0][1]
    for start, name in stages:
        if progress >= start:
            current = name
    return current


PIL_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class InputImage:
    """An input image a provider decoded: its real type (by content) and size."""

    content_type: str
    width: int
    height: int
    size: int


def read_image(raw: bytes) -> InputImage | None:
    """What the bytes are as an image (Pillow reads the header only), or None when they are not one."""
    try:
        with Image.open(io.BytesIO(raw)) as img:
            content_type = PIL_TYPES.get(str(img.format))
            if content_type is None:
                return None
            return InputImage(content_type, img.size[0], img.size[1], len(raw))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def decode_base64_image(value: Any, declared: str | None = None) -> InputImage | str:
    """A plain base64 image (no ``data:`` prefix), or why it is unusable: not base64, not an image,
    or not the type ``declared`` beside it (a PNG sent as image/jpeg)."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty base64 string"
    if value.startswith("data:"):
        return "must be plain base64, without a data: prefix"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "is not valid base64"
    image = read_image(raw)
    if image is None:
        return "is not a decodable image"
    if declared is not None and declared.lower() != image.content_type:
        return f"is {image.content_type}, not the declared {declared}"
    return image


def decode_data_uri_image(value: Any) -> InputImage | str:
    """A ``data:image/<type>;base64,…`` URI's image, or why it is unusable (its type must match)."""
    if not isinstance(value, str):
        return "must be a data URI string"
    header, sep, payload = value.partition(",")
    if not (sep and header.startswith("data:image/") and header.endswith(";base64")):
        return "must be data:image/<format>;base64,<data>"
    return decode_base64_image(payload, header.removeprefix("data:").removesuffix(";base64"))


def too_many_requests(body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=429, headers={"Retry-After": "1"})


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
