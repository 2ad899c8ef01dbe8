"""Luma Agents API: ``POST /v1/generations`` (201, state queued) and ``GET /v1/generations/{id}``.

States advance queued → processing → completed | failed; failures carry ``failure_code`` and
``failure_reason`` (``[sim:moderate]`` → ``content_moderated``, ``[sim:fail]`` → ``generation_failed``).
Errors are ``{"detail": "…"}``; ``[sim:429]`` answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import bearer_token, decode_base64_image, file_url, json_object, stage
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "luma"
PATH = "/luma"
API_VERSION = "2026-04-01"
NOMINAL_SECONDS = 8.0
URL_TTL = 3600.0  # presigned output links live about an hour
STAGES = ((0.0, "queued"), (0.2, "processing"))
RATE_LIMIT = 60  # requests per minute, announced in X-RateLimit-Limit
MODELS = ("uni-1", "uni-1-max", "ray-3.2")
VIDEO_MODELS = ("ray-3.2",)
TYPES = ("image", "image_edit", "video", "video_edit", "video_reframe")
ASPECT_RATIOS = ("3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3")
DURATIONS = {"5s": 5, "10s": 10}
TEXT_ONLY_DURATIONS = ("10s",)  # ray-3.2: no start/end frame (and no loop) at 10 s
RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080}
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def _detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=_headers() | (headers or {}))


def _headers() -> dict[str, str]:
    return {"X-Request-Id": secrets.token_hex(16), "X-API-Version": API_VERSION}


def _image_ref_problem(name: str, ref: Any) -> str | None:
    if not isinstance(ref, dict):
        return f"{name} must be an object with url, data or generation_id"
    given = [key for key in ("url", "data", "generation_id") if ref.get(key)]
    if len(given) != 1:
        return f"{name} needs exactly one of url, data or generation_id"
    if given == ["data"]:
        if not isinstance(ref.get("media_type"), str) or not ref["media_type"].startswith("image/"):
            return f"{name}.media_type is required with data (e.g. image/png)"
        image = decode_base64_image(ref["data"], ref["media_type"])
        if isinstance(image, str):
            return f"{name}.data {image}"
        if image.size > MAX_IMAGE_BYTES:
            return f"{name} is too large"
    return None


def _validate(body: dict[str, Any]) -> tuple[int, str] | dict[str, Any]:
    """(status, detail) of the first problem, or the generation's plan."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return 400, "prompt is required"
    kind = body.get("type", "image")
    if kind not in TYPES:
        return 400, f"type must be one of {', '.join(TYPES)}"
    model = body.get("model", "uni-1")
    if model not in MODELS:
        return 400, f"model must be one of {', '.join(MODELS)}"
    if kind != "video":
        return 400, "the simulator renders only type=video"
    if model not in VIDEO_MODELS:
        return 422, f"model {model} cannot generate videos; use ray-3.2"
    ratio = body.get("aspect_ratio", "16:9")
    if ratio not in ASPECT_RATIOS:
        return 400, f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
    video = body.get("video") or {}
    if not isinstance(video, dict):
        return 400, "video must be an object"
    duration = video.get("duration", "5s")
    if duration not in DURATIONS:
        return 400, "video.duration must be 5s or 10s"
    resolution = video.get("resolution", "720p")
    if resolution not in RESOLUTIONS:
        return 400, "video.resolution must be 540p, 720p or 1080p"
    for flag in ("loop", "hdr", "exr_export"):
        if flag in video and not isinstance(video[flag], bool):
            return 400, f"video.{flag} must be a boolean"
    if video.get("loop") and (duration == "10s" or video.get("hdr")):
        return 422, "video.loop is not allowed with a 10s duration or hdr"
    if video.get("exr_export") and not video.get("hdr"):
        return 422, "video.exr_export requires video.hdr"
    for frame in ("start_frame", "end_frame"):
        if frame in video and (problem := _image_ref_problem(f"video.{frame}", video[frame])) is not None:
            return 422, problem
    frames = [frame for frame in ("start_frame", "end_frame") if video.get(frame)]
    if duration in TEXT_ONLY_DURATIONS and frames:
        return (
            422,
            f"video.{frames[0]} is not allowed with a {duration} duration: {duration} is text-to-video only",
        )
    return {
        "prompt": prompt,
        "model": model,
        "type": kind,
        "seconds": DURATIONS[duration],
        "size": _frame_size(ratio, RESOLUTIONS[resolution]),
    }


