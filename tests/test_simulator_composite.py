"""The simulated Creatomate renders our recipes' composites from their real inputs: the logo ad
shows the logo at the bottom right over the image, the voice-over ad carries the video's frames
and the narration. The adapter against the simulator over real HTTP, the inputs on a second route
of the same server (as Drive's signed links are, in development)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from fractions import Fraction

import av
import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from models.recipes import logo_script, voiceover_script
from providers.creatomate import CreatomateAdapter
from providers.download import fetch_output
from providers.simulator import create_simulator_app, media
from tests.sim_harness import ANY_MEDIA, MAX_BYTES, job, make_adapter, run, serve_app

API_KEY = "sim-composite-key"
TIME_SCALE = 0.05
RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 200, 0)


def solid_image(colour: tuple[int, int, int], size: tuple[int, int], image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=image_format)
    return buffer.getvalue()


def solid_video(colour: tuple[int, int, int], size: tuple[int, int], seconds: float, fps: int = 12) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


FILES: dict[str, tuple[bytes, str]] = {
    "background.jpg": (solid_image(BLUE, (900, 600), "JPEG"), "image/jpeg"),
    "logo.png": (solid_image(RED, (200, 100), "PNG"), "image/png"),
    "clip.mp4": (solid_video(GREEN, (640, 360), 2.0), "video/mp4"),
    "voice.mp3": (media.mp3(3.0), "audio/mpeg"),
}


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    async def serve(request: Request) -> Response:
        data, content_type = FILES[request.path_params["name"]]
        return Response(data, media_type=content_type)

    app = Starlette(
        routes=[
            Mount("/simulator", app=create_simulator_app(API_KEY, TIME_SCALE)),
            Route("/media/{name}", serve),
        ]
    )
    with serve_app(app) as url:
        yield url


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


async def test_the_logo_ad_shows_the_logo_at_the_bottom_right_over_the_image(
    root: str, client: httpx.AsyncClient
) -> None:
    creatomate = make_adapter(CreatomateAdapter, root + "/simulator", client, API_KEY)
    source = logo_script(640, 640)  # the logo in a 128 px square whose right and bottom are at 608
    modifications = {"Image": f"{root}/media/background.jpg", "Logo": f"{root}/media/logo.png"}
    done = await run(
        creatomate, job("composite", "creatomate", None, source=source, modifications=modifications)
    )
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
    )
    assert content_type == "image/png"
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    assert picture.size == (640, 640)
    # The 2:1 logo contained in its square: 128×64, centred in it (rows 512–576).
    for point in [(490, 520), (544, 544), (600, 570)]:
        assert close_to(picture.getpixel(point), RED), point
    # The background everywhere else, its margin at the corner included.
    for point in [(10, 10), (320, 320), (544, 500), (544, 590), (630, 630), (470, 544)]:
        assert close_to(picture.getpixel(point), BLUE), point


async def test_the_voiceover_ad_carries_the_video_and_the_narration_trimmed_to_it(
    root: str, client: httpx.AsyncClient
) -> None:
    creatomate = make_adapter(CreatomateAdapter, root + "/simulator", client, API_KEY)
    source = voiceover_script(1280, 720, 2)
    modifications = {"Video": f"{root}/media/clip.mp4", "Voiceover": f"{root}/media/voice.mp3"}
    done = await run(
        creatomate, job("composite", "creatomate", None, source=source, modifications=modifications)
    )
    data, content_type = await fetch_output(
        client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
    )
    assert content_type == "video/mp4"
    with av.open(io.BytesIO(data), mode="r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert (video.codec_context.width, video.codec_context.height) == media.preview_size(1280, 720)
        frames = [frame for frame in container.decode(video)]
        assert close_to(frames[len(frames) // 2].to_image().getpixel((160, 90)), GREEN)  # type: ignore[no-untyped-call]
        video_seconds = len(frames) / float(video.average_rate or 1)
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        audio_seconds = samples / stream.codec_context.sample_rate
    assert video_seconds == pytest.approx(2.0, abs=0.1)
    # The 3 s narration cut at the video's end (AAC's priming adds a frame or two).
    assert audio_seconds == pytest.approx(video_seconds, abs=0.15)


async def test_inputs_it_cannot_draw_render_as_the_generated_media(
    root: str, client: httpx.AsyncClient
) -> None:
    creatomate = make_adapter(CreatomateAdapter, root + "/simulator", client, API_KEY)
    source = logo_script(320, 240) | {"elements": [{"name": "Logo", "type": "image", "fit": "stretch"}]}
    done = await run(
        creatomate,
        job("composite", "creatomate", None, source=source, modifications={"Logo": f"{root}/media/logo.png"}),
    )
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA)
    assert data == media.png(320, 240)


def test_a_render_without_a_usable_duration_is_refused_and_a_late_sound_costs_nothing() -> None:
    """A RenderScript's duration of 0, below 0 or not a number is refused as a bad request (the
    simulated render would otherwise draw frames without end); a sound placed after the render's
    end adds no silence to hold in memory."""
    from providers.simulator.composite import _audio_pcm
    from providers.simulator.creatomate import _render_plan

    video = {"type": "video", "source": "https://example.test/v.mp4"}
    for duration in (0, -5, float("nan"), float("inf")):
        plan = _render_plan({"output_format": "mp4", "source": {"duration": duration, "elements": [video]}})
        assert plan == "The duration must be a positive number of seconds.", (duration, plan)
    ok = _render_plan({"output_format": "mp4", "source": {"duration": 4, "elements": [video]}})
    assert isinstance(ok, dict) and ok["duration"] == 4
    assert _audio_pcm(media.wav(1.0), {"type": "audio", "time": 1e6}, 5.0) == b""
    assert len(_audio_pcm(media.wav(1.0), {"type": "audio", "time": 1}, 5.0)) > media.SAMPLE_RATE * 2
