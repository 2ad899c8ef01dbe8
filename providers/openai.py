"""OpenAI text-to-speech (``openai_tts``): ``POST /audio/speech``, audio bytes in the answer."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from providers.base import Done, JobSpec, Output, Pending, Submitted, Usage
from providers.errors import RejectedError, RetryableError
from providers.http_adapter import HttpAdapter
from providers.params import settings

DEFAULT_MODEL = "tts-1"
DEFAULT_VOICE = "alloy"
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_PASSED_SETTINGS = ("instructions", "speed")


class OpenAITtsAdapter(HttpAdapter):
    family: ClassVar[str] = "openai"
    provider_name: ClassVar[str] = "OpenAI"
    # A 4,096-character input takes OpenAI most of a minute to speak.
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(180.0, connect=10.0)
    moderation_codes: ClassVar[tuple[str, ...]] = ("moderation_blocked", "content_policy_violation")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def build_request(self, job: JobSpec) -> dict[str, Any]:
        user = settings(job)
        body: dict[str, Any] = {
            "model": user.get("model") or DEFAULT_MODEL,
            "input": job.prompt or "",
            "voice": job.params.get("voice_id") or DEFAULT_VOICE,
            "response_format": user.get("response_format") or job.params.get("output_format") or "mp3",
        }
        if body["response_format"] not in CONTENT_TYPES:
            body["response_format"] = "mp3"
        body.update({key: user[key] for key in _PASSED_SETTINGS if user.get(key) is not None})
        return body

    async def submit(self, job: JobSpec) -> Submitted | Done:
        body = self.build_request(job)
        response = await self.request(
            "POST", self.url("/audio/speech"), json_body=body, headers={"Accept": "application/octet-stream"}
        )
        if not response.content:
            raise RetryableError("OpenAI answered the speech request with no audio", code="empty_body")
        header_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        content_type = (
            header_type if header_type.startswith("audio/") else CONTENT_TYPES[body["response_format"]]
        )
        characters = len(body["input"])
        return Done(
            outputs=(Output(data=response.content, content_type=content_type),),
            usage=Usage(
                units=characters,
                details={"characters": characters, "model": body["model"], "voice": body["voice"]},
            ),
            metadata={"request_id": response.headers.get("x-request-id")},
        )

    async def poll(self, job: JobSpec, task_id: str, state: dict[str, Any]) -> Pending | Done:
        # Nothing to poll: submit already returned the audio. Reaching here means the worker lost
        # the bytes, so the job has to be submitted again.
        raise RejectedError("OpenAI speech is synchronous and has no task to poll", code="not_pollable")
