"""Kling: ``POST /v1/videos/{text2video|image2video}``, ``GET /v1/videos/{kind}/{task_id}`` (and the list).

Auth is Kling's: a bearer JWT, HS256-signed with the secret key of the access key in ``iss``, with
``nbf`` ≤ now < ``exp``; failures answer HTTP 401 with codes 1000–1004. The simulator's single
``api_key`` is read as ``"access:secret"`` split at the first colon — the same string the registry
hands the adapter (a key without a colon serves as both access and secret key).

Every answer is ``{code, message, request_id, data}``: HTTP 200 + code 0 on success, a non-200
status and a non-zero code on errors. Tasks go submitted → processing → succeed | failed (sic).
``[sim:moderate]`` is refused at submit with code 1301 for text2video, and fails the task with a
risk-control message for image2video (Kling reports moderation both ways); ``[sim:429]`` answers
1303 (concurrency), ``[sim:500]`` 5000.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import bearer_token, file_url, is_number, json_object, stage
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "kling"
PATH = "/kling"
NOMINAL_SECONDS = 8.0
URL_TTL = 30 * 24 * 3600.0
STAGES = ((0.0, "submitted"), (0.15, "processing"))
KINDS = ("text2video", "image2video")
SHORT_DURATIONS = ("5", "10")
MODEL_DURATIONS: dict[str, tuple[str, ...]] = {
    "kling-v1": SHORT_DURATIONS,
    "kling-v1-5": SHORT_DURATIONS,
    "kling-v1-6": SHORT_DURATIONS,
    "kling-v2-master": SHORT_DURATIONS,
    "kling-v2-1": SHORT_DURATIONS,
    "kling-v2-1-master": SHORT_DURATIONS,
    "kling-v2-5-turbo": SHORT_DURATIONS,
    "kling-v2-6": SHORT_DURATIONS,
    "kling-v3": tuple(str(n) for n in range(3, 16)),
}
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
# (model, mode) pairs that render sound: v2.6 only in pro, v3 in both; no earlier model
# (docs/providers.md, Kling).
SOUND_MODELS = frozenset({("kling-v2-6", "pro"), ("kling-v3", "std"), ("kling-v3", "pro")})
MAX_TEXT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Units per clip (v2.x, by mode) or per second (v3), as Kling's price list transcriptions say.
UNITS = {"kling-v3": {"std": 0.6, "pro": 0.8}, "kling-v2-6": {"std": 1.5, "pro": 2.5}}


def credentials(api_key: str) -> tuple[str, str]:
    """(access key, secret key) from ``"access:secret"``; a key without a colon is both."""
    access, sep, secret = api_key.partition(":")
    return (access, secret) if sep else (api_key, api_key)


def _request_id() -> str:
    return str(uuid.uuid4())


def _answer(data: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": _request_id(), "data": data})


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "request_id": _request_id()}, status_code=status)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_token(token: str | None, access_key: str, secret_key: str, now: float) -> tuple[int, str] | None:
    """Kling's (code, message) for a bad ``Authorization`` JWT, ``None`` when it is valid."""
    if not token:
        return 1001, "Authorization is empty"
    parts = token.split(".")
    if len(parts) != 3:
        return 1002, "Authorization is invalid: not a JWT"
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return 1002, "Authorization is invalid: the JWT cannot be decoded"
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return 1002, "Authorization is invalid: the JWT must be HS256-signed"
    if claims.get("iss") != access_key:
        return 1000, "Authentication failed: unknown access key"
    expected = hmac.new(secret_key.encode("utf-8"), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signature):
        return 1000, "Authentication failed: the signature does not match the secret key"
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not is_number(exp) or (nbf is not None and not is_number(nbf)):
        return 1002, "Authorization is invalid: exp (and nbf) must be numeric dates"
    if nbf is not None and nbf > now:
        return 1003, "Authorization is not yet valid (nbf is in the future)"
    if exp <= now:
        return 1004, "Authorization has expired (exp is in the past)"
    return None


def _decode_image(value: Any) -> tuple[int, int] | str | None:
    """The (width, height) of a base64 image, ``None`` for a URL, or why it is unusable."""
    if not isinstance(value, str) or not value:
        return "image is required for image2video"
    if value.startswith(("https://", "http://")):
        return None
    payload = value.partition(",")[2] if value.startswith("data:") else value  # both forms accepted
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "image must be a URL or base64 data"
    if len(raw) > MAX_IMAGE_BYTES:
        return "image must be at most 10MB"
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in ("JPEG", "PNG"):
                return "image must be jpg, jpeg or png"
            return img.size
    except (UnidentifiedImageError, OSError):
        return "image cannot be decoded"


