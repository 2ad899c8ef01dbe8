"""Creatomate render API (docs/providers.md, Creatomate).

Bearer project key. ``POST /v1/renders`` with one of ``template_id`` / ``tags`` / ``source``
(RenderScript) + ``modifications`` → **202** with an **array** of renders in state ``planned``
(``url`` present from the start, the file only after success). ``GET /v1/renders/{id}`` runs planned →
rendering → succeeded, or failed with ``error_message``: like the real service, media sources
(element ``source`` URLs and URL modifications) are downloaded while rendering and a source that
cannot be fetched fails the render. ``/v2/renders`` takes the RenderScript inline (response shape
UNVERIFIED: a single object here). 400 bodies carry a ``hint``."""

from __future__ import annotations

import math
import secrets
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins import media
from tests.standins.common import (
    MARK_429,
    MARK_500,
    MARK_POLL_500,
    Hub,
    StoredFile,
    Task,
    bearer,
    is_number,
    read_json,
)

V1_FIELDS = {
    "template_id",
    "tags",
    "source",
    "modifications",
    "output_format",
    "frame_rate",
    "render_scale",
    "max_width",
    "max_height",
    "webhook_url",
    "metadata",
}
SCRIPT_FIELDS = {
    "output_format",
    "width",
    "height",
    "frame_rate",
    "duration",
    "snapshot_time",
    "snapshot_location",
    "emoji_style",
    "elements",
}
ELEMENT_TYPES = {"video", "image", "audio", "text", "shape", "composition"}
FORMATS = {"jpg", "png", "gif", "mp4"}
CONTENT = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "mp4": "video/mp4"}


def hint(status: int, text: str) -> JSONResponse:
    return JSONResponse({"hint": text}, status)


def check_script(script: Any) -> str | None:
    if not isinstance(script, dict):
        return "source must be a RenderScript object"
    for key in script:
        if key not in SCRIPT_FIELDS:
            return f"Unknown RenderScript property '{key}'"
    if script.get("output_format", "jpg") not in FORMATS:
        return "output_format must be jpg, png, gif or mp4"
    elements = script.get("elements", [])
    if not isinstance(elements, list):
        return "elements must be an array"
    for i, element in enumerate(elements):
        if not isinstance(element, dict) or element.get("type") not in ELEMENT_TYPES:
            return f"elements[{i}].type must be one of {sorted(ELEMENT_TYPES)}"
        for key in ("time", "duration"):
            if key in element and element[key] is not None and not is_number(element[key]):
                return f"elements[{i}].{key} must be a number"
        if "track" in element and not isinstance(element["track"], int):
            return f"elements[{i}].track must be an integer"
    return None


def timeline(script: dict[str, Any]) -> float:
    """Seconds of a RenderScript: explicit ``duration``, else its elements (same track: one after another)."""
    if is_number(script.get("duration")):
        return float(script["duration"])
    ends: dict[Any, float] = {}
    end = 0.0
    for element in script.get("elements", []):
        track = element.get("track", id(element))
        start = element["time"] if is_number(element.get("time")) else ends.get(track, 0.0)
        length = element["duration"] if is_number(element.get("duration")) else 3.0
        ends[track] = start + length
        end = max(end, start + length)
    return end or 3.0


def media_urls(script: dict[str, Any] | None, modifications: dict[str, Any]) -> list[str]:
    urls = [
        e["source"]
        for e in (script or {}).get("elements", [])
        if isinstance(e.get("source"), str) and e["source"].startswith(("http://", "https://"))
    ]
    urls += [
        v for v in modifications.values() if isinstance(v, str) and v.startswith(("http://", "https://"))
    ]
    return urls


def render_object(task: Task, status: str, **extra: Any) -> dict[str, Any]:
    p = task.params
    return {
        "id": task.id,
        "status": status,
        "error_message": None,
        "url": p["url"],
        "snapshot_url": None,
        "template_id": p.get("template_id"),
        "template_name": None,
        "template_tags": [],
        "output_format": p["format"],
        "render_scale": p["render_scale"],
        "width": p["width"],
        "height": p["height"],
        "frame_rate": p["frame_rate"] if p["format"] in ("mp4", "gif") else None,
        "duration": p["duration"] if p["format"] in ("mp4", "gif") else None,
        "file_size": None,
        "modifications": p["modifications"],
        "webhook_url": p.get("webhook_url"),
        "metadata": p.get("metadata"),
        **extra,
    }


