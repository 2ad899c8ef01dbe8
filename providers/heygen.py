"""HeyGen avatar video (``heygen``) on API v3: ``POST /v3/videos`` (``type: "avatar"``), poll
``GET /v3/videos/{video_id}``.

v1/v2 (``/v2/video/generate``, ``/v1/video_status.get``) reached end of life on 2026-11-01; the
shapes here follow HeyGen's own OpenAPI spec as shipped in heygen-com/heygen-cli (``gen/video.go``):
the create body is a union discriminated by ``type``; the answer is ``{"data": {"video_id",
"status"}}``; the video is ``{"data": {"id", "status", "video_url", "duration", "failure_code",
"failure_message", …}}`` with ``status`` pending | processing | completed | failed. Errors use
``{"error": {"code", "message", "param"?, "doc_url"?}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, Submitted, Usage, base64_of
from providers.errors import ModerationError, RejectedError, RetryableError
from providers.http import error_from_body, is_moderation
from providers.http_adapter import HttpAdapter
from providers.library import MAX_PAGES, Avatar, Voice, language_code, lowered, text
from providers.params import aspect_ratio, closest, settings

# v3's aspect_ratio enum holds every ratio the catalogue offers for heygen.
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:5": (4, 5),
    "5:4": (5, 4),
    "1:1": (1, 1),
}
# Failure codes/messages that mean the script or the input was refused as content (the exact v3
# failure_code for blocked words is UNVERIFIED: the legacy code and names are matched too).
MODERATION_CODES = ("400105", "BLOCKED_WORDS", "blocked_words_detected", "moderation", "content_policy")
_IN_PROGRESS = frozenset({"pending", "waiting", "processing", "queued"})
_VOICE_SETTINGS = ("speed", "pitch", "volume", "locale")
# A photo avatar from an uploaded portrait: v3's `type: "image"` ("animating an arbitrary image")
# with `image: {type: "base64", media_type, data}`; PNG or JPEG, at most 32 MB (the cap of HeyGen's
# asset upload, which takes png and jpeg images), billed at the Photo Avatar rate (docs/providers.md, HeyGen).
PORTRAIT_IMAGE = ImageSlot(types=("image/png", "image/jpeg"), max_bytes=32 * MB)


class HeygenAdapter(HttpAdapter):
    family: ClassVar[str] = "heygen"
    provider_name: ClassVar[str] = "HeyGen"
    poll_interval: ClassVar[float] = 5.0
    moderation_codes: ClassVar[tuple[str, ...]] = MODERATION_CODES
    portrait_image: ClassVar[ImageSlot | None] = PORTRAIT_IMAGE

    # admin providers check: the v3 current user (profile and balance); lists no models.
    check_path: ClassVar[str] = "/v3/users/me"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        width, height = closest(aspect_ratio(job, "16:9"), ASPECT_RATIOS)
        user = settings(job)
        body: dict[str, Any] = {"type": "avatar", "avatar_id": job.params.get("avatar_id")}
        if job.input_files:  # a portrait from Drive: a photo avatar made from the image itself
            portrait = job.input_files[0]
            body = {
                "type": "image",
                "image": {"type": "base64", "media_type": portrait.content_type, "data": base64_of(portrait)},
            }
        body |= {
            "voice_id": job.params.get("voice_id"),
            "script": job.prompt or "",
            "aspect_ratio": f"{width}:{height}",
            # Declared in providers.options.HeygenSettings (default 720p): the price tier.
            "resolution": user.get("resolution") or "720p",
            "callback_id": job.job_id,
        }
        voice = {key: user[key] for key in _VOICE_SETTINGS if user.get(key) is not None}
        if voice:
            body["voice_settings"] = voice
        if isinstance(user.get("background_color"), str):
            body["background"] = {"type": "color", "value": user["background_color"]}
        return body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        # type "avatar" (a studio avatar or digital twin, or a photo avatar look: priced as the
        # dearer video avatar, since an avatar_id does not say which it is); type "image": a photo avatar.
        body = self.build_request(job)
        return {
            "resolution": "4k" if body["resolution"] == "4k" else "hd",
            "avatar": "photo" if body["type"] == "image" else "video",
        }

    # -- the library: GET /v3/avatars/looks and GET /v3/voices (docs/providers.md, Libraries) ------------

    avatars_page_size: ClassVar[int] = 50  # the largest `limit` /v3/avatars/looks takes (1-50)
    voices_page_size: ClassVar[int] = 100  # the largest `limit` /v3/voices takes (1-100)

    async def _pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a v3 listing: ``{"data": [...], "has_more", "next_token"}``, followed by ``token``."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            query = dict(params) | ({"token": token} if token else {})
            answer = await self.request_json("GET", self.url(path), params=query)
            _raise_body_error(answer)
            data = answer.get("data")
            if not isinstance(data, list):
                raise RetryableError(f"HeyGen answered {path} without a data list", code="bad_body")
            items.extend(item for item in data if isinstance(item, dict))
            token = text(answer.get("next_token"))
            if not answer.get("has_more") or token is None:
                break
        return items

    async def list_avatars(self) -> list[Avatar]:
        """Every avatar look the key may use (public and the account's own): the ``id`` of a look is
        the ``avatar_id`` of ``POST /v3/videos``. Looks still training or failed are left out."""
        looks = await self._pages("/v3/avatars/looks", {"limit": str(self.avatars_page_size)})
        avatars = []
        for look in looks:
            look_id, name = text(look.get("id")), text(look.get("name"))
            if look_id is None or look.get("status") not in (None, "completed"):
                continue
            avatars.append(
                Avatar(
                    id=look_id,
                    name=name or look_id,
                    gender=lowered(look.get("gender")),
                    preview_image_url=text(look.get("preview_image_url")),
                    preview_video_url=text(look.get("preview_video_url")),
                    avatar_type=text(look.get("avatar_type")),
                    group_id=text(look.get("group_id")),
                    default_voice_id=text(look.get("default_voice_id")),
                )
            )
        return avatars

    async def list_voices(self) -> list[Voice]:
        """The public voice library and the account's own (cloned) voices: ``type`` public, then private."""
        voices = []
        for kind in ("public", "private"):
            listed = await self._pages("/v3/voices", {"type": kind, "limit": str(self.voices_page_size)})
            for item in listed:
                voice_id = text(item.get("voice_id"))
                if voice_id is None:
                    continue
                code = language_code(item.get("language"))
                voices.append(
                    Voice(
                        id=voice_id,
                        provider="heygen",
                        name=text(item.get("name")) or voice_id,
                        languages=(code,) if code else (),
                        # support_locale: the voice takes voice_settings.locale (an accent of its language)
                        multilingual=False,
                        gender=lowered(item.get("gender")),
                        category=kind,
                        preview_url=text(item.get("preview_audio_url")),
                    )
                )
        return voices

    async def submit(self, job: JobSpec) -> Submitted | Done:
        answer = await self.request_json("POST", self.url("/v3/videos"), json_body=self.build_request(job))
        _raise_body_error(answer)
        data = answer.get("data") if isinstance(answer, dict) else None
        video_id = data.get("video_id") if isinstance(data, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise RetryableError("HeyGen accepted the request without a video id", code="bad_body")
        return self.submitted(video_id)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        answer = await self.request_json("GET", self.url(f"/v3/videos/{task_id}"))
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
            raise _failure(data.get("failure_code"), data.get("failure_message"))
        return self.pending()


def _failure(code: Any, message: Any) -> RejectedError:
    code = str(code) if code not in (None, "") else None
    text = message if isinstance(message, str) and message else "HeyGen could not render the video"
    if is_moderation(code, text, MODERATION_CODES):
        return ModerationError(text, code=code or "blocked_words_detected")
    return RejectedError(text, code=code or "failed")


def _raise_body_error(answer: Any) -> None:
    """An answer with ``error`` set is a refusal even when the status was 2xx."""
    if not isinstance(answer, dict):
        raise RetryableError("HeyGen answered with an unexpected body", code="bad_body")
    if answer.get("error"):
        message, code = error_from_body(answer)
        raise _failure(code, message or "HeyGen refused the request")
