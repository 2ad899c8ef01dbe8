"""Kling (docs/providers.md, Kling).

Every request carries ``Authorization: Bearer <JWT>``: HS256 signed with the secret key, claims
``iss`` = access key, ``exp`` > now, ``nbf`` ≤ now (codes 1000–1004 otherwise, HTTP 401).
``POST /v1/videos/text2video`` | ``/image2video`` answer the ``{code: 0, message, request_id, data}``
envelope with ``data.task_id``; ``GET /v1/videos/<kind>/{task_id}`` runs submitted → processing →
``succeed`` (``task_result.videos[].url``), or ``failed`` + ``task_status_msg`` (content risk).
Errors: non-200 HTTP and a non-zero ``code``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import (
    MARK_429,
    MARK_500,
    MARK_MODERATE_SYNC,
    MARK_POLL_500,
    Hub,
    Task,
    dims_for_ratio,
    is_number,
    read_json,
)

MODELS = {
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
}
DURATIONS = {"kling-v2-6": {"5", "10"}, "kling-v3": {str(s) for s in range(3, 16)}}
T2V_FIELDS = {
    "model_name",
    "prompt",
    "negative_prompt",
    "cfg_scale",
    "mode",
    "aspect_ratio",
    "duration",
    "camera_control",
    "callback_url",
    "external_task_id",
    "sound",
    # kling-v3 extras (third-party doc copies)
    "multi_shot",
    "shot_type",
    "multi_prompt",
    "voice_list",
}
I2V_FIELDS = (T2V_FIELDS - {"aspect_ratio", "camera_control"}) | {
    "image",
    "image_tail",
    "static_mask",
    "dynamic_masks",
    "camera_control",
}


def envelope(code: int, message: str, data: Any = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status)


def bad_param(message: str) -> JSONResponse:
    return envelope(1201, message, status=400)


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_jwt(header: str | None, access_key: str, secret_key: str) -> JSONResponse | None:
    """None when ``Authorization: Bearer <jwt>`` is valid; the documented 401 otherwise."""
    if not header:
        return envelope(1001, "Authorization is empty", status=401)
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        return envelope(1002, "Authorization is invalid: expected 'Bearer <token>'", status=401)
    parts = token.split(".")
    if len(parts) != 3:
        return envelope(1002, "Authorization is invalid: not a JWT", status=401)
    try:
        head = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, binascii.Error):
        return envelope(1002, "Authorization is invalid: malformed JWT", status=401)
    if head.get("alg") != "HS256":
        return envelope(1002, "Authorization is invalid: alg must be HS256", status=401)
    expected = hmac.new(secret_key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return envelope(1000, "Authentication failed: signature mismatch", status=401)
    if claims.get("iss") != access_key:
        return envelope(1000, "Authentication failed: unknown access key", status=401)
    now = time.time()
    if not is_number(claims.get("exp")) or not is_number(claims.get("nbf")):
        return envelope(1002, "Authorization is invalid: exp and nbf are required", status=401)
    if claims["nbf"] > now:
        return envelope(1003, "Authorization is not yet valid", status=401)
    if claims["exp"] <= now:
        return envelope(1004, "Authorization has expired", status=401)
    return None


def validate(body: Any, kind: str) -> JSONResponse | None:
    if not isinstance(body, dict):
        return envelope(1200, "Invalid request: body must be a JSON object", status=400)
    allowed = T2V_FIELDS if kind == "text2video" else I2V_FIELDS
    for key in body:
        if key not in allowed:
            return bad_param(f"Invalid parameter: {key} is not supported on {kind}")
    model = body.get("model_name", "kling-v1")
    if model not in MODELS:
        return envelope(1203, f"model_name {model} not found", status=404)
    prompt = body.get("prompt")
    if kind == "text2video" and (not isinstance(prompt, str) or not prompt):
        return bad_param("prompt is required")
    for name in ("prompt", "negative_prompt"):
        if name in body and (not isinstance(body[name], str) or len(body[name]) > 2500):
            return bad_param(f"{name} must be a string of at most 2500 characters")
    if "cfg_scale" in body and (not is_number(body["cfg_scale"]) or not 0 <= body["cfg_scale"] <= 1):
        return bad_param("cfg_scale must be within [0, 1]")
    if body.get("mode", "std") not in ("std", "pro"):
        return bad_param("mode must be std or pro")
    if kind == "text2video" and body.get("aspect_ratio", "16:9") not in ("16:9", "9:16", "1:1"):
        return bad_param("aspect_ratio must be 16:9, 9:16 or 1:1")
    duration = body.get("duration", "5")
    if not isinstance(duration, str):
        return bad_param('duration must be a string, e.g. "5"')
    if duration not in DURATIONS.get(model, {"5", "10"}):
        return bad_param(f"duration {duration} is not supported by {model}")
    if body.get("sound", "off") not in ("on", "off"):
        return bad_param("sound must be on or off")
    # Sound: kling-v2-6 only in pro mode; kling-v3 in either; no earlier model.
    if body.get("sound") == "on" and (model, body.get("mode", "std")) not in (
        ("kling-v2-6", "pro"),
        ("kling-v3", "std"),
        ("kling-v3", "pro"),
    ):
        return bad_param(f"sound is not supported by {model} in {body.get('mode', 'std')} mode")
    if kind == "image2video":
        image = body.get("image")
        if not isinstance(image, str) or not image:
            return bad_param("image is required")
        if image.startswith("data:"):
            return bad_param("image: send a URL or raw base64 without the data: prefix")
        if not image.startswith(("http://", "https://")):
            try:
                base64.b64decode(image, validate=True)
            except (ValueError, binascii.Error):
                return bad_param("image is neither a URL nor valid base64")
    return None


def routes(hub: Hub) -> list[Route]:
    seen_external: set[str] = set()

    def gate(request: Request) -> JSONResponse | None:
        return check_jwt(request.headers.get("authorization"), hub.kling_access_key, hub.kling_secret_key)

    def task_data(task: Task, status: str, **extra: Any) -> dict[str, Any]:
        ms = int(task.created * 1000)
        data = {
            "task_id": task.id,
            "task_status": status,
            "task_info": {"external_task_id": task.params.get("external_task_id")},
            "created_at": ms,
            "updated_at": int(time.time() * 1000),
        }
        return data | extra

    async def create(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("text2video", "image2video"):
            return envelope(1202, "Invalid request method or path", status=404)
        denied = gate(request)
        if denied:
            return denied
        body, problem = await read_json(request)
        if problem:
            return envelope(1200, f"Invalid request: {problem}", status=400)
        invalid = validate(body, kind)
        if invalid:
            return invalid
        prompt = body.get("prompt", "")
        if hub.has(MARK_MODERATE_SYNC, prompt):
            return envelope(1301, "Failure to pass the risk control system: content safety", status=400)
        if hub.once(MARK_429, prompt):
            response = envelope(1303, "parallel task over resource pack limit", status=429)
            response.headers["Retry-After"] = "1"
            return response
        if hub.once(MARK_500, prompt):
            return envelope(5000, "Internal server error", status=500)
        external = body.get("external_task_id")
        if external is not None:
            if external in seen_external:
                return bad_param("external_task_id must be unique")
            seen_external.add(external)
        model = body.get("model_name", "kling-v1")
        task = hub.new_task(
            "kling",
            kind,
            prompt,
            {
                "model": model,
                "duration": body.get("duration", "5"),
                "aspect_ratio": body.get("aspect_ratio", "16:9"),
                "external_task_id": external,
                "mode": body.get("mode", "std"),
            },
            task_id=hub.numeric_id(),
        )
        return envelope(0, "SUCCEED", task_data(task, "submitted"))

    async def query(request: Request) -> Response:
        kind = request.path_params["kind"]
        denied = gate(request)
        if denied:
            return denied
        task = hub.tasks.get(request.path_params["task_id"])
        if task is None or task.family != "kling" or task.kind != kind:
            return envelope(1203, "task not found", status=404)
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return envelope(5001, "Service unavailable", status=503)
        phase = task.advance()
        if task.outcome == "moderated":
            return envelope(
                0,
                "SUCCEED",
                task_data(
                    task,
                    "failed",
                    task_status_msg="Failure to pass the risk control system",
                    final_unit_deduction="0",
                ),
            )
        if phase == "running":
            return envelope(0, "SUCCEED", task_data(task, "processing"))
        p = task.params
        seconds = int(p["duration"])
        if not task.output_urls:
            w, h = dims_for_ratio(p["aspect_ratio"])
            task.output_urls = [hub.store(media.mp4(w, h, seconds), "video/mp4", "kling", "mp4")]
        videos = [{"id": str(uuid.uuid4()), "url": task.output_urls[0], "duration": str(seconds)}]
        units = {"kling-v2-6": 1.5 * seconds / 5}.get(p["model"], 0.6 * seconds)
        return envelope(
            0,
            "SUCCEED",
            task_data(
                task,
                "succeed",
                task_status_msg="",
                final_unit_deduction=f"{units:g}",
                task_result={"videos": videos},
            ),
        )

    return [
        Route("/kling/v1/videos/{kind}", create, methods=["POST"]),
        Route("/kling/v1/videos/{kind}/{task_id}", query, methods=["GET"]),
    ]