def _frame_size(ratio: str, short_side: int) -> tuple[int, int]:
    width, height = (int(part) for part in ratio.split(":"))
    if width >= height:
        return round(short_side * width / height / 2) * 2, short_side
    return short_side, round(short_side * height / width / 2) * 2


def routes(sim: SimState) -> list[BaseRoute]:
    def refused(request: Request) -> JSONResponse | None:
        token = bearer_token(request)
        if token is None:
            return _detail(401, "Missing API key: send Authorization: Bearer <key>")
        if token != sim.api_key:
            return _detail(401, "Invalid API key")
        return None

    async def create(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        body = await json_object(request)
        if body is None:
            return _detail(400, "request body must be a JSON object")
        plan = _validate(body)
        if isinstance(plan, tuple):
            return _detail(*plan)
        markers = markers_in(plan["prompt"])
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", plan["prompt"], markers):
            return _detail(429, "Rate limit exceeded: too many concurrent generations", {"Retry-After": "1"})
        if sim.trips_once(FAMILY, "500", plan["prompt"], markers):
            return _detail(502, "Upstream service unavailable, please retry")
        task = sim.new_task(FAMILY, markers, NOMINAL_SECONDS, plan)
        width, height = plan["size"]
        task.info["token"] = sim.add_file(
            task, MediaSpec("mp4", width, height, float(plan["seconds"])), URL_TTL
        )
        return JSONResponse(
            describe(request, task, initial=True),
            status_code=201,
            headers=_headers() | {"X-RateLimit-Limit": str(RATE_LIMIT)},
        )

    def describe(request: Request, task: SimTask, *, initial: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": task.id,
            "created_at": task.created_wall.isoformat().replace("+00:00", "Z"),
            "model": task.info["model"],
            "type": task.info["type"],
            "state": "queued" if initial else stage(task, sim.now(), STAGES) or "completed",
            "output": None,
            "failure_code": None,
            "failure_reason": None,
        }
        if answer["state"] != "completed":
            return answer
        if task.outcome == "moderate":
            return answer | {
                "state": "failed",
                "failure_code": "content_moderated",
                "failure_reason": "The prompt was flagged by content moderation.",
            }
        if task.outcome == "fail":
            return answer | {
                "state": "failed",
                "failure_code": "generation_failed",
                "failure_reason": "The generation failed unexpectedly.",
            }
        return answer | {
            "output": [{"type": "video", "url": file_url(request, PATH, task.info["token"], "mp4")}]
        }

    async def get(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        task = sim.find(FAMILY, str(request.path_params["generation_id"]))
        if task is None:
            return _detail(404, "Generation not found")
        return JSONResponse(describe(request, task), headers=_headers())

    return [
        Route(f"{PATH}/v1/generations", create, methods=["POST"]),
        Route(f"{PATH}/v1/generations/{{generation_id}}", get, methods=["GET"]),
    ]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/files?limit=1``: luma-agents' ``files.list`` (a keyset page), read-only."""

    async def files(request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            return _detail(401, "Missing API key: send Authorization: Bearer <key>")
        if token != sim.api_key:
            return _detail(401, "Invalid API key")
        return JSONResponse({"data": [], "has_more": False, "next_cursor": None}, headers=_headers())

    return [Route(f"{PATH}/v1/files", files, methods=["GET"])]
