"""Credentials stay with their hosts, logs hold no capabilities, tenants see fixed error texts.

The attacks as tests: a provider that redirects our request to another
origin, a BFL polling_url on another host or plain http, an output redirect that changes origin;
signed download URLs and httpx request lines in the logs; a provider error body shown as the job's
errorMessage. Adapters run in-process against an ``httpx.MockTransport``; one stack test checks
what ``main.py dev`` really writes to its log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers import registry
from providers.base import Done, JobSpec, Output
from providers.bfl import BflAdapter
from providers.download import fetch_output
from providers.errors import (
    InvalidInputError,
    LostTaskError,
    ModerationError,
    NotConfiguredError,
    OutputError,
    ProviderError,
    ProviderRequestError,
    ProviderSetupError,
    RejectedError,
    RetryableError,
    UnsafeUrlError,
)
from providers.gemini import GeminiVeoAdapter
from providers.http_adapter import HttpAdapter
from providers.kling import KlingAdapter
from services import log_safety
from services.container import http_client
from services.settings import Settings
from tests.sim_harness import job
from tests.stack import Stack, Team, follow_job
from tests.test_generation import submit_ok

KEY = "k_live_provider_secret_0123456789"
API = "api.provider.test"
ELSEWHERE = "collector.elsewhere.test"
SECRETISH = "sk_live_51HxLeakedKeyFromTheProvider db=10.0.0.5:5432"

Handler = Callable[[httpx.Request], httpx.Response]


def specs() -> dict[str, JobSpec]:
    """One valid job for every provider we have an adapter for."""
    image = {"aspect_ratio": "1:1", "width": 1024, "height": 1024}
    return {
        "flux_2_pro": job("image", "flux_2_pro", "a lamp", **image),
        "gpt_image_1_5": job("image", "gpt_image_1_5", "a lamp", **image),
        "gpt_image_2_6_sunburst": job("image", "gpt_image_2_6_sunburst", "a lamp", **image),
        "gpt_image_2_6_flare": job("image", "gpt_image_2_6_flare", "a lamp", **image),
        "seedream_4_5": job("image", "seedream_4_5", "a lamp", **image),
        "runway_gen4": job("video", "runway_gen4", "a harbour", aspect_ratio="16:9", duration_seconds=5),
        "luma_ray3": job("video", "luma_ray3", "a harbour", aspect_ratio="16:9", duration_seconds=5),
        "kling_2_6": job("video", "kling_2_6", "a harbour", aspect_ratio="16:9", duration_seconds=5),
        "kling_3_0": job("video", "kling_3_0", "a harbour", aspect_ratio="16:9", duration_seconds=5),
        "veo_3_1": job("video", "veo_3_1", "a harbour", aspect_ratio="16:9", duration_seconds=4),
        "heygen": job("avatar", "heygen", "hello", avatar_id="a1", voice_id="v1", aspect_ratio="16:9"),
        "openai_tts": job("tts", "openai_tts", "hello there"),
        "elevenlabs": job("tts", "elevenlabs", "hello there"),
        "creatomate": job(
            "composite",
            "creatomate",
            None,
            source={"output_format": "mp4", "width": 640, "height": 360, "duration": 2, "elements": []},
        ),
    }


def adapter_for(provider: str, client: httpx.AsyncClient, base_url: str) -> HttpAdapter:
    module_name, class_name = registry.ADAPTERS[provider].split(":")
    module = __import__(module_name, fromlist=[class_name])
    cls: type[HttpAdapter] = getattr(module, class_name)
    key = f"{KEY}:{KEY}" if cls is KlingAdapter else KEY
    return cls(client, base_url, key, poll_interval_scale=0.01)


class Recorder:
    """A MockTransport handler that records every request (host, URL, headers) it is sent."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]

    def carrying_key(self) -> list[str]:
        """Every URL a request carrying our key (in any header) went to."""
        return [str(r.url) for r in self.requests if any(KEY in value for value in r.headers.values())]


