"""Runway: ``POST /v1/image_to_video``, ``POST /v1/text_to_video``, ``GET``/``DELETE /v1/tasks/{id}``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import (
    bearer_token,
    decode_data_uri_image,
    file_url,
    is_int,
    json_object,
    stage,
    too_many_requests,
)
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "runway"
PATH = "/runway"
API_VERSION = "2024-11-06"
NOMINAL_SECONDS = 6.0
URL_TTL = 24 * 3600.0
CONCURRENCY = 5  # tasks beyond this many in progress wait in THROTTLED
STAGES = ((0.0, "PENDING"), (0.15, "RUNNING"))
MAX_DATA_URI = 5 * 1024 * 1024
MAX_PROMPT_UNITS = 1000

GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
GEN4_DURATIONS = tuple(range(2, 11))
VEO_DURATIONS = (4, 6, 8)
# route → model → (ratios, durations, default duration or None when required)
MODELS: dict[str, dict[str, tuple[tuple[str, ...], tuple[int, ...], int | None]]] = {
    "image_to_video": {
        "gen4_turbo": (GEN4_RATIOS, GEN4_DURATIONS, 10),
        "gen4.5": (GEN4_RATIOS, GEN4_DURATIONS, 10),
        "veo3.1": (VEO_RATIOS, VEO_DURATIONS, 8),
        "veo3.1_fast": (VEO_RATIOS, VEO_DURATIONS, 8),
    },
    "text_to_video": {
        "gen4.5": (("1280:720", "720:1280"), GEN4_DURATIONS, None),
        "veo3.1": (VEO_RATIOS, VEO_DURATIONS, 8),
        "veo3.1_fast": (VEO_RATIOS, VEO_DURATIONS, 8),
    },
}


def _bad(message: str, path: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if path is not None:
        body["issues"] = [{"path": [path], "message": message}]
    return JSONResponse(body, status_code=400)


def _check_image(value: Any) -> str | None:
    """Why ``promptImage`` is unusable, or ``None``."""
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], dict) or value[0].get("position", "first") != "first":
            return "promptImage: gen4_turbo accepts one image at position 'first'"
        value = value[0].get("uri")
    if not isinstance(value, str) or not value:
        return "promptImage is required"
    if value.startswith(("https://", "runway://")):
        return None
    if not value.startswith("data:image/"):
        return "promptImage must be an HTTPS URL, a runway:// URI or a data: URI of an image"
    if len(value) > MAX_DATA_URI:
        return "promptImage data URI is larger than 5 MB"
    header = value.partition(",")[0]
    if not header.endswith(";base64"):
        return "promptImage data URI must be base64-encoded"
    image = decode_data_uri_image(value)
    if isinstance(image, str):
        return f"promptImage data URI {image}"
    if image.content_type not in ("image/jpeg", "image/png", "image/webp"):
        return "promptImage must be a JPEG, PNG or WebP image (GIF is not supported)"
    return None


def _validate(route: str, body: dict[str, Any]) -> tuple[JSONResponse | None, int]:
    model = body.get("model")
    models = MODELS[route]
    if model not in models:
        return _bad(f"model must be one of {', '.join(models)} on /v1/{route}", "model"), 0
    ratios, durations, default_duration = models[model]
    if route == "image_to_video" and (problem := _check_image(body.get("promptImage"))) is not None:
        return _bad(problem, "promptImage"), 0
    text = body.get("promptText")
    if route == "text_to_video" and (not isinstance(text, str) or not text.strip()):
        return _bad("promptText is required", "promptText"), 0
    if text is not None and (
        not isinstance(text, str) or len(text.encode("utf-16-le")) // 2 > MAX_PROMPT_UNITS
    ):
        return _bad("promptText must be a string of at most 1000 characters", "promptText"), 0
    if body.get("ratio") not in ratios:
        return _bad(f"ratio must be one of {', '.join(ratios)} for {model}", "ratio"), 0
    duration = body.get("duration", default_duration)
    if duration is None:
        return _bad("duration is required", "duration"), 0
    if not is_int(duration) or duration not in durations:
        return _bad(f"duration must be one of {', '.join(map(str, durations))} for {model}", "duration"), 0
    seed = body.get("seed")
    if seed is not None and (not is_int(seed) or not 0 <= seed <= 4_294_967_295):
        return _bad("seed must be an integer between 0 and 4294967295", "seed"), 0
    return None, int(duration)


# Credits per second by model (Runway's pricing page: gen4_turbo 5, gen4.5 12; Veo 3.1 as 40 and 15).
CREDITS_PER_SECOND = {"gen4_turbo": 5, "gen4.5": 12, "veo3.1": 40, "veo3.1_fast": 15}


def with_cost(answer: dict[str, Any], task: SimTask) -> dict[str, Any]:
    """A task object as the SDK types require it: ``estimatedCost`` while it waits or runs, ``cost``
    once it ended (nothing for a failed or cancelled task)."""
    credits = CREDITS_PER_SECOND.get(str(task.info.get("model")), 5) * int(task.info.get("duration") or 0)
    if answer["status"] in ("PENDING", "THROTTLED", "RUNNING"):
        return answer | {"estimatedCost": {"credits": credits}}
    return answer | {"cost": {"credits": credits if answer["status"] == "SUCCEEDED" else 0}}


def routes(sim: SimState) -> list[BaseRoute]:
    def refused(request: Request) -> JSONResponse | None:
        if bearer_token(request) != sim.api_key:
            return JSONResponse({"error": "Incorrect API key provided."}, status_code=401)
        if request.headers.get("x-runway-version") != API_VERSION:
            return _bad(f"X-Runway-Version header is required; the supported version is {API_VERSION}")
        return None

    def schedule(now: float) -> None:
        """Start queued (THROTTLED) tasks, oldest first, while fewer than CONCURRENCY are running."""
        tasks = [task for task in sim.tasks.values() if task.family == FAMILY]
        running = sum(1 for task in tasks if task.started_at is not None and not task.finished(now))
        for task in tasks:
            if running >= CONCURRENCY:
                break
            if task.started_at is None and not task.canceled:
                task.started_at = now
                running += 1

    def make_create(route: str) -> Callable[[Request], Awaitable[Response]]:
        async def create(request: Request) -> Response:
            if (error := refused(request)) is not None:
                return error
            body = await json_object(request)
            if body is None:
                return _bad("Request body must be a JSON object")
            error, duration = _validate(route, body)
            if error is not None:
                return error
            text = body.get("promptText") or ""
            markers = markers_in(text)
            sim.record_attempt(FAMILY, markers)
            if sim.trips_once(FAMILY, "429", text, markers):
                return too_many_requests(
                    {"error": "You have exceeded the maximum number of daily generations."}
                )
            if sim.trips_once(FAMILY, "500", text, markers):
                return JSONResponse({"error": "Service unavailable, please retry."}, status_code=503)
            width, height = (int(side) for side in str(body["ratio"]).split(":"))
            schedule(sim.now())
            task = sim.new_task(
                FAMILY,
                markers,
                NOMINAL_SECONDS,
                {"model": body["model"], "duration": duration},
                queued=True,
            )
            schedule(sim.now())
            task.info["token"] = sim.add_file(task, MediaSpec("mp4", width, height, float(duration)), URL_TTL)
            return JSONResponse({"id": task.id})

        return create

    def describe(request: Request, task: SimTask) -> dict[str, Any]:
        now = sim.now()
        answer: dict[str, Any] = {
            "id": task.id,
            "createdAt": task.created_wall.isoformat().replace("+00:00", "Z"),
        }
        if task.canceled:
            return answer | {"status": "CANCELLED"}
        if task.started_at is None:
            return answer | {"status": "THROTTLED"}
        current = stage(task, now, STAGES)
        if current == "RUNNING":
            return answer | {"status": "RUNNING", "progress": round(task.progress(now), 3)}
        if current is not None:
            return answer | {"status": current}
        if task.outcome == "moderate":
            return answer | {
                "status": "FAILED",
                "failure": "Your prompt did not pass our content moderation.",
                "failureCode": "INPUT_PREPROCESSING.SAFETY.TEXT",
            }
        if task.outcome == "fail":
            return answer | {
                "status": "FAILED",
                "failure": "The generated video did not pass our output checks.",
                "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
            }
        return answer | {
            "status": "SUCCEEDED",
            "output": [file_url(request, PATH, task.info["token"], "mp4")],
        }

    def not_found() -> JSONResponse:
        return JSONResponse({"error": "Task not found."}, status_code=404)

    async def task_endpoint(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        schedule(sim.now())
        task = sim.find(FAMILY, str(request.path_params["task_id"]))
        if task is None:
            return not_found()
        if request.method == "GET":
            return JSONResponse(with_cost(describe(request, task), task))
        # DELETE: cancels work in progress; deletes a finished task.
        if task.finished(sim.now()):
            sim.drop(task.id)
        else:
            task.canceled = True
            sim.record_cancel(FAMILY)
        schedule(sim.now())
        return Response(status_code=204)

    return [
        Route(f"{PATH}/v1/image_to_video", make_create("image_to_video"), methods=["POST"]),
        Route(f"{PATH}/v1/text_to_video", make_create("text_to_video"), methods=["POST"]),
        Route(f"{PATH}/v1/tasks/{{task_id}}", task_endpoint, methods=["GET", "DELETE"]),
    ]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/organization``: credit balance, the tier's per-model limits and the day's usage."""

    async def organization(request: Request) -> Response:
        if bearer_token(request) != sim.api_key:
            return JSONResponse({"error": "Incorrect API key provided."}, status_code=401)
        if request.headers.get("x-runway-version") != API_VERSION:
            return _bad(f"X-Runway-Version header is required; the supported version is {API_VERSION}")
        models = sorted({model for by_model in MODELS.values() for model in by_model})
        limits = {m: {"maxConcurrentGenerations": CONCURRENCY, "maxDailyGenerations": 200} for m in models}
        return JSONResponse(
            {
                "creditBalance": 10_000,
                "tier": {"maxMonthlyCreditSpend": 100_000, "models": limits},
                "usage": {"models": {m: {"dailyGenerations": 0} for m in models}},
            }
        )

    return [Route(f"{PATH}/v1/organization", organization, methods=["GET"])]
