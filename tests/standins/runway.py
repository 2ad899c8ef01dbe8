"""Runway API (docs/providers.md, Runway).

Bearer key plus ``X-Runway-Version: 2024-11-06``. ``POST /v1/image_to_video`` (``gen4_turbo``,
``promptImage`` required) and ``POST /v1/text_to_video`` (``gen4.5``: ``promptText`` required, ratio
1280:720 | 720:1280) answer ``{id}``; ``GET /v1/tasks/{id}`` runs PENDING → RUNNING (+progress) →
SUCCEEDED (``output: [url]``), or FAILED with ``failureCode: INPUT_PREPROCESSING.SAFETY.TEXT`` (``INTERNAL.BAD_OUTPUT.CODE01`` for ``[standin:fail]``); ``DELETE`` cancels.
Errors are JSON with an ``error`` member."""

from __future__ import annotations

import datetime as dt
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
    decode_data_uri,
    is_int,
    read_json,
)

VERSION = "2024-11-06"
I2V_MODELS = {
    "gen4_turbo",
    "gen4.5",
    "veo3",
    "veo3.1",
    "veo3.1_fast",
    "seedance2",
    "happyhorse_1_0",
    "gemini_omni_flash",
}
I2V_RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}
T2V_RATIOS = {
    "gen4.5": {"1280:720", "720:1280"},
    "veo3.1": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
}
T2V_RATIOS["veo3.1_fast"] = T2V_RATIOS["veo3.1"]
MAX_DATA_URI = 5 * 1024 * 1024


def err(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def common_checks(
    body: dict[str, Any], ratios: set[str], durations: range | tuple[int, ...]
) -> JSONResponse | None:
    if body.get("ratio") not in ratios:
        return err(400, f"Invalid ratio: expected one of {sorted(ratios)}", issues=[{"path": ["ratio"]}])
    duration = body.get("duration")
    if not is_int(duration) or duration not in durations:
        return err(
            400,
            f"Invalid duration: expected an integer in {list(durations)}",
            issues=[{"path": ["duration"]}],
        )
    text = body.get("promptText")
    if text is not None and (not isinstance(text, str) or utf16_len(text) > 1000):
        return err(
            400, "promptText must be a string of at most 1000 characters", issues=[{"path": ["promptText"]}]
        )
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not 0 <= seed <= 4294967295):
        return err(400, "seed must be an integer between 0 and 4294967295", issues=[{"path": ["seed"]}])
    moderation = body.get("contentModeration")
    if moderation is not None and (
        not isinstance(moderation, dict)
        or set(moderation) - {"publicFigureThreshold"}
        or moderation.get("publicFigureThreshold", "auto") not in ("auto", "low")
    ):
        return err(400, "contentModeration.publicFigureThreshold must be auto or low")
    return None


def check_prompt_image(value: Any) -> tuple[str | None, bytes | None]:
    """(problem, decoded image bytes of a data: URI)."""
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], dict) or value[0].get("position") != "first":
            return "gen4_turbo accepts only a first-frame promptImage", None
        value = value[0].get("uri")
    if not isinstance(value, str):
        return "promptImage is required", None
    if value.startswith("data:"):
        if len(value) > MAX_DATA_URI:
            return "promptImage data URI exceeds 5 MB", None
        decoded = decode_data_uri(value)
        if decoded is None or not decoded[0].startswith("image/"):
            return "promptImage is not a valid base64 image data URI", None
        return None, decoded[1]
    if value.startswith(("https://", "runway://")):
        return None, None
    return "promptImage must be an HTTPS URL, a runway:// URI or a data: URI", None