def legacy_client(recorder: Recorder) -> httpx.AsyncClient:
    """A client configured like the old process-wide one (it followed redirects)."""
    return httpx.AsyncClient(transport=httpx.MockTransport(recorder), follow_redirects=True)


# -- 6. credentials stay with their hosts ---------------------------------------------------------


def test_the_process_client_follows_no_redirects() -> None:
    assert http_client().follow_redirects is False


@pytest.mark.parametrize(
    "location", [f"https://{ELSEWHERE}/steal", f"http://{API}/v1/plain", "http://127.0.0.1:9/"]
)
@pytest.mark.parametrize("provider", sorted(registry.ADAPTERS))
async def test_a_redirect_to_another_origin_never_carries_the_key(provider: str, location: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == API and request.url.scheme == "https":
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, json={"id": "stolen", "polling_url": location})

    recorder = Recorder(answer)
    async with legacy_client(recorder) as client:
        adapter = adapter_for(provider, client, f"https://{API}/v1")
        with pytest.raises(UnsafeUrlError) as caught:
            await adapter.submit(specs()[provider])
    assert recorder.hosts() == [API]  # the redirect was never followed, with or without the key
    assert all(r.url.scheme == "https" for r in recorder.requests)
    assert caught.value.public == UnsafeUrlError.public_message and location not in caught.value.public


def test_production_sends_provider_keys_over_https_only() -> None:
    def settings(base_url: str, env: str = "production") -> Settings:
        return Settings(env=env, provider_env={"BFL_API_KEY": KEY, "BFL_BASE_URL": base_url})

    with pytest.raises(NotConfiguredError, match="https"):
        registry.endpoint("flux_2_pro", settings("http://127.0.0.1:8088/bfl"))
    assert registry.endpoint("flux_2_pro", settings("https://localhost:8443/simulator/bfl")).api_key == KEY
    assert (
        registry.endpoint("flux_2_pro", settings("http://127.0.0.1:8088/bfl", "development")).api_key == KEY
    )


async def test_a_same_origin_redirect_is_still_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/flux-2-pro":
            return httpx.Response(307, headers={"location": "/v2/flux-2-pro"})
        return httpx.Response(200, json={"id": "t1", "polling_url": f"https://{API}/v2/get_result?id=t1"})

    recorder = Recorder(answer)
    async with legacy_client(recorder) as client:
        submitted = await adapter_for("flux_2_pro", client, f"https://{API}").submit(specs()["flux_2_pro"])
    assert not isinstance(submitted, Done) and submitted.task_id == "t1"
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("POST", "/v1/flux-2-pro"),
        ("POST", "/v2/flux-2-pro"),
    ]
    assert len(recorder.carrying_key()) == 2


def bfl_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "t1", "status": "Pending", "progress": 0.5})


