"""Creatomate renders (``creatomate``): ``POST /renders`` from a template or a RenderScript, poll ``/renders/{id}``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from providers.base import Done, JobSpec, Output, Pending, Submitted, Usage
from providers.errors import RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.params import settings

CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "gif": "image/gif",
    "jpg": "image/jpeg",
    "png": "image/png",
}
IMAGE_FORMATS = frozenset({"jpg", "png"})
_IN_PROGRESS = frozenset({"planned", "waiting", "transcribing", "rendering"})
_PASSED_SETTINGS = ("output_format", "frame_rate", "render_scale", "max_width", "max_height")
PIXELS_PER_CREDIT = 100_000_000


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

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        body: dict[str, Any] = {}
        source = job.params.get("source")
        if isinstance(source, dict) and source:
            body["source"] = source
        else:
            body["template_id"] = job.params.get("template_id")
        # providers.md A7: `modifications` is a top-level field beside any of template_id / tags /
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
