"""Gemini API (Veo): ``POST /v1beta/models/{model}:predictLongRunning``, ``GET /v1beta/{operation name}``
and the keyed download ``GET /v1beta/files/{id}:download?alt=media``.

The key goes in ``x-goog-api-key`` (or ``?key=``). Like Google: no key → 403 PERMISSION_DENIED, a
wrong key → 400 INVALID_ARGUMENT "API key not valid" (reason API_KEY_INVALID). Errors use
``{"error": {"code", "message", "status"}}``. A running operation is answered as ``{"name"}`` only;
a finished one has ``done: true`` and ``response`` (or ``error``). ``[sim:moderate]`` finishes with
no samples and ``raiMediaFilteredCount``/``raiMediaFilteredReasons``; ``[sim:fail]`` with an
operation ``error``. The video URI needs the key as well (403 without it); ``[sim:expire]`` makes
it answer 404 as a deleted file. Fields only Vertex AI accepts (``generateAudio``, ``seed`` …) are
refused with 400, as the SDK refuses them for the Gemini API. 1080p and 4k need an 8-second clip
(400 INVALID_ARGUMENT otherwise). The shut-down preview ids (``veo-3.1-generate-preview`` …)
answer 404 NOT_FOUND "… is no longer available", like the real API since 2026-10-22.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.common import decode_base64_image, is_int, json_object, public_base
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "gemini"
PATH = "/gemini"
API_VERSION = "v1beta"
NOMINAL_SECONDS = 9.0
FILE_TTL = 2 * 24 * 3600.0  # community code says generated files are kept two days (UNVERIFIED)
# The GA-style ids the adapter sends (GEMINI_VEO_MODEL; served on the Gemini API: UNVERIFIED).
MODELS = (
    "veo-3.1-generate-001",
    "veo-3.1-fast-generate-001",
    "veo-3.1-lite-generate-001",
)
# Shut down on 2026-10-22 (third-party notices; Google's deprecations page): answered with 404.
SHUT_DOWN = (
    "veo-3.1-generate-preview",
    "veo-3.1-fast-generate-preview",
    "veo-3.1-lite-generate-preview",
)
ASPECT_RATIOS = ("16:9", "9:16")
DURATIONS = (4, 6, 8)
FULL_LENGTH_ONLY = ("1080p", "4k")  # 8-second clips only
RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
VERTEX_ONLY = (
    "generateAudio",
    "seed",
    "fps",
    "storageUri",
    "pubsubTopic",
    "compressionQuality",
    "resizeMode",
    "mask",
    "labels",
)
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


def _invalid(message: str) -> JSONResponse:
    return _error(400, message)


MAX_IMAGE_BYTES = 20 * 1024 * 1024  # instances[0].image (docs/providers.md, Veo)


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, dict):
        return "instances[0].image must be an object"
    if "gcsUri" in image:
        return "gcsUri is not supported in Gemini API; send bytesBase64Encoded"
    data, mime = image.get("bytesBase64Encoded"), image.get("mimeType")
    if not isinstance(data, str) or not data:
        return "instances[0].image.bytesBase64Encoded is required"
    if mime not in ("image/jpeg", "image/png"):
        return "instances[0].image.mimeType must be image/jpeg or image/png"
    image = decode_base64_image(data, mime)
    if isinstance(image, str):
        return f"instances[0].image.bytesBase64Encoded {image}"
    if image.size > MAX_IMAGE_BYTES:
        return "instances[0].image is larger than 20 MB"
    return None


def _validate(body: dict[str, Any]) -> str | dict[str, Any]:
    """Why the request is invalid, or the operation's plan."""
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance"
    instance = instances[0]
    prompt = instance.get("prompt", "")
    if not isinstance(prompt, str):
        return "instances[0].prompt must be a string"
    if not prompt.strip() and "image" not in instance:
        return "instances[0].prompt is required"
    if "image" in instance and (problem := _image_problem(instance["image"])) is not None:
        return problem
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return "parameters must be an object"
    for name in VERTEX_ONLY:
        if name in parameters or name in body:
            return f"{name} parameter is not supported in Gemini API."
    ratio = parameters.get("aspectRatio", "16:9")
    if ratio not in ASPECT_RATIOS:
        return f"aspectRatio must be one of {', '.join(ASPECT_RATIOS)}"
    duration = parameters.get("durationSeconds", 8)
    if isinstance(duration, str) and duration.isdigit():  # int on the wire; a numeric string is tolerated
        duration = int(duration)
    if not is_int(duration) or duration not in DURATIONS:
        return "durationSeconds must be 4, 6 or 8"
    resolution = parameters.get("resolution", "720p")
    if resolution not in RESOLUTIONS:
        return f"resolution must be one of {', '.join(RESOLUTIONS)}"
    if resolution in FULL_LENGTH_ONLY and duration != 8:
        return f"resolution {resolution} is only supported with durationSeconds 8; got {duration}"
    count = parameters.get("sampleCount", 1)
    if not is_int(count) or not 1 <= count <= 4:
        return "sampleCount must be between 1 and 4"
    person = parameters.get("personGeneration")
    if person is not None and person not in PERSON_GENERATION:
        return f"personGeneration must be one of {', '.join(PERSON_GENERATION)}"
    if "negativePrompt" in parameters and not isinstance(parameters["negativePrompt"], str):
        return "negativePrompt must be a string"
    short = RESOLUTIONS[resolution]
    size = (short * 16 // 9, short) if ratio == "16:9" else (short, short * 16 // 9)
    return {"prompt": prompt, "seconds": duration, "size": size, "samples": count}


def routes(sim: SimState) -> list[BaseRoute]:
    def refused(request: Request) -> JSONResponse | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if key != sim.api_key:
            return _error(
                400,
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )
        return None

    async def predict(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        model = str(request.path_params["model"])
        if model in SHUT_DOWN:
            return _error(
                404,
                f"models/{model} is no longer available. It was shut down on 2026-10-22; see "
                "https://ai.google.dev/gemini-api/docs/deprecations for its replacement.",
            )
        if model not in MODELS:
            return _error(
                404,
                f"models/{model} is not found for API version {API_VERSION}, or is not supported for "
                "predictLongRunning.",
            )
        body = await json_object(request)
        if body is None:
            return _invalid("Invalid JSON payload received.")
        plan = _validate(body)
        if isinstance(plan, str):
            return _invalid(plan)
        text = plan["prompt"] + "\n" + str((body.get("parameters") or {}).get("negativePrompt") or "")
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return _error(429, "Resource has been exhausted (e.g. check quota).")
        if sim.trips_once(FAMILY, "500", text, markers):
            return _error(503, "The service is currently unavailable.")
        task = sim.new_task(FAMILY, markers, NOMINAL_SECONDS, plan | {"model": model})
        width, height = plan["size"]
        spec = MediaSpec("mp4", width, height, float(plan["seconds"]))
        # Gemini file ids are lowercase alphanumeric (google-genai reads them from URIs as [a-z0-9]+).
        task.info["files"] = [
            sim.add_file(task, spec, FILE_TTL, token=secrets.token_hex(8)) for _ in range(plan["samples"])
        ]
        return JSONResponse({"name": _name(task)})

    def _name(task: SimTask) -> str:
        return f"models/{task.info['model']}/operations/{task.id}"

    def describe(request: Request, task: SimTask) -> dict[str, Any]:
        if not task.finished(sim.now()):
            return {"name": _name(task)}
        answer: dict[str, Any] = {"name": _name(task), "done": True}
        if task.outcome == "fail":
            return answer | {
                "error": {"code": 13, "message": "Video generation failed due to an internal error."}
            }
        video_response: dict[str, Any]
        if task.outcome == "moderate":
            video_response = {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [
                    "We encountered an issue with the audio for your prompt. You have not been charged. "
                    "Please try a different prompt."
                ],
            }
        else:
            base = f"{public_base(request)}{PATH}/{API_VERSION}/files"
            video_response = {
                "generatedSamples": [
                    {"video": {"uri": f"{base}/{token}:download?alt=media"}} for token in task.info["files"]
                ]
            }
        return answer | {
            "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                "generateVideoResponse": video_response,
            }
        }

    async def operation(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        task = sim.find(FAMILY, str(request.path_params["operation_id"]))
        if task is None or task.info["model"] != request.path_params["model"]:
            return _error(404, "Operation not found.")
        return JSONResponse(describe(request, task))

    async def download(request: Request) -> Response:
        if (error := refused(request)) is not None:
            return error
        if request.query_params.get("alt") != "media":
            return _invalid("Use alt=media to download the file's content.")
        ref = sim.files.get(str(request.path_params["file_id"]))
        task = sim.tasks.get(ref.task_id) if ref is not None else None
        now = sim.now()
        if ref is None or task is None or task.family != FAMILY or task.lost or not task.succeeded(now):
            return _error(404, "File not found.")
        if "expire" in task.markers or now - task.created_at > ref.ttl:
            return _error(404, "The file has expired and was deleted.")
        data = await run_in_threadpool(ref.spec.render)
        return Response(data, media_type=ref.spec.content_type)

    return [
        Route(f"{PATH}/{API_VERSION}/models/{{model}}:predictLongRunning", predict, methods=["POST"]),
        Route(
            f"{PATH}/{API_VERSION}/models/{{model}}/operations/{{operation_id}}", operation, methods=["GET"]
        ),
        Route(f"{PATH}/{API_VERSION}/files/{{file_id}}:download", download, methods=["GET"]),
    ]


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1beta/models``: ``models.list`` (paged by ``pageSize``/``pageToken``), one entry per
    model this simulator serves."""

    async def list_models(request: Request) -> Response:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(
                403, "Method doesn't allow unregistered callers (callers without established identity)."
            )
        if key != sim.api_key:
            reason = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            return _error(400, "API key not valid. Please pass a valid API key.", [reason])
        listed = [
            {
                "name": f"models/{model}",
                "version": "3.1",
                "displayName": model,
                "description": "Veo (simulated)",
                "supportedGenerationMethods": ["predictLongRunning"],
            }
            for model in MODELS
        ]
        return JSONResponse({"models": listed})

    return [Route(f"{PATH}/{API_VERSION}/models", list_models, methods=["GET"])]