@pytest.mark.parametrize(
    "polling_url",
    [
        "http://127.0.0.1:8088/v1/get_result?id=t1",  # plain http on loopback (the reproduction)
        "http://api.bfl.ai/v1/get_result?id=t1",  # BFL's host, but plain http
        "https://api.bfl.ai:8443/v1/get_result?id=t1",  # BFL's API host is https on 443 (the origin)
        "https://collector.example/v1/get_result?id=t1",
        "https://api.bfl.ai.collector.example/v1/get_result?id=t1",
        "https://api.bfl.ai@collector.example/v1/get_result?id=t1",
        "/v1/get_result?id=t1",
        "not a url",
    ],
)
async def test_bfl_polling_url_elsewhere_is_refused_and_gets_no_key(polling_url: str) -> None:
    recorder = Recorder(bfl_answer)
    async with legacy_client(recorder) as client:
        adapter = BflAdapter(client, "https://api.bfl.ai", KEY)
        with pytest.raises(UnsafeUrlError):
            await adapter.poll(specs()["flux_2_pro"], "t1", {"polling_url": polling_url})
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("base_url", "polling_url"),
    [
        ("https://api.bfl.ai", "https://api.bfl.ai/v1/get_result?id=t1"),
        ("https://api.bfl.ai", "https://api.eu1.bfl.ai/v1/get_result?id=t1"),  # BFL's regional clusters
        ("https://api.bfl.ai", "https://api.us1.bfl.ai:443/v1/get_result?id=t1"),
        # The simulator: in development over http, in a production rehearsal over https on localhost.
        ("http://127.0.0.1:8000/simulator/bfl", "http://127.0.0.1:8000/simulator/bfl/v1/get_result?id=t1"),
        ("https://localhost:8443/simulator/bfl", "https://localhost:8443/simulator/bfl/v1/get_result?id=t1"),
    ],
)
async def test_bfl_polling_url_on_bfl_hosts_is_polled(base_url: str, polling_url: str) -> None:
    recorder = Recorder(bfl_answer)
    async with legacy_client(recorder) as client:
        pending = await BflAdapter(client, base_url, KEY).poll(
            specs()["flux_2_pro"], "t1", {"polling_url": polling_url}
        )
    assert not isinstance(pending, Done) and pending.progress == 0.5
    assert recorder.carrying_key() == [str(httpx.URL(polling_url))]


async def test_a_polling_url_that_redirects_elsewhere_is_not_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.eu1.bfl.ai":
            return httpx.Response(302, headers={"location": "http://127.0.0.1:8088/steal"})
        return bfl_answer(request)

    recorder = Recorder(answer)
    async with legacy_client(recorder) as client:
        adapter = BflAdapter(client, "https://api.bfl.ai", KEY)
        with pytest.raises(UnsafeUrlError):
            await adapter.poll(
                specs()["flux_2_pro"], "t1", {"polling_url": "https://api.eu1.bfl.ai/v1/get_result?id=t1"}
            )
    assert recorder.hosts() == ["api.eu1.bfl.ai"]


VEO_API = "https://generativelanguage.googleapis.com/v1beta"


def veo_done(uri: str) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        sample = {"video": {"uri": uri}}
        body = {
            "name": "op1",
            "done": True,
            "response": {"generateVideoResponse": {"generatedSamples": [sample]}},
        }
        return httpx.Response(200, json=body)

    return answer


async def test_veo_sends_its_key_only_with_a_file_uri_on_the_api_origin() -> None:
    spec = specs()["veo_3_1"]
    own = f"{VEO_API}/files/abc:download?alt=media"
    for uri, keyed in (
        (own, True),
        ("https://storage.elsewhere.test/abc.mp4", False),
        (own.replace("https", "http"), False),
    ):
        async with legacy_client(Recorder(veo_done(uri))) as client:
            done = await GeminiVeoAdapter(client, VEO_API, KEY).poll(
                spec, "models/x/operations/op1", {"seconds": 4}
            )
        assert isinstance(done, Done)
        assert (done.outputs[0].headers == {"x-goog-api-key": KEY}) is keyed, uri
        assert keyed or done.outputs[0].headers == {}


def mp4_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, content=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, headers={"content-type": "video/mp4"}
    )


