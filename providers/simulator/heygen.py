"""HeyGen API v3: ``POST /v3/videos`` (``type: "avatar"``) and ``GET /v3/videos/{video_id}``; the
library: ``GET /v3/avatars/looks`` and ``GET /v3/voices`` (``{"data": [...], "has_more",
"next_token"}``, ``limit`` and ``token``; data in :mod:`providers.simulator.library`).

Shapes from HeyGen's OpenAPI spec as shipped in heygen-com/heygen-cli (``gen/video.go``). Errors
use ``{"error": {"code", "message", "param"?, "doc_url"}}`` (developers.heygen.com/docs/error-codes).
The v1/v2 routes (``POST /v2/video/generate``, ``GET /v1/video_status.get``) reached end of life on
2026-11-01 and answer 404 ``not_found`` here, so a client still sending them fails loudly.
``[sim:moderate]`` fails the video with ``failure_code`` ``blocked_words_detected``; ``[sim:fail]``
with ``internal_error``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator import library
from providers.simulator.common import (
    decode_base64_image,
    file_url,
    is_number,
    json_object,
    stage,
    too_many_requests,
)
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "heygen"
PATH = "/heygen"
NOMINAL_SECONDS = 8.0
URL_TTL = 7 * 24 * 3600.0
STAGES = ((0.0, "pending"), (0.25, "processing"))
CHARS_PER_SECOND = 15
MAX_TEXT = 5000
AUDIO_SECONDS = 5.0
DOCS = "https://developers.heygen.com/docs/error-codes"
VIDEO_TYPES = ("avatar", "image", "cinematic_avatar", "studio")
ASPECT_RATIOS = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:5": (4, 5),
    "5:4": (5, 4),
    "1:1": (1, 1),
    "auto": (16, 9),
}
RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
RETIRED = ("/v2/video/generate", "/v1/video_status.get", "/v1/video/generate")


def _error(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    error["doc_url"] = f"{DOCS}#{code.replace('_', '-')}"
    return JSONResponse({"error": error}, status_code=status)


def _invalid(param: str, message: str) -> JSONResponse:
    return _error(400, "invalid_parameter", message, param)


# type "image": the image as {type: url|asset_id|base64}; HeyGen's assets are png or jpeg, at most 32 MB.
IMAGE_TYPES = ("image/png", "image/jpeg")
MAX_IMAGE_BYTES = 32 * 1024 * 1024


def _image_problem(image: Any) -> tuple[str, str] | None:
    """(param, message) of a bad ``image`` of a ``type: "image"`` body (CreateVideoFromImage)."""
    if not isinstance(image, dict) or image.get("type") not in ("url", "asset_id", "base64"):
        return "image.type", "image.type must be 'url', 'asset_id' or 'base64'"
    if image["type"] == "url":
        url = image.get("url")
        return (
            None
            if isinstance(url, str) and url.startswith("https://")
            else ("image.url", "url must be https")
        )
    if image["type"] == "asset_id":
        return (
            None
            if isinstance(image.get("asset_id"), str) and image["asset_id"]
            else ("image.asset_id", "asset_id is required")
        )
    media_type = image.get("media_type")
    if media_type not in IMAGE_TYPES:
        return "image.media_type", f"media_type must be one of {', '.join(IMAGE_TYPES)}"
    decoded = decode_base64_image(image.get("data"), media_type)
    if isinstance(decoded, str):
        return "image.data", f"data {decoded}"
    if decoded.size > MAX_IMAGE_BYTES:
        return "image.data", "the image must be at most 32 MB"
    return None


def _problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """(param, message) of the first problem in a ``type: "avatar"`` or ``type: "image"`` create body."""
    if body.get("type") == "image":
        if "avatar_id" in body:
            return "avatar_id", "avatar_id is not a field of type 'image'"
        if (problem := _image_problem(body.get("image"))) is not None:
            return problem
        if body.get("script") is not None and not body.get("voice_id"):
            return "voice_id", "voice_id is required with script for type 'image' (no avatar default voice)"
    elif not isinstance(body.get("avatar_id"), str) or not body["avatar_id"]:
        return "avatar_id", "avatar_id is required"
    script = body.get("script")
    audio = body.get("audio_url") or body.get("audio_asset_id")
    if script is not None and audio:
        return "script", "script is mutually exclusive with audio_url/audio_asset_id"
    if script is None and not audio:
        return "script", "provide script (with voice_id) or audio_url/audio_asset_id"
    if script is not None:
        if not isinstance(script, str) or not script.strip():
            return "script", "script must be a non-empty string"
        if len(script) > MAX_TEXT:
            return "script", f"script must be at most {MAX_TEXT} characters"
    voice_id = body.get("voice_id")
    if voice_id is not None and (not isinstance(voice_id, str) or not voice_id):
        return "voice_id", "voice_id must be a non-empty string"
    if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        return "aspect_ratio", f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
    resolution = body.get("resolution")
    if resolution is not None and resolution not in RESOLUTIONS:
        return "resolution", f"resolution must be one of {', '.join(RESOLUTIONS)}"
    voice = body.get("voice_settings")
    if voice is not None:
        if not isinstance(voice, dict):
            return "voice_settings", "voice_settings must be an object"
        for name, low, high in (("speed", 0.5, 1.5), ("pitch", -50, 50), ("volume", 0.0, 1.0)):
            value = voice.get(name)
            if value is not None and not (is_number(value) and low <= value <= high):
                return f"voice_settings.{name}", f"{name} must be a number from {low} to {high}"
        if voice.get("locale") is not None and not isinstance(voice["locale"], str):
            return "voice_settings.locale", "locale must be a string"
    background = body.get("background")
    if background is not None:
        if not isinstance(background, dict) or background.get("type") not in ("color", "image"):
            return "background.type", "background.type must be 'color' or 'image'"
        if background["type"] == "color" and not (
            isinstance(background.get("value"), str) and HEX_COLOR.match(background["value"])
        ):
            return "background.value", "value must be a hex color such as '#ff0000'"
        if background["type"] == "image" and not (background.get("url") or background.get("asset_id")):
            return "background.url", "url or asset_id is required for an image background"
    return None


def _size(body: dict[str, Any]) -> tuple[int, int]:
    short = RESOLUTIONS[body.get("resolution") or "1080p"]
    w, h = ASPECT_RATIOS[body.get("aspect_ratio") or "16:9"]
    if w >= h:
        width, height = short * w // h, short
    else:
        width, height = short, short * h // w
    return width - width % 2, height - height % 2


def routes(sim: SimState) -> list[BaseRoute]:
    def refused(request: Request) -> JSONResponse | None:
        if request.headers.get("x-api-key") != sim.api_key:
            return _error(
                401,
                "unauthorized",
                "The API key provided is invalid, expired, or missing.",
            )
        return None

    async def create(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        body = await json_object(request)
        if body is None:
            return _invalid("body", "The request body must be a JSON object.")
        kind = body.get("type")
        if kind not in VIDEO_TYPES:
            return _invalid("type", f"type must be one of {', '.join(VIDEO_TYPES)}")
        if kind not in ("avatar", "image"):
            return _invalid("type", f"type '{kind}' is not served by this simulator; use 'avatar' or 'image'")
        if (problem := _problem(body)) is not None:
            return _invalid(*problem)
        text = body.get("script") or ""
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return too_many_requests(
                {"error": {"code": "rate_limit_exceeded", "message": "Too many concurrent video jobs."}}
            )
        if sim.trips_once(FAMILY, "500", text, markers):
            return _error(500, "internal_error", "Internal server error, please retry.")
        seconds = max(1.0, round(len(text) / CHARS_PER_SECOND, 1)) if text else AUDIO_SECONDS
        task = sim.new_task(
            FAMILY,
            markers,
            NOMINAL_SECONDS,
            {"seconds": seconds, "title": body.get("title"), "callback_id": body.get("callback_id")},
        )
        width, height = _size(body)
        task.info["video"] = sim.add_file(task, MediaSpec("mp4", width, height, seconds), URL_TTL)
        task.info["thumbnail"] = sim.add_file(task, MediaSpec("jpeg", width // 4, height // 4), URL_TTL)
        return JSONResponse({"data": {"video_id": task.id, "status": "waiting", "output_format": "mp4"}})

    def describe(request: Request, task: SimTask) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": task.id,
            "title": task.info["title"],
            "status": stage(task, sim.now(), STAGES) or "completed",
            "video_url": None,
            "thumbnail_url": None,
            "gif_url": None,
            "captioned_video_url": None,
            "subtitle_url": None,
            "duration": None,
            "created_at": int(task.created_wall.timestamp()),
            "completed_at": None,
            "failure_code": None,
            "failure_message": None,
        }
        if data["status"] != "completed":
            return data
        done = {"completed_at": int(task.created_wall.timestamp() + NOMINAL_SECONDS)}
        if task.outcome == "moderate":
            return (
                data
                | done
                | {
                    "status": "failed",
                    "failure_code": "blocked_words_detected",
                    "failure_message": "Blocked words detected: the script contains inappropriate text.",
                }
            )
        if task.outcome == "fail":
            return (
                data
                | done
                | {
                    "status": "failed",
                    "failure_code": "internal_error",
                    "failure_message": "Rendering the video failed.",
                }
            )
        return (
            data
            | done
            | {
                "video_url": file_url(request, PATH, task.info["video"], "mp4"),
                "thumbnail_url": file_url(request, PATH, task.info["thumbnail"], "jpeg"),
                "duration": task.info["seconds"],
            }
        )

    async def get_video(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        video_id = str(request.path_params["video_id"])
        task = sim.find(FAMILY, video_id)
        if task is None:
            return _error(404, "not_found", f"Video {video_id} not found")
        return JSONResponse({"data": describe(request, task)})

    async def retired(request: Request) -> Response:
        return _error(
            404,
            "not_found",
            "This endpoint is no longer available: HeyGen API v1 and v2 reached end of life on "
            "2026-11-01. Use API v3 (POST /v3/videos, GET /v3/videos/{video_id}).",
        )

    looks, voices = library.heygen_looks, library.heygen_voices  # previews on the host called

    def listing(request: Request, items: list[dict[str, Any]], most: int, scope: str) -> Response:
        """One page of a v3 listing: ``limit`` (1..most, default 20) and the opaque ``token``."""
        raw_limit = request.query_params.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= most:
            return _invalid("limit", f"limit must be an integer from 1 to {most}")
        offset = library.offset_of(request.query_params.get("token"), scope)
        if offset is None:
            return _invalid("token", "token is not a valid pagination token")
        chunk, next_token = library.page(items, offset, int(raw_limit), scope)
        return JSONResponse({"data": chunk, "has_more": next_token is not None, "next_token": next_token})

    async def list_looks(request: Request) -> Response:
        """``GET /v3/avatars/looks``: group_id, avatar_type, ownership filters; limit 1-50."""
        if (error := refused(request)) is not None:
            return error
        q = request.query_params
        if q.get("avatar_type") not in (None, "studio_avatar", "digital_twin", "photo_avatar"):
            return _invalid("avatar_type", "avatar_type must be studio_avatar, digital_twin or photo_avatar")
        if q.get("ownership") not in (None, "public", "private"):
            return _invalid("ownership", "ownership must be public or private")
        picked = [
            {k: v for k, v in look.items() if k != "ownership"}
            for look in looks(library.media_root(request))
            if q.get("group_id") in (None, look["group_id"])
            and q.get("avatar_type") in (None, look["avatar_type"])
            and q.get("ownership") in (None, look["ownership"])
        ]
        sim.record_read(FAMILY, "avatars")
        scope = "looks:" + ",".join(q.get(k) or "" for k in ("group_id", "avatar_type", "ownership"))
        return listing(request, picked, 50, scope)

    async def list_voices(request: Request) -> Response:
        """``GET /v3/voices``: type public (default) or private, engine, language, gender; limit 1-100."""
        if (error := refused(request)) is not None:
            return error
        q = request.query_params
        kind = q.get("type", "public")
        if kind not in ("public", "private"):
            return _invalid("type", "type must be public or private")
        if q.get("gender") not in (None, "male", "female"):
            return _invalid("gender", "gender must be male or female")
        picked = [
            {k: v for k, v in voice.items() if k != "engines"}
            for voice in voices(library.media_root(request))
            if voice["type"] == kind
            and q.get("language", "").lower() in ("", voice["language"].lower())
            and q.get("gender") in (None, voice["gender"])
            and (q.get("engine") is None or q["engine"] in voice["engines"])
        ]
        sim.record_read(FAMILY, "voices")
        scope = "voices:" + ",".join(q.get(k) or "" for k in ("type", "engine", "language", "gender"))
        return listing(request, picked, 100, scope)

    return [
        Route(f"{PATH}/v3/avatars/looks", list_looks, methods=["GET"]),
        Route(f"{PATH}/v3/voices", list_voices, methods=["GET"]),
        Route(f"{PATH}/v3/videos", create, methods=["POST"]),
        Route(f"{PATH}/v3/videos/{{video_id}}", get_video, methods=["GET"]),
        *(Route(f"{PATH}{path}", retired, methods=["GET", "POST"]) for path in RETIRED),
    ]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v3/users/me``: the account and its balance (developers.heygen.com, "Get current user")."""

    async def me(request: Request) -> Response:
        if request.headers.get("x-api-key") != sim.api_key:
            return _error(401, "unauthorized", "Unauthorized: the API key is missing or invalid.")
        wallet = {"currency": "usd", "remaining_balance": 100.0, "auto_reload": {"enabled": False}}
        user = {"username": "simulator", "email": None, "first_name": None, "last_name": None}
        return JSONResponse(
            {
                "data": {
                    **user,
                    "billing_type": "wallet",
                    "wallet": wallet,
                    "subscription": None,
                    "usage_based": None,
                }
            }
        )

    return [Route(f"{PATH}/v3/users/me", me, methods=["GET"])]
