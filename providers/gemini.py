"""Google Veo 3.1 on the Gemini API (``veo_3_1``): a long-running operation.

``POST /models/{model}:predictLongRunning`` answers ``{"name": "models/…/operations/…"}``;
``GET /{name}`` answers the operation until ``done`` is true, then either ``error`` or
``response.generateVideoResponse.generatedSamples[].video.uri``. That URI
(``…/files/<id>:download?alt=media``) needs the API key too, so the output carries the key header.

The model id is the setting ``GEMINI_VEO_MODEL`` (default ``veo-3.1-generate-001``): the preview ids
(``veo-3.1-generate-preview`` …) were shut down on 2026-10-22 and answer 404, and which id the
Gemini API serves Veo 3.1 under now is not confirmed by Google's own pages (docs/providers.md).
The wire form is the one google-genai's ``generate_videos`` sends (``predictLongRunning``).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from providers.base import MB, Done, ImageSlot, JobSpec, Output, Pending, Submitted, Usage, base64_of
from providers.errors import (
    InvalidInputError,
    ModerationError,
    ProviderSetupError,
    RejectedError,
    RetryableError,
)
from providers.http_adapter import HttpAdapter
from providers.options import SettingsError
from providers.params import aspect_ratio, closest, duration_seconds, settings

DEFAULT_MODEL = "veo-3.1-generate-001"
MODEL_SETTING = "GEMINI_VEO_MODEL"
DURATIONS = (4, 6, 8)
# Veo 3.1 renders 1080p and 4k only as 8-second clips; 720p at 4, 6 or 8 s.
FULL_LENGTH_ONLY = {"1080p": 8, "4k": 8}
ASPECT_RATIOS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16)}
API_KEY_HEADER = "x-goog-api-key"
# instances[0].image (the first frame): inline bytes, JPEG or PNG, at most 20 MB (docs/providers.md, Veo).
START_IMAGE = ImageSlot(types=("image/jpeg", "image/png"), max_bytes=20 * MB)
# Operation errors whose message means the content was refused (the exact shape of a moderated
# Veo operation is UNVERIFIED: raiMediaFiltered* on the response, or an error — both are read).
_MODERATION_WORDS = ("safety", "responsible ai", "usage guidelines", "sensitive")
# Google's canonical codes (google.rpc.Code) that a later retry may cure.
_RETRYABLE_RPC = frozenset(
    {4, 8, 10, 13, 14}
)  # DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE


def veo_model() -> str:
    """The Veo model id sent: ``GEMINI_VEO_MODEL`` or the default, read at each call."""
    return os.environ.get(MODEL_SETTING, "").strip() or DEFAULT_MODEL


def check_length(resolution: str, seconds: int) -> None:
    """Veo's resolution × length rule; one home for validation (through the price) and the adapter."""
    needed = FULL_LENGTH_ONLY.get(resolution)
    if needed is not None and seconds != needed:
        raise SettingsError(
            f"settings.resolution {resolution} needs durationSeconds {needed}, not {seconds}: Veo 3.1 renders "
            f"1080p and 4k only as {needed}-second clips. Allowed: settings.resolution 720p with "
            f"durationSeconds {', '.join(str(d) for d in DURATIONS)}, or 1080p or 4k with durationSeconds {needed}",
            ("settings", "resolution"),
        )


