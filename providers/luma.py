"""Luma Ray 3 (``luma_ray3``) on the Luma Agents API: ``POST /generations`` with model ``ray-3.2``,
poll ``GET /generations/{id}`` (queued → processing → completed | failed)."""

from __future__ import annotations

from typing import Any, ClassVar

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, Submitted, Usage, base64_of
from providers.errors import InvalidInputError, ModerationError, RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.options import SettingsError
from providers.params import aspect_ratio, closest, duration_seconds, settings

MODEL = "ray-3.2"
DURATIONS = (5, 10)  # sent as "5s" / "10s"
# Ray 3.2 renders 10 s clips from text alone: no start/end frame, no loop (docs/providers.md, Luma).
TEXT_ONLY_DURATIONS = (10,)
# ray-3.2's video subset of the API's aspect ratios (third-party, UNVERIFIED; the API validates).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
}
_IN_PROGRESS = frozenset({"queued", "processing"})
# start_frame: inline base64 with its media_type. Luma's failure codes name image_too_large and
# unsupported_format without numbers; the cap and the types are ours (docs/providers.md, Luma).
START_IMAGE = ImageSlot(types=("image/jpeg", "image/png", "image/webp"), max_bytes=10 * MB)
_FAILURES: dict[str, str] = {
    "content_moderated": "the video was blocked by Luma's content moderation",
    "generation_failed": "Luma could not generate the video; trying again may work",
    "output_not_found": "Luma lost the generated video; trying again may work",
    "budget_exhausted": "the Luma account has no budget left",
    "image_too_large": "the input image is too large for Luma",
    "unsupported_format": "Luma does not support the input image's format",
    "corrupt_input": "Luma could not read the input image",
    "invalid_request": "Luma rejected the request",
    "rate_limited": "Luma was over its rate limit and dropped the generation",
}


class LumaAdapter(HttpAdapter):
    family: ClassVar[str] = "luma"
    provider_name: ClassVar[str] = "Luma"
    poll_interval: ClassVar[float] = 5.0
    start_image: ClassVar[ImageSlot | None] = START_IMAGE

    # admin providers check: one page of files (luma-agents' files.list); the Agents API lists no models.
    check_path: ClassVar[str] = "/files"
    check_params: ClassVar[dict[str, str]] = {"limit": "1"}

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (MODEL,)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        seconds = duration_seconds(job)
        if seconds not in DURATIONS:
            raise InvalidInputError(
                f"Luma Ray 3 renders 5 or 10 second clips, not {seconds}", code="bad_duration"
            )
        user = settings(job)
        resolution = user["resolution"]  # declared in providers.options.LumaSettings (default 720p)
        width, height = closest(aspect_ratio(job, "16:9"), ASPECT_RATIOS)
        video: dict[str, Any] = {"duration": f"{seconds}s", "resolution": resolution}
        if user.get("loop") is True:
            if seconds in TEXT_ONLY_DURATIONS:
                raise SettingsError(
                    f"settings.loop is not available with {seconds} second clips on luma_ray3; "
                    "durationSeconds 5 may loop",
                    ("settings", "loop"),
                )
            video["loop"] = True
        if job.input_files and seconds in TEXT_ONLY_DURATIONS:
            raise SettingsError(
                f"luma_ray3 renders {seconds} second clips from text only; with imageFileId "
                f"durationSeconds must be {', '.join(str(d) for d in DURATIONS if d not in TEXT_ONLY_DURATIONS)}",
                ("durationSeconds",),
            )
        if job.input_files:
            image = job.input_files[0]
            video["start_frame"] = {
                "data": base64_of(image),
                "media_type": image.content_type,
            }
        return {
            "model": MODEL,
            "type": "video",
            "prompt": job.prompt or "",
            "aspect_ratio": f"{width}:{height}",
            "video": video,
        }

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"resolution": self.build_request(job)["video"]["resolution"]}

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        answer = await self.request_json("POST", self.url("/generations"), json_body=body)
        generation_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(generation_id, str) or not generation_id:
            raise RetryableError("Luma accepted the request without a generation id", code="bad_body")
        return self.submitted(
            generation_id,
            {
                "seconds": int(body["video"]["duration"].rstrip("s")),
                "resolution": body["video"]["resolution"],
                "aspect_ratio": body["aspect_ratio"],
            },
        )

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        answer = await self.request_json("GET", self.url(f"/generations/{task_id}"))
        if not isinstance(answer, dict):
            raise RetryableError("Luma answered the poll with an unexpected body", code="bad_body")
        status = str(answer.get("state") or "")
        if status in _IN_PROGRESS:
            return self.pending()
        if status == "completed":
            outputs = [
                item for item in answer.get("output") or () if isinstance(item, dict) and item.get("url")
            ]
            videos = [item for item in outputs if item.get("type", "video") == "video"] or outputs
            if not videos:
                raise RetryableError("Luma reported completed without a video", code="bad_body")
            seconds = float(state.get("seconds") or duration_seconds(job))
            details = {
                "model": answer.get("model") or MODEL,
                "seconds": seconds,
                "resolution": state.get("resolution"),
                "aspect_ratio": state.get("aspect_ratio"),
            }
            return Done(
                outputs=(Output(url=str(videos[0]["url"]), content_type="video/mp4"),),
                usage=Usage(units=seconds, details=details),
            )
        if status == "failed":
            raise _failure(answer)
        return self.pending()


def _failure(answer: dict[str, Any]) -> RejectedError:
    code = str(answer.get("failure_code") or "") or "failed"
    reason = answer.get("failure_reason")
    summary = _FAILURES.get(code, "Luma could not generate the video")
    message = f"{summary}: {reason}" if isinstance(reason, str) and reason else summary
    if code == "content_moderated":
        return ModerationError(message, code=code)
    # A failed generation is final: polling it again cannot help, so even Luma's "retryable"
    # codes end the job (free); the user may simply submit again.
    return RejectedError(message, code=code)
