"""The seven later adapters (gpt_image_1_5, seedream_4_5, luma_ray3, kling_2_6/3_0, veo_3_1,
elevenlabs) against the provider simulator over real HTTP, plus their wire details: Kling's JWT,
Veo's keyed download, the error envelopes, and the registry wiring to the development simulator.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers import kling as kling_module
from providers import registry
from providers.ark import ArkAdapter, seedream_size
from providers.base import Done, InputFile, JobSpec, Output
from providers.catalog import CATALOG
from providers.credentials import PROVIDER_FAMILIES
from providers.download import fetch_output
from providers.elevenlabs import DEFAULT_VOICE, ElevenLabsAdapter
from providers.errors import ModerationError, RejectedError, RetryableError
from providers.gemini import GeminiVeoAdapter
from providers.hosts import OUTPUT_HOSTS, output_hosts
from providers.http import error_from_body
from providers.http_adapter import HttpAdapter
from providers.kling import KlingAdapter, kling_token, split_key
from providers.luma import LumaAdapter
from providers.openai import OpenAIImageAdapter
from providers.params import size_for_ratio
from providers.simulator import SIMULATOR_BASE_PATHS, create_simulator_app, media
from services.settings import Settings
from tests.sim_harness import (
    ANY_MEDIA,
    MAX_BYTES,
    audio_facts,
    image_facts,
    job,
    make_adapter,
    mock_client,
    run,
    serve_simulator,
    unique,
    video_facts,
)

ACCESS_KEY = "ak_test_access"
SECRET_KEY = "sk_test_secret_0123456789abcdef0123456789"  # ≥ 32 bytes: PyJWT verifies it without warning
API_KEY = f"{ACCESS_KEY}:{SECRET_KEY}"  # every family's key; Kling reads it as access:secret
TIME_SCALE = 0.02  # Luma/Kling ready in 160 ms, Veo in 180 ms; [sim:slow] ten times that

A = TypeVar("A", bound=HttpAdapter)


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


def adapter(cls: type[A], root: str, client: httpx.AsyncClient, key: str = API_KEY) -> A:
    return make_adapter(cls, root, client, key)


def image_job(provider: str, prompt: str, ratio: str, **params: Any) -> JobSpec:
    """An image job as validation leaves it: the ratio and the ~1 MP size derived from it."""
    width, height = size_for_ratio(*(int(part) for part in ratio.split(":")))
    return job("image", provider, prompt, aspect_ratio=ratio, width=width, height=height, **params)


async def fetch(client: httpx.AsyncClient, output: Output) -> tuple[bytes, str]:
    return await fetch_output(client, output, max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA)


def png_file(width: int, height: int) -> InputFile:
    return InputFile("file-1", "image/png", media.png(width, height))


# -- happy paths ----------------------------------------------------------------------------------


async def test_gpt_image_size_quality_and_format(sim_root: str, client: httpx.AsyncClient) -> None:
    images = adapter(OpenAIImageAdapter, sim_root, client)
    spec = image_job("gpt_image_1_5", unique("a poster that says SALE"), "2:3", settings={"quality": "high"})
    body = images.build_request(spec)
    assert (body["model"], body["size"], body["quality"]) == ("gpt-image-1.5", "1024x1536", "high")
    done = await images.submit(spec)
    assert isinstance(done, Done)
    assert done.usage is not None and done.usage.units == 1
    assert done.usage.details["size"] == "1024x1536" and done.usage.details["quality"] == "high"
    data, content_type = await fetch(client, done.outputs[0])
    assert content_type == "image/png" and image_facts(data) == ("PNG", (1024, 1536))

    wide = image_job("gpt_image_1_5", unique("a banner"), "3:2", settings={"output_format": "jpg"})
    done = await images.submit(wide)
    assert isinstance(done, Done) and done.usage is not None
    assert done.usage.details["quality"] == "medium"  # the price table's assumption, sent explicitly
    data, content_type = await fetch(client, done.outputs[0])
    assert content_type == "image/jpeg" and image_facts(data) == ("JPEG", (1536, 1024))


async def test_gpt_image_refuses_bad_settings_before_calling(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    images = adapter(OpenAIImageAdapter, sim_root, client)
    with pytest.raises(RejectedError, match="quality"):
        await images.submit(image_job("gpt_image_1_5", "x", "1:1", settings={"quality": "ultra"}))
    with pytest.raises(RejectedError, match="transparent"):
        await images.submit(
            image_job(
                "gpt_image_1_5", "x", "1:1", settings={"background": "transparent", "output_format": "jpeg"}
            )
        )


async def test_seedream_base64_and_url(sim_root: str, client: httpx.AsyncClient) -> None:
    ark = adapter(ArkAdapter, sim_root, client)
    spec = image_job("seedream_4_5", unique("an ink painting of cranes"), "16:9")
    body = ark.build_request(spec)
    assert body["model"] == "seedream-4-5-251128" and body["size"] == "2720x1536"
    assert body["response_format"] == "b64_json" and body["watermark"] is False
    done = await ark.submit(spec)
    assert isinstance(done, Done) and done.outputs[0].data is not None
    assert done.usage is not None and done.usage.units == 1 and done.usage.details["size"] == "2720x1536"
    data, content_type = await fetch(client, done.outputs[0])
    assert content_type == "image/jpeg" and image_facts(data) == ("JPEG", (2720, 1536))

    reference = image_job(
        "seedream_4_5",
        unique("the same, in autumn"),
        "1:1",
        settings={"response_format": "url"},
        input_files=(png_file(64, 64),),
    )
    assert ark.build_request(reference)["image"].startswith("data:image/png;base64,")
    done = await ark.submit(reference)
    assert isinstance(done, Done) and done.outputs[0].url is not None
    assert done.outputs[0].url.startswith(sim_root + "/ark/_files/")
    data, content_type = await fetch(client, done.outputs[0])
    assert content_type == "image/jpeg" and image_facts(data) == ("JPEG", (2048, 2048))


def test_seedream_sizes_respect_its_pixel_bounds() -> None:
    for ratio in ("1:1", "4:5", "5:4", "3:4", "4:3", "2:3", "3:2", "9:16", "16:9", "21:9"):
        w, h = (int(p) for p in ratio.split(":"))
        width, height = seedream_size(*size_for_ratio(w, h))
        assert 3_686_400 <= width * height <= 16_777_216 and width % 16 == height % 16 == 0
        assert width / height == pytest.approx(w / h, rel=0.02)
    assert seedream_size(2048, 1800) == (2048, 1800)  # already inside the bounds: kept
    with pytest.raises(RejectedError, match="1:16"):
        seedream_size(4096, 64)


async def test_luma_text_and_image_to_video(sim_root: str, client: httpx.AsyncClient) -> None:
    luma = adapter(LumaAdapter, sim_root, client)
    spec = job(
        "video", "luma_ray3", unique("a slow dolly over a lake"), aspect_ratio="9:16", duration_seconds=10
    )
    body = luma.build_request(spec)
    assert body["model"] == "ray-3.2" and body["type"] == "video"
    assert body["video"] == {"duration": "10s", "resolution": "720p"}
    done = await run(luma, spec)
    assert done.usage is not None and done.usage.units == 10
    data, content_type = await fetch(client, done.outputs[0])
    width, height, seconds = video_facts(data)
    assert content_type == "video/mp4" and height > width and seconds == pytest.approx(10, abs=0.2)

    first = job(
        "video", "luma_ray3", unique("the lake at night"), aspect_ratio="4:3", input_files=(png_file(64, 48),)
    )
    assert luma.build_request(first)["video"]["start_frame"]["media_type"] == "image/png"
    done = await run(luma, first)
    width, height, seconds = video_facts((await fetch(client, done.outputs[0]))[0])
    assert width / height == pytest.approx(4 / 3, rel=0.05) and seconds == pytest.approx(5, abs=0.2)


async def test_kling_text_to_video_v2_6(sim_root: str, client: httpx.AsyncClient) -> None:
    kling = adapter(KlingAdapter, sim_root, client)
    spec = job(
        "video", "kling_2_6", unique("a ball bouncing down stairs"), aspect_ratio="16:9", duration_seconds=5
    )
    kind, body = kling.build_request(spec)
    assert kind == "text2video"
    assert body == {
        "model_name": "kling-v2-6",
        "prompt": spec.prompt,
        "duration": "5",
        "aspect_ratio": "16:9",
        # the tier the price assumed is sent, not left to Kling's default
        "mode": "pro",
        "sound": "off",
    }
    submitted = await kling.submit(spec)
    assert not isinstance(submitted, Done) and submitted.task_id.isdigit()
    done = await run(kling, spec)
    assert done.usage is not None and done.usage.units == 5
    assert done.usage.details["model"] == "kling-v2-6" and "final_unit_deduction" in done.usage.details
    width, height, seconds = video_facts((await fetch(client, done.outputs[0]))[0])
    assert width / height == pytest.approx(16 / 9, rel=0.05) and seconds == pytest.approx(5, abs=0.2)


async def test_kling_image_to_video_v3(sim_root: str, client: httpx.AsyncClient) -> None:
    kling = adapter(KlingAdapter, sim_root, client)
    spec = job(
        "video",
        "kling_3_0",
        unique("the glass tips over"),
        duration_seconds=7,
        input_files=(png_file(640, 360),),
        settings={"mode": "pro", "negative_prompt": "blur", "sound": "off"},
    )
    kind, body = kling.build_request(spec)
    assert kind == "image2video" and body["model_name"] == "kling-v3" and body["duration"] == "7"
    assert "aspect_ratio" not in body and not body["image"].startswith("data:")
    assert base64.b64decode(body["image"]) == spec.input_files[0].data
    done = await run(kling, spec)
    assert done.usage is not None and done.usage.units == 7 and done.usage.details["mode"] == "pro"
    width, height, seconds = video_facts((await fetch(client, done.outputs[0]))[0])
    assert width / height == pytest.approx(16 / 9, rel=0.05) and seconds == pytest.approx(7, abs=0.2)


async def test_veo_video_and_keyed_download(sim_root: str, client: httpx.AsyncClient) -> None:
    veo = adapter(GeminiVeoAdapter, sim_root, client)
    spec = job("video", "veo_3_1", unique("a hummingbird, macro"), aspect_ratio="9:16", duration_seconds=6)
    # the resolution priced is sent, not left to Google's default
    assert veo.build_request(spec)["parameters"] == {
        "aspectRatio": "9:16",
        "durationSeconds": 6,
        "resolution": "720p",
    }
    submitted = await veo.submit(spec)
    assert not isinstance(submitted, Done)
    assert submitted.task_id.startswith("models/veo-3.1-generate-001/operations/")
    done = await run(veo, spec)
    assert done.usage is not None and done.usage.units == 6
    output = done.outputs[0]
    assert output.url is not None and output.url.endswith(":download?alt=media")
    assert output.headers == {"x-goog-api-key": API_KEY}
    width, height, seconds = video_facts((await fetch(client, output))[0])
    assert height > width and seconds == pytest.approx(6, abs=0.2)

    # Without the key the file is refused (403), with a wrong one too (400 API_KEY_INVALID).
    with pytest.raises(RejectedError):
        await fetch(client, Output(url=output.url, content_type="video/mp4"))
    bare = await client.get(output.url)
    assert bare.status_code == 403 and bare.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = await client.get(output.url, headers={"x-goog-api-key": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_veo_image_to_video(sim_root: str, client: httpx.AsyncClient) -> None:
    veo = adapter(GeminiVeoAdapter, sim_root, client)
    spec = job(
        "video", "veo_3_1", unique("it starts to rain"), duration_seconds=4, input_files=(png_file(64, 36),)
    )
    image = veo.build_request(spec)["instances"][0]["image"]
    assert image["mimeType"] == "image/png" and base64.b64decode(image["bytesBase64Encoded"])
    done = await run(veo, spec)
    width, height, seconds = video_facts((await fetch(client, done.outputs[0]))[0])
    assert width > height and seconds == pytest.approx(4, abs=0.2)


async def test_elevenlabs_speech(sim_root: str, client: httpx.AsyncClient) -> None:
    eleven = adapter(ElevenLabsAdapter, sim_root, client)
    text = unique("Welcome back. Your table for two is ready.")
    voice_id, output_format, body = eleven.build_request(job("tts", "elevenlabs", text))
    assert (voice_id, output_format) == (DEFAULT_VOICE, "mp3_44100_128")
    assert body == {"text": text, "model_id": "eleven_multilingual_v2"}
    done = await eleven.submit(job("tts", "elevenlabs", text))
    assert isinstance(done, Done) and done.usage is not None
    assert done.usage.units == len(text) and done.usage.details["character_cost"] == len(text)
    data, content_type = await fetch(client, done.outputs[0])
    seconds, rate = audio_facts(data)
    assert content_type == "audio/mpeg" and rate == 44_100
    assert seconds == pytest.approx(len(text) / 15, abs=0.2)

    pcm = await eleven.submit(
        job(
            "tts",
            "elevenlabs",
            text,
            voice_id="21m00Tcm4TlvDq8ikWAM",
            settings={"output_format": "pcm_16000", "model": "eleven_flash_v2_5", "stability": 0.4},
        )
    )
    assert isinstance(pcm, Done) and pcm.usage is not None
    assert pcm.usage.details["character_cost"] == round(len(text) / 2)  # Flash: half a credit per character
    data, content_type = await fetch(client, pcm.outputs[0])
    assert content_type == "audio/pcm" and len(data) == round(len(text) / 15, 1) * 16_000 * 2


async def test_elevenlabs_refusals_carry_its_message(sim_root: str, client: httpx.AsyncClient) -> None:
    eleven = adapter(ElevenLabsAdapter, sim_root, client)
    with pytest.raises(RejectedError, match="voice_id nope1 does not exist"):
        await eleven.submit(job("tts", "elevenlabs", "hi", voice_id="nope1"))
    with pytest.raises(RejectedError, match="5000 characters"):
        await eleven.submit(job("tts", "elevenlabs", "x" * 5001, settings={"model": "eleven_v3"}))
    with pytest.raises(RejectedError, match="not an ElevenLabs voice id"):
        await eleven.submit(job("tts", "elevenlabs", "hi", voice_id="../v1/models"))


# -- failures on demand ---------------------------------------------------------------------------


def every_new_adapter(
    root: str, client: httpx.AsyncClient, text: str, key: str = API_KEY
) -> list[tuple[HttpAdapter, JobSpec]]:
    """One ordinary job per new adapter (Kling both ways), each carrying ``text`` as its user text."""
    still = png_file(64, 36)
    return [
        (adapter(OpenAIImageAdapter, root, client, key), image_job("gpt_image_1_5", text, "1:1")),
        (adapter(ArkAdapter, root, client, key), image_job("seedream_4_5", text, "1:1")),
        (adapter(LumaAdapter, root, client, key), job("video", "luma_ray3", text, duration_seconds=5)),
        (adapter(KlingAdapter, root, client, key), job("video", "kling_2_6", text, duration_seconds=5)),
        (
            adapter(KlingAdapter, root, client, key),
            # Markers trip once per family and text: the second Kling job needs its own text.
            job("video", "kling_3_0", f"{text} (i2v)", duration_seconds=3, input_files=(still,)),
        ),
        (adapter(GeminiVeoAdapter, root, client, key), job("video", "veo_3_1", text, duration_seconds=4)),
        (adapter(ElevenLabsAdapter, root, client, key), job("tts", "elevenlabs", text)),
    ]


def name(adapter_: HttpAdapter, spec: JobSpec) -> str:
    return f"{type(adapter_).__name__}/{spec.provider}"


async def test_moderation_marker_is_a_moderation_error(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("forbidden [sim:moderate]")):
        with pytest.raises(ModerationError) as caught:
            await run(adapter_, spec)
        assert caught.value.message, name(adapter_, spec)


async def test_fail_marker_is_rejected_not_moderated(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("broken [sim:fail]")):
        with pytest.raises(RejectedError) as caught:
            await run(adapter_, spec)
        assert not isinstance(caught.value, ModerationError), name(adapter_, spec)


async def test_429_marker_is_retryable_then_works(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("busy [sim:429]")):
        with pytest.raises(RetryableError) as caught:
            await adapter_.submit(spec)
        if isinstance(adapter_, OpenAIImageAdapter | LumaAdapter):  # the two that send Retry-After
            assert caught.value.retry_after == 1, name(adapter_, spec)
        if isinstance(adapter_, KlingAdapter):
            assert caught.value.code == "1303"
        assert (await run(adapter_, spec)).outputs, name(adapter_, spec)


async def test_500_marker_is_retryable_once(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("flaky [sim:500]")):
        with pytest.raises(RetryableError):
            await adapter_.submit(spec)
        assert (await run(adapter_, spec)).outputs, name(adapter_, spec)


async def test_wrong_key_is_refused_credentials(sim_root: str, client: httpx.AsyncClient) -> None:
    # For Kling "not-the-key" has no colon: it is read as both access and secret key (unknown → 1000).
    for adapter_, spec in every_new_adapter(sim_root, client, unique("hello"), key="not-the-key"):
        with pytest.raises(RejectedError, match="refused our credentials") as caught:
            await adapter_.submit(spec)
        assert not isinstance(caught.value, ModerationError), name(adapter_, spec)


async def test_expired_output_is_rejected(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("gone soon [sim:expire]")):
        if isinstance(adapter_, ArkAdapter):
            spec = image_job("seedream_4_5", spec.prompt or "", "1:1", settings={"response_format": "url"})
        done = await run(adapter_, spec)
        if done.outputs[0].data is not None:  # bytes in the answer: nothing can expire, it is there
            _, content_type = await fetch(client, done.outputs[0])
            assert content_type.startswith(("image/", "audio/")), name(adapter_, spec)
            continue
        with pytest.raises(RejectedError, match="output expired or missing"):
            await fetch(client, done.outputs[0])


async def test_lost_task_is_rejected(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("vanishing [sim:lost]")):
        if isinstance(adapter_, OpenAIImageAdapter | ArkAdapter | ElevenLabsAdapter):
            # synchronous: there is no task to lose, the output comes with the answer
            assert (await run(adapter_, spec)).outputs, name(adapter_, spec)
            continue
        with pytest.raises(RejectedError):
            await run(adapter_, spec)


async def test_slow_marker_keeps_pending(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_new_adapter(sim_root, client, unique("patience [sim:slow]")):
        first = await adapter_.submit(spec)
        if isinstance(first, Done):  # synchronous: slow to answer, never pending
            assert first.outputs, name(adapter_, spec)
            continue
        pending = await adapter_.poll(spec, first.task_id, first.state)
        assert not isinstance(pending, Done), name(adapter_, spec)
        assert pending.retry_after == pytest.approx(adapter_.wait)


# -- Kling's JWT ----------------------------------------------------------------------------------


def test_kling_token_is_a_standard_hs256_jwt() -> None:
    assert split_key(API_KEY) == (ACCESS_KEY, SECRET_KEY)
    assert split_key("a:b:c") == ("a", "b:c") and split_key("single") == ("single", "single")
    now = time.time()
    token = kling_token(ACCESS_KEY, SECRET_KEY, now=now)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    assert claims == {"iss": ACCESS_KEY, "exp": int(now) + 1800, "nbf": int(now) - 5}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-that-is-32-bytes-long!!", algorithms=["HS256"])


async def kling_post(client: httpx.AsyncClient, root: str, headers: dict[str, str]) -> httpx.Response:
    body = {"model_name": "kling-v2-6", "prompt": "p", "duration": "5"}
    return await client.post(
        f"{root}{SIMULATOR_BASE_PATHS['kling']}/videos/text2video", json=body, headers=headers
    )


async def test_kling_simulator_checks_the_jwt(sim_root: str, client: httpx.AsyncClient) -> None:
    now = time.time()

    async def code_for(headers: dict[str, str]) -> tuple[int, int]:
        answer = await kling_post(client, sim_root, headers)
        return answer.status_code, answer.json()["code"]

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert await code_for({}) == (401, 1001)
    assert await code_for(bearer("not.a-jwt")) == (401, 1002)
    assert await code_for({"Authorization": "Basic abc"}) == (401, 1002)
    assert await code_for(bearer(kling_token("someone-else", SECRET_KEY, now=now))) == (401, 1000)
    assert await code_for(bearer(kling_token(ACCESS_KEY, "wrong-secret", now=now))) == (401, 1000)
    assert await code_for(bearer(kling_token(ACCESS_KEY, SECRET_KEY, now=now + 600))) == (401, 1003)
    assert await code_for(bearer(kling_token(ACCESS_KEY, SECRET_KEY, now=now - 3600))) == (401, 1004)
    # A token made by another JWT library is as good as ours.
    other = jwt.encode(
        {"iss": ACCESS_KEY, "exp": int(now) + 60, "nbf": int(now) - 5}, SECRET_KEY, algorithm="HS256"
    )
    answer = await kling_post(client, sim_root, bearer(other))
    assert answer.status_code == 200 and answer.json()["code"] == 0 and answer.json()["message"] == "SUCCEED"
    assert answer.json()["data"]["task_status"] == "submitted"


async def test_kling_expired_or_wrong_secret_is_rejected(
    sim_root: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = job("video", "kling_2_6", unique("a kite"), duration_seconds=5)
    with pytest.raises(RejectedError, match=r"refused our credentials \(Kling code 1000\)"):
        await adapter(KlingAdapter, sim_root, client, f"{ACCESS_KEY}:not-the-secret").submit(spec)
    kling = adapter(KlingAdapter, sim_root, client)
    stale = functools.partial(kling_token, now=time.time() - 3600)
    monkeypatch.setattr(kling_module, "kling_token", stale)
    with pytest.raises(RejectedError, match=r"Kling code 1004") as caught:
        await kling.submit(spec)
    assert caught.value.code == "1004" and not isinstance(caught.value, RetryableError)
    early = functools.partial(kling_token, now=time.time() + 3600)
    monkeypatch.setattr(kling_module, "kling_token", early)
    with pytest.raises(RejectedError, match=r"Kling code 1003"):
        await kling.submit(spec)


async def test_kling_validation_uses_its_codes(sim_root: str, client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {kling_token(ACCESS_KEY, SECRET_KEY)}"}
    base = sim_root + SIMULATOR_BASE_PATHS["kling"]
    bad = {"model_name": "kling-v2-6", "prompt": "p", "duration": 5}
    answer = await client.post(f"{base}/videos/text2video", json=bad, headers=headers)
    assert (
        answer.status_code == 400 and answer.json()["code"] == 1201 and "string" in answer.json()["message"]
    )
    answer = await client.post(f"{base}/videos/text2video", json=bad | {"duration": "7"}, headers=headers)
    assert answer.json()["code"] == 1201  # v2.6 renders 5 or 10 s only
    answer = await client.post(
        f"{base}/videos/text2video", json=bad | {"model_name": "kling-9"}, headers=headers
    )
    assert answer.status_code == 404 and answer.json()["code"] == 1203
    answer = await client.get(f"{base}/videos/image2video/123", headers=headers)
    assert answer.status_code == 404 and answer.json()["code"] == 1203
    listing = await client.get(f"{base}/videos/text2video?pageNum=1&pageSize=5", headers=headers)
    assert listing.status_code == 200 and isinstance(listing.json()["data"], list)


async def test_kling_envelope_codes_map_onto_errors() -> None:
    answers = {
        "/videos/text2video": (200, {"code": 1303, "message": "parallel task over resource pack limit"}),
        "/videos/image2video": (400, {"code": 1301, "message": "risk control"}),
        "/videos/text2video/1": (429, {"code": 1102, "message": "resource pack exhausted"}),
        "/videos/text2video/2": (
            200,
            {
                "code": 0,
                "data": {
                    "task_status": "failed",
                    "task_status_msg": "Failure to pass the risk control system",
                },
            },
        ),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ey")
        status, body = answers[request.url.path.removeprefix("/v1")]
        return httpx.Response(status, json=body)

    async with mock_client(handler) as http:
        kling = KlingAdapter(http, "https://kling.test/v1", API_KEY)
        spec = job("video", "kling_2_6", "p", duration_seconds=5)
        with pytest.raises(RetryableError, match="concurrency"):
            await kling.submit(spec)
        with pytest.raises(ModerationError):
            await kling.submit(
                job("video", "kling_2_6", "p", duration_seconds=5, input_files=(png_file(8, 8),))
            )
        with pytest.raises(RejectedError, match="insufficient credits"):
            await kling.poll(spec, "1", {"kind": "text2video"})
        with pytest.raises(ModerationError, match="risk control"):
            await kling.poll(spec, "2", {"kind": "text2video"})


# -- Veo and the other envelopes --------------------------------------------------------------------


async def test_veo_refuses_vertex_only_fields_and_unknown_models(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    base = sim_root + SIMULATOR_BASE_PATHS["gemini"]
    headers = {"x-goog-api-key": API_KEY}
    body = {"instances": [{"prompt": "p"}], "parameters": {"generateAudio": True}}
    answer = await client.post(
        f"{base}/models/veo-3.1-generate-001:predictLongRunning", json=body, headers=headers
    )
    assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "generateAudio" in answer.json()["error"]["message"]
    answer = await client.post(f"{base}/models/veo-9:predictLongRunning", json=body, headers=headers)
    assert answer.status_code == 404 and answer.json()["error"]["status"] == "NOT_FOUND"
    by_query = await client.post(
        f"{base}/models/veo-3.1-generate-001:predictLongRunning",
        params={"key": API_KEY},
        json={"instances": [{"prompt": "p"}], "parameters": {"durationSeconds": 4}},
    )
    assert by_query.status_code == 200 and by_query.json()["name"].startswith("models/veo-3.1-generate-001/")


async def test_veo_operation_outcomes() -> None:
    operations: dict[str, dict[str, Any]] = {
        "op1": {"name": "op1", "done": False},
        "op2": {"name": "op2", "done": True, "error": {"code": 13, "message": "internal"}},
        "op3": {"name": "op3", "done": True, "error": {"code": 3, "message": "blocked by safety filters"}},
        "op4": {
            "name": "op4",
            "done": True,
            "response": {
                "generateVideoResponse": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["x"]}
            },
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=operations[request.url.path.rsplit("/", 1)[-1]])

    async with mock_client(handler) as http:
        veo = GeminiVeoAdapter(http, "https://g.test/v1beta", "k")
        spec = job("video", "veo_3_1", "p", duration_seconds=8)
        assert not isinstance(await veo.poll(spec, "models/m/operations/op1", {}), Done)
        with pytest.raises(RejectedError, match="trying again may work") as caught:
            await veo.poll(spec, "models/m/operations/op2", {})
        assert not isinstance(caught.value, ModerationError)
        for op in ("op3", "op4"):
            with pytest.raises(ModerationError):
                await veo.poll(spec, f"models/m/operations/{op}", {})


def test_error_bodies_of_the_new_families() -> None:
    assert error_from_body({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}) == (
        "Invalid API key",
        "invalid_api_key",
    )
    google = {
        "error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}
    }
    assert error_from_body(google) == ("Resource has been exhausted", "RESOURCE_EXHAUSTED")
    assert error_from_body({"code": 1201, "message": "bad duration", "request_id": "r"}) == (
        "bad duration",
        "1201",
    )
    ark = {"error": {"code": "InvalidParameter", "message": "size", "param": "size", "type": "BadRequest"}}
    assert error_from_body(ark) == ("size", "InvalidParameter")


# -- catalog, registry, hosts, simulator ------------------------------------------------------------


async def test_registry_serves_every_provider_from_the_dev_simulator() -> None:
    """The development wiring, all twelve providers (every catalogue choice: tests/test_provider_contract.py): no keys set → the simulator's single key (Kling reads it as both
    access and secret key) and the simulator's base path per family, end to end."""
    app = Starlette(routes=[Mount("/simulator", app=create_simulator_app(registry.SIMULATOR_API_KEY, 0))])
    settings = Settings(
        env="development", simulator_url="http://sim/simulator", poll_interval_scale=0.01, CH_PROVIDER_ENV={}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        for provider in CATALOG:
            assert registry.is_supported(provider)
            built = registry.adapter_for(provider, http, settings)
            assert isinstance(built, HttpAdapter)
            kind = CATALOG[provider].type
            params: dict[str, Any] = {"duration_seconds": CATALOG[provider].default_duration or 5}
            if kind == "avatar":
                params |= {"avatar_id": "a", "voice_id": "v"}
            if kind == "composite":
                params["source"] = {"output_format": "mp4", "elements": [{"type": "text", "text": "Hi"}]}
            done = await run(built, job(kind, provider, f"registry check for {provider}", **params))
            data, content_type = await fetch(http, done.outputs[0])
            expected = {
                "image": "image/",
                "video": "video/",
                "avatar": "video/",
                "tts": "audio/",
                "composite": "video/",
            }
            assert content_type.startswith(expected[kind])
            assert data


def test_output_hosts_cover_every_family() -> None:
    assert set(OUTPUT_HOSTS) == set(PROVIDER_FAMILIES)
    assert ".bfl.ai" in output_hosts("bfl", {}) and output_hosts("creatomate", {}) == ("cdn.creatomate.com",)
    assert output_hosts("gemini", {}) == ("generativelanguage.googleapis.com",)
    assert output_hosts("openai", {}) == () and output_hosts("elevenlabs", {}) == ()
    assert output_hosts("runway", {"RUNWAY_OUTPUT_HOSTS": " .cloudfront.net, X.example "}) == (
        ".cloudfront.net",
        "x.example",
    )
    assert output_hosts("nobody", {}) == ()


async def test_veo_download_host_is_trusted_in_production_form() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-goog-api-key"] == "k"
        return httpx.Response(200, content=media.mp4(32, 32, 1), headers={"content-type": "video/mp4"})

    async with mock_client(handler) as http:
        url = "https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media"
        data, content_type = await fetch_output(
            http,
            Output(url=url, headers={"x-goog-api-key": "k"}),
            max_bytes=MAX_BYTES,
            allowed_types=("video/",),
            allowed_hosts=output_hosts("gemini", {}),
            require_https=True,
        )
        assert content_type == "video/mp4" and data


async def test_state_machines_finish_within_ten_seconds_at_scale_one() -> None:
    """At time_scale 1.0 Luma, Kling and Veo show their intermediate states and finish by 10 s."""
    sim_app = create_simulator_app("ak:sk", 1.0)
    now = [1000.0]
    sim_app.state.sim.clock = lambda: now[0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim") as http:
        luma_headers = {"Authorization": "Bearer ak:sk"}
        video = {"duration": "5s"}
        created = await http.post(
            "/luma/v1/generations",
            json={"model": "ray-3.2", "type": "video", "prompt": "p", "video": video},
            headers=luma_headers,
        )
        assert created.status_code == 201 and created.json()["state"] == "queued"
        luma_id = created.json()["id"]

        def kling_headers() -> dict[str, str]:
            return {"Authorization": f"Bearer {kling_token('ak', 'sk')}"}

        kling_id = (
            await http.post(
                "/kling/v1/videos/text2video",
                json={"model_name": "kling-v3", "prompt": "p", "duration": "3"},
                headers=kling_headers(),
            )
        ).json()["data"]["task_id"]
        veo_name = (
            await http.post(
                "/gemini/v1beta/models/veo-3.1-generate-001:predictLongRunning",
                json={"instances": [{"prompt": "p"}]},
                headers={"x-goog-api-key": "ak:sk"},
            )
        ).json()["name"]

        async def states() -> tuple[str, str, bool]:
            a = (await http.get(f"/luma/v1/generations/{luma_id}", headers=luma_headers)).json()["state"]
            b = (await http.get(f"/kling/v1/videos/text2video/{kling_id}", headers=kling_headers())).json()
            c = (await http.get(f"/gemini/v1beta/{veo_name}", headers={"x-goog-api-key": "ak:sk"})).json()
            return a, b["data"]["task_status"], bool(c.get("done"))

        assert await states() == ("queued", "submitted", False)
        now[0] += 3
        assert await states() == ("processing", "processing", False)
        now[0] += 7
        assert await states() == ("completed", "succeed", True)


async def test_stats_count_the_new_families() -> None:
    sim_app = create_simulator_app("k", 0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim") as http:
        bearer = {"Authorization": "Bearer k"}
        image = {"model": "gpt-image-1.5", "prompt": "p", "size": "1024x1024", "quality": "low"}
        assert (
            await http.post("/openai/v1/images/generations", json=image, headers=bearer)
        ).status_code == 200
        ark = {"model": "seedream-4-5-251128", "prompt": "p [sim:fail]", "response_format": "b64_json"}
        assert (
            await http.post("/ark/api/v3/images/generations", json=ark, headers=bearer)
        ).status_code == 200
        speech = await http.post(
            "/elevenlabs/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb",
            json={"text": "hi"},
            headers={"xi-api-key": "k"},
        )
        assert speech.headers["content-type"] == "audio/mpeg" and speech.headers["character-cost"] == "2"
        stats = (await http.get("/_sim/stats")).json()
        assert stats["submissions"] == {"openai": 1, "ark": 1, "elevenlabs": 1}
        assert stats["attempts"] == {"openai": 1, "ark": 1, "elevenlabs": 1} and stats["markers"] == {
            "fail": 1
        }
        b64 = (await http.post("/openai/v1/images/generations", json=image, headers=bearer)).json()["data"][0]
        assert image_facts(base64.b64decode(b64["b64_json"])) == ("PNG", (1024, 1024))
