"""Model lifecycles as data (docs/providers.md, "Lifecycles"): a job picking a model after its provider shut it down runs
on the configured successor (priced as it, the model recorded) or is refused before anything is
held; deprecations show in ``providers`` and as payload warnings; the OpenAI adapter and simulator
speak GPT Image 2.6; ``instructions`` only reach the speech models that take it.

The rules are function tests (the simulator served in-process); the contract runs once through
GraphQL on the stack, whose day is pinned (``CH_TODAY`` in tests/stack.py)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from models import generation
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from providers import lifecycle
from providers.base import Done, JobSpec
from providers.openai import OpenAIImage26Adapter, OpenAIImageAdapter, OpenAITtsAdapter
from providers.simulator import SIMULATOR_BASE_PATHS
from tests.sim_harness import serve_simulator
from tests.stack import Stack, Team, follow_job
from tests.test_generation import balance, generate

KEY = "sim_lifecycle_key"
AFTER = date(2026, 12, 2)  # the day after gpt-image-1.5's shutdown
BEFORE = date(2026, 11, 20)


def cfg(day: date, **overrides: Any) -> lifecycle.LifecycleConfig:
    return lifecycle.LifecycleConfig(fixed_day=day, **overrides)


def image_request(provider: str, settings: Any = None) -> GenerationRequest:
    return GenerationRequest(
        type="image",
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider=provider,
        text="a poster that reads SPRING SALE",
        settings=settings,
    )


@pytest.fixture
def no_drive(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate() without a database: the team's default folder is the only lookup an image makes."""
    folder = uuid.uuid4()

    async def default_folder(req: GenerationRequest) -> uuid.UUID:
        return folder

    monkeypatch.setattr(generation, "_folder", default_folder)


# -- the lifecycle of a catalogue entry --------------------------------------------------------------


def test_every_entry_carries_its_wire_model_and_the_shutdowns_openai_announced() -> None:
    from providers.catalog import CATALOG

    assert all(spec.wire_model for spec in CATALOG.values())
    gpt = CATALOG["gpt_image_1_5"]
    assert (gpt.wire_model, gpt.shutdown_date, gpt.successor) == (
        "gpt-image-1.5",
        date(2026, 12, 1),
        "gpt_image_2_6_sunburst",
    )
    assert lifecycle.state(gpt, BEFORE) == lifecycle.DEPRECATED
    assert lifecycle.state(gpt, date(2026, 12, 1)) == lifecycle.SHUT_DOWN
    tts = CATALOG["openai_tts"]
    assert tts.shutdown_date == date(2027, 1, 6) and tts.successor_model == "gpt-realtime-2.1-mini"
    assert lifecycle.state(CATALOG["gpt_image_2_6_flare"], AFTER) == lifecycle.ACTIVE


def test_a_setting_replaces_the_wire_model_and_the_successor() -> None:
    config = cfg(
        AFTER,
        models={"gpt_image_2_6_flare": "gpt-image-2.6-flare-2026-11-05"},
        successors={"gpt_image_1_5": "gpt_image_2_6_flare"},
    )
    resolved = lifecycle.resolve("gpt_image_1_5", config)
    assert (resolved.provider, resolved.wire_model) == (
        "gpt_image_2_6_flare",
        "gpt-image-2.6-flare-2026-11-05",
    )


# -- a job on a shut-down model -----------------------------------------------------------------------


async def test_after_the_shutdown_the_job_runs_on_the_successor_priced_as_it(no_drive: None) -> None:
    new = await generation.validate(image_request("gpt_image_1_5", {"quality": "low"}), cfg(AFTER))
    assert new.provider == "gpt_image_2_6_sunburst"
    assert new.settings["wire_model"] == "gpt-image-2.6-sunburst"
    assert new.metadata["model"] == "gpt-image-2.6-sunburst"
    assert new.metadata["requested_provider"] == "gpt_image_1_5"
    [warning] = new.metadata["warnings"]
    assert warning["code"] == "MODEL_REPLACED" and "gpt_image_2_6_sunburst" in warning["message"]
    direct = await generation.validate(
        image_request("gpt_image_2_6_sunburst", {"quality": "low"}), cfg(AFTER)
    )
    assert new.estimated_cost_cents == direct.estimated_cost_cents


