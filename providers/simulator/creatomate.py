"""Creatomate: ``POST /v1/renders`` (202, an array of renders) and ``GET /v1/renders/{id}``."""

from __future__ import annotations

import asyncio
import io
import math
from typing import Any

import av
import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator import composite
from providers.simulator.common import (
    bearer_token,
    file_url,
    is_int,
    is_number,
    json_object,
    read_image,
    stage,
    strings_in,
    too_many_requests,
)
from providers.simulator.media import MediaSpec
from providers.simulator.state import SimState, SimTask, markers_in

FAMILY = "creatomate"
PATH = "/creatomate"
NOMINAL_SECONDS = 5.0
URL_TTL = 30 * 24 * 3600.0
STAGES = ((0.0, "planned"), (0.2, "rendering"))
FORMATS = ("jpg", "png", "gif", "mp4")
MEDIA_KIND = {"jpg": "jpeg", "png": "png", "gif": "gif", "mp4": "mp4"}
TEMPLATE_SIZE = (1280, 720)
TEMPLATE_FRAME_RATE = 25
TEMPLATE_SECONDS = 5.0
SOURCE_FRAME_RATE = 60  # RenderScript default when no input video sets one
MAX_SIDE = 4096
# Creatomate downloads every media source it renders: a modification that sets a media element's
# source to a URL is fetched (redirects followed), and a render whose source cannot be loaded, or is
# not media of the element's kind, fails. The simulator does the same with the URLs it is given.
MEDIA_ELEMENTS = ("image", "video", "audio")
FETCH_TIMEOUT = 15.0
ELEMENT_FETCH_TIMEOUT = 5.0
MAX_FETCH_BYTES = 200 * 1024 * 1024


def _media_elements(elements: Any, found: dict[str, str], depth: int = 0) -> dict[str, str]:
    if depth > 20 or not isinstance(elements, list):
        return found
    for element in elements:
        if isinstance(element, dict):
            for key in ("name", "id"):
                if isinstance(element.get(key), str):
                    found.setdefault(element[key], str(element.get("type") or ""))
            _media_elements(element.get("elements"), found, depth + 1)
    return found


def _sources_to_fetch(body: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Element → (URL, its type where the source says) for every modification that sets a media
    element's source to a URL (every URL value, for a template: its elements are not known here)."""
    modifications = body.get("modifications")
    source = body.get("source")
    elements = _media_elements(source.get("elements"), {}) if isinstance(source, dict) else None
    wanted: dict[str, tuple[str, str | None]] = {}
    for key, value in (modifications or {}).items():
        if not (isinstance(value, str) and value.startswith(("https://", "http://"))):
            continue
        name = key.removesuffix(".source")
        if elements is None:
            wanted[name] = (value, None)
        elif elements.get(name) in MEDIA_ELEMENTS:
            wanted[name] = (value, elements[name])
    return wanted


def _media_kind(data: bytes) -> str | None:
    """image, video or audio, by decoding the bytes; None when they are none of these."""
    if read_image(data) is not None:
        return "image"
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if container.streams.video:
                return "video"
            if container.streams.audio:
                return "audio"
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    return None


async def _load_sources(body: dict[str, Any]) -> tuple[str | None, dict[str, bytes]]:
    """Why a media source of the render cannot be loaded (the first one), or None; and the bytes
    of every source loaded (by element name), for the render to use (``composite``)."""
    wanted = _sources_to_fetch(body)
    loaded: dict[str, bytes] = {}
    if not wanted:
        return None, loaded
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=True) as client:
        for name, (url, kind) in wanted.items():
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                return f"the source of element '{name}' could not be loaded ({type(exc).__name__})", loaded
            if response.status_code != 200 or len(response.content) > MAX_FETCH_BYTES:
                return (
                    f"the source of element '{name}' could not be loaded (HTTP {response.status_code})",
                    loaded,
                )
            found = await run_in_threadpool(_media_kind, response.content)
            if found is None or (kind is not None and found != kind):
                return (
                    f"the source of element '{name}' is not {kind or 'media'} ({found or 'unreadable'})",
                    loaded,
                )
            loaded[name] = response.content
    return None, loaded


async def _element_sources(
    elements: list[dict[str, Any]], types: tuple[str, ...], loaded: dict[str, bytes]
) -> dict[str, bytes]:
    """The media of ``types`` elements whose RenderScript ``source`` is a URL no modification
    replaced, fetched for the render only (best effort, within ELEMENT_FETCH_TIMEOUT in all:
    Creatomate's failing on them is not simulated), by element key."""
    found: dict[str, bytes] = {}
    wanted = [
        (composite.element_key(element, index), element["source"])
        for index, element in enumerate(elements)
        if element.get("type") in types
        and composite.element_key(element, index) not in loaded
        and isinstance(element.get("source"), str)
        and element["source"].startswith(("https://", "http://"))
    ]
    if not wanted:
        return found
    try:
        async with (
            asyncio.timeout(ELEMENT_FETCH_TIMEOUT),
            httpx.AsyncClient(timeout=ELEMENT_FETCH_TIMEOUT, follow_redirects=True) as client,
        ):
            for key, url in wanted:
                data = bytearray()
                try:
                    async with client.stream("GET", url) as response:
                        if response.status_code != 200:
                            continue
                        async for chunk in response.aiter_bytes():
                            data += chunk
                            if len(data) > composite.MAX_KEPT_BYTES:
                                break
                except httpx.HTTPError:
                    continue
                if len(data) <= composite.MAX_KEPT_BYTES:
                    found[key] = bytes(data)
    except TimeoutError:
        pass
    return found