def _validate(kind: str, body: dict[str, Any]) -> tuple[int, int, str] | dict[str, Any]:
    """(HTTP status, code, message) of the first problem, or the task's plan."""
    model = body.get("model_name", "kling-v1")
    if model not in MODEL_DURATIONS:
        return 404, 1203, f"model_name {model} not found"
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > MAX_TEXT:
        return 400, 1201, f"prompt must be a string of at most {MAX_TEXT} characters"
    if kind == "text2video" and not prompt.strip():
        return 400, 1201, "prompt is required"
    negative = body.get("negative_prompt", "")
    if not isinstance(negative, str) or len(negative) > MAX_TEXT:
        return 400, 1201, f"negative_prompt must be a string of at most {MAX_TEXT} characters"
    cfg = body.get("cfg_scale", 0.5)
    if not is_number(cfg) or not 0 <= cfg <= 1:
        return 400, 1201, "cfg_scale must be between 0 and 1"
    mode = body.get("mode", "std")
    if mode not in ("std", "pro"):
        return 400, 1201, "mode must be std or pro"
    duration = body.get("duration", "5")
    if not isinstance(duration, str):
        return 400, 1201, "duration must be a string"
    if duration not in MODEL_DURATIONS[model]:
        return 400, 1201, f"duration must be one of {', '.join(MODEL_DURATIONS[model])} for {model}"
    sound = body.get("sound", "off")
    if sound not in ("on", "off"):
        return 400, 1201, "sound must be on or off"
    if sound == "on" and (model, mode) not in SOUND_MODELS:
        return 400, 1201, f"sound on is not supported by {model} in {mode} mode (kling-v2-6 needs pro mode)"
    short = 1080 if mode == "pro" else 720
    if kind == "text2video":
        ratio = body.get("aspect_ratio", "16:9")
        if ratio not in ASPECT_RATIOS:
            return 400, 1201, f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}"
        width, height = (int(part) for part in ratio.split(":"))
    else:
        image = _decode_image(body.get("image"))
        if isinstance(image, str):
            return 400, 1201, image
        width, height = image or (16, 9)
    if width >= height:
        size = (round(short * width / height / 2) * 2, short)
    else:
        size = (short, round(short * height / width / 2) * 2)
    return {"prompt": prompt, "model": model, "mode": mode, "seconds": int(duration), "size": size}


def routes(sim: SimState) -> list[BaseRoute]:
    access_key, secret_key = credentials(sim.api_key)

    def refused(request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization")
        token = bearer_token(request) if header else None
        if header and token is None:
            return _error(401, 1002, "Authorization is invalid: use Bearer <token>")
        problem = check_token(token, access_key, secret_key, time.time())
        return _error(401, *problem) if problem is not None else None

    def make_create(kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def create(request: Request) -> Response:
            if (error := refused(request)) is not None:
                return error
            body = await json_object(request)
            if body is None:
                return _error(400, 1200, "the request body must be a JSON object")
            plan = _validate(kind, body)
            if isinstance(plan, tuple):
                return _error(*plan)
            external = body.get("external_task_id")
            if external and any(
                t.family == FAMILY and t.info.get("external_task_id") == external for t in sim.tasks.values()
            ):
                return _error(400, 1201, "external_task_id already exists")
            text = "\n".join(str(body.get(key) or "") for key in ("prompt", "negative_prompt"))
            markers = markers_in(text)
            sim.record_attempt(FAMILY, markers)
            if sim.trips_once(FAMILY, "429", text, markers):
                return _error(429, 1303, "parallel task over resource pack limit")
            if sim.trips_once(FAMILY, "500", text, markers):
                return _error(500, 5000, "internal server error, please retry")
            if kind == "text2video" and "moderate" in markers:
                return _error(400, 1301, "Failure to pass the risk control system: the prompt is not allowed")
            info = plan | {"kind": kind, "external_task_id": external}
            task = sim.new_task(FAMILY, markers, NOMINAL_SECONDS, info, task_id=str(secrets.randbits(62)))
            width, height = plan["size"]
            spec = MediaSpec("mp4", width, height, float(plan["seconds"]))
            task.info["token"] = sim.add_file(task, spec, URL_TTL)
            return _answer(describe(request, task, initial=True))

        return create

    def describe(request: Request, task: SimTask, *, initial: bool = False) -> dict[str, Any]:
        created = int(task.created_wall.timestamp() * 1000)
        status = "submitted" if initial else stage(task, sim.now(), STAGES) or "succeed"
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": task.info["external_task_id"]}
            if task.info["external_task_id"]
            else {},
            "created_at": created,
            "updated_at": created + int(task.progress(sim.now()) * task.duration * 1000),
        }
        if status != "succeed":
            return data
        if task.outcome == "moderate":
            return data | {
                "task_status": "failed",
                "task_status_msg": "Failure to pass the risk control system",
            }
        if task.outcome == "fail":
            return data | {"task_status": "failed", "task_status_msg": "Task failed, please try again later"}
        seconds = task.info["seconds"]
        per = UNITS.get(task.info["model"], {}).get(task.info["mode"], 1.0)
        units = per * seconds if task.info["model"] == "kling-v3" else per * (2 if seconds > 5 else 1)
        video = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, task.id)),
            "url": file_url(request, PATH, task.info["token"], "mp4"),
            "duration": str(seconds),
        }
        return data | {"task_result": {"videos": [video]}, "final_unit_deduction": f"{units:g}"}

    async def get_task(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        kind = str(request.path_params["kind"])
        task = sim.find(FAMILY, str(request.path_params["task_id"]))
        if kind not in KINDS or task is None or task.info["kind"] != kind:
            return _error(404, 1203, "task not found")
        return _answer(describe(request, task))

    async def list_tasks(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        kind = str(request.path_params["kind"])
        try:
            page = max(1, int(request.query_params.get("pageNum", "1")))
            size = min(500, max(1, int(request.query_params.get("pageSize", "30"))))
        except ValueError:
            return _error(400, 1201, "pageNum and pageSize must be integers")
        tasks = [
            t for t in sim.tasks.values() if t.family == FAMILY and not t.lost and t.info["kind"] == kind
        ]
        tasks.reverse()  # newest first
        return _answer([describe(request, t) for t in tasks[(page - 1) * size : page * size]])

    return [
        *(Route(f"{PATH}/v1/videos/{kind}", make_create(kind), methods=["POST"]) for kind in KINDS),
        *(Route(f"{PATH}/v1/videos/{{kind}}", list_tasks, methods=["GET"]),),
        Route(f"{PATH}/v1/videos/{{kind}}/{{task_id}}", get_task, methods=["GET"]),
    ]
