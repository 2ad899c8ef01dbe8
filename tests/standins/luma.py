"""Luma Agents API, ``ray-3.2`` (docs/providers.md, Luma).

``POST /v1/generations`` (Bearer) → 201 Generation ``state: queued``; ``GET /v1/generations/{id}``
→ ``processing`` → ``completed`` with ``output: [{type: "video", url}]`` (presigned ~1 h), or
``failed`` with ``failure_code: content_moderated`` + ``failure_reason``. Errors carry ``detail``."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import (
    MARK_429,
    MARK_500,
    MARK_POLL_500,
    Hub,
    Task,
    bearer,
    dims_for_ratio,
    read_json,
)

FIELDS = {
    "prompt",
    "model",
    "type",
    "aspect_ratio",
    "video",
    "source",
    "image_ref",
    "user_id",
    "web_search",
    "output_format",
}
VIDEO_FIELDS = {
    "duration",
    "resolution",
    "loop",
    "hdr",
    "exr_export",
    "start_frame",
    "end_frame",
    "edit",
    "source_position",
    "keyframes",  # placement for type=video UNVERIFIED (docs vs SDK): accepted
    "keyframe_indexes",
}
MODELS = {"uni-1", "uni-1-max", "ray-3.2"}
TYPES = {"image", "image_edit", "video", "video_edit", "video_reframe"}
ALL_RATIOS = {"3:1", "2:1", "21:9", "16:9", "4:3", "3:2", "1:1", "3:4", "2:3", "9:16", "1:2", "1:3"}
RAY_VIDEO_RATIOS = {"9:16", "3:4", "1:1", "4:3", "16:9", "21:9"}
HEIGHT = {"540p": 540, "720p": 720, "1080p": 1080}


def headers() -> dict[str, str]:
    return {"X-Request-Id": secrets.token_hex(12), "X-API-Version": "2026-04-01"}


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status, headers=headers())


def image_ref(ref: Any, where: str) -> str | None:
    if not isinstance(ref, dict):
        return f"{where} must be an object"
    given = [k for k in ("url", "data", "generation_id") if ref.get(k)]
    if len(given) != 1:
        return f"{where} needs exactly one of url, data, generation_id"
    if given == ["data"] and not ref.get("media_type"):
        return f"{where}.media_type is required with data"
    return None


def validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return problem(400, "body must be a JSON object")
    for key in body:
        if key not in FIELDS:
            return problem(400, f"Unknown field: {key}")
    if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
        return problem(400, "prompt is required")
    if body.get("model", "uni-1") not in MODELS:
        return problem(400, f"model must be one of {sorted(MODELS)}")
    if body.get("type", "image") not in TYPES:
        return problem(400, f"type must be one of {sorted(TYPES)}")
    ratio = body.get("aspect_ratio")
    if ratio is not None and ratio not in ALL_RATIOS:
        return problem(400, f"aspect_ratio must be one of {sorted(ALL_RATIOS)}")
    is_video = body.get("type") in ("video", "video_edit", "video_reframe")
    if is_video and body.get("model") != "ray-3.2":
        return problem(422, "video generations need model ray-3.2")
    if body.get("type") == "video" and ratio is not None and ratio not in RAY_VIDEO_RATIOS:
        return problem(422, f"aspect_ratio {ratio} is not supported by ray-3.2")
    video = body.get("video")
    if video is not None:
        if not is_video or not isinstance(video, dict):
            return problem(422, "video options apply to video types only")
        for key in video:
            if key not in VIDEO_FIELDS:
                return problem(400, f"Unknown field: video.{key}")
        if video.get("duration", "5s") not in ("5s", "10s"):
            return problem(400, "video.duration must be '5s' or '10s'")
        if video.get("resolution", "720p") not in HEIGHT:
            return problem(400, "video.resolution must be 540p, 720p or 1080p")
        for flag in ("loop", "hdr", "exr_export"):
            if flag in video and not isinstance(video[flag], bool):
                return problem(400, f"video.{flag} must be a boolean")
        if video.get("loop") and (video.get("duration") == "10s" or video.get("hdr")):
            return problem(422, "video.loop is not allowed with a 10s duration or hdr")
        if video.get("exr_export") and not video.get("hdr"):
            return problem(422, "video.exr_export requires hdr")
        if "edit" in video and body.get("type") != "video_edit":
            return problem(422, "video.edit is only for type video_edit")
        for frame in ("start_frame", "end_frame"):
            if frame in video:
                bad = image_ref(video[frame], f"video.{frame}")
                if bad:
                    return problem(400, bad)
            if frame in video and video.get("duration") == "10s":  # Ray 3.2: 10 s is text-to-video only
                return problem(422, f"video.{frame} is not supported with a 10s duration")
    if body.get("output_format") is not None and (is_video or body["output_format"] not in ("png", "jpeg")):
        return problem(422, "output_format applies to images only (png or jpeg)")
    return None


def generation(task: Task, state: str) -> dict[str, Any]:
    return {
        "id": task.id,
        "created_at": dt.datetime.fromtimestamp(task.created, dt.UTC).isoformat().replace("+00:00", "Z"),
        "model": task.params["model"],
        "type": task.params["type"],
        "state": state,
        "output": None,
        "failure_code": None,
        "failure_reason": None,
    }


def routes(hub: Hub) -> list[Route]:
    def authorised(request: Request) -> bool:
        return bearer(request) == hub.keys["luma"]

    async def create(request: Request) -> Response:
        if not authorised(request):
            return problem(401, "Invalid or missing API key")
        body, bad_json = await read_json(request)
        if bad_json:
            return problem(400, bad_json)
        invalid = validate(body)
        if invalid:
            return invalid
        prompt = body["prompt"]
        if hub.once(MARK_429, prompt):
            response = problem(429, "Rate limit exceeded: too many concurrent generations")
            response.headers["Retry-After"] = "1"
            return response
        if hub.once(MARK_500, prompt):
            return problem(502, "Upstream unavailable, please retry")
        video = body.get("video") or {}
        task = hub.new_task(
            "luma",
            body.get("type", "image"),
            prompt,
            {
                "model": body.get("model", "uni-1"),
                "type": body.get("type", "image"),
                "aspect_ratio": body.get("aspect_ratio", "16:9"),
                "duration": int(video.get("duration", "5s")[:-1]),
                "resolution": video.get("resolution", "720p"),
            },
        )
        response = JSONResponse(generation(task, "queued"), 201, headers=headers())
        response.headers["X-RateLimit-Limit"] = "60"
        return response

    async def get(request: Request) -> Response:
        if not authorised(request):
            return problem(401, "Invalid or missing API key")
        task = hub.tasks.get(request.path_params["generation_id"])
        if task is None or task.family != "luma":
            return problem(404, "Generation not found")
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return problem(502, "Upstream unavailable, please retry")
        phase = task.advance()
        if task.outcome == "moderated":
            body = generation(task, "failed")
            body.update(
                failure_code="content_moderated",
                failure_reason="The prompt was flagged by content moderation",
            )
            return JSONResponse(body, headers=headers())
        if phase == "running":
            return JSONResponse(generation(task, "processing"), headers=headers())
        p = task.params
        if not task.output_urls:
            w, h = dims_for_ratio(p["aspect_ratio"], round(HEIGHT[p["resolution"]] * 16 / 9))
            task.output_urls = [
                hub.store(media.mp4(w, h, p["duration"]), "video/mp4", "luma", "mp4", ttl=3600)
            ]
        body = generation(task, "completed")
        body["output"] = [{"type": "video", "url": task.output_urls[0]}]
        return JSONResponse(body, headers=headers())

    return [
        Route("/luma/v1/generations", create, methods=["POST"]),
        Route("/luma/v1/generations/{generation_id}", get, methods=["GET"]),
    ]