async def _output_spec(body: dict[str, Any], plan: dict[str, Any], loaded: dict[str, bytes]) -> MediaSpec:
    """The output file: made from the inputs where the RenderScript can be (``composite``), else
    the generated media of its format and size."""
    kind = MEDIA_KIND[plan["output_format"]]
    seconds = float(plan["duration"] or 0.0)
    source = body.get("source")
    if not isinstance(source, dict) or kind not in ("jpeg", "png", "mp4"):
        return MediaSpec(kind, plan["width"], plan["height"], seconds)
    elements = composite.apply_modifications(source.get("elements"), body.get("modifications"))
    types = ("video", "audio") if kind == "mp4" else ("image",)
    sources = loaded | await _element_sources(elements, types, loaded)
    if sum(len(data) for data in sources.values()) > composite.MAX_KEPT_BYTES:
        sources = {}
    script_size = (int(source.get("width", TEMPLATE_SIZE[0])), int(source.get("height", TEMPLATE_SIZE[1])))
    return composite.Composite(
        kind, plan["width"], plan["height"], seconds, script_size, tuple(elements), sources
    )


def _hint(status: int, hint: str) -> JSONResponse:
    return JSONResponse({"hint": hint}, status_code=status)


def _timeline_seconds(source: dict[str, Any]) -> float:
    """The RenderScript's duration: explicit, else the end of its last timed element, else 5 s."""
    if is_number(source.get("duration")):
        return float(source["duration"])
    ends = [
        float(element.get("time", 0) if is_number(element.get("time", 0)) else 0) + float(element["duration"])
        for element in source.get("elements") or ()
        if isinstance(element, dict) and is_number(element.get("duration"))
    ]
    return max(ends) if ends else TEMPLATE_SECONDS


