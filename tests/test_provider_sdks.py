"""The simulator driven by the providers' own official Python SDKs (dev dependencies only): each test
makes the SDK's calls and reads its typed responses, so a simulator answer the real SDK cannot parse
fails here. Families with an official SDK: OpenAI (``openai``), Runway (``runwayml``), Luma's Agents
API (``luma-agents``), ElevenLabs (``elevenlabs``) and Gemini (``google-genai``)."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import elevenlabs
import luma_agents
import openai
import pytest
import runwayml
from google import genai
from google.genai import types as genai_types
from google.genai._transformers import t_file_name
from pydantic import TypeAdapter

from providers import gemini as gemini_adapter
from providers import lifecycle, options
from providers.simulator import SIMULATOR_BASE_PATHS, media
from tests.sim_harness import audio_facts, image_facts, serve_simulator, unique, video_facts

KEY = "sk_sdk_test_key_0123456789abcdef"
TIME_SCALE = 0.02
T = TypeVar("T")


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(KEY, TIME_SCALE) as root:
        yield root


def until(fetch: Callable[[], T], done: Callable[[T], bool], limit: float = 15.0) -> T:
    """Poll an SDK call until ``done`` holds, bounded (the simulator finishes within a second here)."""
    deadline = time.monotonic() + limit
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"not finished: {value!r}"
        time.sleep(0.05)


def strict(value: T) -> T:
    """``value`` validated again by its own SDK type, strictly: the Stainless SDKs build responses
    without validation, so a missing required field would otherwise pass unnoticed."""
    dumped = value.model_dump(by_alias=True, exclude_unset=True)  # type: ignore[attr-defined]  # T: any SDK (pydantic) model
    return TypeAdapter(type(value)).validate_python(dumped)


def download(url: str, **headers: str) -> bytes:
    import httpx

    response = httpx.get(url, headers=headers, follow_redirects=True, timeout=10)
    response.raise_for_status()
    return response.content


# -- OpenAI -----------------------------------------------------------------------------------------


def openai_client(root: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=root + SIMULATOR_BASE_PATHS["openai"], api_key=key, max_retries=0)


def test_openai_images_generate(sim_root: str) -> None:
    result = openai_client(sim_root).images.generate(
        model="gpt-image-1.5", prompt=unique("a poster"), size="1536x1024", quality="low", n=1
    )
    assert isinstance(result, openai.types.ImagesResponse)
    strict(result)
    assert result.data and result.data[0].b64_json
    kind, size = image_facts(base64.b64decode(result.data[0].b64_json))
    assert (kind, size) == ("PNG", (1536, 1024))
    assert result.usage is not None and result.usage.output_tokens > 0


def test_openai_images_edit_with_several_references(sim_root: str) -> None:
    """The SDK's multipart edits (``image[]`` for a list) are what the adapter sends with reference images."""
    images = [("a.png", media.png(256, 256), "image/png"), ("b.jpg", media.jpeg(320, 240), "image/jpeg")]
    result = openai_client(sim_root).images.edit(
        model="gpt-image-2.6-sunburst", image=images, prompt=unique("these two on a shelf"), size="1024x1024"
    )
    strict(result)
    assert result.data and result.data[0].b64_json
    assert image_facts(base64.b64decode(result.data[0].b64_json))[1] == (1024, 1024)
    assert result.usage is not None and result.usage.input_tokens_details.image_tokens > 0
    with pytest.raises(openai.BadRequestError, match="format must be in"):
        openai_client(sim_root).images.edit(
            model="gpt-image-2.6-sunburst", image=[("a.gif", media.gif(32, 32), "image/gif")], prompt="x"
        )


def test_openai_speech_create(sim_root: str) -> None:
    response = openai_client(sim_root).audio.speech.create(
        model="tts-1", voice="alloy", input=unique("Hello from the simulator."), response_format="wav"
    )
    seconds, _rate = audio_facts(response.read())
    assert seconds > 0.5


def test_openai_models_list_and_retrieve_carry_shutdown_dates(sim_root: str) -> None:
    client = openai_client(sim_root)
    listed = {model.id: model for model in client.models.list()}
    assert isinstance(listed["gpt-image-1.5"], openai.types.Model)
    model = strict(client.models.retrieve("gpt-image-1.5"))
    assert model.shutdown_date == "2026-12-01"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-image-0")
    with pytest.raises(openai.AuthenticationError):
        openai_client(sim_root, key="sk-wrong").models.list()


