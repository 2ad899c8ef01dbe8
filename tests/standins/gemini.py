"""Veo 3.1 on the Gemini API (docs/providers.md, Veo).

``x-goog-api-key`` header or ``?key=``. ``POST /v1beta/models/{model}:predictLongRunning`` with
``{instances: [{prompt, image?, lastFrame?, referenceImages?}], parameters: {...}}`` → ``{name:
"models/<model>/operations/<id>"}``; ``GET /v1beta/{name}`` → ``{name}`` while running, then
``done: true`` with ``response.generateVideoResponse.generatedSamples[0].video.uri`` =
``…/v1beta/files/<id>:download?alt=media`` (fetched with the key). Moderation: ``done: true``, no
samples, ``raiMediaFilteredCount`` + reasons. Unknown JSON fields and the Vertex-only knobs
(``generateAudio``, ``seed``…) are refused with 400 INVALID_ARGUMENT; so are 1080p/4k clips
shorter than 8 s. The shut-down ``veo-3.1-*-preview`` ids answer 404 NOT_FOUND."""

from __future__ import annotations

import base64
import binascii
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
    dims_for_ratio,
    file_response,
    is_int,
    read_json,
)

MODELS = {
    "veo-3.1-generate-001",  # availability on the Gemini API UNVERIFIED: accepted
    "veo-3.1-fast-generate-001",
    "veo-3.1-lite-generate-001",
}
# The previews were shut down on 2026-10-22: the API answers 404 "… is no longer available".
SHUT_DOWN = {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-3.1-lite-generate-preview"}
VERTEX_ONLY = {
    "generateAudio",
    "seed",
    "fps",
    "storageUri",
    "pubsubTopic",
    "compressionQuality",
    "resizeMode",
    "mask",
    "labels",
}
PARAMETERS = {
    "sampleCount",
    "durationSeconds",
    "aspectRatio",
    "resolution",
    "personGeneration",
    "negativePrompt",
    "enhancePrompt",
}
INSTANCE = {"prompt", "image", "lastFrame", "referenceImages", "video"}


def gerror(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


def unknown(field: str, where: str) -> JSONResponse:
    return gerror(
        400,
        "INVALID_ARGUMENT",
        f"Invalid JSON payload received. Unknown name \"{field}\" at '{where}': Cannot find field.",
    )


def check_image(value: Any, where: str) -> JSONResponse | None:
    if not isinstance(value, dict) or set(value) - {"bytesBase64Encoded", "mimeType"}:
        return gerror(
            400, "INVALID_ARGUMENT", f"{where} must be {{bytesBase64Encoded, mimeType}} on the Gemini API"
        )
    try:
        base64.b64decode(value.get("bytesBase64Encoded", ""), validate=True)
    except (ValueError, binascii.Error):
        return gerror(400, "INVALID_ARGUMENT", f"{where}.bytesBase64Encoded is not base64")
    if not str(value.get("mimeType", "")).startswith("image/"):
        return gerror(400, "INVALID_ARGUMENT", f"{where}.mimeType must be an image type")
    return None


def validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return gerror(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    for key in body:
        if key not in ("instances", "parameters", "webhookConfig"):
            return unknown(key, "")
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return gerror(400, "INVALID_ARGUMENT", "instances must hold exactly one instance")
    instance = instances[0]
    for key in instance:
        if key not in INSTANCE:
            return unknown(key, "instances[0]")
    if not isinstance(instance.get("prompt"), str) or not instance["prompt"]:
        return gerror(400, "INVALID_ARGUMENT", "instances[0].prompt is required")
    for frame in ("image", "lastFrame"):
        if frame in instance:
            bad = check_image(instance[frame], f"instances[0].{frame}")
            if bad:
                return bad
    refs = instance.get("referenceImages")
    if refs is not None:
        if not isinstance(refs, list) or len(refs) > 3:
            return gerror(400, "INVALID_ARGUMENT", "at most 3 referenceImages")
        for i, ref in enumerate(refs):
            # referenceType casing on the wire UNVERIFIED: ASSET and asset both accepted; STYLE is Vertex only
            if not isinstance(ref, dict) or str(ref.get("referenceType", "")).upper() != "ASSET":
                return gerror(400, "INVALID_ARGUMENT", f"referenceImages[{i}].referenceType must be ASSET")
            bad = check_image(ref.get("image"), f"referenceImages[{i}].image")
            if bad:
                return bad
    params = body.get("parameters", {})
    if not isinstance(params, dict):
        return gerror(400, "INVALID_ARGUMENT", "parameters must be an object")
    for key in params:
        if key in VERTEX_ONLY:
            return gerror(
                400, "INVALID_ARGUMENT", f"`{key}` isn't supported by the Gemini API (Vertex AI only)."
            )
        if key not in PARAMETERS:
            return unknown(key, "parameters")
    duration = params.get("durationSeconds", 8)
    if isinstance(duration, str) and duration.isdigit():  # proto3 JSON accepts int64 as strings
        duration = int(duration)
    if not is_int(duration) or duration not in (4, 6, 8):
        return gerror(400, "INVALID_ARGUMENT", "durationSeconds must be 4, 6 or 8")
    if params.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
        return gerror(400, "INVALID_ARGUMENT", "aspectRatio must be 16:9 or 9:16")
    if params.get("resolution", "720p") not in ("720p", "1080p", "4k"):
        return gerror(400, "INVALID_ARGUMENT", "resolution must be 720p, 1080p or 4k")
    if params.get("resolution") in ("1080p", "4k") and duration != 8:
        return gerror(400, "INVALID_ARGUMENT", "1080p and 4k outputs require durationSeconds 8")
    if params.get("personGeneration", "allow_adult") not in ("dont_allow", "allow_adult", "allow_all"):
        return gerror(400, "INVALID_ARGUMENT", "personGeneration is not a valid value")
    count = params.get("sampleCount", 1)
    if not is_int(count) or not 1 <= count <= 4:
        return gerror(400, "INVALID_ARGUMENT", "sampleCount must be between 1 and 4")
    if "enhancePrompt" in params and not isinstance(params["enhancePrompt"], bool):
        return gerror(400, "INVALID_ARGUMENT", "enhancePrompt must be a boolean")
    return None


def routes(hub: Hub) -> list[Route]:
    def gate(request: Request) -> JSONResponse | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return gerror(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if key != hub.keys["gemini"]:
            return gerror(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        return None

    async def predict(request: Request) -> Response:
        target = request.path_params["target"]
        model, _, method = target.partition(":")
        if method != "predictLongRunning":
            return gerror(404, "NOT_FOUND", f"Method {method or target} not found")
        denied = gate(request)
        if denied:
            return denied
        if model in SHUT_DOWN:
            return gerror(404, "NOT_FOUND", f"models/{model} is no longer available")
        if model not in MODELS:
            return gerror(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta")
        body, problem = await read_json(request)
        if problem:
            return gerror(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {problem}")
        invalid = validate(body)
        if invalid:
            return invalid
        prompt = body["instances"][0]["prompt"]
        if hub.once(MARK_429, prompt):
            response = gerror(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
            response.headers["Retry-After"] = "1"
            return response
        if hub.once(MARK_500, prompt):
            return gerror(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        params = body.get("parameters", {})
        op = secrets.token_hex(6)
        task = hub.new_task(
            "gemini",
            model,
            prompt,
            {
                "aspect_ratio": params.get("aspectRatio", "16:9"),
                "duration": int(params.get("durationSeconds", 8)),
                "resolution": params.get("resolution", "720p"),
                "image": "image" in body["instances"][0],
            },
            task_id=f"models/{model}/operations/{op}",
        )
        return JSONResponse({"name": task.id})

    async def operation(request: Request) -> Response:
        denied = gate(request)
        if denied:
            return denied
        name = f"models/{request.path_params['model']}/operations/{request.path_params['op']}"
        task = hub.tasks.get(name)
        if task is None:
            return gerror(404, "NOT_FOUND", f"Operation {name} not found")
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return gerror(500, "INTERNAL", "An internal error has occurred. Please retry.")
        phase = task.advance()
        if phase == "running":
            return JSONResponse({"name": name})
        response: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
        }
        if task.outcome == "moderated":
            response["generateVideoResponse"] = {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [
                    "We encountered an issue with the prompt. It may violate our policies. "
                    "Please try rephrasing it."
                ],
            }
        else:
            if not task.output_urls:
                file_id = secrets.token_hex(8)
                w, h = dims_for_ratio(task.params["aspect_ratio"])
                data = media.mp4(w, h, task.params["duration"], audio=True)  # Veo 3.x always has sound
                hub.store_private(data, "video/mp4", "gemini", file_id)
                task.output_urls = [f"{hub.base}/gemini/v1beta/files/{file_id}:download?alt=media"]
            response["generateVideoResponse"] = {
                "generatedSamples": [{"video": {"uri": task.output_urls[0]}}]
            }
        return JSONResponse({"name": name, "done": True, "response": response})

    async def download(request: Request) -> Response:
        denied = gate(request)
        if denied:
            return denied
        target = request.path_params["target"]
        file_id, _, method = target.partition(":")
        stored = hub.files.get(file_id)
        if method != "download" or stored is None or not stored.requires_key:
            return gerror(404, "NOT_FOUND", f"File {file_id} not found")
        if request.query_params.get("alt") != "media":
            return JSONResponse({"name": f"files/{file_id}", "mimeType": stored.content_type})
        return file_response(stored)

    return [
        Route("/gemini/v1beta/models/{target}", predict, methods=["POST"]),
        Route("/gemini/v1beta/models/{model}/operations/{op}", operation, methods=["GET"]),
        Route("/gemini/v1beta/files/{target}", download, methods=["GET"]),
    ]
