"""HeyGen API v2 (providers.md A4).

``X-Api-Key``. ``POST /v2/video/generate`` → ``{"error": null, "data": {"video_id"}}``;
``GET /v1/video_status.get?video_id=`` → ``{"code": 100, "data": {...}, "message": "Success"}`` with
``status`` pending → processing → completed (``video_url`` freshly signed on every call, 7 days) or
failed with ``error {code, message, detail}`` (``[standin:moderate]``: 400105 BLOCKED_WORDS_DETECTED).
Submit errors use the new-style ``{"error": {code, message, param}}`` body."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, MARK_POLL_500, Hub, Task, is_int, is_number, read_json

TOP = {
    "video_inputs",
    "dimension",
    "title",
    "caption",
    "caption_mode",
    "callback_id",
    "callback_url",
    "folder_id",
    "fps",
    "enable_watermark",
    "test",
}
CHARACTER = {
    "type",
    "avatar_id",
    "talking_photo_id",
    "avatar_style",
    "scale",
    "offset",
    "matting",
    "talking_photo_style",
    "talking_style",
    "expression",
    "super_resolution",
    "use_avatar_iv_model",
}
VOICE = {
    "type",
    "voice_id",
    "input_text",
    "speed",
    "pitch",
    "emotion",
    "locale",
    "audio_url",
    "audio_asset_id",
}
MAX_TEXT = 5000  # guide: < 5000; an older limits page: < 2000 (UNVERIFIED which applies) → the larger


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


def validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return invalid("body", "body must be a JSON object")
    for key in body:
        if key not in TOP:
            return invalid(key, f"unknown parameter {key}")
    scenes = body.get("video_inputs")
    if not isinstance(scenes, list) or not 1 <= len(scenes) <= 50:
        return invalid("video_inputs", "video_inputs must hold 1 to 50 scenes")
    for i, scene in enumerate(scenes):
        where = f"video_inputs[{i}]"
        if not isinstance(scene, dict) or set(scene) - {"character", "voice", "background"}:
            return invalid(where, "a scene has character, voice and background")
        character = scene.get("character")
        if not isinstance(character, dict):
            return invalid(f"{where}.character", "character is required")
        for key in character:
            if key not in CHARACTER:
                return invalid(f"{where}.character.{key}", f"unknown parameter {key}")
        ctype = character.get("type")
        if ctype == "avatar":
            if not isinstance(character.get("avatar_id"), str) or not character["avatar_id"]:
                return invalid(f"{where}.character.avatar_id", "avatar_id is required for type avatar")
        elif ctype == "talking_photo":
            if not isinstance(character.get("talking_photo_id"), str) or not character["talking_photo_id"]:
                return invalid(f"{where}.character.talking_photo_id", "talking_photo_id is required")
        else:
            return invalid(f"{where}.character.type", "type must be avatar or talking_photo")
        if character.get("avatar_style", "normal") not in ("normal", "closeUp", "circle"):
            return invalid(
                f"{where}.character.avatar_style", "avatar_style must be normal, closeUp or circle"
            )
        voice = scene.get("voice")
        if not isinstance(voice, dict):
            return invalid(f"{where}.voice", "voice is required")
        for key in voice:
            if key not in VOICE:
                return invalid(f"{where}.voice.{key}", f"unknown parameter {key}")
        if voice.get("type") == "text":
            if not isinstance(voice.get("voice_id"), str) or not voice["voice_id"]:
                return invalid(f"{where}.voice.voice_id", "voice_id is required for a text voice")
            text = voice.get("input_text")
            if not isinstance(text, str) or not text:
                return invalid(f"{where}.voice.input_text", "input_text is required for a text voice")
            if len(text) >= MAX_TEXT:
                return invalid(
                    f"{where}.voice.input_text", f"input_text must be shorter than {MAX_TEXT} characters"
                )
            for num in ("speed", "pitch"):
                if num in voice and not is_number(voice[num]):
                    return invalid(f"{where}.voice.{num}", f"{num} must be a number")
        elif voice.get("type") == "audio":
            if not (voice.get("audio_url") or voice.get("audio_asset_id")):
                return invalid(f"{where}.voice", "audio_url or audio_asset_id is required for an audio voice")
        else:
            return invalid(f"{where}.voice.type", "type must be text or audio")
        background = scene.get("background")
        if background is not None and (
            not isinstance(background, dict) or background.get("type") not in ("color", "image", "video")
        ):
            return invalid(f"{where}.background.type", "background type must be color, image or video")
    dimension = body.get("dimension")
    if dimension is not None:
        if not isinstance(dimension, dict) or set(dimension) != {"width", "height"}:
            return invalid("dimension", "dimension is {width, height}")
        for side in ("width", "height"):
            value = dimension[side]
            if not is_int(value) or value % 2 or not 128 <= value <= 4096:
                return invalid(f"dimension.{side}", f"{side} must be an even number between 128 and 4096")
    if "fps" in body and not is_number(body["fps"]):
        return invalid("fps", "fps must be a number")
    for flag in ("caption", "enable_watermark", "test"):
        if flag in body and not isinstance(body[flag], bool):
            return invalid(flag, f"{flag} must be a boolean")
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
        script = " ".join(s["voice"].get("input_text", "") for s in body["video_inputs"])
        if hub.once(MARK_429, script):
            return JSONResponse(
                {"error": {"code": "rate_limit_exceeded", "message": "Too many concurrent video jobs"}},
                429,
                headers={"Retry-After": "1"},
            )
        if hub.once(MARK_500, script):
            return problem(500, "internal_error", "Internal server error")
        dimension = body.get("dimension") or {"width": 1920, "height": 1080}
        task = hub.new_task(
            "heygen",
            "video",
            script,
            {
                "width": dimension["width"],
                "height": dimension["height"],
                "callback_id": body.get("callback_id"),
            },
            task_id=secrets.token_hex(16),
        )
        return JSONResponse({"error": None, "data": {"video_id": task.id}})

    def status_data(task: Task, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": task.id,
            "status": status,
            "callback_id": task.params["callback_id"],
            "created_at": int(task.created),
            "video_url": None,
            "thumbnail_url": None,
            "gif_url": None,
            "caption_url": None,
            "video_url_caption": None,
            "duration": None,
            "error": None,
            **extra,
        }

    async def status(request: Request) -> Response:
        if not authorised(request):
            return unauthorised()
        video_id = request.query_params.get("video_id")
        task = hub.tasks.get(video_id or "")
        if task is None or task.family != "heygen":
            return JSONResponse({"code": 40008, "data": None, "message": "video not found"}, 404)
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return problem(500, "internal_error", "Internal server error")
        phase = task.advance()
        if task.outcome == "moderated":
            error = {
                "code": 400105,
                "message": "BLOCKED_WORDS_DETECTED",
                "detail": "The script contains words that violate HeyGen's content policy.",
            }
            return JSONResponse(
                {"code": 100, "data": status_data(task, "failed", error=error), "message": "Success"}
            )
        if phase == "running":
            return JSONResponse({"code": 100, "data": status_data(task, "processing"), "message": "Success"})
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
        return JSONResponse({"code": 100, "data": data, "message": "Success"})

    return [
        Route("/heygen/v2/video/generate", generate, methods=["POST"]),
        Route("/heygen/v1/video_status.get", status, methods=["GET"]),
    ]
