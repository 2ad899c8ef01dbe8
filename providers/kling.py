"""Kling video (``kling_2_6`` → ``kling-v2-6``, ``kling_3_0`` → ``kling-v3``).

``POST /videos/text2video`` (or ``/videos/image2video`` with an input image), poll
``GET /videos/{text2video|image2video}/{task_id}``: submitted → processing → succeed | failed.

Auth is a JWT per request (HS256, ``iss`` = access key, ``exp`` = now + 30 min, ``nbf`` = now − 5 s)
signed with the secret key; the key this adapter is given is ``"access:secret"``. Every answer is
an envelope ``{code, message, request_id, data}``: code 0 is success, anything else an error
whose numeric code says what it is (table in docs/providers.md, Kling).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, Submitted, Usage, base64_of
from providers.errors import (
    InvalidInputError,
    ModerationError,
    ProviderError,
    ProviderRequestError,
    ProviderSetupError,
    RejectedError,
    RetryableError,
)
from providers.http_adapter import HttpAdapter
from providers.params import aspect_ratio, closest, duration_seconds, settings

MODELS: dict[str, str] = {"kling_2_6": "kling-v2-6", "kling_3_0": "kling-v3"}
DURATIONS: dict[str, tuple[int, ...]] = {"kling-v2-6": (5, 10), "kling-v3": tuple(range(3, 16))}
ASPECT_RATIOS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
MAX_TEXT = 2500
TOKEN_TTL = 1800
TOKEN_NOT_BEFORE = 5
_IN_PROGRESS = frozenset({"submitted", "processing"})
# image2video's image: JPEG or PNG, at most 10 MB, at least 300 px per side, aspect ratio within
# 1:2.5 … 2.5:1 (docs/providers.md, Kling).
START_IMAGE = ImageSlot(types=("image/jpeg", "image/png"), max_bytes=10 * MB, min_side=300, max_ratio=2.5)
# Words of a failed task's task_status_msg that mean its content was refused (risk control).
_MODERATION_WORDS = ("risk control", "content safety", "content security", "sensitive", "inappropriate")


def split_key(api_key: str) -> tuple[str, str]:
    """(access key, secret key) from ``"access:secret"`` (split at the first colon).

    A key without a colon — only the development simulator's single key — serves as both."""
    access, sep, secret = api_key.partition(":")
    return (access, secret) if sep else (api_key, api_key)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def kling_token(access_key: str, secret_key: str, *, now: float | None = None, ttl: int = TOKEN_TTL) -> str:
    """The bearer JWT Kling expects: HS256 over ``{"iss", "exp", "nbf"}`` with the secret key."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": issued + ttl, "nbf": issued - TOKEN_NOT_BEFORE}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8")) for part in (header, claims)
    )
    signature = hmac.new(secret_key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def error_for_code(code: int, message: str, *, retry_after: float | None = None) -> ProviderError:
    """What a Kling service code means for the job (docs/providers.md, Kling, "Error codes")."""
    text = f"Kling refused the request (code {code}): {message}"
    if 1000 <= code <= 1004:
        return ProviderSetupError(
            f"provider refused our credentials (Kling code {code}): {message}", code=str(code)
        )
    if code in (1101, 1102):
        return ProviderSetupError(
            f"provider account has insufficient credits (Kling code {code}): {message}", code=str(code)
        )
    if code == 1301:
        return ModerationError(
            f"the request was blocked by Kling's content safety check: {message}", code="1301"
        )
    if code in (1302, 1303):
        return RetryableError(
            f"Kling is over its rate or concurrency limit (code {code}): {message}",
            retry_after=retry_after,
            code=str(code),
        )
    if 5000 <= code <= 5999:
        return RetryableError(
            f"Kling is unavailable right now (code {code}): {message}",
            retry_after=retry_after,
            code=str(code),
        )
    if 1200 <= code <= 1299:  # Kling's "invalid request parameters" family
        return ProviderRequestError(text, code=str(code))
    return RejectedError(text, code=str(code))


class KlingAdapter(HttpAdapter):
    family: ClassVar[str] = "kling"
    provider_name: ClassVar[str] = "Kling"
    poll_interval: ClassVar[float] = 5.0
    start_image: ClassVar[ImageSlot | None] = START_IMAGE

    # admin providers check: one page of the text-to-video task list; Kling lists no models.
    check_path: ClassVar[str] = "/videos/text2video"
    check_params: ClassVar[dict[str, str]] = {"pageNum": "1", "pageSize": "1"}

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (MODELS[provider],) if provider in MODELS else ()

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {kling_token(*split_key(self.api_key))}"}

    def build_request(self, job: JobSpec) -> tuple[str, dict[str, Any]]:
        """The route ("text2video" or "image2video") and body for this job."""
        model = MODELS.get(job.provider)
        if model is None:
            raise InvalidInputError(f"Kling has no model for {job.provider}", code="bad_provider")
        seconds = duration_seconds(job)
        if seconds not in DURATIONS[model]:
            allowed = DURATIONS[model]
            raise InvalidInputError(
                f"{model} renders {min(allowed)} to {max(allowed)} second clips, not {seconds}",
                code="bad_duration",
            )
        prompt = job.prompt or ""
        if len(prompt) > MAX_TEXT:
            raise InvalidInputError(
                f"Kling prompts are at most {MAX_TEXT} characters", code="prompt_too_long"
            )
        body: dict[str, Any] = {"model_name": model, "prompt": prompt, "duration": str(seconds)}
        body |= _settings(job)
        if job.input_files:
            # Raw base64, without a data: prefix.
            body["image"] = base64_of(job.input_files[0])
            return "image2video", body
        width, height = closest(aspect_ratio(job, "16:9"), ASPECT_RATIOS)
        body["aspect_ratio"] = f"{width}:{height}"
        return "text2video", body

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        _, body = self.build_request(job)
        return {"mode": body["mode"], "sound": body["sound"]}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; the envelope's ``data`` on success, the error its code means otherwise."""
        try:
            answer = await self.request_json(method, self.url(path), json_body=body)
        except ProviderError as exc:
            code = _int(exc.code)
            if code is None:
                raise
            retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
            raise error_for_code(code, _plain(exc.message), retry_after=retry_after) from exc
        if not isinstance(answer, dict):
            raise RetryableError("Kling answered with an unexpected body", code="bad_body")
        code = _int(answer.get("code"))
        if code:
            raise error_for_code(code, str(answer.get("message") or "no message"))
        data = answer.get("data")
        if not isinstance(data, dict):
            raise RetryableError("Kling answered without data", code="bad_body")
        return data

    async def submit(self, job: JobSpec) -> Submitted | Done:
        kind, body = self.build_request(job)
        data = await self.call("POST", f"/videos/{kind}", body)
        task_id = data.get("task_id")
        if not isinstance(task_id, str | int) or not str(task_id):
            raise RetryableError("Kling accepted the request without a task id", code="bad_body")
        state = {"kind": kind, "model": body["model_name"], "seconds": int(body["duration"])}
        state |= {key: body[key] for key in ("mode", "sound") if key in body}
        return self.submitted(str(task_id), state)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        kind = state.get("kind") or ("image2video" if job.params.get("image_file_id") else "text2video")
        data = await self.call("GET", f"/videos/{kind}/{task_id}")
        status = str(data.get("task_status") or "")
        if status in _IN_PROGRESS:
            return self.pending()
        if status == "succeed":
            result = data.get("task_result")
            videos = result.get("videos") if isinstance(result, dict) else None
            urls = [
                v for v in videos or () if isinstance(v, dict) and isinstance(v.get("url"), str) and v["url"]
            ]
            if not urls:
                raise RetryableError("Kling reported succeed without a video", code="bad_body")
            # Billed by the clip length asked for (what Kling charges); the delivered length is a detail.
            seconds = float(state.get("seconds") or duration_seconds(job))
            details: dict[str, Any] = {"model": state.get("model"), "seconds": seconds}
            details |= {key: state[key] for key in ("mode", "sound") if state.get(key)}
            delivered = _float(urls[0].get("duration"))
            if delivered is not None:
                details["video_seconds"] = delivered
            if data.get("final_unit_deduction") is not None:
                details["final_unit_deduction"] = str(data["final_unit_deduction"])
            return Done(
                outputs=tuple(Output(url=str(v["url"]), content_type="video/mp4") for v in urls),
                usage=Usage(units=seconds, details=details),
            )
        if status == "failed":
            message = str(data.get("task_status_msg") or "Kling could not generate the video")
            if any(word in message.lower() for word in _MODERATION_WORDS):
                raise ModerationError(f"the video was blocked by Kling's content safety check: {message}")
            raise RejectedError(f"Kling could not generate the video: {message}", code="failed")
        return self.pending()


def _settings(job: JobSpec) -> dict[str, Any]:
    """The job's Kling settings (declared and checked in providers.options): mode and sound are
    always sent, with their defaults filled in, because they are the price tier."""
    user = settings(job)
    body: dict[str, Any] = {"mode": user["mode"], "sound": user["sound"]}
    body |= {key: user[key] for key in ("negative_prompt", "cfg_scale") if key in user}
    return body


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _plain(message: str) -> str:
    """Kling's own message out of the generic one the shared HTTP layer built."""
    prefix, sep, rest = message.partition("): ")
    return rest if sep and prefix.startswith(("provider ", "Kling is unavailable")) else message
