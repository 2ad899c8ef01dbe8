"""HeyGen: ``POST /v2/video/generate`` (new-style errors) and ``GET /v1/video_status.get`` (legacy envelope)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import file_url, is_int, json_object, stage, too_many_requests
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "heygen"
PATH = "/heygen"
NOMINAL_SECONDS = 8.0
URL_TTL = 7 * 24 * 3600.0
STAGES = ((0.0, "pending"), (0.25, "processing"))
CHARS_PER_SECOND = 15
MAX_TEXT = 5000
AUDIO_SCENE_SECONDS = 5.0
DEFAULT_DIMENSION = (1920, 1080)


def _error(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return JSONResponse({"error": error, "data": None}, status_code=status)


def _legacy(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "data": None, "message": message}, status_code=status)


def _scene_problem(index: int, scene: Any) -> tuple[str, str] | None:
    """(param, message) of the first problem in one ``video_inputs`` entry."""
    where = f"video_inputs[{index}]"
    if not isinstance(scene, dict):
        return where, "must be an object"
    character = scene.get("character")
    if not isinstance(character, dict):
        return f"{where}.character", "character is required"
    kind = character.get("type")
    id_field = {"avatar": "avatar_id", "talking_photo": "talking_photo_id"}.get(str(kind))
    if id_field is None:
        return f"{where}.character.type", "type must be 'avatar' or 'talking_photo'"
    if not isinstance(character.get(id_field), str) or not character[id_field]:
        return f"{where}.character.{id_field}", f"{id_field} is required"
    voice = scene.get("voice")
    if not isinstance(voice, dict):
        return f"{where}.voice", "voice is required"
    if voice.get("type") == "text":
        if not isinstance(voice.get("voice_id"), str) or not voice["voice_id"]:
            return f"{where}.voice.voice_id", "voice_id is required"
        text = voice.get("input_text")
        if not isinstance(text, str) or not text.strip():
            return f"{where}.voice.input_text", "input_text is required"
        if len(text) > MAX_TEXT:
            return f"{where}.voice.input_text", f"input_text must be shorter than {MAX_TEXT} characters"
    elif voice.get("type") == "audio":
        if not voice.get("audio_url") and not voice.get("audio_asset_id"):
            return f"{where}.voice.audio_url", "audio_url or audio_asset_id is required"
    else:
        return f"{where}.voice.type", "type must be 'text' or 'audio'"
    return None


def _dimension(body: dict[str, Any]) -> tuple[int, int] | str:
    dimension = body.get("dimension")
    if dimension is None:
        return DEFAULT_DIMENSION
    if not isinstance(dimension, dict):
        return "dimension must be an object with width and height"
    width, height = dimension.get("width"), dimension.get("height")
    if (
        is_int(width)
        and is_int(height)
        and all(128 <= side <= 4096 and side % 2 == 0 for side in (width, height))
    ):
        return width, height
    return "dimension width and height must be even numbers between 128 and 4096"


def _seconds(scenes: list[dict[str, Any]]) -> float:
    """Spoken length: about 15 characters a second per text scene, at least one second."""
    total = 0.0
    for scene in scenes:
        voice = scene["voice"]
        total += (
            len(voice["input_text"]) / CHARS_PER_SECOND if voice["type"] == "text" else AUDIO_SCENE_SECONDS
        )
    return max(1.0, round(total, 1))


def routes(sim: SimState) -> list[BaseRoute]:
    def authorized(request: Request) -> bool:
        return request.headers.get("x-api-key") == sim.api_key

    async def generate(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "unauthorized", "Unauthorized: the API key is missing or invalid.")
        body = await json_object(request)
        if body is None:
            return _error(400, "invalid_request", "The request body must be a JSON object.")
        scenes = body.get("video_inputs")
        if not isinstance(scenes, list) or not 1 <= len(scenes) <= 50:
            return _error(400, "invalid_parameter", "video_inputs must hold 1 to 50 scenes", "video_inputs")
        for index, scene in enumerate(scenes):
            if (problem := _scene_problem(index, scene)) is not None:
                return _error(400, "invalid_parameter", problem[1], problem[0])
        dimension = _dimension(body)
        if isinstance(dimension, str):
            return _error(400, "invalid_parameter", dimension, "dimension")
        text = "\n".join(scene["voice"].get("input_text") or "" for scene in scenes)
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return too_many_requests(
                {
                    "error": {"code": "rate_limit_exceeded", "message": "Too many concurrent video jobs."},
                    "data": None,
                }
            )
        if sim.trips_once(FAMILY, "500", text, markers):
            return _error(500, "internal_error", "Internal server error, please retry.")
        seconds = _seconds(scenes)
        task = sim.new_task(
            FAMILY,
            markers,
            NOMINAL_SECONDS,
            {"seconds": seconds, "callback_id": body.get("callback_id")},
        )
        width, height = dimension
        task.info["video"] = sim.add_file(task, MediaSpec("mp4", width, height, seconds), URL_TTL)
        task.info["thumbnail"] = sim.add_file(task, MediaSpec("jpeg", width // 4, height // 4), URL_TTL)
        return JSONResponse({"error": None, "data": {"video_id": task.id}})

    def describe(request: Request, task: SimTask) -> dict[str, Any]:
        now = sim.now()
        data: dict[str, Any] = {
            "id": task.id,
            "status": stage(task, now, STAGES) or "completed",
            "video_url": None,
            "video_url_caption": None,
            "thumbnail_url": None,
            "gif_url": None,
            "caption_url": None,
            "duration": None,
            "callback_id": task.info["callback_id"],
            "created_at": int(task.created_wall.timestamp()),
            "error": None,
        }
        if data["status"] != "completed":
            return data
        if task.outcome == "moderate":
            error = {
                "code": 400105,
                "message": "BLOCKED_WORDS_DETECTED",
                "detail": "The script contains blocked words.",
            }
            return data | {"status": "failed", "error": error}
        if task.outcome == "fail":
            error = {"code": 40119, "message": "video is too long", "detail": "Rendering the video failed."}
            return data | {"status": "failed", "error": error}
        return data | {
            "video_url": file_url(request, PATH, task.info["video"], "mp4"),
            "thumbnail_url": file_url(request, PATH, task.info["thumbnail"], "jpeg"),
            "duration": task.info["seconds"],
        }

    async def status(request: Request) -> Response:
        if not authorized(request):
            return _legacy(401, 40009, "INVALID_CREDENTIALS: the API key is missing or invalid.")
        video_id = request.query_params.get("video_id")
        if not video_id:
            return _legacy(400, 40001, "MISSING_PARAMS: video_id is required.")
        task = sim.find(FAMILY, video_id)
        if task is None:
            return _legacy(404, 40404, "Video not found.")
        return JSONResponse({"code": 100, "data": describe(request, task), "message": "Success"})

    return [
        Route(f"{PATH}/v2/video/generate", generate, methods=["POST"]),
        Route(f"{PATH}/v1/video_status.get", status, methods=["GET"]),
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
