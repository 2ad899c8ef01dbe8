"""The five adapters against the provider simulator over real HTTP (uvicorn on a loopback port).

Each test drives an adapter the way the worker does (submit → poll after ``retry_after`` → fetch
the outputs) and checks that what comes back is real media of the requested shape, or that the
failure the simulator was asked for (``[sim:…]`` markers) maps onto the right provider error.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import TypeVar

import httpx
import pytest

from providers.base import Done, InputFile, JobSpec, Output
from providers.bfl import BflAdapter, size_for_ratio
from providers.creatomate import CreatomateAdapter
from providers.download import fetch_output, sniff
from providers.errors import ModerationError, RejectedError, RetryableError
from providers.heygen import HeygenAdapter
from providers.http import parse_retry_after, send
from providers.http_adapter import HttpAdapter
from providers.openai import OpenAITtsAdapter
from providers.runway import RunwayAdapter
from providers.simulator import SIMULATOR_BASE_PATHS, create_simulator_app, media
from tests.sim_harness import (
    ANY_MEDIA,
    MAX_BYTES,
    audio_seconds,
    image_facts,
    job,
    make_adapter,
    mock_client,
    run,
    serve_simulator,
    unique,
    video_facts,
)

API_KEY = "sim-test-key"
TIME_SCALE = 0.02  # BFL ready in 40 ms, Runway in 120 ms; [sim:slow] ten times that

A = TypeVar("A", bound=HttpAdapter)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    """The simulator mounted under /simulator like the main app does, served by uvicorn in a thread."""
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


def adapter(cls: type[A], root: str, client: httpx.AsyncClient, key: str = API_KEY) -> A:
    return make_adapter(cls, root, client, key)


# -- happy paths ----------------------------------------------------------------------------------


async def test_bfl_image_at_requested_size(sim_root: str, client: httpx.AsyncClient) -> None:
    bfl = adapter(BflAdapter, sim_root, client)
    spec = job("image", "flux_2_pro", unique("a brass lamp on oak"), aspect_ratio="16:9")
    submitted = await bfl.submit(spec)
    assert not isinstance(submitted, Done)
    assert submitted.state["polling_url"].startswith(sim_root + "/bfl/v1/get_result?id=")
    done = await run(bfl, spec)
    width, height = size_for_ratio(16, 9)
    assert (width % 16, height % 16) == (0, 0) and 0.9e6 < width * height < 1.1e6
    assert done.usage is not None and done.usage.units == pytest.approx(width * height / 1e6, abs=0.01)
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("image/",)
    )
    assert content_type == "image/jpeg"
    assert image_facts(data) == ("JPEG", (width, height))


async def test_bfl_settings_override_size_and_format(sim_root: str, client: httpx.AsyncClient) -> None:
    bfl = adapter(BflAdapter, sim_root, client)
    settings = {"width": 512, "height": 256, "output_format": "png", "seed": 7}
    done = await run(
        bfl, job("image", "flux_2_pro", unique("a red kite"), aspect_ratio="1:1", settings=settings)
    )
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("image/",)
    )
    assert content_type == "image/png"
    assert image_facts(data) == ("PNG", (512, 256))


async def test_runway_text_to_video(sim_root: str, client: httpx.AsyncClient) -> None:
    runway = adapter(RunwayAdapter, sim_root, client)
    spec = job("video", "runway_gen4", unique("waves at dusk"), aspect_ratio="9:16", duration_seconds=3)
    assert runway.build_request(spec)[0] == "/text_to_video"
    done = await run(runway, spec)
    assert done.usage is not None and done.usage.units == 3
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("video/",)
    )
    assert content_type == "video/mp4"
    width, height, seconds = video_facts(data)
    assert height > width  # 720:1280, rendered smaller
    assert seconds == pytest.approx(3, abs=0.2)


async def test_runway_image_to_video(sim_root: str, client: httpx.AsyncClient) -> None:
    runway = adapter(RunwayAdapter, sim_root, client)
    first_frame = InputFile("file-1", "image/png", media.png(64, 48))
    spec = job(
        "video", "runway_gen4", unique("the lamp turns on"), aspect_ratio="4:3", input_files=(first_frame,)
    )
    path, body = runway.build_request(spec)
    assert (path, body["model"], body["ratio"]) == ("/image_to_video", "gen4_turbo", "1104:832")
    assert body["promptImage"].startswith("data:image/png;base64,")
    done = await run(runway, spec)
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("video/",))
    width, height, seconds = video_facts(data)
    assert width / height == pytest.approx(1104 / 832, rel=0.05)
    assert seconds == pytest.approx(5, abs=0.2)


async def test_heygen_avatar_video_length_follows_script(sim_root: str, client: httpx.AsyncClient) -> None:
    heygen = adapter(HeygenAdapter, sim_root, client)
    spec = job(
        "avatar",
        "heygen",
        unique("Hello there, welcome to our spring collection!"),
        avatar_id="a",
        voice_id="v",
    )
    done = await run(heygen, spec)
    expected = round(len(spec.prompt or "") / 15, 1)
    assert done.usage is not None and done.usage.units == pytest.approx(expected)
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("video/",))
    width, height, seconds = video_facts(data)
    assert width > height
    assert seconds == pytest.approx(expected, abs=0.2)


async def test_openai_speech_mp3_and_wav(sim_root: str, client: httpx.AsyncClient) -> None:
    tts = adapter(OpenAITtsAdapter, sim_root, client)
    text = unique("Thanks for calling. Your order ships tomorrow morning.")
    done = await tts.submit(job("tts", "openai_tts", text, voice_id="nova"))
    assert isinstance(done, Done)
    assert done.usage is not None and done.usage.units == len(text)
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("audio/",)
    )
    assert content_type == "audio/mpeg"
    assert audio_seconds(data) == pytest.approx(len(text) / 15, abs=0.2)

    wav = await tts.submit(job("tts", "openai_tts", text, settings={"response_format": "wav"}))
    assert isinstance(wav, Done)
    data, content_type = await fetch_output(
        client, wav.outputs[0], max_bytes=MAX_BYTES, allowed_types=("audio/",)
    )
    assert content_type == "audio/wav" and data[:4] == b"RIFF"
    assert audio_seconds(data) == pytest.approx(len(text) / 15, abs=0.1)


async def test_creatomate_renderscript_video(sim_root: str, client: httpx.AsyncClient) -> None:
    creatomate = adapter(CreatomateAdapter, sim_root, client)
    source = {
        "output_format": "mp4",
        "width": 640,
        "height": 360,
        "frame_rate": 30,
        "elements": [
            {"type": "text", "text": unique("Spring sale"), "time": 0, "duration": 1.5},
            {"type": "image", "source": "https://example.com/a.jpg", "time": 1.5, "duration": 1},
        ],
    }
    done = await run(creatomate, job("composite", "creatomate", None, source=source))
    assert done.usage is not None
    assert done.usage.units == max(1, math.ceil(640 * 360 * 30 * 2.5 / 1e8)) == 1
    assert done.usage.details["duration"] == 2.5
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
    )
    assert content_type == "video/mp4"
    width, height, seconds = video_facts(data)
    assert width / height == pytest.approx(16 / 9, rel=0.05)
    assert seconds == pytest.approx(2.5, abs=0.2)


async def test_creatomate_template_and_image_credits(sim_root: str, client: httpx.AsyncClient) -> None:
    creatomate = adapter(CreatomateAdapter, sim_root, client)
    template = job(
        "composite", "creatomate", None, template_id="tpl-1", modifications={"Title": unique("Hi")}
    )
    done = await run(creatomate, template)
    assert done.usage is not None
    assert done.usage.units == math.ceil(1280 * 720 * 25 * 5 / 1e8) == 2

    still = job("composite", "creatomate", None, source={"output_format": "jpg", "width": 400, "height": 300})
    done = await run(creatomate, still)
    assert done.usage is not None and done.usage.units == 1
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
    )
    assert content_type == "image/jpeg" and image_facts(data) == ("JPEG", (400, 300))


# -- failures on demand ---------------------------------------------------------------------------


def every_adapter(
    root: str, client: httpx.AsyncClient, text: str, key: str = API_KEY
) -> list[tuple[HttpAdapter, JobSpec]]:
    """One ordinary job per adapter, all carrying ``text`` where the provider reads user text."""
    return [
        (adapter(BflAdapter, root, client, key), job("image", "flux_2_pro", text, aspect_ratio="1:1")),
        (adapter(RunwayAdapter, root, client, key), job("video", "runway_gen4", text, duration_seconds=2)),
        (
            adapter(HeygenAdapter, root, client, key),
            job("avatar", "heygen", text, avatar_id="a1", voice_id="v1"),
        ),
        (adapter(OpenAITtsAdapter, root, client, key), job("tts", "openai_tts", text)),
        (
            adapter(CreatomateAdapter, root, client, key),
            job("composite", "creatomate", None, template_id="tpl", modifications={"Text": text}),
        ),
    ]


async def test_moderation_marker_is_a_moderation_error(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("forbidden [sim:moderate]")):
        if isinstance(adapter_, CreatomateAdapter):
            # Creatomate has no moderation state: the render just fails.
            with pytest.raises(RejectedError):
                await run(adapter_, spec)
            continue
        with pytest.raises(ModerationError):
            await run(adapter_, spec)


async def test_fail_marker_is_rejected_not_moderated(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("broken [sim:fail]")):
        with pytest.raises(RejectedError) as caught:
            await run(adapter_, spec)
        assert not isinstance(caught.value, ModerationError), type(adapter_).__name__


async def test_429_marker_retries_after_one_second_then_works(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("busy [sim:429]")):
        with pytest.raises(RetryableError) as caught:
            await adapter_.submit(spec)
        assert caught.value.retry_after == 1, type(adapter_).__name__
        done = await run(adapter_, spec)
        assert done.outputs


async def test_500_marker_is_retryable_once(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("flaky [sim:500]")):
        with pytest.raises(RetryableError):
            await adapter_.submit(spec)
        assert (await run(adapter_, spec)).outputs


async def test_wrong_key_is_refused_credentials(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("hello"), key="not-the-key"):
        with pytest.raises(RejectedError, match="refused our credentials"):
            await adapter_.submit(spec)


async def test_expired_output_is_rejected(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("gone soon [sim:expire]")):
        done = await run(adapter_, spec)
        if done.outputs[0].data is not None:  # OpenAI returns the bytes themselves: nothing can expire
            _, content_type = await fetch_output(
                client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
            )
            assert content_type.startswith("audio/")
            continue
        with pytest.raises(RejectedError, match="output expired or missing"):
            await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA)


async def test_lost_task_is_rejected(sim_root: str, client: httpx.AsyncClient) -> None:
    for adapter_, spec in every_adapter(sim_root, client, unique("vanishing [sim:lost]")):
        if isinstance(adapter_, OpenAITtsAdapter):  # synchronous: there is no task to lose
            assert (await run(adapter_, spec)).outputs
            continue
        with pytest.raises(RejectedError):
            await run(adapter_, spec)


async def test_validation_errors_carry_the_provider_message(sim_root: str, client: httpx.AsyncClient) -> None:
    tts = adapter(OpenAITtsAdapter, sim_root, client)
    with pytest.raises(RejectedError, match="string too long"):
        await tts.submit(job("tts", "openai_tts", "x" * 4097))
    heygen = adapter(HeygenAdapter, sim_root, client)
    with pytest.raises(RejectedError, match="avatar_id is required"):
        await heygen.submit(job("avatar", "heygen", "hi", voice_id="v1"))
    creatomate = adapter(CreatomateAdapter, sim_root, client)
    with pytest.raises(RejectedError, match="template_id"):
        await creatomate.submit(job("composite", "creatomate", None))

    base = sim_root + SIMULATOR_BASE_PATHS["bfl"]
    answer = await client.post(f"{base}/v1/flux-2-pro", json={"width": 512}, headers={"x-key": API_KEY})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "prompt"]
    runway = sim_root + SIMULATOR_BASE_PATHS["runway"]
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
    body = {"model": "gen4.5", "promptText": "x", "ratio": "960:960", "duration": 5}
    answer = await client.post(f"{runway}/text_to_video", json=body, headers=headers)
    assert answer.status_code == 400 and "ratio" in answer.json()["error"]


# -- Runway cancel and queueing -------------------------------------------------------------------


async def runway_status(client: httpx.AsyncClient, root: str, task_id: str) -> str:
    answer = await client.get(
        f"{root}{SIMULATOR_BASE_PATHS['runway']}/tasks/{task_id}",
        headers={"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"},
    )
    status: str = answer.json()["status"]
    return status


async def test_runway_cancel(sim_root: str, client: httpx.AsyncClient) -> None:
    runway = adapter(RunwayAdapter, sim_root, client)
    spec = job("video", "runway_gen4", unique("a long take [sim:slow]"), duration_seconds=2)
    submitted = await runway.submit(spec)
    assert not isinstance(submitted, Done)
    assert await runway.cancel(spec, submitted.task_id, submitted.state) is True
    assert await runway_status(client, sim_root, submitted.task_id) == "CANCELLED"
    with pytest.raises(RejectedError, match="canceled at provider"):
        await runway.poll(spec, submitted.task_id, submitted.state)


async def test_runway_cancel_of_a_finished_task_is_not_a_cancel(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    """DELETE would delete a finished task, not cancel it: the adapter leaves it and says False."""
    runway = adapter(RunwayAdapter, sim_root, client)
    spec = job("video", "runway_gen4", unique("a short take"), duration_seconds=2)
    submitted = await runway.submit(spec)
    assert not isinstance(submitted, Done)
    for _ in range(500):  # poll like the worker until it finished (bounded)
        if isinstance(await runway.poll(spec, submitted.task_id, submitted.state), Done):
            break
        await asyncio.sleep(submitted.retry_after)
    else:
        raise AssertionError("the task never finished")
    assert await runway.cancel(spec, submitted.task_id, submitted.state) is False
    assert await runway_status(client, sim_root, submitted.task_id) == "SUCCEEDED"
    assert await runway.cancel(spec, "no-such-task", {}) is False


async def test_runway_over_concurrency_is_throttled_not_refused(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    runway = adapter(RunwayAdapter, sim_root, client)
    specs = [
        job("video", "runway_gen4", unique(f"queue {n} [sim:slow]"), duration_seconds=2) for n in range(7)
    ]
    submitted = [await runway.submit(spec) for spec in specs]
    ids = [s.task_id for s in submitted if not isinstance(s, Done)]
    try:
        statuses = [await runway_status(client, sim_root, task_id) for task_id in ids]
        assert statuses[-1] == "THROTTLED" and statuses.count("THROTTLED") >= 2
        pending = await runway.poll(specs[-1], ids[-1], {})
        assert not isinstance(pending, Done)
    finally:
        for spec, task_id in zip(specs, ids, strict=True):
            await runway.cancel(spec, task_id, {})


# -- the simulator itself -------------------------------------------------------------------------


async def test_state_machines_finish_within_ten_seconds_at_scale_one() -> None:
    """At time_scale 1.0 every provider shows its intermediate states and finishes by 10 s."""
    sim_app = create_simulator_app("k", 1.0)
    now = [1000.0]
    sim_app.state.sim.clock = lambda: now[0]
    transport = httpx.ASGITransport(app=sim_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        bearer = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
        bfl = (await http.post("/bfl/v1/flux-2-pro", json={"prompt": "p"}, headers={"x-key": "k"})).json()
        run_id = (
            await http.post(
                "/runway/v1/text_to_video",
                json={"model": "gen4.5", "promptText": "p", "ratio": "1280:720", "duration": 2},
                headers=bearer,
            )
        ).json()["id"]
        avatar = {"type": "avatar", "avatar_id": "a", "voice_id": "v", "script": "hi"}
        video_id = (await http.post("/heygen/v3/videos", json=avatar, headers={"x-api-key": "k"})).json()[
            "data"
        ]["video_id"]
        render = (
            await http.post("/creatomate/v1/renders", json={"template_id": "t"}, headers=bearer)
        ).json()[0]
        assert render["status"] == "planned" and render["url"].startswith("http://sim/creatomate/_files/")

        async def statuses() -> tuple[str, str, str, str]:
            a = (await http.get(bfl["polling_url"], headers={"x-key": "k"})).json()["status"]
            b = (await http.get(f"/runway/v1/tasks/{run_id}", headers=bearer)).json()["status"]
            c = (await http.get(f"/heygen/v3/videos/{video_id}", headers={"x-api-key": "k"})).json()
            d = (await http.get(f"/creatomate/v1/renders/{render['id']}", headers=bearer)).json()["status"]
            return a, b, c["data"]["status"], d

        assert await statuses() == ("Pending", "PENDING", "pending", "planned")
        now[0] += 3
        assert await statuses() == ("Ready", "RUNNING", "processing", "rendering")
        now[0] += 7
        assert await statuses() == ("Ready", "SUCCEEDED", "completed", "succeeded")


async def test_stats_and_reset() -> None:
    sim_app = create_simulator_app("k", 0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://sim") as http:
        for prompt in ("one", "two [sim:fail]"):
            await http.post("/bfl/v1/flux-2-pro", json={"prompt": prompt}, headers={"x-key": "k"})
        stats = (await http.get("/_sim/stats")).json()
        assert stats["submissions"] == {"bfl": 2} and stats["markers"] == {"fail": 1}
        assert len(stats["task_ids"]) == 2
        assert (await http.post("/_sim/reset")).status_code == 200
        assert (await http.get("/_sim/stats")).json()["task_ids"] == []


# -- download and error mapping without the simulator ---------------------------------------------


async def test_fetch_output_limits_and_sniffing() -> None:
    png = media.png(8, 8)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/generic":
            return httpx.Response(200, content=png, headers={"content-type": "application/octet-stream"})
        if request.url.path == "/html":
            return httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"})
        if request.url.path == "/gone":
            return httpx.Response(410)
        if request.url.path == "/redirect":
            return httpx.Response(302, headers={"location": "https://elsewhere.example/x"})
        return httpx.Response(503, headers={"retry-after": "4"})

    async with mock_client(handler) as http:
        assert await fetch_output(
            http, Output(url="https://cdn.test/generic"), max_bytes=10**6, allowed_types=("image/",)
        ) == (
            png,
            "image/png",
        )
        with pytest.raises(RejectedError, match="larger"):
            await fetch_output(
                http, Output(url="https://cdn.test/generic"), max_bytes=10, allowed_types=("image/",)
            )
        with pytest.raises(RejectedError, match="unexpected type"):
            await fetch_output(
                http, Output(url="https://cdn.test/html"), max_bytes=10**6, allowed_types=ANY_MEDIA
            )
        with pytest.raises(RejectedError, match="expired or missing"):
            await fetch_output(
                http, Output(url="https://cdn.test/gone"), max_bytes=10**6, allowed_types=ANY_MEDIA
            )
        with pytest.raises(RetryableError) as caught:
            await fetch_output(
                http, Output(url="https://cdn.test/down"), max_bytes=10**6, allowed_types=ANY_MEDIA
            )
        assert caught.value.retry_after == 4
        with pytest.raises(RejectedError, match="host"):
            await fetch_output(
                http,
                Output(url="https://cdn.test/redirect"),
                max_bytes=10**6,
                allowed_types=ANY_MEDIA,
                allowed_hosts=(".test",),
            )
    inline = await fetch_output(http, Output(data=png), max_bytes=10**6, allowed_types=("image/png",))
    assert inline == (png, "image/png")
    assert sniff(media.mp3(1)[:16]) == "audio/mpeg" and sniff(media.mp4(32, 32, 1)[:16]) == "video/mp4"
    assert sniff(media.wav(1)[:16]) == "audio/wav" and sniff(media.jpeg(8, 8)[:16]) == "image/jpeg"


async def test_http_error_mapping() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        status = int(request.url.path.strip("/"))
        if status == 599:
            raise httpx.ConnectError("refused", request=request)
        body = {
            "error": {"message": f"status {status}", "code": "moderation_blocked" if status == 400 else None}
        }
        return httpx.Response(status, json=body, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})

    async def call(status: int) -> None:
        await send(
            http,
            "GET",
            f"https://p.test/{status}",
            provider="P",
            headers={},
            moderation_codes=("moderation_blocked",),
        )

    async with mock_client(handler) as http:
        with pytest.raises(ModerationError):
            await call(400)
        for status in (401, 403):
            with pytest.raises(RejectedError, match="refused our credentials"):
                await call(status)
        with pytest.raises(RejectedError, match="insufficient credits"):
            await call(402)
        with pytest.raises(RejectedError, match="status 404"):
            await call(404)
        for status in (408, 409, 429, 500, 503, 599):
            with pytest.raises(RetryableError) as caught:
                await call(status)
            assert caught.value.retry_after in (None, 0.0)
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None
