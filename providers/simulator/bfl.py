"""Black Forest Labs FLUX.2 [pro]: ``POST /v1/flux-2-pro`` and ``GET /v1/get_result``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import (
    decode_base64_image,
    file_url,
    is_int,
    json_object,
    public_base,
    too_many_requests,
)
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "bfl"
PATH = "/bfl"
NOMINAL_SECONDS = 2.0
URL_TTL = 600.0  # result.sample links live 10 minutes
DEFAULT_SIDE = 1024
MAX_PIXELS = 4 * 1024 * 1024
SIDE_STEP = 16  # width and height are multiples of 16 (black-forest-labs/skills)
# FLUX.2 [pro]: up to 8 reference images, input_image, input_image_2 … input_image_8 (URL or base64).
INPUT_IMAGES = ("input_image", *(f"input_image_{n}" for n in range(2, 9)))


def _input_images(body: dict[str, Any]) -> JSONResponse | float:
    """The reference images' megapixels (what BFL bills as input_mp), or the 422 for a bad one."""
    megapixels = 0.0
    for key in body:
        if key.startswith("input_image") and key not in INPUT_IMAGES:
            return _invalid(
                [key], "Extra inputs are not permitted (FLUX.2 [pro] takes up to 8)", "extra_forbidden"
            )
    for key in INPUT_IMAGES:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.startswith("https://"):
            megapixels += 1.0  # fetched by BFL; its size is not known here
            continue
        image = decode_base64_image(value)
        if isinstance(image, str):
            return _invalid([key], f"Value error, {key} {image} (a URL or base64 image)", "value_error")
        megapixels += image.width * image.height / 1e6
    return megapixels


def _invalid(loc: list[str | int], message: str, kind: str, value: Any = None) -> JSONResponse:
    """FastAPI-style 422, as BFL's API answers validation failures."""
    item = {"type": kind, "loc": ["body", *loc], "msg": message, "input": value}
    return JSONResponse({"detail": [item]}, status_code=422)


def _validate(body: dict[str, Any]) -> JSONResponse | None:
    prompt = body.get("prompt")
    if "prompt" not in body:
        return _invalid(["prompt"], "Field required", "missing", body)
    if not isinstance(prompt, str):
        return _invalid(["prompt"], "Input should be a valid string", "string_type", prompt)
    for side in ("width", "height"):
        value = body.get(side)
        if value is None or value == 0:
            continue
        if not is_int(value):
            return _invalid([side], "Input should be a valid integer", "int_type", value)
        if value < 64:
            return _invalid(
                [side], "Input should be greater than or equal to 64", "greater_than_equal", value
            )
        if value % SIDE_STEP:
            return _invalid(
                [side], f"Value error, {side} must be a multiple of {SIDE_STEP}", "value_error", value
            )
    width, height = body.get("width") or DEFAULT_SIDE, body.get("height") or DEFAULT_SIDE
    if width * height > MAX_PIXELS:
        return _invalid(["width"], "width × height must not exceed 4 megapixels", "value_error", width)
    tolerance = body.get("safety_tolerance", 2)
    if not is_int(tolerance) or not 0 <= tolerance <= 5:
        return _invalid(["safety_tolerance"], "Input should be between 0 and 5", "less_than_equal", tolerance)
    if body.get("output_format", "jpeg") not in ("jpeg", "png", None):
        return _invalid(
            ["output_format"], "Input should be 'jpeg' or 'png'", "enum", body.get("output_format")
        )
    seed = body.get("seed")
    if seed is not None and not is_int(seed):
        return _invalid(["seed"], "Input should be a valid integer", "int_type", seed)
    return None


def _cost(megapixels: float) -> float:
    """BFL's formula: 3 credits for the first output megapixel, 1.5 for each further one."""
    return round(3 + 1.5 * max(0.0, megapixels - 1), 2)


