"""Creatomate renders (``creatomate``): ``POST /renders`` from a template or a RenderScript, poll ``/renders/{id}``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from providers.base import Done, JobSpec, Output, Pending, Submitted, Usage
from providers.errors import RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.options import SettingsError
from providers.params import settings

CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "gif": "image/gif",
    "jpg": "image/jpeg",
    "png": "image/png",
}
IMAGE_FORMATS = frozenset({"jpg", "png"})
_IN_PROGRESS = frozenset({"planned", "waiting", "transcribing", "rendering"})
GIF_MAX_FRAME_RATE = 15  # Creatomate: frame_rate 1–60 for mp4, 1–15 for gif (docs/providers.md, Creatomate)
_PASSED_SETTINGS = ("output_format", "frame_rate", "render_scale", "max_width", "max_height")
PIXELS_PER_CREDIT = 100_000_000
# Hard caps on what one render may be (refused before anything is held): output length and pixels
# per frame (4K UHD).
MAX_RENDER_SECONDS = 600
MAX_RENDER_PIXELS = 3840 * 2160
# What a render is assumed to be where neither the request nor the RenderScript says: RenderScript
# takes its size from the first input media (assumed 1080p) and its frame rate from the fastest input
# video, else 60 (the mp4 maximum); a template's length is declared (settings.duration) or assumed.
ASSUMED_SIZE = (1920, 1080)
ASSUMED_FRAME_RATE = 60.0
ASSUMED_TEMPLATE_SECONDS = 30.0
MAX_NESTING = 20


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(value: Any) -> float | None:
    """A RenderScript time or duration in seconds (a number, or a string like "2.5" / "2.5 s")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().removesuffix("s").strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _track(value: Any, index: int) -> Any:
    """An element's track as Creatomate reads it: JSON has one number type, so ``1.0`` is track 1
    (the elements of one track play one after another). None: a track of its own. Anything else
    cannot be placed, so it is refused rather than priced as a track of its own."""
    if value is None:
        return ("own", index)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if float(value).is_integer():
            return int(value)
    raise SettingsError("an element's track must be a whole number", ("source", "elements"))


def timeline_seconds(elements: Any, modifications: dict[str, Any], depth: int = 0) -> float:
    """How long a list of RenderScript elements plays: the latest end of any element. An element
    starts at its ``time``, else where the previous element of its ``track`` ended (elements on
    one track play one after another; an element without a track has one of its own, so starts
    at 0). A composition without a duration lasts as long as its own elements; a video or audio
    element without one lasts as long as its media, which cannot be known here, so it is refused."""
    if depth > MAX_NESTING:
        raise SettingsError(f"compositions may be nested at most {MAX_NESTING} deep", ("source", "elements"))
    track_ends: dict[Any, float] = {}
    latest = 0.0
    for index, element in enumerate(elements if isinstance(elements, list) else ()):
        if not isinstance(element, dict):
            continue
        name = element.get("name")
        # A modification names its element by name or by id; where both are modified, the later
        # end is priced.
        changed: dict[str, Any] = {}
        for ref in (element.get("id"), name):
            for field in ("time", "duration"):
                key = f"{ref}.{field}"
                if isinstance(ref, str) and key in modifications:
                    if (_seconds(modifications[key]) or 0.0) >= (_seconds(changed.get(field)) or 0.0):
                        changed[field] = modifications[key]
        duration = _seconds(changed.get("duration", element.get("duration")))
        if duration is None and element.get("type") == "composition":
            duration = timeline_seconds(element.get("elements"), modifications, depth + 1)
        if duration is None and element.get("type") in ("video", "audio"):
            raise SettingsError(
                f"{'the' if name else 'a'} {element['type']} element {name or ''}".rstrip()
                + " needs a duration (or the source one) so that the render can be priced",
                ("source", "elements"),
            )
        track = _track(element.get("track"), index)
        start = _seconds(changed.get("time", element.get("time")))
        if start is None:
            start = track_ends.get(track, 0.0)
        track_ends[track] = start + (duration or 0.0)
        latest = max(latest, track_ends[track])
    return latest


def _output_format(body: dict[str, Any]) -> str:
    """The format a request renders in: its own ``output_format`` (from settings), else the
    RenderScript's, else a RenderScript's still image (jpg) or a template's video (mp4)."""
    source = body.get("source") if isinstance(body.get("source"), dict) else None
    script = source or {}
    return str(body.get("output_format") or script.get("output_format") or ("jpg" if source else "mp4"))