def routes(hub: Hub) -> list[Route]:
    def gate(request: Request) -> JSONResponse | None:
        if bearer(request) != hub.keys["runway"]:
            return err(401, "Invalid API key")
        if request.headers.get("x-runway-version") != VERSION:
            return err(400, f"The X-Runway-Version header is required; use {VERSION}")
        return None

    def transient(text: str) -> JSONResponse | None:
        if hub.once(MARK_429, text):
            return JSONResponse(
                {"error": "You have reached your daily generation limit"}, 429, headers={"Retry-After": "1"}
            )
        if hub.once(MARK_500, text):
            return err(503, "Service is temporarily overloaded, please retry")
        return None

    async def image_to_video(request: Request) -> Response:
        denied = gate(request)
        if denied:
            return denied
        body, problem = await read_json(request)
        if problem or not isinstance(body, dict):
            return err(400, problem or "body must be a JSON object")
        allowed = {"model", "promptImage", "ratio", "duration", "promptText", "seed", "contentModeration"}
        for key in body:
            if key not in allowed:
                return err(400, f"Unrecognized key: {key}", issues=[{"path": [key]}])
        model = body.get("model")
        if model not in I2V_MODELS:
            return err(400, f"Invalid model: expected one of {sorted(I2V_MODELS)}")
        if model != "gen4_turbo":
            return err(400, "The stand-in implements gen4_turbo on /v1/image_to_video only")
        bad, image = check_prompt_image(body.get("promptImage"))
        if bad:
            return err(400, bad, issues=[{"path": ["promptImage"]}])
        invalid = common_checks(body, I2V_RATIOS, range(2, 11))
        if invalid:
            return invalid
        text = body.get("promptText") or ""
        busy = transient(text)
        if busy:
            return busy
        task = hub.new_task(
            "runway",
            "image_to_video",
            text,
            {"ratio": body["ratio"], "duration": body["duration"], "image": image},
        )
        return JSONResponse({"id": task.id})

    async def text_to_video(request: Request) -> Response:
        denied = gate(request)
        if denied:
            return denied
        body, problem = await read_json(request)
        if problem or not isinstance(body, dict):
            return err(400, problem or "body must be a JSON object")
        model = body.get("model")
        if model == "gen4_turbo":
            return err(400, "gen4_turbo requires promptImage: use /v1/image_to_video")
        if model not in T2V_RATIOS:
            return err(400, f"Invalid model: expected one of {sorted(T2V_RATIOS)}")
        allowed = {"model", "promptText", "ratio", "duration", "seed", "contentModeration"}
        if model != "gen4.5":
            allowed |= {"audio", "negativePrompt"}
        for key in body:
            if key not in allowed:
                return err(400, f"Unrecognized key: {key}", issues=[{"path": [key]}])
        if not isinstance(body.get("promptText"), str) or not body["promptText"]:
            return err(400, "promptText is required", issues=[{"path": ["promptText"]}])
        durations = range(2, 11) if model == "gen4.5" else (4, 6, 8)
        invalid = common_checks(body, T2V_RATIOS[model], durations)
        if invalid:
            return invalid
        busy = transient(body["promptText"])
        if busy:
            return busy
        task = hub.new_task(
            "runway",
            "text_to_video",
            body["promptText"],
            {"ratio": body["ratio"], "duration": body["duration"]},
        )
        return JSONResponse({"id": task.id})

    def task_body(task: Task, status: str, **extra: Any) -> dict[str, Any]:
        created = dt.datetime.fromtimestamp(task.created, dt.UTC).isoformat().replace("+00:00", "Z")
        return {"id": task.id, "createdAt": created, "status": status, **extra}

    async def task(request: Request) -> Response:
        denied = gate(request)
        if denied:
            return denied
        found = hub.tasks.get(request.path_params["id"])
        if found is None or found.family != "runway" or found.extra.get("deleted"):
            return err(404, "Task not found")
        if request.method == "DELETE":
            if found.outcome == "ok" and found.polls >= 2:
                found.extra["deleted"] = True
            found.cancelled = True
            return Response(status_code=204)
        if found.cancelled:
            return JSONResponse(task_body(found, "CANCELLED"))
        if hub.once(MARK_POLL_500, found.text, scope=found.id):
            return err(502, "Bad gateway, please retry")
        phase = found.advance()
        if found.outcome == "moderated":
            return JSONResponse(
                task_body(
                    found,
                    "FAILED",
                    failure="Your prompt was flagged by our content moderation system.",
                    # Text refused before generation (runwayml sdk-python's failure codes).
                    failureCode="INPUT_PREPROCESSING.SAFETY.TEXT",
                )
            )
        if found.outcome == "failed" and phase == "done":
            return JSONResponse(
                task_body(
                    found,
                    "FAILED",
                    failure="The output did not pass our quality checks.",
                    failureCode="INTERNAL.BAD_OUTPUT.CODE01",
                )
            )
        if phase == "running":
            return JSONResponse(task_body(found, "RUNNING", progress=0.5))
        if not found.output_urls:
            w, h = (int(x) for x in found.params["ratio"].split(":"))
            video = media.mp4(w, h, found.params["duration"])
            found.output_urls = [hub.store(video, "video/mp4", "runway", "mp4", ttl=86400)]
        return JSONResponse(task_body(found, "SUCCEEDED", output=found.output_urls))

    return [
        Route("/runway/v1/image_to_video", image_to_video, methods=["POST"]),
        Route("/runway/v1/text_to_video", text_to_video, methods=["POST"]),
        Route("/runway/v1/tasks/{id}", task, methods=["GET", "DELETE"]),
    ]