@pytest.mark.parametrize(
    ("target", "hosts", "https_only"),
    [
        (
            "https://video.googleusercontent.test/abc.mp4",
            ("generativelanguage.googleapis.com", ".googleusercontent.test"),
            True,
        ),
        ("http://generativelanguage.googleapis.com/v1beta/files/abc", None, False),  # same host, plain http
        ("https://generativelanguage.googleapis.com:8443/v1beta/files/abc", None, False),  # another port
    ],
)
async def test_a_download_redirect_to_another_origin_drops_the_key(
    target: str, hosts: tuple[str, ...] | None, https_only: bool
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == f"{VEO_API}/files/abc:download?alt=media":
            return httpx.Response(302, headers={"location": target})
        return mp4_answer(request)

    recorder = Recorder(answer)
    output = Output(url=f"{VEO_API}/files/abc:download?alt=media", headers={"x-goog-api-key": KEY})
    async with legacy_client(recorder) as client:
        _, content_type = await fetch_output(
            client,
            output,
            max_bytes=10**6,
            allowed_types=("video/",),
            allowed_hosts=hosts,
            require_https=https_only,
        )
    assert content_type == "video/mp4"
    assert [str(r.url) for r in recorder.requests] == [f"{VEO_API}/files/abc:download?alt=media", target]
    assert recorder.carrying_key() == [f"{VEO_API}/files/abc:download?alt=media"]


async def test_every_download_hop_is_checked_before_it_is_requested() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "delivery-eu1.bfl.ai":
            return httpx.Response(302, headers={"location": "http://127.0.0.1:8088/internal"})
        return mp4_answer(request)

    recorder = Recorder(answer)
    async with legacy_client(recorder) as client:
        for url in ("https://delivery-eu1.bfl.ai/x.mp4", "http://delivery-eu1.bfl.ai/x.mp4"):
            with pytest.raises(RejectedError, match="host we do not fetch from"):
                await fetch_output(
                    client,
                    Output(url=url),
                    max_bytes=10**6,
                    allowed_types=("video/",),
                    allowed_hosts=(".bfl.ai",),
                    require_https=True,
                )
    assert [str(r.url) for r in recorder.requests] == ["https://delivery-eu1.bfl.ai/x.mp4"]
    async with legacy_client(recorder) as client:
        with pytest.raises(OutputError) as caught:
            await fetch_output(client, Output(url="https://[::1"), max_bytes=10, allowed_types=("video/",))
    assert caught.value.code == "bad_url"


# -- 8. tenants see a fixed message per error class -----------------------------------------------


def always(status: int, body: Any) -> Handler:
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("provider", "status", "body", "error_class"),
    [
        (
            "gpt_image_1_5",
            400,
            {"error": {"message": f"bad prompt ({SECRETISH})", "code": "invalid"}},
            ProviderRequestError,
        ),
        (
            "gpt_image_1_5",
            400,
            {"error": {"message": SECRETISH, "code": "moderation_blocked"}},
            ModerationError,
        ),
        ("runway_gen4", 401, {"error": f"key rejected: {SECRETISH}"}, ProviderSetupError),
        ("elevenlabs", 402, {"detail": {"status": "quota", "message": SECRETISH}}, ProviderSetupError),
        ("heygen", 503, {"error": {"message": SECRETISH}}, RetryableError),
        ("kling_2_6", 200, {"code": 1301, "message": SECRETISH}, ModerationError),
        ("kling_2_6", 200, {"code": 1000, "message": SECRETISH}, ProviderSetupError),
        ("kling_2_6", 400, {"code": 1201, "message": SECRETISH}, ProviderRequestError),
        (
            "veo_3_1",
            400,
            {
                "error": {
                    "code": 400,
                    "message": f"API key not valid {SECRETISH}",
                    "status": "INVALID_ARGUMENT",
                }
            },
            ProviderSetupError,
        ),
    ],
)
async def test_a_provider_error_body_reaches_the_log_not_the_tenant(
    provider: str, status: int, body: Any, error_class: type[ProviderError]
) -> None:
    async with legacy_client(Recorder(always(status, body))) as client:
        with pytest.raises(ProviderError) as caught:
            await adapter_for(provider, client, f"https://{API}").submit(specs()[provider])
    error = caught.value
    assert type(error) is error_class
    assert "sk_live_51HxLeakedKeyFromTheProvider" in error.message  # kept for the server log
    assert error.public == error_class.public_message and "sk_live" not in error.public


