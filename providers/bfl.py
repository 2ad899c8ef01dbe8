"""Black Forest Labs FLUX.2 [pro] (``flux_2_pro``): ``POST /v1/flux-2-pro``, then poll ``polling_url``.

The polling_url comes from BFL's answer, so it is called with our key only when it is on the base
URL's origin or on a ``.bfl.ai`` host over https (:meth:`HttpAdapter.is_api_url`)."""

from __future__ import annotations

from typing import Any, ClassVar

from providers.base import (
    MB,
    Done,
    ImageSlot,
    JobSpec,
    Output,
    Pending,
    Submitted,
    Usage,
    base64_of,
    progress_fraction,
)
from providers.errors import LostTaskError, ModerationError, RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.params import aspect_ratio, settings, size_for_ratio

_PASSED_SETTINGS = ("width", "height", "seed", "output_format", "safety_tolerance")
_MODERATED = frozenset({"Request Moderated", "Content Moderated"})
_FAILED = frozenset({"Error"})
_LOST = "Task not found"
# FLUX.2 [pro] takes up to 8 reference images as input_image, input_image_2 … input_image_8 (a URL
# or base64); BFL bills each input megapixel (docs/providers.md, BFL). The size cap is ours.
REFERENCE_IMAGES = ImageSlot(
    types=("image/jpeg", "image/png", "image/webp"), max_bytes=20 * MB, max_count=8, max_pixels=20_000_000
)


def input_image_fields(count: int) -> list[str]:
    """``input_image``, ``input_image_2`` … for ``count`` references."""
    return ["input_image" if i == 0 else f"input_image_{i + 1}" for i in range(count)]


class BflAdapter(HttpAdapter):
    family: ClassVar[str] = "bfl"
    provider_name: ClassVar[str] = "Black Forest Labs"
    poll_interval: ClassVar[float] = 1.0
    reference_images: ClassVar[ImageSlot | None] = REFERENCE_IMAGES

    # admin providers check: the account's credits (docs.bfl.ai, "Get the user's credits"); lists no models.
    check_path: ClassVar[str] = "/v1/credits"

    def auth_headers(self) -> dict[str, str]:
        return {"x-key": self.api_key}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        # Validation fixed the size (it is what the hold was priced on); older rows may lack it.
        width, height = job.params.get("width"), job.params.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            width, height = size_for_ratio(*aspect_ratio(job, "1:1"))
        body: dict[str, Any] = {"prompt": job.prompt or "", "width": width, "height": height}
        if job.params.get("output_format") is not None:
            body["output_format"] = job.params["output_format"]
        user = settings(job)
        body.update({key: user[key] for key in _PASSED_SETTINGS if user.get(key) is not None})
        if "output_format" in body:
            # BFL knows only "jpeg" and "png"; people and other APIs say "jpg".
            output_format = str(body["output_format"]).lower()
            body["output_format"] = "jpeg" if output_format == "jpg" else output_format
        for name, image in zip(input_image_fields(len(job.input_files)), job.input_files, strict=True):
            body[name] = base64_of(image)  # plain base64, no data: prefix
        return body

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        answer = await self.request_json("POST", self.url("/v1/flux-2-pro"), json_body=body)
        task_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise RetryableError("Black Forest Labs accepted the request without a task id", code="bad_body")
        polling_url = answer.get("polling_url")
        state: dict[str, Any] = {
            # BFL requires the returned polling_url verbatim: it names the cluster holding the task.
            "polling_url": polling_url if isinstance(polling_url, str) and polling_url else None,
            "width": body["width"],
            "height": body["height"],
            "output_format": body.get("output_format", "jpeg"),
        }
        for key in ("cost", "output_mp", "input_mp"):
            if isinstance(answer.get(key), int | float):
                state[key] = answer[key]
        return self.submitted(task_id, state)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        polling_url = state.get("polling_url")
        if isinstance(polling_url, str) and polling_url:
            answer = await self.request_json("GET", polling_url)
        else:
            answer = await self.request_json("GET", self.url("/v1/get_result"), params={"id": task_id})
        if not isinstance(answer, dict):
            raise RetryableError(
                "Black Forest Labs answered the poll with an unexpected body", code="bad_body"
            )
        status = str(answer.get("status") or "")
        if status == "Ready":
            return self._done(answer, state)
        if status in _MODERATED:
            raise ModerationError(
                f"the image was blocked by Black Forest Labs' moderation ({status})",
                code=status.lower().replace(" ", "_"),
            )
        if status == _LOST:
            raise LostTaskError("Black Forest Labs no longer knows the task", code="task_not_found")
        if status in _FAILED:
            raise RejectedError(
                f"Black Forest Labs could not make the image: {_failure_text(answer, status)}",
                code=status.lower().replace(" ", "_"),
            )
        # Pending, and in-progress states newer models report (Reasoning, Generating, …).
        return self.pending(progress_fraction(answer.get("progress")))

    def _done(self, answer: dict[str, Any], state: dict[str, Any]) -> Done:
        result = answer.get("result")
        sample = result.get("sample") if isinstance(result, dict) else None
        if not isinstance(sample, str) or not sample:
            raise RetryableError("Black Forest Labs reported Ready without a result URL", code="bad_body")
        width, height = int(state.get("width") or 0), int(state.get("height") or 0)
        output_mp = state.get("output_mp")
        megapixels = float(output_mp) if isinstance(output_mp, int | float) else width * height / 1e6
        content_type = "image/png" if state.get("output_format") == "png" else "image/jpeg"
        details: dict[str, Any] = {"width": width, "height": height, "megapixels": megapixels}
        if "cost" in state:
            details["cost_credits"] = state["cost"]
        if isinstance(result, dict) and isinstance(result.get("seed"), int):
            details["seed"] = result["seed"]
        return Done(
            outputs=(Output(url=sample, content_type=content_type),),
            usage=Usage(units=megapixels, details=details),
        )


def _failure_text(answer: dict[str, Any], status: str) -> str:
    """BFL's words for a failed task: the top-level ``error`` (what BFL documents for ``Error``),
    else a message inside ``details``. For the server log only (providers/errors.py)."""
    error = answer.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, dict):
        for key in ("message", "detail", "error"):
            if isinstance(error.get(key), str) and error[key]:
                return str(error[key])
    details = answer.get("details")
    if isinstance(details, dict):
        for key in ("message", "error", "detail"):
            if isinstance(details.get(key), str):
                return str(details[key])
    if isinstance(details, str) and details:
        return details
    return status
