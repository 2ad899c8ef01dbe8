"""The contract between the catalogue and the providers, for all twelve: every choice the catalogue
offers (each aspect ratio, each duration, the longest text, each enumerated setting value) that the
domain accepts is built by the adapter and accepted by the provider simulator; the default choice of
each provider runs to a finished, downloadable output. In-process (ASGI), no sleeping."""

from __future__ import annotations

import importlib
import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from models.errors import DomainError
from models.generation import _image_size, price, provider_settings
from providers import options, registry
from providers.base import Done, InputFile, JobSpec, Submitted
from providers.catalog import AVATAR, CATALOG, COMPOSITE, IMAGE, TTS, VIDEO, ProviderSpec
from providers.download import fetch_output
from providers.http_adapter import HttpAdapter
from providers.simulator import SIMULATOR_BASE_PATHS, create_simulator_app, media
from tests.sim_harness import ANY_MEDIA, MAX_BYTES, POLL_SCALE, job, run

KEY = "ak_contract:sk_contract_secret_0123456789abcdef0123"  # Kling reads it as access:secret
FRAME = InputFile("file-1", "image/png", media.png(1280, 720))
SOURCE = {"output_format": "mp4", "width": 640, "height": 360, "elements": [{"type": "text", "text": "Hi"}]}


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Mount("/simulator", app=create_simulator_app(KEY, 0))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        yield http


def adapter(provider: str, client: httpx.AsyncClient) -> HttpAdapter:
    module_name, class_name = registry.ADAPTERS[provider].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    base = "http://sim/simulator" + SIMULATOR_BASE_PATHS[CATALOG[provider].family]
    built: HttpAdapter = cls(client, base, KEY, poll_interval_scale=POLL_SCALE)
    return built


def literal_values(annotation: Any) -> list[Any]:
    """Every value a setting's type enumerates (``Literal[...]`` members, both booleans)."""
    if annotation is bool:
        return [True, False]
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [value for arg in typing.get_args(annotation) for value in literal_values(arg)]


def setting_choices(provider: str) -> Iterator[dict[str, Any]]:
    for name, field in options.SETTINGS[provider].model_fields.items():
        for value in literal_values(field.annotation):
            yield {name: value}


def choices(spec: ProviderSpec) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, inputs) for each choice the catalogue offers, one dimension at a time."""
    yield "default", {}
    for ratio in spec.aspect_ratios:
        yield f"ratio {ratio}", {"aspect_ratio": ratio}
    for seconds in spec.durations:
        yield f"{seconds} s", {"duration_seconds": seconds}
    yield f"{spec.max_text_chars} characters", {"text": "x" * spec.max_text_chars}
    for setting in setting_choices(spec.provider):
        yield f"settings {setting}", {"settings": setting}


def job_for(spec: ProviderSpec, inputs: dict[str, Any]) -> JobSpec:
    """The job as the domain's validation leaves it (models.generation.validate), or DomainError."""
    settings = provider_settings(spec.provider, inputs.get("settings", {}))
    params: dict[str, Any] = {"settings": settings}
    text = inputs.get("text") or f"contract check of {spec.provider}"
    files: tuple[InputFile, ...] = ()
    ratio = inputs.get("aspect_ratio") or spec.default_aspect_ratio
    if ratio:
        params["aspect_ratio"] = ratio
    if spec.type == IMAGE:
        params["width"], params["height"] = _image_size(settings, ratio or "1:1")
    elif spec.type == VIDEO:
        params["duration_seconds"] = inputs.get("duration_seconds") or spec.default_duration
        if spec.text_only_aspect_ratios and ratio not in spec.text_only_aspect_ratios:
            files = (FRAME,)  # these ratios need a first frame
            params["image_file_id"] = FRAME.file_id
    elif spec.type == AVATAR:
        params["avatar_id"], params["voice_id"] = "Daisy-inskirt-20220818", "2d5b0e6cf36f460aa7fc47e3eee4ba54"
    elif spec.type == COMPOSITE:
        params["source"], params["modifications"], params["inputs"] = SOURCE, {}, []
    prompt = None if spec.type == COMPOSITE else text
    price(spec.provider, spec.type, prompt, params)  # refuses what the provider would refuse
    return job(spec.type, spec.provider, prompt, input_files=files, **params)


@pytest.mark.parametrize("provider", sorted(CATALOG))
async def test_every_catalogue_choice_reaches_the_provider(provider: str, sim: httpx.AsyncClient) -> None:
    spec = CATALOG[provider]
    built = adapter(provider, sim)
    accepted: list[str] = []
    for label, inputs in choices(spec):
        try:
            job_spec = job_for(spec, inputs)
        except DomainError as refused:
            # Refused before anything is held, with a message naming what was wrong.
            assert str(refused), (provider, label)
            continue
        outcome = await built.submit(job_spec)
        assert isinstance(outcome, Submitted | Done), (provider, label)
        accepted.append(label)
    # The catalogue's own lists are choices the domain offers: none of them is refused.
    listed = {f"ratio {r}" for r in spec.aspect_ratios} | {f"{s} s" for s in spec.durations}
    assert listed <= set(accepted), (provider, listed - set(accepted))
    assert "default" in accepted and f"{spec.max_text_chars} characters" in accepted


@pytest.mark.parametrize("provider", sorted(CATALOG))
async def test_the_default_choice_finishes_with_a_downloadable_output(
    provider: str, sim: httpx.AsyncClient
) -> None:
    spec = CATALOG[provider]
    done = await run(adapter(provider, sim), job_for(spec, {}))
    data, content_type = await fetch_output(
        sim, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA
    )
    expected = {IMAGE: "image/", VIDEO: "video/", AVATAR: "video/", TTS: "audio/", COMPOSITE: "video/"}
    assert content_type.startswith(expected[spec.type]) and data
    assert done.usage is not None and done.usage.units > 0


async def test_a_gif_above_15_frames_per_second_is_refused_before_anything_is_held(
    sim: httpx.AsyncClient,
) -> None:
    """Creatomate renders GIFs at 1 to 15 fps (docs/providers.md, Creatomate): a GIF from a source at its
    default frame rate is refused at validation, naming the setting; at 10 fps it renders."""
    spec = CATALOG["creatomate"]
    with pytest.raises(DomainError) as refused:
        job_for(spec, {"settings": {"output_format": "gif"}})
    assert "frame_rate" in str(refused.value) and "15" in str(refused.value)
    done = await run(
        adapter("creatomate", sim), job_for(spec, {"settings": {"output_format": "gif", "frame_rate": 10}})
    )
    _, content_type = await fetch_output(sim, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=ANY_MEDIA)
    assert content_type == "image/gif"
