"""Black Forest Labs FLUX.2 [pro] (docs/providers.md, BFL).

``POST /v1/flux-2-pro`` with ``x-key``; the answer's ``polling_url`` points at a "regional" host
(``/bfl-eu2``) that the client must use verbatim; ``GET <polling_url>`` goes Pending → Ready, or
``Request Moderated`` for ``[standin:moderate]``. ``result.sample`` is a signed URL valid 10 minutes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import MARK_429, MARK_500, MARK_POLL_500, Hub, is_int, read_json

FIELDS = {
    "prompt",
    *(["input_image"] + [f"input_image_{i}" for i in range(2, 9)]),
    "seed",
    "width",
    "height",
    "safety_tolerance",
    "output_format",
    "webhook_url",
    "webhook_secret",
    "prompt_upsampling",  # UNVERIFIED on flux-2-pro (reseller pages only): accepted
}
MAX_PIXELS = 4 * 1024 * 1024


def _invalid(field: str, msg: str, kind: str = "value_error") -> JSONResponse:
    """FastAPI-style 422 (BFL documents 422 for an invalid body/params)."""
    return JSONResponse({"detail": [{"loc": ["body", field], "msg": msg, "type": kind}]}, status_code=422)


def _validate(body: Any) -> Response | None:
    if not isinstance(body, dict):
        return _invalid("__root__", "body must be a JSON object")
    for key in body:
        if key not in FIELDS:
            # e.g. aspect_ratio belongs to older Kontext / 1.1-Ultra endpoints, not FLUX.2 [pro]
            return _invalid(key, "Extra inputs are not permitted", "extra_forbidden")
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return _invalid("prompt", "Field required", "missing")
    w, h = body.get("width") or 0, body.get("height") or 0
    for name, value in (("width", w), ("height", h)):
        if not is_int(value):
            return _invalid(name, "Input should be a valid integer", "int_type")
        if value and value < 64:
            return _invalid(name, "Input should be greater than or equal to 64", "greater_than_equal")
        # BFL's skills repo: multiples of 16 (older pages: 32, which are multiples of 16 too)
        if value % 16:
            return _invalid(name, "must be a multiple of 16")
    if w and h and w * h > MAX_PIXELS:
        return _invalid("width", "width × height must not exceed 4 megapixels")
    tolerance = body.get("safety_tolerance", 2)
    if not is_int(tolerance) or not 0 <= tolerance <= 5:
        return _invalid("safety_tolerance", "Input should be less than or equal to 5")
    if body.get("output_format", "jpeg") not in ("jpeg", "png", None):
        return _invalid("output_format", "Input should be 'jpeg' or 'png'", "enum")
    if body.get("seed") is not None and not is_int(body["seed"]):
        return _invalid("seed", "Input should be a valid integer", "int_type")
    for key in FIELDS:
        if key.startswith("input_image") and body.get(key) is not None and not isinstance(body[key], str):
            return _invalid(key, "Input should be a valid string", "string_type")
    return None


def routes(hub: Hub) -> list[Route]:
    def authorised(request: Request) -> bool:
        return request.headers.get("x-key") == hub.keys["bfl"]

    def forbidden() -> JSONResponse:
        # Official error list has 403 (key lacks permission); 401 vs 403 for a bad key is UNVERIFIED.
        return JSONResponse({"detail": "Not authenticated: send your API key in the x-key header"}, 403)

    async def submit(request: Request) -> Response:
        if not authorised(request):
            return forbidden()
        body, problem = await read_json(request)
        if problem:
            return _invalid("__root__", problem)
        invalid = _validate(body)
        if invalid:
            return invalid
        prompt = body["prompt"]
        if hub.once(MARK_429, prompt):
            return JSONResponse(
                {"detail": "You have exceeded your concurrency limit. Retry once a previous task finishes."},
                429,
                headers={"Retry-After": "1"},
            )
        if hub.once(MARK_500, prompt):
            return JSONResponse({"detail": "Internal Server Error"}, 500)
        w, h = body.get("width") or 1024, body.get("height") or 1024
        fmt = body.get("output_format") or "jpeg"
        task = hub.new_task("bfl", "flux-2-pro", prompt, {"width": w, "height": h, "format": fmt})
        output_mp = round(w * h / 1_000_000, 2)
        cost = round(3 + 1.5 * max(0.0, output_mp - 1), 2)
        return JSONResponse(
            {
                "id": task.id,
                "polling_url": f"{hub.base}/bfl-eu2/v1/get_result?id={task.id}",
                "cost": cost,
                "input_mp": 0,
                "output_mp": output_mp,
            }
        )

    async def get_result(request: Request) -> Response:
        if not authorised(request):
            return forbidden()
        task_id = request.query_params.get("id")
        if not task_id:
            return JSONResponse(
                {"detail": [{"loc": ["query", "id"], "msg": "Field required", "type": "missing"}]}, 422
            )
        task = hub.tasks.get(task_id)
        if task is None or task.family != "bfl":
            return JSONResponse({"id": task_id, "status": "Task not found", "result": None})
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return JSONResponse({"detail": "Service Unavailable"}, 503)
        phase = task.advance()
        base = {"id": task.id, "details": None, "preview": None}
        if task.outcome == "moderated":
            return JSONResponse(
                base
                | {
                    "status": "Request Moderated",
                    "result": None,
                    "progress": None,
                    "details": {"Moderation Reasons": ["Derivative Works Filter"]},
                }
            )
        if phase == "running":
            return JSONResponse(base | {"status": "Pending", "result": None, "progress": 0.5})
        if task.outcome == "failed":  # BFL's skills docs: the text is a top-level "error"
            return JSONResponse(
                base
                | {"status": "Error", "result": None, "progress": None, "error": "Failed to generate image"}
            )
        if not task.output_urls:
            p = task.params
            data = media.image(p["format"], p["width"], p["height"])
            task.output_urls = [hub.store(data, media.IMAGE_TYPES[p["format"]], "bfl", p["format"], ttl=600)]
        return JSONResponse(
            base
            | {
                "status": "Ready",
                "progress": 1.0,
                "result": {
                    "sample": task.output_urls[0],
                    "seed": 1234,
                    "prompt": task.text,
                    "start_time": task.created,
                    "end_time": task.created + 1,
                    "duration": 1.0,
                },
            }
        )

    return [
        Route("/bfl/v1/flux-2-pro", submit, methods=["POST"]),
        Route("/bfl-eu2/v1/get_result", get_result, methods=["GET"]),
        Route("/bfl/v1/get_result", get_result, methods=["GET"]),
    ]
