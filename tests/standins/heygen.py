"""HeyGen API v3 (docs/providers.md, HeyGen; HeyGen's OpenAPI spec in heygen-com/heygen-cli).

``X-Api-Key``. ``POST /v3/videos`` with a body discriminated by ``type`` (``avatar`` here:
``avatar_id``, ``script`` + ``voice_id`` or ``audio_url``/``audio_asset_id``, ``aspect_ratio``,
``resolution``, ``voice_settings``, ``background`` …) → ``{"data": {"video_id", "status"}}``;
``GET /v3/videos/{video_id}`` → ``{"data": {"id", "status", "video_url", "duration",
"failure_code", "failure_message", …}}`` with ``status`` pending → processing → completed (links
signed afresh on each call) or failed (``[standin:moderate]``: ``blocked_words_detected``). Errors:
``{"error": {code, message, param?, doc_url}}``. v1/v2 reached end of life on 2026-11-01: their
routes answer 404 ``not_found``."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, MARK_POLL_500, Hub, Task, is_number, read_json

AVATAR_FIELDS = {
    "type",
    "avatar_id",
    "script",
    "voice_id",
    "audio_url",
    "audio_asset_id",
    "aspect_ratio",
    "resolution",
    "voice_settings",
    "background",
    "caption",
    "callback_id",
    "callback_url",
    "engine",
    "expressiveness",
    "fit",
    "motion_prompt",
    "output_format",
    "remove_background",
    "title",
    "watermark",
}
VOICE_SETTINGS = {"speed": (0.5, 1.5), "pitch": (-50, 50), "volume": (0.0, 1.0)}
RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "4:5": (4, 5), "5:4": (5, 4), "1:1": (1, 1), "auto": (16, 9)}
SHORT_EDGE = {"720p": 720, "1080p": 1080, "4k": 2160}
MAX_TEXT = 5000  # guide: < 5000 characters
RETIRED = ("/heygen/v2/video/generate", "/heygen/v1/video_status.get", "/heygen/v1/video/generate")


# The library (GET /v3/avatars/looks, GET /v3/voices): HeyGen's example avatar and voice ids among a few others.
LOOKS = [
    {
        "id": look_id,
        "name": name,
        "avatar_type": "studio_avatar",
        "gender": gender,
        "group_id": None,
        "preview_image_url": f"https://files2.heygen.ai/avatar/{look_id}.webp",
        "preview_video_url": f"https://files2.heygen.ai/avatar/{look_id}.mp4",
        "default_voice_id": None,
        "supported_api_engines": ["avatar_iv"],
        "tags": [],
    }
    for look_id, name, gender in (
        ("Daisy-inskirt-20220818", "Daisy in Skirt", "female"),
        ("Tyler-incasualsuit-20220721", "Tyler in Casual Suit", "male"),
        ("Anna_public_3_20240108", "Anna Business", "female"),
    )
]
VOICES = [
    {
        "voice_id": voice_id,
        "name": name,
        "language": language,
        "gender": gender,
        "preview_audio_url": f"https://resource.heygen.ai/text_to_speech/{voice_id}.mp3",
        "support_pause": True,
        "support_locale": False,
        "type": "public",
    }
    for voice_id, name, language, gender in (
        ("2d5b0e6cf36f460aa7fc47e3eee4ba54", "Paul", "English", "male"),
        ("1bd001e7e50f421d891986aad5158bc8", "Sara", "English", "female"),
        ("00988b7d451d0722635ff7b2b9540a7b", "Lucía", "Spanish", "female"),
    )
]


def problem(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "doc_url": "https://developers.heygen.com/docs/error-codes",
    }
    if param:
        error["param"] = param
    return JSONResponse({"error": error}, status)


def invalid(param: str, message: str) -> JSONResponse:
    return problem(400, "invalid_parameter", message, param)


def validate_image(body: dict[str, Any]) -> JSONResponse | None:
    """``type: "image"`` (CreateVideoFromImage in HeyGen's OpenAPI): ``image`` as url, asset_id or
    base64 (with media_type); no avatar_id; the rest as for an avatar."""
    for key in body:
        if key not in (AVATAR_FIELDS - {"avatar_id"}) | {"image", "motion_prompt", "expressiveness", "fit"}:
            return invalid(key, f"unknown parameter {key}")
    image = body.get("image")
    if not isinstance(image, dict) or image.get("type") not in ("url", "asset_id", "base64"):
        return invalid("image", "image must be {type: url | asset_id | base64, …}")
    if image["type"] == "base64":
        try:
            raw = base64.b64decode(str(image.get("data")), validate=True)
        except (binascii.Error, ValueError):
            return invalid("image.data", "data must be base64")
        real = media.sniff_image(raw)
        if real not in ("image/png", "image/jpeg") or real != image.get("media_type"):
            return invalid("image.media_type", "media_type must be the image's type, png or jpeg")
    if body.get("script") is not None and not body.get("voice_id"):
        return invalid("voice_id", "voice_id is required with script")
    return None


def validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return invalid("body", "body must be a JSON object")
    if body.get("type") not in ("avatar", "image", "cinematic_avatar", "studio"):
        return invalid("type", "type must be one of avatar, image, cinematic_avatar, studio")
    if body["type"] == "image":
        return validate_image(body)
    if body["type"] != "avatar":
        return invalid("type", "this stand-in serves types avatar and image only")
    for key in body:
        if key not in AVATAR_FIELDS:
            return invalid(key, f"unknown parameter {key}")
    if not isinstance(body.get("avatar_id"), str) or not body["avatar_id"]:
        return invalid("avatar_id", "avatar_id is required")
    script, audio = body.get("script"), body.get("audio_url") or body.get("audio_asset_id")
    if (script is None) == (not audio):
        return invalid("script", "give exactly one of script or audio_url/audio_asset_id")
    if script is not None:
        if not isinstance(script, str) or not script.strip():
            return invalid("script", "script must not be empty")
        if len(script) >= MAX_TEXT:
            return invalid("script", f"script must be shorter than {MAX_TEXT} characters")
    if "voice_id" in body and (not isinstance(body["voice_id"], str) or not body["voice_id"]):
        return invalid("voice_id", "voice_id must be a non-empty string")
    if body.get("aspect_ratio", "16:9") not in RATIOS:
        return invalid("aspect_ratio", f"aspect_ratio must be one of {', '.join(RATIOS)}")
    if body.get("resolution") is not None and body["resolution"] not in SHORT_EDGE:
        return invalid("resolution", "resolution must be one of 4k, 1080p, 720p")
    voice = body.get("voice_settings")
    if voice is not None:
        if not isinstance(voice, dict):
            return invalid("voice_settings", "voice_settings must be an object")
        for key, value in voice.items():
            if key == "locale":
                if not isinstance(value, str):
                    return invalid("voice_settings.locale", "locale must be a string")
            elif key == "engine_settings":
                continue
            elif key not in VOICE_SETTINGS:
                return invalid(f"voice_settings.{key}", f"unknown parameter {key}")
            else:
                low, high = VOICE_SETTINGS[key]
                if not (is_number(value) and low <= value <= high):
                    return invalid(f"voice_settings.{key}", f"{key} must be between {low} and {high}")
    background = body.get("background")
    if background is not None:
        if not isinstance(background, dict) or background.get("type") not in ("color", "image"):
            return invalid("background.type", "background type must be color or image")
        if background["type"] == "color" and not isinstance(background.get("value"), str):
            return invalid("background.value", "value (a hex color) is required for a color background")
    return None


def routes(hub: Hub) -> list[Route]:
    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == hub.keys["heygen"]

    def unauthorised() -> JSONResponse:
        return problem(401, "unauthorized", "Invalid or missing API key (X-Api-Key)")

    async def generate(request: Request) -> Response:
        if not authorised(request):
            return unauthorised()
        body, bad_json = await read_json(request)
        if bad_json:
            return invalid("body", bad_json)
        bad = validate(body)
        if bad:
            return bad
        script = body.get("script") or ""
        if hub.once(MARK_429, script):
            return JSONResponse(
                {"error": {"code": "rate_limit_exceeded", "message": "Too many concurrent video jobs"}},
                429,
                headers={"Retry-After": "1"},
            )
        if hub.once(MARK_500, script):
            return problem(500, "internal_error", "Internal server error")
        w, h = RATIOS[body.get("aspect_ratio") or "16:9"]
        short = SHORT_EDGE[body.get("resolution") or "1080p"]
        width, height = (short * w // h, short) if w >= h else (short, short * h // w)
        task = hub.new_task(
            "heygen",
            "video",
            script,
            {"width": width - width % 2, "height": height - height % 2, "title": body.get("title")},
            task_id=secrets.token_hex(16),
        )
        return JSONResponse({"data": {"video_id": task.id, "status": "waiting", "output_format": "mp4"}})

    def status_data(task: Task, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": task.id,
            "title": task.params["title"],
            "status": status,
            "created_at": int(task.created),
            "completed_at": None,
            "video_url": None,
            "thumbnail_url": None,
            "gif_url": None,
            "captioned_video_url": None,
            "subtitle_url": None,
            "video_page_url": None,
            "duration": None,
            "failure_code": None,
            "failure_message": None,
            **extra,
        }

    async def status(request: Request) -> Response:
        if not authorised(request):
            return unauthorised()
        video_id = str(request.path_params["video_id"])
        task = hub.tasks.get(video_id)
        if task is None or task.family != "heygen":
            return problem(404, "not_found", f"Video {video_id} not found")
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return problem(500, "internal_error", "Internal server error")
        phase = task.advance()
        if task.outcome == "moderated":
            failed = status_data(
                task,
                "failed",
                failure_code="blocked_words_detected",
                failure_message="The script contains words that violate HeyGen's content policy.",
            )
            return JSONResponse({"data": failed})
        if phase == "running":
            return JSONResponse({"data": status_data(task, "processing")})
        seconds = round(min(8.0, max(1.0, len(task.text) / 15)), 1)
        if "video" not in task.extra:
            task.extra["video"] = media.mp4(task.params["width"], task.params["height"], seconds)
            task.extra["thumb"] = media.image("jpeg", 160, 90)
        week = 7 * 24 * 3600
        data = status_data(
            task,
            "completed",
            # every status call issues freshly signed links (they expire after 7 days)
            video_url=hub.store(task.extra["video"], "video/mp4", "heygen", "mp4", ttl=week),
            thumbnail_url=hub.store(task.extra["thumb"], "image/jpeg", "heygen", "jpeg", ttl=week),
            duration=seconds,
        )
        task.output_urls.append(data["video_url"])
        return JSONResponse({"data": data})

    async def retired(request: Request) -> Response:
        return problem(404, "not_found", "v1/v2 endpoints reached end of life on 2026-11-01; use /v3")

    def page(request: Request, items: list[dict[str, Any]], most: int) -> Response:
        """v3 listings (docs/providers.md, Libraries): ``limit`` 1..most (default 20), ``token`` an
        opaque cursor (here the offset, as text) → ``{data, has_more, next_token}``."""
        limit = request.query_params.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= most:
            return invalid("limit", f"limit must be between 1 and {most}")
        token = request.query_params.get("token") or "0"
        if not token.isdigit() or int(token) > len(items):
            return invalid("token", "invalid pagination token")
        start, size = int(token), int(limit)
        more = start + size < len(items)
        return JSONResponse(
            {
                "data": items[start : start + size],
                "has_more": more,
                "next_token": str(start + size) if more else None,
            }
        )

    async def looks(request: Request) -> Response:
        if not authorised(request):
            return unauthorised()
        ownership = request.query_params.get("ownership")
        if ownership not in (None, "public", "private"):
            return invalid("ownership", "ownership must be public or private")
        return page(request, [look for look in LOOKS if ownership in (None, "public")], 50)

    async def voices(request: Request) -> Response:
        if not authorised(request):
            return unauthorised()
        kind = request.query_params.get("type", "public")
        if kind not in ("public", "private"):
            return invalid("type", "type must be public or private")
        return page(request, [v for v in VOICES if v["type"] == kind], 100)

    return [
        Route("/heygen/v3/avatars/looks", looks, methods=["GET"]),
        Route("/heygen/v3/voices", voices, methods=["GET"]),
        Route("/heygen/v3/videos", generate, methods=["POST"]),
        Route("/heygen/v3/videos/{video_id}", status, methods=["GET"]),
        *(Route(path, retired, methods=["GET", "POST"]) for path in RETIRED),
    ]