def planned_render(body: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """The render a request asks Creatomate for, as Creatomate bills it: output format, output
    width × height (``render_scale``, or scaled to fit ``max_width``/``max_height``), frame rate
    and seconds. ``declared`` holds a template's declared width, height and duration. Refuses a
    render beyond :data:`MAX_RENDER_SECONDS` or :data:`MAX_RENDER_PIXELS` per frame."""
    source = body.get("source") if isinstance(body.get("source"), dict) else None
    modifications = body.get("modifications")
    modifications = modifications if isinstance(modifications, dict) else {}
    script = source or {}
    if source is not None:
        for key in ("width", "height", "duration"):
            if key in declared:
                raise SettingsError(
                    f"settings.{key} declares a template's {key}; a source carries its own", ("settings", key)
                )
    output_format = _output_format(body)
    width, height = (
        (script.get("width"), script.get("height"))
        if source
        else (declared.get("width"), declared.get("height"))
    )
    for key in ("width", "height", "frame_rate"):
        # What cannot be read as a number here must not be priced as its default (1920, 60 …) and
        # then rendered as whatever Creatomate makes of it ("3840").
        value = script.get(key)
        if value is not None and not _is_number(value):
            raise SettingsError(f"source.{key} must be a number", ("source", key))
    width = float(width) if isinstance(width, int | float) and width > 0 else float(ASSUMED_SIZE[0])
    height = float(height) if isinstance(height, int | float) and height > 0 else float(ASSUMED_SIZE[1])
    if source is None and width * height < ASSUMED_SIZE[0] * ASSUMED_SIZE[1]:
        # A template's size is the caller's word: it may raise the estimate, never lower it (a
        # template declared 64×64 was held, and charged, 1 credit for a 1280×720 render).
        width, height = float(ASSUMED_SIZE[0]), float(ASSUMED_SIZE[1])
    if body.get("max_width") or body.get("max_height"):
        # "Scales the render so that it never exceeds" the box; render_scale is then ignored.
        fits = [body[k] / side for k, side in (("max_width", width), ("max_height", height)) if body.get(k)]
        scale = min(fits)
    else:
        scale = float(body.get("render_scale") or 1.0)
    out_w, out_h = math.ceil(width * scale), math.ceil(height * scale)
    if out_w * out_h > MAX_RENDER_PIXELS:
        culprit = next((k for k in ("max_width", "max_height", "render_scale") if body.get(k)), None)
        raise SettingsError(
            f"the render would be {out_w}×{out_h} pixels; at most {MAX_RENDER_PIXELS:,} per frame "
            "(4K) are rendered: lower settings.render_scale, max_width/max_height or the size",
            ("settings", culprit) if culprit else ("source", "width") if source else ("settings", "width"),
        )
    render: dict[str, Any] = {"output_format": output_format, "width": out_w, "height": out_h}
    if output_format in IMAGE_FORMATS:
        return render
    frame_rate = body.get("frame_rate") or script.get("frame_rate")
    frame_rate = (
        float(frame_rate) if isinstance(frame_rate, int | float) and frame_rate > 0 else ASSUMED_FRAME_RATE
    )
    if frame_rate > 60:
        raise SettingsError("source.frame_rate may be at most 60", ("source", "frame_rate"))
    if output_format == "gif" and frame_rate > GIF_MAX_FRAME_RATE:
        raise SettingsError(
            f"a gif renders at 1 to {GIF_MAX_FRAME_RATE} frames per second, not {frame_rate:g}: "
            f"set settings.frame_rate to at most {GIF_MAX_FRAME_RATE}",
            ("settings", "frame_rate"),
        )
    if source is not None:
        seconds = _seconds(script.get("duration"))
        if seconds is None:
            seconds = timeline_seconds(script.get("elements"), modifications)
    else:
        seconds = max(float(declared.get("duration") or 0.0), ASSUMED_TEMPLATE_SECONDS)  # likewise
        # A modification may move or lengthen a template's element beyond what was declared.
        names = {key.rpartition(".")[0] for key in modifications if key.endswith((".duration", ".time"))}
        for name in names:
            end = (_seconds(modifications.get(f"{name}.time")) or 0.0) + (
                _seconds(modifications.get(f"{name}.duration")) or 0.0
            )
            seconds = max(seconds, end)
    if seconds > MAX_RENDER_SECONDS:
        raise SettingsError(
            f"the render would last {seconds:g} s; at most {MAX_RENDER_SECONDS} s are rendered",
            ("source", "duration") if source is not None else ("settings", "duration"),
        )
    return {**render, "frame_rate": frame_rate, "duration": max(seconds, 1.0 / frame_rate)}


def render_credits(render: dict[str, Any]) -> int:
    """Creatomate's charge for a finished render: 1 per image, width×height×fps×seconds / 1e8 per video."""
    if str(render.get("output_format") or "") in IMAGE_FORMATS:
        return 1
    volume = 1.0
    for key in ("width", "height", "frame_rate", "duration"):
        value = render.get(key)
        volume *= float(value) if isinstance(value, int | float) else 0.0
    return max(1, math.ceil(volume / PIXELS_PER_CREDIT))


class CreatomateAdapter(HttpAdapter):
    family: ClassVar[str] = "creatomate"
    provider_name: ClassVar[str] = "Creatomate"
    poll_interval: ClassVar[float] = 2.0

    # admin providers check: the project's templates (compact list); no models.
    check_path: ClassVar[str] = "/templates"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @staticmethod
    def output_content_type(params: dict[str, Any]) -> str | None:
        """The content type a job with these params renders (models/creatives.py checks it against
        the element of the composite it fills): the format :meth:`build_request` asks for."""
        body: dict[str, Any] = {"source": params.get("source")}
        user = params.get("settings") or {}
        chosen = user.get("output_format") if isinstance(user, dict) else None
        if chosen is None and params.get("output_format") in CONTENT_TYPES:
            chosen = params.get("output_format")
        if chosen is not None:
            body["output_format"] = chosen
        return CONTENT_TYPES.get(_output_format(body))

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        body: dict[str, Any] = {}
        source = job.params.get("source")
        if isinstance(source, dict) and source:
            body["source"] = source
        else:
            body["template_id"] = job.params.get("template_id")
        # docs/providers.md, Creatomate: `modifications` is a top-level field beside any of template_id / tags /
        # source; with a RenderScript it fills the named elements too (composite inputs arrive here).
        modifications = job.params.get("modifications")
        if isinstance(modifications, dict):
            body["modifications"] = modifications
        output_format = job.params.get("output_format")
        if output_format in CONTENT_TYPES:
            body["output_format"] = output_format
        user = settings(job)
        body.update({key: user[key] for key in _PASSED_SETTINGS if user.get(key) is not None})
        body["metadata"] = job.job_id
        return body

    def estimated_units(self, job: JobSpec) -> float | None:
        user = settings(job)
        return float(render_credits(planned_render(self.build_request(job), user)))

    async def submit(self, job: JobSpec) -> Submitted | Done:
        answer = await self.request_json("POST", self.url("/renders"), json_body=self.build_request(job))
        # v1 answers an array (one render per matching template); accept a single object too.
        renders = answer if isinstance(answer, list) else [answer]
        first = renders[0] if renders and isinstance(renders[0], dict) else {}
        render_id = first.get("id")
        if not isinstance(render_id, str) or not render_id:
            raise RetryableError("Creatomate accepted the render without an id", code="bad_body")
        return self.submitted(render_id, {"renders": len(renders)})

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        render = await self.request_json("GET", self.url(f"/renders/{task_id}"))
        if not isinstance(render, dict):
            raise RetryableError("Creatomate answered the poll with an unexpected body", code="bad_body")
        status = str(render.get("status") or "")
        if status in _IN_PROGRESS:
            return self.pending()
        if status == "succeeded":
            url = render.get("url")
            if not isinstance(url, str) or not url:
                raise RetryableError("Creatomate reported succeeded without a URL", code="bad_body")
            output_format = str(render.get("output_format") or "mp4")
            credits = render_credits(render)
            details = {
                key: render.get(key) for key in ("output_format", "width", "height", "frame_rate", "duration")
            }
            return Done(
                outputs=(Output(url=url, content_type=CONTENT_TYPES.get(output_format)),),
                usage=Usage(units=credits, details={**details, "credits": credits}),
            )
        if status == "failed":
            raise RejectedError(
                str(render.get("error_message") or "Creatomate could not render this"), code="render_failed"
            )
        return self.pending()
