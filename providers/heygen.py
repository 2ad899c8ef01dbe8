"""HeyGen avatar video (``heygen``): ``POST /v2/video/generate``, poll ``GET /v1/video_status.get``."""

from __future__ import annotations

from typing import Any, ClassVar

from providers.base import Done, JobSpec, Output, Pending, Submitted, Usage
from providers.errors import ModerationError, RejectedError, RetryableError
from providers.http import error_from_body, is_moderation
from providers.http_adapter import HttpAdapter
from providers.params import aspect_ratio, closest, settings

DIMENSIONS: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (720, 720),
    "4:5": (720, 900),
}
# New-style code, legacy numeric code and its legacy name for blocked script text.
MODERATION_CODES = ("400105", "BLOCKED_WORDS", "blocked_words_detected")
_IN_PROGRESS = frozenset({"pending", "waiting", "processing"})
_PASSED_VOICE_SETTINGS = ("speed", "pitch", "emotion", "locale")


class HeygenAdapter(HttpAdapter):
    family: ClassVar[str] = "heygen"
    provider_name: ClassVar[str] = "HeyGen"
    poll_interval: ClassVar[float] = 5.0
    moderation_codes: ClassVar[tuple[str, ...]] = MODERATION_CODES

    # admin providers check: the v3 current user (profile and balance); lists no models.
    check_path: ClassVar[str] = "/v3/users/me"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        width, height = closest(aspect_ratio(job, "16:9"), DIMENSIONS)
        user = settings(job)
        voice: dict[str, Any] = {
            "type": "text",
            "voice_id": job.params.get("voice_id"),
            "input_text": job.prompt or "",
        }
        voice.update({key: user[key] for key in _PASSED_VOICE_SETTINGS if user.get(key) is not None})
        character = {
            "type": "avatar",
            "avatar_id": job.params.get("avatar_id"),
            "avatar_style": user.get("avatar_style") or "normal",
        }
        body: dict[str, Any] = {
            "video_inputs": [{"character": character, "voice": voice}],
            "dimension": {"width": width, "height": height},
            "callback_id": job.job_id,
        }
        if isinstance(user.get("background_color"), str):
            body["video_inputs"][0]["background"] = {"type": "color", "value": user["background_color"]}
        return body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        # character.type "avatar" (a studio avatar or digital twin: the dearer per-second rate; the
        # cheaper photo avatars are "talking_photo", never sent) at the dimension sent.
        dimension = self.build_request(job)["dimension"]
        return {"resolution": "4k" if max(dimension["width"], dimension["height"]) > 1920 else "hd"}

    async def submit(self, job: JobSpec) -> Submitted | Done:
        answer = await self.request_json(
            "POST", self.url("/v2/video/generate"), json_body=self.build_request(job)
        )
        _raise_body_error(answer)
        data = answer.get("data") if isinstance(answer, dict) else None
        video_id = data.get("video_id") if isinstance(data, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise RetryableError("HeyGen accepted the request without a video id", code="bad_body")
        return self.submitted(video_id)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        answer = await self.request_json(
            "GET", self.url("/v1/video_status.get"), params={"video_id": task_id}
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            _raise_body_error(answer)
            raise RetryableError("HeyGen answered the poll without data", code="bad_body")
        status = str(data.get("status") or "")
        if status in _IN_PROGRESS:
            return self.pending()
        if status == "completed":
            url = data.get("video_url")
            if not isinstance(url, str) or not url:
                raise RetryableError("HeyGen reported completed without a video URL", code="bad_body")
            duration = data.get("duration")
            seconds = float(duration) if isinstance(duration, int | float) else 0.0
            return Done(
                outputs=(Output(url=url, content_type="video/mp4"),),
                usage=Usage(units=seconds, details={"seconds": seconds}),
            )
        if status == "failed":
            raise _failure(data.get("error"))
        return self.pending()


def _failure(error: Any) -> RejectedError:
    message, code = error_from_body({"error": error}) if isinstance(error, dict) else (None, None)
    message = message or (error if isinstance(error, str) and error else "HeyGen could not render the video")
    if is_moderation(code, message, MODERATION_CODES):
        return ModerationError(message, code=code or "blocked_words_detected")
    return RejectedError(message, code=code or "failed")


def _raise_body_error(answer: Any) -> None:
    """HeyGen may answer 200 with an error in the body (``error`` set, or a legacy non-100 ``code``)."""
    if not isinstance(answer, dict):
        raise RetryableError("HeyGen answered with an unexpected body", code="bad_body")
    legacy_code = answer.get("code")
    if answer.get("error") or (isinstance(legacy_code, int) and legacy_code != 100):
        message, code = error_from_body(answer)
        raise _failure({"code": code, "message": message or "HeyGen refused the request"})