def test_openai_refusals_are_the_sdk_errors(sim_root: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        openai_client(sim_root).images.generate(model="gpt-image-1.5", prompt="x", size="999x999")
    assert refused.value.status_code == 400


def test_openai_successors_and_shutdowns_through_the_sdk(
    sim_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size and quality the GPT Image 2.6 adapter sends, a shut-down model's 404 and
    ``instructions`` with tts-1, as the SDK sees them."""
    from providers.base import JobSpec
    from providers.openai import OpenAIImage26Adapter

    client = openai_client(sim_root)
    spec = JobSpec(
        "j",
        "image",
        "gpt_image_2_6_flare",
        "p",
        {"aspect_ratio": "16:9", "settings": options.normalise("gpt_image_2_6_flare", {"quality": "xhigh"})},
    )
    body = OpenAIImage26Adapter(None, "", "").build_request(spec)  # type: ignore[arg-type]  # no HTTP client: it sends nothing
    result = client.images.generate(
        model=body["model"], prompt=unique("a poster"), size=body["size"], quality=body["quality"]
    )
    strict(result)
    assert result.data and result.data[0].b64_json
    width, height = (int(side) for side in body["size"].split("x"))
    assert image_facts(base64.b64decode(result.data[0].b64_json))[1] == (width, height)
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", instructions="calm")
    monkeypatch.setattr(lifecycle, "_clock", lambda: dt.date(2026, 12, 1))
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="gpt-image-1.5", prompt="x", size="1024x1024")
    assert "gpt-image-1.5" not in {model.id for model in client.models.list()}


# -- Runway -----------------------------------------------------------------------------------------


def runway_client(root: str) -> runwayml.RunwayML:
    return runwayml.RunwayML(api_key=KEY, base_url=root + SIMULATOR_BASE_PATHS["runway"].removesuffix("/v1"))


def test_runway_image_to_video_and_task(sim_root: str) -> None:
    client = runway_client(sim_root)
    frame = "data:image/png;base64," + base64.b64encode(media.png(1280, 720)).decode()
    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image=frame, ratio="1280:720", duration=5, prompt_text=unique("waves")
    )
    task = until(lambda: client.tasks.retrieve(created.id), lambda t: t.status in ("SUCCEEDED", "FAILED"))
    assert task.status == "SUCCEEDED", task
    strict(task)
    assert task.output
    width, height, seconds = video_facts(download(task.output[0]))
    assert width * 720 == height * 1280 and seconds == pytest.approx(5, abs=0.5)


def test_runway_text_to_video_and_organization(sim_root: str) -> None:
    client = runway_client(sim_root)
    created = client.text_to_video.create(
        model="gen4.5", prompt_text=unique("a city"), ratio="720:1280", duration=4
    )
    task = until(lambda: client.tasks.retrieve(created.id), lambda t: t.status in ("SUCCEEDED", "FAILED"))
    assert task.status == "SUCCEEDED", task
    strict(task)
    organization = strict(client.organization.retrieve())
    assert organization.credit_balance >= 0
    assert "gen4_turbo" in organization.tier.models


# -- Luma (Agents API) ------------------------------------------------------------------------------


def test_luma_generations_create_and_get(sim_root: str) -> None:
    client = luma_agents.Luma(auth_token=KEY, base_url=sim_root + SIMULATOR_BASE_PATHS["luma"], max_retries=0)
    created = client.generations.create(
        model="ray-3.2",
        type="video",
        prompt=unique("a lighthouse"),
        aspect_ratio="16:9",
        video={"duration": "5s", "resolution": "720p"},
    )
    assert isinstance(created, luma_agents.types.Generation)
    generation = until(
        lambda: client.generations.get(created.id), lambda g: g.state in ("completed", "failed")
    )
    assert generation.state == "completed", generation
    strict(created), strict(generation)
    assert generation.output and generation.output[0].url
    width, height, seconds = video_facts(download(generation.output[0].url))
    assert width > height and seconds == pytest.approx(5, abs=0.5)
    page = client.files.list(limit=1)
    assert page.data == [] and page.has_more is False


# -- ElevenLabs -------------------------------------------------------------------------------------


def test_elevenlabs_text_to_speech_convert_and_models(sim_root: str) -> None:
    client = elevenlabs.ElevenLabs(api_key=KEY, base_url=sim_root + SIMULATOR_BASE_PATHS["elevenlabs"])
    chunks = client.text_to_speech.convert(
        voice_id="JBFqnCBsd6RMkjVDRZzb",
        text=unique("The simulator speaks."),
        model_id="eleven_multilingual_v2",
        output_format="mp3_44100_128",
    )
    seconds, rate = audio_facts(b"".join(chunks))
    assert seconds > 0.5 and rate == 44100
    models = client.models.list()
    strict(models[0])
    assert "eleven_multilingual_v2" in {model.model_id for model in models}


# -- Gemini (Veo) -----------------------------------------------------------------------------------


def test_google_genai_generate_videos_and_operations_get(sim_root: str) -> None:
    """Targets the model id the adapter sends (providers.gemini.veo_model())."""
    client = genai.Client(
        api_key=KEY,
        http_options=genai_types.HttpOptions(base_url=sim_root + "/gemini", api_version="v1beta"),
    )
    operation = client.models.generate_videos(
        model=gemini_adapter.veo_model(),
        source=genai_types.GenerateVideosSource(prompt=unique("a red kite")),
        config=genai_types.GenerateVideosConfig(aspect_ratio="9:16", duration_seconds=8, number_of_videos=1),
    )
    assert isinstance(operation, genai_types.GenerateVideosOperation)
    strict(operation)
    operation = until(lambda: client.operations.get(operation), lambda op: bool(op.done))
    assert operation.error is None, operation.error
    assert operation.response and operation.response.generated_videos
    video = operation.response.generated_videos[0].video
    assert video is not None and video.uri
    # The SDK reads a file id out of a Gemini https URI as [a-z0-9]+ (Gemini's own file ids are
    # lowercase alphanumeric); the simulator serves plain http, so the URI is read as https would be.
    file_id = t_file_name(video.uri.replace("http://", "https://", 1))
    assert video.uri.split("/files/", 1)[1].startswith(f"{file_id}:download"), video.uri
    data = client.files.download(file=f"files/{file_id}")  # the SDK's own keyed download
    width, height, seconds = video_facts(data)
    assert height > width and seconds == pytest.approx(8, abs=0.5)
    names = {model.name for model in client.models.list()}
    assert f"models/{gemini_adapter.veo_model()}" in names
