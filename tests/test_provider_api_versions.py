"""HeyGen on API v3 and Veo 3.1 on its current model, through the adapters against the simulator.

The retired routes (HeyGen v1/v2, the ``veo-3.1-*-preview`` model ids) answer 404 in the
simulator as the real APIs do now, so an adapter still sending jobs there fails these tests.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import httpx
import pytest

from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest, validate
from providers import lifecycle, options
from providers.download import fetch_output
from providers.errors import InvalidInputError, RejectedError
from providers.gemini import GeminiVeoAdapter
from providers.heygen import HeygenAdapter
from services.settings import Settings
from tests.sim_harness import MAX_BYTES, job, make_adapter, run, serve_simulator, unique, video_facts
from tests.stack import Stack, Team
from tests.test_generation import balance, generate

API_KEY = "sim-heyveo-key"
TIME_SCALE = 0.02


@pytest.fixture(scope="module")
def sim_root() -> Iterator[str]:
    with serve_simulator(API_KEY, TIME_SCALE) as root:
        yield root


def avatar_job(text: str, **settings: object) -> object:
    return job(
        "avatar",
        "heygen",
        unique(text),
        avatar_id="a",
        voice_id="v",
        aspect_ratio="9:16",
        settings=options.normalise("heygen", settings),
    )


def veo_job(text: str, seconds: int = 8, **settings: object) -> object:
    return job(
        "video",
        "veo_3_1",
        unique(text),
        duration_seconds=seconds,
        aspect_ratio="16:9",
        settings=options.normalise("veo_3_1", settings),
    )


# -- HeyGen v3 ------------------------------------------------------------------------------------


async def test_heygen_avatar_job_completes_on_v3(sim_root: str, client: httpx.AsyncClient) -> None:
    heygen = make_adapter(HeygenAdapter, sim_root, client, API_KEY)
    spec = avatar_job("Welcome to the spring collection.", speed=1.1, pitch=2, locale="en-US")
    body = heygen.build_request(spec)
    assert body["type"] == "avatar" and body["script"] == spec.prompt
    assert body["voice_settings"] == {"speed": 1.1, "pitch": 2, "locale": "en-US"}
    done = await run(heygen, spec)
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("video/",))
    width, height, seconds = video_facts(data)
    assert width * 16 == height * 9  # 9:16 (videos come at preview size)
    assert done.usage is not None and seconds == pytest.approx(done.usage.units, abs=0.2)


async def test_heygen_v1_and_v2_routes_answer_404(sim_root: str, client: httpx.AsyncClient) -> None:
    key = {"x-api-key": API_KEY}
    scene = {
        "character": {"type": "avatar", "avatar_id": "a"},
        "voice": {"type": "text", "voice_id": "v", "input_text": "hi"},
    }
    old_submit = await client.post(
        f"{sim_root}/heygen/v2/video/generate", json={"video_inputs": [scene]}, headers=key
    )
    old_poll = await client.get(
        f"{sim_root}/heygen/v1/video_status.get", params={"video_id": "x"}, headers=key
    )
    for answer in (old_submit, old_poll):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
        assert "v3" in answer.json()["error"]["message"]


async def test_heygen_v3_refuses_what_heygen_refuses(sim_root: str, client: httpx.AsyncClient) -> None:
    key = {"x-api-key": API_KEY}
    url = f"{sim_root}/heygen/v3/videos"
    bad = await client.post(
        url, json={"type": "avatar", "avatar_id": "a", "script": "hi", "resolution": "8k"}, headers=key
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "resolution"
    no_type = await client.post(url, json={"avatar_id": "a", "script": "hi"}, headers=key)
    assert no_type.status_code == 400 and no_type.json()["error"]["param"] == "type"
    unknown = await client.get(f"{url}/nope", headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    unauthorized = await client.get(f"{url}/nope", headers={"x-api-key": "wrong"})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"]["code"] == "unauthorized"


def test_heygen_settings_follow_v3_names() -> None:
    assert options.normalise("heygen", {"volume": 1, "resolution": "4k"}) == {
        "volume": 1.0,
        "resolution": "4k",
    }
    for gone in ("emotion", "avatar_style"):  # v2 only: no v3 field to send them in
        with pytest.raises(options.SettingsError, match=gone):
            options.normalise("heygen", {gone: "normal"})


# -- Veo 3.1 --------------------------------------------------------------------------------------


async def test_veo_job_completes_on_the_current_model(sim_root: str, client: httpx.AsyncClient) -> None:
    veo = make_adapter(GeminiVeoAdapter, sim_root, client, API_KEY)
    done = await run(veo, veo_job("A lighthouse at dusk", 8, resolution="1080p"))
    assert done.usage is not None and done.usage.details["model"] == "veo-3.1-generate-001"
    data, _ = await fetch_output(client, done.outputs[0], max_bytes=MAX_BYTES, allowed_types=("video/",))
    width, height, _ = video_facts(data)
    assert width * 9 == height * 16


async def test_veo_model_is_a_setting(
    sim_root: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    veo = make_adapter(GeminiVeoAdapter, sim_root, client, API_KEY)
    monkeypatch.setenv("GEMINI_VEO_MODEL", "veo-3.1-fast-generate-001")
    submitted = await veo.submit(veo_job("A fox in the snow", 4))
    assert submitted.task_id.startswith("models/veo-3.1-fast-generate-001/operations/")
    monkeypatch.setenv("GEMINI_VEO_MODEL", "veo-3.1-generate-preview")  # shut down: Google's 404
    with pytest.raises(RejectedError, match="no longer available"):
        await veo.submit(veo_job("A fox in the snow", 4))


async def test_shut_down_veo_preview_answers_googles_404(sim_root: str, client: httpx.AsyncClient) -> None:
    body = {"instances": [{"prompt": "p"}], "parameters": {"durationSeconds": 8}}
    for model in (
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
    ):
        answer = await client.post(
            f"{sim_root}/gemini/v1beta/models/{model}:predictLongRunning",
            json=body,
            headers={"x-goog-api-key": API_KEY},
        )
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert error["code"] == 404 and error["status"] == "NOT_FOUND"
        assert f"models/{model} is no longer available" in error["message"]


async def test_veo_simulator_refuses_1080p_and_4k_short_clips(
    sim_root: str, client: httpx.AsyncClient
) -> None:
    url = f"{sim_root}/gemini/v1beta/models/veo-3.1-generate-001:predictLongRunning"
    for resolution, seconds in (("1080p", 4), ("4k", 6)):
        body = {
            "instances": [{"prompt": "p"}],
            "parameters": {"durationSeconds": seconds, "resolution": resolution},
        }
        answer = await client.post(url, json=body, headers={"x-goog-api-key": API_KEY})
        assert answer.status_code == 400
        assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert "durationSeconds 8" in answer.json()["error"]["message"]


async def test_veo_1080p_short_clip_is_a_validation_error_before_any_hold() -> None:
    """``validate`` runs before ``generate`` holds credits: the refusal comes first, naming the fields."""
    request = GenerationRequest(
        type="video",
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider="veo_3_1",
        text="A lighthouse at dusk",
        duration_seconds=4,
        settings={"resolution": "1080p"},
    )
    with pytest.raises(DomainError) as refused:
        await validate(request)
    assert refused.value.code == ErrorCode.VALIDATION_FAILED
    message = str(refused.value)
    assert "settings.resolution" in message and "durationSeconds 8" in message and "720p" in message
    assert refused.value.field == ["input", "settings", "resolution"]  # the field, as other rules name theirs
    with pytest.raises(InvalidInputError):  # and the adapter refuses to send it
        GeminiVeoAdapter(None, "", "").build_request(veo_job("x", 4, resolution="4k"))


@pytest.mark.parametrize(("resolution", "seconds"), [("1080p", 4), ("4k", 6)])
async def test_veo_short_full_hd_clip_is_refused_over_graphql_with_nothing_held(
    stack: Stack, team: Team, resolution: str, seconds: int
) -> None:
    before = await balance(stack, team)
    payload = await generate(
        stack,
        team,
        "video",
        {
            "prompt": "a lighthouse at dusk",
            "provider": "VEO_3_1",
            "durationSeconds": seconds,
            "settings": {"resolution": resolution},
        },
    )
    assert payload["job"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "VALIDATION_FAILED" and error["field"][:2] == ["input", "settings"]
    assert f"settings.resolution {resolution} needs durationSeconds 8" in error["message"]
    assert await balance(stack, team) == before  # nothing held


# -- one mechanism for the Veo model: CH_PROVIDER_MODELS, GEMINI_VEO_MODEL its older name ------------
async def test_the_veo_model_recorded_on_the_job_is_the_one_sent(
    sim_root: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CH_PROVIDER_MODELS shows in providers and on the job; the adapter must send that model too.
    monkeypatch.delenv("GEMINI_VEO_MODEL", raising=False)
    veo = make_adapter(GeminiVeoAdapter, sim_root, client, API_KEY)
    spec = veo_job("A heron in the reeds", 4)
    spec = dataclasses.replace(spec, params={**spec.params, "wire_model": "veo-3.1-fast-generate-001"})
    submitted = await veo.submit(spec)
    assert submitted.task_id.startswith("models/veo-3.1-fast-generate-001/operations/")


def test_gemini_veo_model_feeds_the_lifecycle_wire_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_VEO_MODEL", "veo-3.1-fast-generate-001")
    settings = Settings()
    assert lifecycle.wire_model("veo_3_1", lifecycle.config(settings)) == "veo-3.1-fast-generate-001"
    # CH_PROVIDER_MODELS, the general setting, wins over the older name.
    both = Settings(provider_models={"veo_3_1": "veo-3.1-lite-generate-001"})
    assert lifecycle.wire_model("veo_3_1", lifecycle.config(both)) == "veo-3.1-lite-generate-001"


def test_a_model_override_for_an_adapter_that_ignores_it_is_refused() -> None:
    # kling, luma, runway… send their own model ids: an override would show in providers and
    # on the job but never reach the provider.
    with pytest.raises(ValueError, match="kling_2_6"):
        Settings(provider_models={"kling_2_6": "kling-v2-6-master"})