def _render_plan(body: dict[str, Any]) -> dict[str, Any] | str:
    """What will be rendered (format, size, fps, seconds), or the hint explaining the bad request."""
    source = body.get("source")
    if source is not None:
        if not isinstance(source, dict):
            return "The source must be a RenderScript object."
        if "elements" in source and not isinstance(source["elements"], list):
            return "The source's elements must be an array."
        output_format = body.get("output_format") or source.get("output_format") or "jpg"
        width, height = source.get("width", TEMPLATE_SIZE[0]), source.get("height", TEMPLATE_SIZE[1])
        frame_rate = body.get("frame_rate") or source.get("frame_rate") or SOURCE_FRAME_RATE
        seconds = _timeline_seconds(source)
        if not (math.isfinite(seconds) and seconds > 0):
            return "The duration must be a positive number of seconds."
    elif body.get("template_id") or body.get("tags"):
        if body.get("template_id") is not None and not isinstance(body["template_id"], str):
            return "The template_id must be a string."
        output_format = body.get("output_format") or "mp4"
        width, height = TEMPLATE_SIZE
        frame_rate = body.get("frame_rate") or TEMPLATE_FRAME_RATE
        seconds = TEMPLATE_SECONDS
    else:
        return "Either a template_id, tags or a source must be provided."
    if output_format not in FORMATS:
        return f"The output_format must be one of {', '.join(FORMATS)}."
    if not (is_int(width) and is_int(height) and 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        return "The width and height must be whole numbers of pixels."
    fps_limit = 15 if output_format == "gif" else 60
    if not is_number(frame_rate) or not 1 <= frame_rate <= fps_limit:
        return f"The frame_rate must be between 1 and {fps_limit} for {output_format}."
    modifications = body.get("modifications")
    if modifications is not None and not isinstance(modifications, dict):
        return "The modifications must be an object."
    scale = _scale(body, width, height)
    if isinstance(scale, str):
        return scale
    is_image = output_format in ("jpg", "png")
    out_width, out_height = max(1, round(width * scale)), max(1, round(height * scale))
    if max(out_width, out_height) > MAX_SIDE:
        return f"The rendered size must not exceed {MAX_SIDE} pixels on either side."
    return {
        "output_format": output_format,
        "width": out_width,
        "height": out_height,
        "frame_rate": None if is_image else frame_rate,
        "duration": None if is_image else round(seconds, 3),
        "render_scale": scale,
    }


def _scale(body: dict[str, Any], width: int, height: int) -> float | str:
    scale = body.get("render_scale", 1.0)
    if not is_number(scale) or not 0.1 <= scale <= 10:
        return "The render_scale must be between 0.1 and 10."
    for limit, side in (("max_width", width), ("max_height", height)):
        value = body.get(limit)
        if value is None:
            continue
        if not is_int(value) or value < 1:
            return f"The {limit} must be a positive whole number."
        scale = min(scale, value / side)
    return float(scale)


def routes(sim: SimState) -> list[BaseRoute]:
    def authorized(request: Request) -> bool:
        return bearer_token(request) == sim.api_key

    def unauthorized() -> JSONResponse:
        return _hint(401, "The API key is missing or invalid. Find your project's API key in the dashboard.")

    async def create(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        body = await json_object(request)
        if body is None:
            return _hint(400, "The request body must be a JSON object.")
        plan = _render_plan(body)
        if isinstance(plan, str):
            return _hint(400, plan)
        text = "\n".join(strings_in([body.get("source"), body.get("modifications")]))
        markers = markers_in(text)
        sim.record_attempt(FAMILY, markers)
        if sim.trips_once(FAMILY, "429", text, markers):
            return too_many_requests({"hint": "Rate limit exceeded: at most 30 requests per 10 seconds."})
        if sim.trips_once(FAMILY, "500", text, markers):
            return _hint(500, "An internal error occurred. Please try again.")
        info = plan | {
            "template_id": body.get("template_id"),
            "modifications": body.get("modifications"),
            "metadata": body.get("metadata"),
            "webhook_url": body.get("webhook_url"),
        }
        info["unloadable"], loaded = await _load_sources(body)
        spec = await _output_spec(body, plan, loaded) if info["unloadable"] is None else None
        task = sim.new_task(FAMILY, markers, NOMINAL_SECONDS, info)
        seconds = float(plan["duration"] or 0.0)
        spec = spec or MediaSpec(MEDIA_KIND[plan["output_format"]], plan["width"], plan["height"], seconds)
        task.info["token"] = sim.add_file(task, spec, URL_TTL)
        task.info["snapshot"] = sim.add_file(task, MediaSpec("jpeg", *_snapshot_size(plan)), URL_TTL)
        return JSONResponse([await describe(request, task, initial=True)], status_code=202)

    async def describe(request: Request, task: SimTask, *, initial: bool = False) -> dict[str, Any]:
        now = sim.now()
        info = task.info
        render: dict[str, Any] = {
            "id": task.id,
            "status": stage(task, now, STAGES) or "succeeded",
            "error_message": None,
            "url": file_url(request, PATH, info["token"], info["output_format"]),
            "snapshot_url": file_url(request, PATH, info["snapshot"], "jpg"),
            "template_id": info["template_id"],
            "template_name": None,
            "template_tags": [],
            "output_format": info["output_format"],
            "render_scale": info["render_scale"],
            "width": info["width"],
            "height": info["height"],
            "frame_rate": info["frame_rate"],
            "duration": info["duration"],
            "file_size": None,
            "modifications": info["modifications"],
            "webhook_url": info["webhook_url"],
            "metadata": info["metadata"],
        }
        if initial:
            # Renders are always created as planned, however fast they then go.
            return render | {"status": "planned"}
        if render["status"] != "succeeded":
            return render
        if task.outcome == "moderate":
            message = "The render was stopped because its content violates the terms of service."
            return render | {"status": "failed", "error_message": message}
        if task.outcome == "fail":
            message = "The render failed: a source file could not be loaded."
            return render | {"status": "failed", "error_message": message}
        if info.get("unloadable"):
            return render | {"status": "failed", "error_message": f"The render failed: {info['unloadable']}."}
        data = await run_in_threadpool(sim.files[info["token"]].spec.render)
        return render | {"file_size": len(data)}

    async def get_render(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        task = sim.find(FAMILY, str(request.path_params["render_id"]))
        if task is None:
            return _hint(404, "The render was not found.")
        return JSONResponse(await describe(request, task))

    return [
        Route(f"{PATH}/v1/renders", create, methods=["POST"]),
        Route(f"{PATH}/v1/renders/{{render_id}}", get_render, methods=["GET"]),
    ]


def _snapshot_size(plan: dict[str, Any]) -> tuple[int, int]:
    scale = min(1.0, 320 / max(plan["width"], plan["height"]))
    return max(1, math.floor(plan["width"] * scale)), max(1, math.floor(plan["height"] * scale))


def check_routes(sim: SimState) -> list[BaseRoute]:
    """``GET /v1/templates``: the project's templates, compact (no sources)."""

    async def templates(request: Request) -> Response:
        if bearer_token(request) != sim.api_key:
            return _hint(
                401, "The API key is missing or invalid. Find your project's API key in the dashboard."
            )
        return JSONResponse([{"id": "sim-template", "name": "Simulator template", "tags": []}])

    return [Route(f"{PATH}/v1/templates", templates, methods=["GET"])]
