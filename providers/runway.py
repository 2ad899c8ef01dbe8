"""Runway Gen-4 (``runway_gen4``): image-to-video with ``gen4_turbo``, text-to-video with ``gen4.5``."""

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
    data_uri,
    progress_fraction,
    raw_bytes_fitting,
)
from providers.errors import ModerationError, RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.params import aspect_ratio, closest, duration_seconds, settings

API_VERSION = "2024-11-06"
IMAGE_MODEL = "gen4_turbo"
TEXT_MODEL = "gen4.5"
# Runway names output sizes as "W:H" pixel ratios; ours are plain aspect ratios.
IMAGE_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (960, 960),
    "4:3": (1104, 832),
    "3:4": (832, 1104),
    "21:9": (1584, 672),
}
TEXT_RATIOS: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "9:16": (720, 1280)}
_IN_PROGRESS = frozenset({"PENDING", "THROTTLED", "RUNNING"})
# promptImage as a data: URI is at most 5 MB (a URL may be 16 MB, but it must be public, https, on a
# domain, without redirects: our signed Drive links redirect on S3), JPEG, PNG or WebP, no GIF
# (docs/providers.md, Runway).
DATA_URI_MAX = 5 * MB
START_IMAGE = ImageSlot(
    types=("image/jpeg", "image/png", "image/webp"),
    max_bytes=raw_bytes_fitting(DATA_URI_MAX, prefix=len("data:image/webp;base64,")),
)


def runway_ratio(ratio: tuple[int, int], choices: dict[str, tuple[int, int]]) -> str:
    width, height = closest(ratio, choices)
    return f"{width}:{height}"


class RunwayAdapter(HttpAdapter):
    family: ClassVar[str] = "runway"
    provider_name: ClassVar[str] = "Runway"
    poll_interval: ClassVar[float] = 5.0
    can_cancel: ClassVar[bool] = True  # DELETE /v1/tasks/{id} stops PENDING/THROTTLED/RUNNING tasks
    start_image: ClassVar[ImageSlot | None] = START_IMAGE

    # admin providers check: the organization (credit balance, and the tier's limits per model).
    check_path: ClassVar[str] = "/organization"

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (IMAGE_MODEL, TEXT_MODEL)

    def listed_models(self, answer: Any) -> set[str] | None:
        tier = answer.get("tier") if isinstance(answer, dict) else None
        models = tier.get("models") if isinstance(tier, dict) else None
        return set(models) if isinstance(models, dict) else None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    def build_request(self, job: JobSpec) -> tuple[str, dict[str, Any]]:
        """The path and body for this job: image-to-video when an input image is attached."""
        ratio = aspect_ratio(job, "16:9")
        body: dict[str, Any] = {"duration": duration_seconds(job)}
        if job.input_files:
            body |= {
                "model": IMAGE_MODEL,
                "promptImage": data_uri(job.input_files[0]),
                "ratio": runway_ratio(ratio, IMAGE_RATIOS),
            }
            if job.prompt:
                body["promptText"] = job.prompt
            path = "/image_to_video"
        else:
            body |= {
                "model": TEXT_MODEL,
                "promptText": job.prompt or "",
                "ratio": runway_ratio(ratio, TEXT_RATIOS),
            }
            path = "/text_to_video"
        seed = settings(job).get("seed")
        if isinstance(seed, int):
            body["seed"] = seed
        return path, body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"model": self.build_request(job)[1]["model"]}

    async def submit(self, job: JobSpec) -> Submitted | Done:
        path, body = self.build_request(job)
        answer = await self.request_json("POST", self.url(path), json_body=body)
        task_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise RetryableError("Runway accepted the request without a task id", code="bad_body")
        return self.submitted(
            task_id, {"model": body["model"], "ratio": body["ratio"], "duration": body["duration"]}
        )

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        answer = await self.request_json("GET", self.url(f"/tasks/{task_id}"))
        if not isinstance(answer, dict):
            raise RetryableError("Runway answered the poll with an unexpected body", code="bad_body")
        status = str(answer.get("status") or "")
        if status in _IN_PROGRESS:
            # THROTTLED is Runway's own queue when we are over our concurrency: just keep waiting.
            return self.pending(progress_fraction(answer.get("progress")))
        if status == "SUCCEEDED":
            urls = [url for url in answer.get("output") or () if isinstance(url, str) and url]
            if not urls:
                raise RetryableError("Runway reported SUCCEEDED without outputs", code="bad_body")
            seconds = float(state.get("duration") or duration_seconds(job))
            return Done(
                outputs=tuple(Output(url=url, content_type="video/mp4") for url in urls),
                usage=Usage(
                    units=seconds,
                    details={"model": state.get("model"), "ratio": state.get("ratio"), "seconds": seconds},
                ),
            )
        if status == "FAILED":
            raise _failure(answer)
        if status == "CANCELLED":
            raise RejectedError("canceled at provider", code="cancelled")
        # Statuses Runway may add later: keep waiting; the worker's deadline bounds it.
        return self.pending()

    async def cancel(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> bool:
        """DELETE stops a PENDING/THROTTLED/RUNNING task, and deletes a finished one: so only a task
        still in progress is deleted, and only that counts as canceled. A task already gone (404)
        or finished was not canceled by us (it ran, and is billed)."""
        try:
            answer = await self.request_json("GET", self.url(f"/tasks/{task_id}"))
            if not isinstance(answer, dict) or answer.get("status") not in _IN_PROGRESS:
                return bool(isinstance(answer, dict) and answer.get("status") == "CANCELLED")
            await self.request("DELETE", self.url(f"/tasks/{task_id}"))
        except RejectedError as exc:
            if exc.code != "http_404":
                raise
            return False  # already gone (deleted or expired): nothing left to stop
        return True


def _failure(answer: dict[str, Any]) -> Exception:
    """A FAILED task is final whatever its code (polling it again reads FAILED again): moderation
    for any SAFETY code (``SAFETY.INPUT.TEXT``, ``INPUT_PREPROCESSING.SAFETY.TEXT`` …), else a
    plain rejection, ``INTERNAL.BAD_OUTPUT.CODE01`` included (docs/providers.md, Runway)."""
    code = str(answer.get("failureCode") or "")
    message = str(answer.get("failure") or "Runway could not generate the video")
    if "SAFETY" in code.upper().split("."):
        return ModerationError(f"Runway's moderation refused the task ({code}): {message}", code=code)
    return RejectedError(
        f"Runway could not generate the video ({code or 'no code'}): {message}", code=code or "failed"
    )