def routes(sim: SimState) -> list[BaseRoute]:
    def authorized(request: Request) -> bool:
        return request.headers.get("x-key") == sim.api_key

    def refused() -> JSONResponse:
        return JSONResponse({"detail": "Not authenticated - Invalid Authentication"}, status_code=403)

    async def submit(request: Request) -> Response:
        if not authorized(request):
            return refused()
        body = await json_object(request)
        if body is None:
            return JSONResponse(
                {
                    "detail": [
                        {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": None}
                    ]
                },
                status_code=422,
            )
        if (error := _validate(body)) is not None:
            return error
        input_mp = _input_images(body)
        if isinstance(input_mp, JSONResponse):
            return input_mp
        prompt: str = body["prompt"]
        markers = markers_in(prompt)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", prompt, markers):
            return too_many_requests(
                {"detail": "You have exceeded your concurrency limit. Retry once a previous task finishes."}
            )
        if sim.trips_once(FAMILY, "500", prompt, markers):
            return JSONResponse({"detail": "Service temporarily unavailable"}, status_code=503)
        width, height = body.get("width") or DEFAULT_SIDE, body.get("height") or DEFAULT_SIDE
        output_format = body.get("output_format") or "jpeg"
        megapixels = round(width * height / 1e6, 2)
        info = {"prompt": prompt, "seed": body.get("seed") or 42, "width": width, "height": height}
        task = sim.new_task(FAMILY, markers, NOMINAL_SECONDS, info)
        task.info["token"] = sim.add_file(task, MediaSpec(output_format, width, height), URL_TTL)
        task.info["extension"] = output_format
        return JSONResponse(
            {
                "id": task.id,
                "polling_url": f"{public_base(request)}{PATH}/v1/get_result?id={task.id}",
                "cost": round(_cost(megapixels) + 1.5 * input_mp, 2),
                "input_mp": round(input_mp, 2),
                "output_mp": megapixels,
            }
        )

    def result(request: Request, task: SimTask) -> dict[str, Any]:
        now = sim.now()
        answer: dict[str, Any] = {
            "id": task.id,
            "status": "Pending",
            "result": None,
            "progress": None,
            "details": None,
            "preview": None,
        }
        if not task.finished(now):
            answer["progress"] = round(task.progress(now), 3)
            return answer
        if task.outcome == "moderate":
            answer["status"] = "Request Moderated"
            answer["details"] = {"Moderation Reasons": ["Content"]}
        elif task.outcome == "fail":
            # BFL documents the failure text in a top-level "error" (black-forest-labs/skills).
            answer["status"] = "Error"
            answer["error"] = "The generation failed on our side."
        else:
            answer["status"] = "Ready"
            answer["result"] = {
                "sample": file_url(request, PATH, task.info["token"], task.info["extension"]),
                "prompt": task.info["prompt"],
                "seed": task.info["seed"],
                "start_time": task.created_wall.timestamp(),
                "end_time": task.created_wall.timestamp() + task.duration,
                "duration": task.duration,
            }
            answer["progress"] = 1.0
        return answer

    async def get_result(request: Request) -> Response:
        if not authorized(request):
            return refused()
        task_id = request.query_params.get("id")
        if not task_id:
            return JSONResponse(
                {
                    "detail": [
                        {"type": "missing", "loc": ["query", "id"], "msg": "Field required", "input": None}
                    ]
                },
                status_code=422,
            )
        task = sim.find(FAMILY, task_id)
        if task is None:
            return JSONResponse({"id": task_id, "status": "Task not found", "result": None, "progress": None})
        return JSONResponse(result(request, task))

    return [
        Route(f"{PATH}/v1/flux-2-pro", submit, methods=["POST"]),
        Route(f"{PATH}/v1/get_result", get_result, methods=["GET"]),
    ]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/credits`` (``{"credits": n}``): the read-only call ``admin providers check`` makes."""

    async def credits(request: Request) -> Response:
        if request.headers.get("x-key") != sim.api_key:
            return JSONResponse({"detail": "Not authenticated - Invalid Authentication"}, status_code=403)
        return JSONResponse({"credits": 1000.0})

    return [Route(f"{PATH}/v1/credits", credits, methods=["GET"])]