async def test_an_idempotent_retry_across_the_shutdown_is_the_same_request(no_drive: None) -> None:
    req = image_request("gpt_image_1_5", {"quality": "low"})
    req.idempotency_key = "poster-1"
    before = await generation.validate(req, cfg(BEFORE))
    after = await generation.validate(req, cfg(AFTER))
    assert (before.provider, after.provider) == ("gpt_image_1_5", "gpt_image_2_6_sunburst")
    # same folder, so the same key returns the first job instead of a CONFLICT
    assert before.request_hash() == after.request_hash()
    renamed = await generation.validate(
        req, cfg(BEFORE, models={"gpt_image_1_5": "gpt-image-1.5-2025-12-16"})
    )
    assert renamed.request_hash() == before.request_hash()


async def test_refused_before_any_hold_naming_the_successor() -> None:
    # validate() is what runs before the hold: refused here, nothing is held or queued.
    for config in (cfg(AFTER, policy=lifecycle.REFUSE), cfg(AFTER, successors={"gpt_image_1_5": ""})):
        with pytest.raises(DomainError) as refused:
            await generation.validate(image_request("gpt_image_1_5"), config)
        assert refused.value.code == ErrorCode.PROVIDER_NOT_SUPPORTED
        assert refused.value.field == ["input", "provider"]
        assert "2026-12-01" in refused.value.message
        assert (
            "gpt_image_2_6_sunburst" in refused.value.message
            or "gpt-image-2.6-sunburst" in refused.value.message
        )


async def test_within_30_days_of_the_shutdown_the_job_carries_a_warning(no_drive: None) -> None:
    near = await generation.validate(image_request("gpt_image_1_5"), cfg(BEFORE))
    assert near.provider == "gpt_image_1_5" and near.settings["wire_model"] == "gpt-image-1.5"
    [warning] = near.metadata["warnings"]
    assert warning["code"] == "MODEL_DEPRECATED" and warning["shutdown_date"] == "2026-12-01"
    far = await generation.validate(image_request("gpt_image_1_5"), cfg(date(2026, 10, 1)))
    assert "warnings" not in far.metadata


async def test_after_the_speech_shutdown_openai_tts_is_refused_and_the_default_moves(no_drive: None) -> None:
    after = cfg(date(2027, 1, 6))

    def tts(provider: str | None) -> GenerationRequest:
        return GenerationRequest(
            type="tts", team_id=uuid.uuid4(), user_id=uuid.uuid4(), provider=provider, text="Hello"
        )

    with pytest.raises(DomainError) as refused:
        await generation.validate(tts("openai_tts"), after)
    assert refused.value.code == ErrorCode.PROVIDER_NOT_SUPPORTED
    assert "gpt-realtime-2.1-mini" in refused.value.message and "2027-01-06" in refused.value.message
    assert (await generation.validate(tts(None), after)).provider == "elevenlabs"
    assert (await generation.validate(tts(None), cfg(BEFORE))).provider == "openai_tts"


def test_a_job_accepted_before_the_shutdown_and_run_after_it_fails_free_without_a_call() -> None:
    from providers.errors import InvalidInputError

    accepted = {"settings": {}, "wire_model": "gpt-image-1.5"}
    lifecycle.ensure_served("gpt_image_1_5", accepted, cfg(BEFORE))  # still served: no objection
    with pytest.raises(InvalidInputError) as gone:
        lifecycle.ensure_served("gpt_image_1_5", accepted, cfg(AFTER))
    assert gone.value.message_is_ours and "gpt_image_2_6_sunburst" in gone.value.public
    # an operator's own wire model (CH_PROVIDER_MODELS) is theirs to vouch for
    lifecycle.ensure_served("gpt_image_1_5", {"wire_model": "gpt-image-1.5-enterprise"}, cfg(AFTER))


# -- the adapter and the simulator --------------------------------------------------------------------


async def run(
    adapter_class: type[Any], job: JobSpec, day: date, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[dict[str, Any]]]:
    """Submit ``job`` through its adapter to the simulator on ``day``; the outcome (``Done`` or the
    exception) and the bodies that went on the wire."""
    monkeypatch.setenv("CH_TODAY", day.isoformat())
    sent: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    with serve_simulator(KEY, 0.0) as root:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
            adapter = adapter_class(client, root + SIMULATOR_BASE_PATHS["openai"], KEY)
            try:
                return await adapter.submit(job), sent
            except Exception as exc:  # the outcome under test
                return exc, sent


async def test_a_shut_down_model_reaching_the_simulator_gets_openais_404(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CH_TODAY", AFTER.isoformat())
    with serve_simulator(KEY, 0.0) as root:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{root}{SIMULATOR_BASE_PATHS['openai']}/images/generations",
                json={"model": "gpt-image-1.5", "prompt": "a shoe", "size": "1024x1024"},
                headers={"Authorization": f"Bearer {KEY}"},
            )
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `gpt-image-1.5` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