async def test_failed_tasks_show_the_class_text_not_the_providers_words() -> None:
    spec = specs()["flux_2_pro"]
    cases = [
        ({"status": "Error", "details": {"error": SECRETISH}}, RejectedError),
        ({"status": "Content Moderated", "details": {"reason": SECRETISH}}, ModerationError),
        ({"status": "Task not found"}, LostTaskError),
    ]
    for answer, error_class in cases:
        async with legacy_client(Recorder(always(200, answer))) as client:
            with pytest.raises(RejectedError) as caught:
                await BflAdapter(client, "https://api.bfl.ai", KEY).poll(spec, "t1", {})
        assert type(caught.value) is error_class
        assert caught.value.public == error_class.public_message and "sk_live" not in caught.value.public


def test_our_own_validation_messages_are_shown_as_they_are() -> None:
    veo = GeminiVeoAdapter(httpx.AsyncClient(), VEO_API, KEY)
    with pytest.raises(InvalidInputError) as caught:
        veo.build_request(job("video", "veo_3_1", "x", duration_seconds=5))
    assert caught.value.public == "Veo 3.1 renders 4, 6 or 8 second clips, not 5"
    assert RejectedError("provider text").public == RejectedError.public_message
    assert RetryableError("provider text").public == "the provider kept failing; nothing was charged"


def test_every_fixed_error_text_is_documented_for_partners() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "partners.md").read_text()
    classes = [RejectedError, RetryableError, ModerationError, ProviderRequestError, ProviderSetupError]
    classes += [LostTaskError, OutputError, UnsafeUrlError]
    for cls in classes:
        assert f"| `{cls.public_message}` |" in doc, cls.__name__


# -- 7. logs hold no capabilities -----------------------------------------------------------------


def test_signed_query_values_are_redacted() -> None:
    signed = "/files/8c1e?expires=1767225600&signature=9f86d081884c7d65"
    assert log_safety.redact_query(signed) == "/files/8c1e?expires=REDACTED&signature=REDACTED"
    assert log_safety.redact_query("/graphql?token=abc&x=1") == "/graphql?token=REDACTED&x=1"
    assert log_safety.redact_query("/a?X-Amz-Signature=ff&page=2") == "/a?X-Amz-Signature=REDACTED&page=2"
    assert log_safety.redact_query("/jobs?first=10") == "/jobs?first=10"
    assert (
        log_safety.url_host("https://user:pw@hooks.example.com:8443/secret/path?t=1") == "hooks.example.com"
    )


def test_percent_encoded_signed_links_are_redacted_too() -> None:
    """A signed link inside another URL's query (a redirect target, a login's ``next``) arrives
    percent-encoded: its values go too, the rest stays readable."""
    inner = "/login?next=%2Ffiles%2F8c1e%3Fexpires%3D1767225600%26signature%3D9f86d081884c7d65&lang=en"
    assert log_safety.redact_query(inner) == (
        "/login?next=%2Ffiles%2F8c1e%3Fexpires%3DREDACTED%26signature%3DREDACTED&lang=en"
    )
    lower = "/r?u=https%3a%2f%2fs3.example%2fo.mp4%3fX-Amz-Signature%3dabc123%26x%3d1"
    assert (
        log_safety.redact_query(lower)
        == "/r?u=https%3a%2f%2fs3.example%2fo.mp4%3fX-Amz-Signature%3dREDACTED%26x%3d1"
    )
    assert log_safety.redact_query("/a?q=100%25%3D%3Dfine") == "/a?q=100%25%3D%3Dfine"