class GeminiVeoAdapter(HttpAdapter):
    family: ClassVar[str] = "gemini"
    provider_name: ClassVar[str] = "Google Gemini API (Veo)"
    poll_interval: ClassVar[float] = 10.0  # Google's samples poll every 10 s
    start_image: ClassVar[ImageSlot | None] = START_IMAGE

    # admin providers check: models.list, one page of up to 1000.
    check_path: ClassVar[str] = "/models"
    check_params: ClassVar[dict[str, str]] = {"pageSize": "1000"}

    def check_models(self, provider: str) -> tuple[str, ...]:
        return (self.wire_models.get(provider) or veo_model(),)

    def model_of(self, job: JobSpec) -> str:
        """The model recorded on the job when it was accepted (lifecycle: CH_PROVIDER_MODELS, whose
        ``veo_3_1`` entry GEMINI_VEO_MODEL sets), else the setting read now."""
        recorded = job.params.get("wire_model")
        return recorded if isinstance(recorded, str) and recorded else veo_model()

    def listed_models(self, answer: Any) -> set[str] | None:
        models = answer.get("models") if isinstance(answer, dict) else None
        if not isinstance(models, list):
            return None
        return {str(m.get("name", "")).removeprefix("models/") for m in models if isinstance(m, dict)}

    def auth_headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self.api_key}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        seconds = duration_seconds(job, 8)
        if seconds not in DURATIONS:
            raise InvalidInputError(
                f"Veo 3.1 renders 4, 6 or 8 second clips, not {seconds}", code="bad_duration"
            )
        width, height = closest(aspect_ratio(job, "16:9"), ASPECT_RATIOS)
        instance: dict[str, Any] = {"prompt": job.prompt or ""}
        if job.input_files:
            image = job.input_files[0]
            instance["image"] = {
                "bytesBase64Encoded": base64_of(image),
                "mimeType": image.content_type,
            }
        parameters: dict[str, Any] = {"aspectRatio": f"{width}:{height}", "durationSeconds": seconds}
        # Declared and checked in providers.options.VeoSettings; the resolution (the price tier,
        # default 720p) is always sent.
        user = settings(job)
        check_length(user["resolution"], seconds)
        parameters["resolution"] = user["resolution"]
        if "negative_prompt" in user:
            parameters["negativePrompt"] = user["negative_prompt"]
        if "person_generation" in user:
            parameters["personGeneration"] = user["person_generation"]
        # generateAudio, seed, fps … exist only on Vertex AI: the Gemini API refuses them, so they
        # are never sent (Veo 3.1 on the Gemini API always makes audio).
        return {"instances": [instance], "parameters": parameters}

    def priced_tier(self, job: JobSpec) -> dict[str, str]:
        return {"resolution": self.build_request(job)["parameters"]["resolution"]}

    async def request_json(
        self, method: str, url: str, *, json_body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        try:
            return await super().request_json(method, url, json_body=json_body, params=params)
        except ModerationError:
            raise
        except RejectedError as exc:
            # Google answers a bad key with 400 INVALID_ARGUMENT "API key not valid", not 401.
            if "api key" in exc.message.lower() or exc.code == "API_KEY_INVALID":
                raise ProviderSetupError(
                    f"provider refused our credentials ({self.provider_name}): {exc.message}",
                    code="unauthorized",
                ) from exc
            raise

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        answer = await self.request_json(
            "POST", self.url(f"/models/{self.model_of(job)}:predictLongRunning"), json_body=body
        )
        name = answer.get("name") if isinstance(answer, dict) else None
        if not isinstance(name, str) or not name:
            raise RetryableError("Veo accepted the request without an operation name", code="bad_body")
        parameters = body["parameters"]
        state = {
            "seconds": parameters["durationSeconds"],
            "aspect_ratio": parameters["aspectRatio"],
            "model": name.split("/operations/")[0].removeprefix("models/"),
        }
        if "resolution" in parameters:
            state["resolution"] = parameters["resolution"]
        if isinstance(answer, dict) and answer.get("done"):
            return self._done(answer, state)
        return self.submitted(name, state)

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        answer = await self.request_json("GET", self.url(f"/{task_id.lstrip('/')}"))
        if not isinstance(answer, dict):
            raise RetryableError("Veo answered the poll with an unexpected body", code="bad_body")
        if not answer.get("done"):
            return self.pending()
        return self._done(answer, state)

    def _key_for(self, uri: str) -> dict[str, str]:
        return {API_KEY_HEADER: self.api_key} if self.is_api_url(uri) else {}

    def _done(self, operation: dict[str, Any], state: dict[str, Any]) -> Done:
        error = operation.get("error")
        if isinstance(error, dict):
            raise _operation_error(error)
        response = operation.get("response")
        video_response = response.get("generateVideoResponse") if isinstance(response, dict) else None
        if not isinstance(video_response, dict):
            video_response = {}
        uris = [
            sample["video"]["uri"]
            for sample in video_response.get("generatedSamples") or ()
            if isinstance(sample, dict)
            and isinstance(sample.get("video"), dict)
            and isinstance(sample["video"].get("uri"), str)
            and sample["video"]["uri"]
        ]
        filtered = video_response.get("raiMediaFilteredCount")
        reasons = [str(r) for r in video_response.get("raiMediaFilteredReasons") or () if r]
        if not uris:
            if (isinstance(filtered, int) and filtered > 0) or reasons:
                why = "; ".join(reasons) or "no reason given"
                raise ModerationError(
                    f"the video was blocked by Google's safety filters: {why}", code="rai_filtered"
                )
            raise RejectedError("Veo finished without a video", code="no_output")
        seconds = float(state.get("seconds") or 8)
        details: dict[str, Any] = {
            "model": state.get("model") or veo_model(),
            "seconds": seconds,
            "videos": len(uris),
            "aspect_ratio": state.get("aspect_ratio"),
        }
        if state.get("resolution"):
            details["resolution"] = state["resolution"]
        if isinstance(filtered, int) and filtered:
            details["filtered"] = filtered
        return Done(
            outputs=tuple(
                # The key goes only with a URI on the API's own origin; any other is fetched without it.
                Output(url=uri, content_type="video/mp4", headers=self._key_for(uri))
                for uri in uris
            ),
            usage=Usage(units=seconds * len(uris), details=details),
        )


def _operation_error(error: dict[str, Any]) -> Exception:
    message = str(error.get("message") or "Veo could not generate the video")
    code = error.get("code")
    if any(word in message.lower() for word in _MODERATION_WORDS):
        return ModerationError(f"the video was blocked by Google's safety filters: {message}", code="blocked")
    if isinstance(code, int) and code in _RETRYABLE_RPC:
        # The operation itself is over: polling it again cannot help. The job ends free and
        # the message says that trying again may work.
        return RejectedError(
            f"Veo failed for a transient reason; trying again may work: {message}", code=str(code)
        )
    return RejectedError(
        f"Veo could not generate the video: {message}", code=str(code) if code is not None else "failed"
    )