async def test_the_successor_runs_end_to_end_and_is_charged_per_megapixel(
    no_drive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import pricing

    new = await generation.validate(image_request("gpt_image_1_5", {"quality": "high"}), cfg(AFTER))
    job = JobSpec("j1", "image", new.provider, new.prompt, new.settings)
    done, sent = await run(OpenAIImage26Adapter, job, AFTER, monkeypatch)
    assert isinstance(done, Done), done
    assert [body["model"] for body in sent] == ["gpt-image-2.6-sunburst"]
    assert done.outputs[0].content_type == "image/png" and done.outputs[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (int(side) for side in sent[0]["size"].split("x"))
    assert width % 16 == 0 and height % 16 == 0
    assert done.usage.units == pytest.approx(width * height / 1_000_000)
    row = type(
        "Row",
        (),
        {
            "id": "j1",
            "provider": new.provider,
            "type": "image",
            "prompt": new.prompt,
            "settings": new.settings,
            "estimated_cost_cents": new.estimated_cost_cents,
        },
    )()
    assert pricing.final_cost(row, done.usage) == new.estimated_cost_cents


@pytest.mark.parametrize("provider", ["gpt_image_2_6_sunburst", "gpt_image_2_6_flare"])
@pytest.mark.parametrize("quality", ["low", "xhigh", "max", "auto"])
async def test_the_new_providers_complete_every_quality(
    provider: str, quality: str, no_drive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = image_request(provider, {"quality": quality, "width": 1536, "height": 512})
    new = await generation.validate(req, cfg(AFTER))
    done, sent = await run(
        OpenAIImage26Adapter, JobSpec("j", "image", provider, new.prompt, new.settings), AFTER, monkeypatch
    )
    assert isinstance(done, Done), done
    assert sent[0]["quality"] == quality and sent[0]["size"] == "1536x512"


async def test_gpt_image_2_6_sizes_beyond_its_limits_are_refused_before_the_hold() -> None:
    with pytest.raises(DomainError) as refused:  # 4:1 is beyond 3:1
        await generation.validate(
            image_request("gpt_image_2_6_flare", {"width": 2048, "height": 512}), cfg(AFTER)
        )
    assert refused.value.code == ErrorCode.VALIDATION_FAILED and "3:1" in refused.value.message


async def test_gpt_image_1_5_still_runs_until_its_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    job = JobSpec("j", "image", "gpt_image_1_5", "a shoe", {"settings": {}, "aspect_ratio": "1:1"})
    done, sent = await run(OpenAIImageAdapter, job, BEFORE, monkeypatch)
    assert isinstance(done, Done) and sent[0]["model"] == "gpt-image-1.5"


# -- speech: instructions only where the model takes them ---------------------------------------------


async def test_instructions_with_tts_1_are_refused_naming_the_field_and_the_models() -> None:
    req = GenerationRequest(
        type="tts",
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider="openai_tts",
        text="Hello there",
        settings={"instructions": "Speak cheerfully"},
    )
    with pytest.raises(DomainError) as refused:
        await generation.validate(req, cfg(BEFORE))
    assert refused.value.code == ErrorCode.VALIDATION_FAILED
    assert refused.value.field == ["input", "settings", "instructions"]
    assert "gpt-4o-mini-tts" in refused.value.message and "tts-1" in refused.value.message


async def test_the_simulator_rejects_instructions_with_tts_1_and_the_adapter_never_sends_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CH_TODAY", BEFORE.isoformat())
    with serve_simulator(KEY, 0.0) as root:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{root}{SIMULATOR_BASE_PATHS['openai']}/audio/speech",
                json={"model": "tts-1", "input": "Hi", "voice": "alloy", "instructions": "Whisper"},
                headers={"Authorization": f"Bearer {KEY}"},
            )
    assert response.status_code == 400 and response.json()["error"]["param"] == "instructions"
    # a row accepted before the rule still completes: the adapter drops what tts-1 refuses
    old_row = JobSpec("j", "tts", "openai_tts", "Hi", {"settings": {"model": "tts-1"}})
    body = OpenAITtsAdapter(None, "", "").build_request(old_row)
    assert "instructions" not in body
    mini = JobSpec(
        "j", "tts", "openai_tts", "Hi", {"settings": {"model": "gpt-4o-mini-tts", "instructions": "Whisper"}}
    )
    done, sent = await run(OpenAITtsAdapter, mini, BEFORE, monkeypatch)
    assert isinstance(done, Done) and sent[0]["instructions"] == "Whisper"


# -- the contract, through GraphQL --------------------------------------------------------------------

PROVIDERS = """query ($type: JobType) { providers(type: $type) {
  provider wireModel lifecycle shutdownDate successor successorModel priceUnit } }"""
WARNED = """mutation ($input: GenerateImageInput!) { generateImage(input: $input) {
  job { id provider estimatedCostCents metadata settings }
  userErrors { code message field }
  warnings { code message provider model shutdownDate successor } } }"""


async def test_providers_and_payloads_show_lifecycles(stack: Stack, team: Team) -> None:
    data = await stack.data(team, PROVIDERS, {"type": "IMAGE"})
    rows = {row["provider"]: row for row in data["providers"]}
    assert rows["GPT_IMAGE_1_5"] == {
        "provider": "GPT_IMAGE_1_5",
        "wireModel": "gpt-image-1.5",
        "lifecycle": "DEPRECATED",  # the stack's day is 2026-11-20
        "shutdownDate": "2026-12-01",
        "successor": "GPT_IMAGE_2_6_SUNBURST",
        "successorModel": "gpt-image-2.6-sunburst",
        "priceUnit": "image",
    }
    assert rows["GPT_IMAGE_2_6_FLARE"]["lifecycle"] == "ACTIVE"
    assert rows["GPT_IMAGE_2_6_FLARE"]["priceUnit"] == "megapixel"
    tts = (await stack.data(team, PROVIDERS, {"type": "TTS"}))["providers"]
    assert {r["provider"]: r["shutdownDate"] for r in tts}["OPENAI_TTS"] == "2027-01-06"

    payload = (
        await stack.data(team, WARNED, {"input": {"prompt": "SALE poster", "provider": "GPT_IMAGE_1_5"}})
    )["generateImage"]
    assert payload["userErrors"] == []
    [warning] = payload["warnings"]
    assert warning["code"] == "MODEL_DEPRECATED" and warning["shutdownDate"] == "2026-12-01"
    assert warning["successor"] == "GPT_IMAGE_2_6_SUNBURST"
    assert payload["job"]["metadata"]["model"] == "gpt-image-1.5"
    async with httpx.AsyncClient(timeout=30) as client:
        rest = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/image",
            json={"prompt": "SALE poster", "provider": "gpt_image_1_5"},
            headers=team.headers,
        )
    assert rest.status_code == 202 and rest.json()["warnings"][0]["code"] == "MODEL_DEPRECATED", rest.text

    flare = await generate(stack, team, "image", {"prompt": "SALE poster", "provider": "GPT_IMAGE_2_6_FLARE"})
    assert flare["userErrors"] == []
    states = await follow_job(stack, team, flare["job"]["id"])
    final = states[-1]
    assert final["status"] == "COMPLETED" and final["resultUrls"], final
    assert final["metadata"]["model"] == "gpt-image-2.6-flare"
    assert final["costCents"] == flare["job"]["estimatedCostCents"]
    for job_id in (payload["job"]["id"], rest.json()["job_id"]):
        assert (await follow_job(stack, team, job_id))[-1]["status"] == "COMPLETED"
    assert (await balance(stack, team))["heldCents"] == 0


def test_lifecycle_settings_name_known_providers_and_the_day_is_a_test_hook() -> None:
    from services.settings import Settings

    with pytest.raises(ValueError, match="unknown providers"):
        Settings(provider_successors={"gpt_image_1_5": "gpt_image_3"})
    with pytest.raises(ValueError, match="unknown providers"):
        Settings(provider_models={"gpt-image-1.5": "gpt-image-2.6-flare"})
    prod = Settings(
        env="production",
        secret_key="k",
        database_url="postgres://x/y",
        redis_url="redis://x",
        today=date(2026, 12, 2),
    )
    with pytest.raises(RuntimeError, match="CH_TODAY"):
        prod.check_production()


async def test_graphql_tts_naming_no_provider_follows_the_lifecycle_default(no_drive: None) -> None:
    # generateTts without a provider must reach the same default as REST: after 2027-01-06 the
    # first TTS provider still served, not openai_tts baked into the schema (refused then).
    from schema.inputs import GenerateTtsInput

    unnamed = GenerateTtsInput(text="Hello")
    request = GenerationRequest(
        type="tts",
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider=unnamed.provider.value if unnamed.provider else None,  # as resolvers.jobs does
        text="Hello",
    )
    assert (await generation.validate(request, cfg(date(2027, 1, 6)))).provider == "elevenlabs"
    assert (await generation.validate(request, cfg(BEFORE))).provider == "openai_tts"