async def test_a_failed_provider_cancel_is_logged_without_the_signed_url(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's error names the URL it was asked (a presigned one): the worker's warning keeps
    the failure and drops the signature (no traceback, whose text would repeat the URL)."""
    from types import SimpleNamespace

    from models.jobs import JobStatus
    from tasks import pipeline

    url = "https://api.provider.example/v1/tasks/t1/cancel?X-Amz-Signature=presigned5678&expires=1"

    class Refusing:
        async def cancel(self, *_args: Any) -> bool:
            request = httpx.Request("POST", url)
            raise httpx.HTTPStatusError(
                f"Server error '502 Bad Gateway' for url '{url}'",
                request=request,
                response=httpx.Response(502, request=request),
            )

    async def nothing(*_args: Any) -> None:
        return None

    monkeypatch.setattr(pipeline, "_release_slot", nothing)
    monkeypatch.setattr(pipeline, "job_spec", nothing)
    monkeypatch.setattr(pipeline.registry, "can_cancel", lambda provider: True)
    monkeypatch.setattr(pipeline.registry, "adapter_for", lambda *_args: Refusing())
    caplog.set_level(logging.DEBUG, logger="tasks.pipeline")
    canceled = SimpleNamespace(
        id="job-1",
        status=JobStatus.CANCELED,
        provider="runway_gen4",
        provider_task_id="t1",
        provider_state=None,
        metadata={},
    )
    await pipeline._after_end(SimpleNamespace(http=None, settings=None), canceled)  # type: ignore[arg-type]
    assert "cancel at the provider failed" in caplog.text and "502 Bad Gateway" in caplog.text
    assert "presigned5678" not in caplog.text


async def test_access_lines_and_http_client_lines_hold_no_capabilities(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_safety.install()
    caplog.set_level(logging.DEBUG)
    access = logging.getLogger("uvicorn.access")
    # A uvicorn started in-process by another test configures its loggers not to propagate (and
    # may disable them): undo that here so caplog sees what they log.
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
        caplog.set_level(logging.DEBUG, logger=name)  # uvicorn sets its own loggers' levels too
    # What uvicorn's access logger is handed for a download (its format and arguments).
    path = "/files/8c1e?expires=1767225600&signature=9f86d081884c7d65"
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", path, "1.1", 200)
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/graphql?token=eyJabc"
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(mp4_answer)) as client:
        await client.get("https://files.example/out.mp4?X-Amz-Signature=presigned1234")
    text = caplog.text
    assert "/files/8c1e?expires=REDACTED&signature=REDACTED" in text
    assert "9f86d081884c7d65" not in text and "eyJabc" not in text and "presigned1234" not in text
    assert not [
        r for r in caplog.records if r.name.startswith(("httpx", "httpcore")) and r.levelno < logging.WARNING
    ]


# -- the same, through main.py dev ----------------------------------------------------------------


async def test_the_service_log_holds_no_signature_and_no_provider_body(stack: Stack, team: Team) -> None:
    start = stack.log_path.stat().st_size  # what other tests' jobs logged before is not this test's
    done = await submit_ok(stack, team, "image", {"prompt": "a lamp for the log test"})
    failed = await submit_ok(stack, team, "image", {"prompt": "a broken lamp [sim:fail]"})
    final = (await follow_job(stack, team, done["id"]))[-1]
    assert final["status"] == "COMPLETED", final
    url = final["resultUrls"][0]
    signature = re.search(r"signature=([0-9a-f]+)", url)
    assert signature is not None
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url)).status_code == 200
    broken = (await follow_job(stack, team, failed["id"]))[-1]
    assert broken["status"] == "FAILED" and broken["costCents"] == 0
    # The tenant sees the class's text; the provider's own words are in the server log, with the job.
    assert broken["errorMessage"] == RejectedError.public_message
    file_id = url.split("/files/", 1)[1].split("?", 1)[0]
    log_text = ""
    for _ in range(50):  # the access line is written right after the answer
        with stack.log_path.open("rb") as log:
            log.seek(start)
            log_text = log.read().decode(errors="replace")
        if f"/files/{file_id}" in log_text:
            break
        await asyncio.sleep(0.1)
    assert f"/files/{file_id}?expires=REDACTED&signature=REDACTED" in log_text
    assert signature.group(1) not in log_text
    assert "HTTP Request:" not in log_text  # httpx's INFO lines (presigned and webhook URLs)
    body_lines = [line for line in log_text.splitlines() if "The generation failed on our side." in line]
    assert body_lines and all(failed["id"] in line for line in body_lines)