def routes(hub: Hub) -> list[Route]:
    def authorised(request: Request) -> bool:
        return bearer(request) == hub.keys["creatomate"]

    async def create(request: Request) -> Response:
        version = request.path_params["version"]
        if version not in ("v1", "v2"):
            return hint(404, "Not found")
        if not authorised(request):
            return hint(
                401, "Invalid API key. Provide your project's API key as 'Authorization: Bearer <key>'."
            )
        body, bad_json = await read_json(request)
        if bad_json or not isinstance(body, dict):
            return hint(400, bad_json or "The request body must be a JSON object")
        if version == "v1":
            for key in body:
                if key not in V1_FIELDS:
                    return hint(400, f"Unknown property '{key}'")
            chosen = [k for k in ("template_id", "tags", "source") if body.get(k) is not None]
            if len(chosen) != 1:
                return hint(400, "Provide exactly one of template_id, tags or source")
            script = body.get("source")
        else:
            script_part = {k: v for k, v in body.items() if k in SCRIPT_FIELDS}
            script = script_part if "elements" in script_part else None
            if not body.get("template_id") and script is None:
                return hint(400, "Provide template_id or a RenderScript")
        if script is not None:
            problem = check_script(script)
            if problem:
                return hint(400, problem)
        modifications = body.get("modifications") or {}
        if not isinstance(modifications, dict):
            return hint(400, "modifications must be an object")
        fmt = (
            body.get("output_format")
            or (script or {}).get("output_format")
            or ("mp4" if script is None else "jpg")
        )
        if fmt not in FORMATS:
            return hint(400, "output_format must be jpg, png, gif or mp4")
        frame_rate = body.get("frame_rate") or (script or {}).get("frame_rate") or 25
        if (fmt == "mp4" and not 1 <= frame_rate <= 60) or (fmt == "gif" and not 1 <= frame_rate <= 15):
            return hint(400, "frame_rate is 1-60 for mp4 and 1-15 for gif")
        if "metadata" in body and body["metadata"] is not None and not isinstance(body["metadata"], str):
            return hint(400, "metadata must be a string")
        scale = body.get("render_scale", 1.0)
        if not is_number(scale) or not 0.1 <= scale <= 10:
            return hint(400, "render_scale must be between 0.1 and 10")
        text = " ".join(str(v) for v in modifications.values()) + " " + str(script)
        if hub.once(MARK_429, text):
            return JSONResponse(
                {"hint": "Rate limit exceeded: 30 requests per 10 seconds"}, 429, headers={"Retry-After": "1"}
            )
        if hub.once(MARK_500, text):
            return hint(500, "An internal error occurred")
        width = int((script or {}).get("width", 1280) * scale)
        height = int((script or {}).get("height", 720) * scale)
        render_id = secrets.token_hex(16)
        ext = fmt
        task = hub.new_task(
            "creatomate",
            "render",
            text,
            {
                "url": f"{hub.base}/cdn/creatomate/{render_id}/output.{ext}",
                "template_id": body.get("template_id"),
                "format": fmt,
                "render_scale": scale,
                "width": width,
                "height": height,
                "frame_rate": frame_rate,
                "duration": timeline(script) if script else 5.0,
                "modifications": modifications,
                "webhook_url": body.get("webhook_url"),
                "metadata": body.get("metadata"),
                "media": media_urls(script, modifications),
                "token": render_id,
            },
            task_id=render_id,
        )
        planned = render_object(task, "planned")
        return JSONResponse([planned] if version == "v1" else planned, 202)

    async def get(request: Request) -> Response:
        if not authorised(request):
            return hint(401, "Invalid API key")
        task = hub.tasks.get(request.path_params["id"])
        if task is None or task.family != "creatomate":
            return hint(404, "Render not found")
        if hub.once(MARK_POLL_500, task.text, scope=task.id):
            return hint(502, "Bad gateway")
        phase = task.advance()
        if phase == "running":
            return JSONResponse(render_object(task, "rendering"))
        if task.outcome == "ok" and "rendered" not in task.extra:
            fetched = []
            async with httpx.AsyncClient(timeout=10, follow_redirects=True) as client:
                for url in task.params["media"]:
                    try:
                        r = await client.get(url)
                    except httpx.HTTPError as exc:
                        r = None
                        task.extra["error"] = f"The source {url} could not be downloaded ({exc})"
                    if r is not None and r.status_code != 200:
                        task.extra["error"] = (
                            f"The source {url} could not be downloaded (HTTP {r.status_code})"
                        )
                    if "error" in task.extra:
                        task.outcome = "failed"
                        break
                    fetched.append(
                        {"url": url, "content_type": r.headers.get("content-type"), "size": len(r.content)}
                    )
            task.extra["fetched"] = fetched
            task.extra["rendered"] = True
        if task.outcome != "ok":
            message = task.extra.get("error", "The render failed")
            return JSONResponse(render_object(task, "failed", error_message=message))
        p = task.params
        if not task.output_urls:
            if p["format"] == "mp4":
                data = media.mp4(p["width"], p["height"], min(p["duration"], 10.0))
            elif p["format"] == "gif":
                data = media.gif(p["width"], p["height"])
            else:
                data = media.image({"jpg": "jpeg"}.get(p["format"], p["format"]), p["width"], p["height"])
            hub.files[p["token"]] = StoredFile(data, CONTENT[p["format"]], "creatomate")
            task.output_urls = [p["url"]]
        size = len(hub.files[p["token"]].data)
        credits = (
            1
            if p["format"] != "mp4"
            else max(1, math.ceil(p["width"] * p["height"] * p["frame_rate"] * p["duration"] / 1e8))
        )
        task.extra["credits"] = credits
        return JSONResponse(render_object(task, "succeeded", file_size=size))

    return [
        Route("/creatomate/{version}/renders", create, methods=["POST"]),
        Route("/creatomate/{version}/renders/{id}", get, methods=["GET"]),
    ]
