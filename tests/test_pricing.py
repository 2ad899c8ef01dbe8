"""Price exactly what is sent: settings declared per provider, the hold priced from the request the
adapter builds, Creatomate renders estimated the way Creatomate bills them, the tier the provider
reports compared at completion, and overruns visible to operators.

The domain rules are function tests (no services); the reproductions of past mispricings also run once
through GraphQL on the stack."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from models import generation, pricing
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from providers import registry
from providers.base import JobSpec, Usage
from providers.catalog import CATALOG
from tests.graphql_inprocess import gql
from tests.stack import ROOT, Stack, Team, follow_job
from tests.test_credits import audit
from tests.test_generation import balance, generate

# -- settings: declared, case-sensitive, refused with the field named ------------------------------

REFUSED = [
    # was: held and charged 1 cent (low) while the adapter ran "high" (14 cents)
    ("image", "gpt_image_1_5", {"quality": "high", "Quality": "low"}, "Quality"),
    # priced low while the adapter ran its default
    ("image", "gpt_image_1_5", {"QUALITY": "low"}, "QUALITY"),
    # charged 84 cents (std, no sound) while the adapter ran pro with sound (168)
    ("video", "kling_3_0", {"mode": "pro", "sound": "on", "Mode": "std", "Sound": "off"}, "Mode"),
    # charged at the 720p rate while the adapter ran 4K
    ("video", "veo_3_1", {"resolution": "4k", "Resolution": "720p"}, "Resolution"),
    ("image", "gpt_image_1_5", {"qualty": "high"}, "qualty"),
    ("image", "gpt_image_1_5", {"quality": "HIGH"}, "quality"),
    ("video", "kling_2_6", {"cfg_scale": "0.5"}, "cfg_scale"),
    ("video", "luma_ray3", {"hdr": True}, "hdr"),  # HDR is never requested, so never priced
    ("avatar", "heygen", {"avatar_kind": "photo"}, "avatar_kind"),  # not sent: cannot lower the price
    ("tts", "openai_tts", {"model": "tts-2"}, "model"),
    ("composite", "creatomate", {"render_scale": 11}, "render_scale"),
]


async def test_kling_2_6_std_with_sound_is_refused_not_priced_silent() -> None:
    """The price table has no kling_2_6 std-with-sound rate: std matched first and priced it as
    silent std (4.2 cents/s; pro with sound is 14)."""
    with pytest.raises(DomainError) as refused:
        await generation.validate(request("video", "kling_2_6", {"mode": "std", "sound": "on"}))
    assert refused.value.code == ErrorCode.VALIDATION_FAILED
    assert refused.value.field[:2] == ["input", "settings"]
    assert refused.value.field == ["input", "settings", "sound"]
    assert "needs settings.mode pro" in refused.value.message


def request(kind: str, provider: str, settings: Any, **fields: Any) -> GenerationRequest:
    return GenerationRequest(
        type=kind,
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider=provider,
        text=fields.pop("text", "a lighthouse at dusk"),
        settings=settings,
        avatar_id=fields.pop("avatar_id", "avatar-1" if kind == "avatar" else None),
        voice_id=fields.pop("voice_id", "voice-1" if kind == "avatar" else None),
        template_id=fields.pop("template_id", "template-1" if kind == "composite" else None),
        **fields,
    )


@pytest.mark.parametrize(("kind", "provider", "settings", "key"), REFUSED)
async def test_undeclared_or_case_colliding_settings_are_refused(
    kind: str, provider: str, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(DomainError) as refused:
        await generation.validate(request(kind, provider, settings))
    assert refused.value.code == ErrorCode.VALIDATION_FAILED
    assert refused.value.field == ["input", "settings", key]
    assert key in refused.value.message


# -- the hold is the price of the request the adapter sends -----------------------------------------


def hold_and_body(kind: str, provider: str, text: str, params: dict[str, Any]) -> tuple[int, Any]:
    """The hold validation takes, and the request body the adapter would send for the same job."""
    params = {**params, "settings": generation.provider_settings(provider, params.get("settings"))}
    cents = generation.price(provider, kind, text, params)
    module_name, class_name = registry.ADAPTERS[provider].split(":")
    adapter_class = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    body = adapter_class(None, "", "").build_request(JobSpec("j", kind, provider, text, params))
    return cents, body


def test_gpt_image_holds_the_quality_and_size_it_sends() -> None:
    square = {"aspect_ratio": "1:1", "width": 1024, "height": 1024}
    cents, body = hold_and_body("image", "gpt_image_1_5", "x", {**square, "settings": {"quality": "high"}})
    assert (cents, body["quality"], body["size"]) == (14, "high", "1024x1024")  # 13.3 cents
    cents, body = hold_and_body(
        "image", "gpt_image_1_5", "x", {"aspect_ratio": "2:3", "width": 832, "height": 1248}
    )
    assert (cents, body["quality"], body["size"]) == (6, "medium", "1024x1536")  # 5.1 cents


def test_kling_sends_the_mode_and_sound_it_was_priced_at() -> None:
    video = {"aspect_ratio": "16:9", "duration_seconds": 10}
    cents, (_, body) = hold_and_body(
        "video", "kling_3_0", "x", {**video, "settings": {"mode": "pro", "sound": "on"}}
    )
    assert (cents, body["mode"], body["sound"]) == (168, "pro", "on")  # 16.8 cents/s
    # kling_2_6 was priced as pro while no mode was sent (Kling's default is std): now pro is sent
    cents, (_, body) = hold_and_body(
        "video", "kling_2_6", "x", {"aspect_ratio": "16:9", "duration_seconds": 5}
    )
    assert (cents, body["mode"], body["sound"]) == (35, "pro", "off")


def test_veo_sends_the_resolution_it_was_priced_at() -> None:
    cents, body = hold_and_body(
        "video",
        "veo_3_1",
        "x",
        {"aspect_ratio": "16:9", "duration_seconds": 8, "settings": {"resolution": "4k"}},
    )
    assert (cents, body["parameters"]["resolution"]) == (480, "4k")  # $0.60/s
    cents, body = hold_and_body("video", "veo_3_1", "x", {"aspect_ratio": "16:9", "duration_seconds": 8})
    assert (cents, body["parameters"]["resolution"]) == (320, "720p")


def test_tts_and_runway_price_the_model_they_send() -> None:
    cents, body = hold_and_body("tts", "openai_tts", "x" * 10_000, {"settings": {"model": "tts-1-hd"}})
    assert (cents, body["model"]) == (30, "tts-1-hd")
    cents, (_, _, body) = hold_and_body(
        "tts", "elevenlabs", "x" * 10_000, {"settings": {"model": "eleven_flash_v2_5"}}
    )
    assert (cents, body["model_id"]) == (50, "eleven_flash_v2_5")
    cents, (_, body) = hold_and_body(
        "video", "runway_gen4", "x", {"aspect_ratio": "16:9", "duration_seconds": 10}
    )
    assert (cents, body["model"]) == (120, "gen4.5")


def test_a_request_the_adapter_would_refuse_is_refused_before_the_hold() -> None:
    params = {"aspect_ratio": "1:1", "width": 1024, "height": 1024}
    settings = generation.provider_settings(
        "gpt_image_1_5", {"background": "transparent", "output_format": "jpeg"}
    )
    with pytest.raises(DomainError) as refused:
        generation.price("gpt_image_1_5", "image", "x", {**params, "settings": settings})
    assert refused.value.code == ErrorCode.VALIDATION_FAILED and "transparent" in refused.value.message


# -- composites, the way Creatomate bills them ------------------------------------------------------

CREDIT = 3  # cents per render credit (prices.toml)


def composite_hold(source: dict[str, Any] | None = None, settings: Any = None, **params: Any) -> int:
    body: dict[str, Any] = {"source": source} if source is not None else {"template_id": "t-1"}
    body |= params
    body["settings"] = generation.provider_settings("creatomate", settings)
    return generation.price("creatomate", "composite", None, body)


def script(**top: Any) -> dict[str, Any]:
    elements = top.pop("elements", [{"type": "text", "text": "Sale", "duration": 3}])
    return {
        "output_format": "mp4",
        "width": 1280,
        "height": 720,
        "frame_rate": 25,
        **top,
        "elements": elements,
    }


def test_render_scale_and_size_caps_change_the_estimate() -> None:
    # 1280×720 × 25 fps × 3 s = 0.69 → 1 credit
    assert composite_hold(script(duration=3)) == 1 * CREDIT
    # render_scale 2: 2560×1440 × 25 × 3 / 1e8 = 2.76 → 3 credits (it was priced at 1)
    assert composite_hold(script(duration=3), {"render_scale": 2}) == 3 * CREDIT
    # max_width scales the output to fit and overrides render_scale: 640×360 × 25 × 60 s → 4 credits
    assert composite_hold(script(duration=60), {"render_scale": 2, "max_width": 640}) == 4 * CREDIT
    # settings.frame_rate is sent, and overrides the source's: 1280×720 × 60 × 60 s → 34 credits
    assert composite_hold(script(duration=60), {"frame_rate": 60}) == 34 * CREDIT
    # an image costs 1 credit, whatever its scale
    assert composite_hold(script(output_format="png"), {"render_scale": 3}) == 1 * CREDIT


def test_the_timeline_of_the_elements_is_priced() -> None:
    long = [
        {"type": "video", "source": "https://x/v.mp4", "duration": 300},
        {"type": "text", "time": 0, "duration": 10},
    ]
    # no top-level duration: the 300 s element sets it. 1920×1080 × 60 × 300 s = 373.2 → 374 credits
    # (before: the estimate assumed 30 s and held 114 cents)
    assert composite_hold(script(width=1920, height=1080, frame_rate=60, elements=long)) == 374 * CREDIT
    # an element with time + duration ends at their sum: 1280×720 × 25 × 250 s = 57.6 → 58 credits
    timed = [{"type": "text", "time": 240, "duration": 10}]
    assert composite_hold(script(elements=timed)) == 58 * CREDIT
    # a nested composition lasts as long as its own elements (two 60 s clips on one track: one
    # after the other)
    nested = [
        {
            "type": "composition",
            "elements": [
                {"type": "video", "track": 1, "duration": 60},
                {"type": "video", "track": 1, "duration": 60},
            ],
        }
    ]
    assert composite_hold(script(elements=nested)) == math_ceil(1280 * 720 * 25 * 120 / 1e8) * CREDIT
    # a modification may lengthen a named element
    named = [{"name": "Clip", "type": "video", "duration": 5}]
    assert composite_hold(script(elements=named), modifications={"Clip.duration": 200}) == 47 * CREDIT
    # without a frame rate, RenderScript renders at 60 fps (its default with no input video)
    no_rate = script(duration=10)
    del no_rate["frame_rate"]
    assert composite_hold(no_rate) == math_ceil(1280 * 720 * 60 * 10 / 1e8) * CREDIT


def math_ceil(value: float) -> int:
    return -int(-value // 1)


def test_templates_are_priced_by_their_declared_size_and_duration() -> None:
    declared = {"width": 1080, "height": 1920, "duration": 45, "frame_rate": 30}
    assert composite_hold(None, declared) == 28 * CREDIT  # 1080×1920 × 30 × 45 / 1e8 = 27.99
    # undeclared: 1920×1080, 60 fps, 30 s are assumed
    assert composite_hold(None) == 38 * CREDIT
    # a declaration may raise the estimate, never lower it below the assumption: the capture stops
    # at the hold, so a template declared 64×64 for 0.1 s was charged 1 credit for any render
    # (was: 3 cents for a 6-cent render, the rest an overrun nobody pays)
    assert composite_hold(None, {"width": 64, "height": 64, "duration": 0.1}) == 38 * CREDIT
    assert composite_hold(None, {"duration": 10}) == 38 * CREDIT
    # a source carries its own size: declaring one beside it is refused
    with pytest.raises(DomainError) as refused:
        composite_hold(script(duration=3), {"width": 640})
    assert refused.value.field == ["input", "settings", "width"]


@pytest.mark.parametrize(
    ("source", "settings", "field"),
    [
        # was: held 6 cents for an 864-cent render
        (script(duration=3), {"render_scale": 10}, ["input", "settings", "render_scale"]),
        # was: no top-level duration and one element of 3,600 s, charged $1.14 for $134
        (
            script(width=1920, height=1080, frame_rate=60, elements=[{"type": "video", "duration": 3600}]),
            None,
            ["input", "source", "duration"],
        ),
        (script(duration=601), None, ["input", "source", "duration"]),
        (script(width=7680, height=4320, duration=3), None, ["input", "source", "width"]),
        # a video of unknown length cannot be priced
        (
            script(elements=[{"type": "video", "source": "https://x/v.mp4"}]),
            None,
            ["input", "source", "elements"],
        ),
        (None, {"duration": 3600}, ["input", "settings", "duration"]),
    ],
)
def test_renders_beyond_the_caps_are_refused(source: Any, settings: Any, field: list[str]) -> None:
    with pytest.raises(DomainError) as refused:
        composite_hold(source, settings)
    assert refused.value.code == ErrorCode.VALIDATION_FAILED
    assert refused.value.field == field


# -- at completion: the tier the provider ran, and overruns -----------------------------------------


def counter(name: str, provider: str) -> float:
    return REGISTRY.get_sample_value(name, {"provider": provider}) or 0.0


def finished_job(provider: str, kind: str, settings: dict[str, Any], hold: int, **params: Any) -> Any:
    params["settings"] = generation.provider_settings(provider, settings)
    return SimpleNamespace(
        id=uuid.uuid4(), provider=provider, type=kind, prompt="x", settings=params, estimated_cost_cents=hold
    )


def test_a_reported_tier_above_the_priced_one_is_charged_and_alerts(caplog: pytest.LogCaptureFixture) -> None:
    job = finished_job(
        "gpt_image_1_5", "image", {"quality": "low"}, 1, aspect_ratio="1:1", width=1024, height=1024
    )
    mismatches = counter("creative_hub_price_tier_mismatches_total", "gpt_image_1_5")
    overruns = counter("creative_hub_overruns_total", "gpt_image_1_5")
    with caplog.at_level(logging.WARNING, logger="creative_hub.pricing"):
        cost = pricing.final_cost(job, Usage(units=1, details={"quality": "high", "size": "1024x1024"}))
    assert cost == 14  # the high tier OpenAI reports having run, never the low one priced
    assert counter("creative_hub_price_tier_mismatches_total", "gpt_image_1_5") == mismatches + 1
    assert counter("creative_hub_overruns_total", "gpt_image_1_5") == overruns + 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert str(job.id) in text and "'quality': 'high'" in text and "'quality': 'low'" in text
    assert "overrun 13 cents" in text


def test_a_reported_tier_that_matches_is_charged_quietly(caplog: pytest.LogCaptureFixture) -> None:
    job = finished_job(
        "kling_3_0", "video", {"mode": "pro", "sound": "on"}, 168, aspect_ratio="16:9", duration_seconds=10
    )
    mismatches = counter("creative_hub_price_tier_mismatches_total", "kling_3_0")
    with caplog.at_level(logging.WARNING, logger="creative_hub.pricing"):
        cost = pricing.final_cost(job, Usage(units=10, details={"mode": "pro", "sound": "on", "seconds": 10}))
    assert cost == 168 and not caplog.records
    assert counter("creative_hub_price_tier_mismatches_total", "kling_3_0") == mismatches


# -- estimateCost and the price listing, executed in-process ------------------------------------

ESTIMATE = "query ($i: EstimateCostInput!) { estimateCost(input: $i) { cents } }"
# (input, cents) straight from the tariffs in docs/providers.md, Prices
TARIFFS = [
    ({"type": "IMAGE", "aspectRatio": "1:1"}, 3),  # BFL: 3 credits for the first output MP
    ({"type": "IMAGE", "width": 1408, "height": 1408}, 5),  # 1.98 MP → 3 + 1.5 × 0.98 = 4.47 credits
    (
        {"type": "IMAGE", "provider": "GPT_IMAGE_1_5", "settings": {"quality": "high"}, "aspectRatio": "2:3"},
        20,
    ),
    ({"type": "IMAGE", "provider": "GPT_IMAGE_1_5", "settings": {"quality": "low"}, "aspectRatio": "1:1"}, 1),
    ({"type": "IMAGE", "provider": "SEEDREAM_4_5"}, 4),
    ({"type": "VIDEO", "durationSeconds": 5, "withInputImage": True}, 25),  # Runway gen4_turbo 5 credits/s
    ({"type": "VIDEO", "durationSeconds": 10}, 120),  # Runway gen4.5 12 credits/s
    ({"type": "VIDEO", "provider": "VEO_3_1", "durationSeconds": 8}, 320),  # $0.40/s
    ({"type": "VIDEO", "provider": "KLING_3_0", "durationSeconds": 10, "settings": {"mode": "pro"}}, 112),
    # HeyGen: the request sends character type "avatar" (studio avatar / digital twin), $0.0667/s
    ({"type": "AVATAR", "durationSeconds": 60}, 401),
    # At most the provider's maxTextCharacters (4,096 and 5,000): more is VALIDATION_FAILED.
    ({"type": "TTS", "characters": 4_000}, 6),  # tts-1 $15 / 1M characters
    ({"type": "TTS", "characters": 4_000, "settings": {"model": "tts-1-hd"}}, 12),
    ({"type": "TTS", "provider": "ELEVENLABS", "characters": 4_000}, 40),  # $0.10 / 1k characters
    (
        {
            "type": "COMPOSITE",
            "width": 1280,
            "height": 720,
            "durationSeconds": 60,
            "settings": {"frame_rate": 25},
        },
        # A template's size is the template's, not the caller's: a declared 1280×720 is held as
        # at least 1920×1080 (1920 × 1080 × 25 fps × 60 s / 1e8 credits), never below.
        96,
    ),
]


@pytest.mark.parametrize(("input", "cents"), TARIFFS)
async def test_estimates_follow_the_tariffs(input: dict[str, Any], cents: int) -> None:
    assert (await gql(ESTIMATE, {"i": input}))["data"]["estimateCost"]["cents"] == cents


async def test_providers_show_their_prices() -> None:
    q = "{ providers(type: IMAGE) { provider priceUnit priceCentsPerUnit priceFirstUnitCents priceRates { centsPerUnit when } } }"
    rows = {r["provider"]: r for r in (await gql(q))["data"]["providers"]}
    assert rows["FLUX_2_PRO"]["priceUnit"] == "megapixel" and rows["FLUX_2_PRO"]["priceFirstUnitCents"] == 3.0
    high = [
        r
        for r in rows["GPT_IMAGE_1_5"]["priceRates"]
        if r["when"] == {"quality": "high", "size": "1024x1024"}
    ]
    assert high == [{"centsPerUnit": 13.3, "when": {"quality": "high", "size": "1024x1024"}}]


COLLIDING = [
    ("image", {"provider": "GPT_IMAGE_1_5", "settings": {"quality": "high", "Quality": "low"}}, "Quality"),
    ("image", {"provider": "GPT_IMAGE_1_5", "settings": {"QUALITY": "low"}}, "QUALITY"),
    (
        "video",
        {"provider": "KLING_3_0", "durationSeconds": 10, "settings": {"mode": "pro", "Sound": "on"}},
        "Sound",
    ),
    ("video", {"provider": "VEO_3_1", "settings": {"resolution": "4k", "Resolution": "720p"}}, "Resolution"),
]


@pytest.mark.parametrize(("kind", "input", "key"), COLLIDING)
async def test_case_colliding_settings_are_not_estimated(kind: str, input: dict[str, Any], key: str) -> None:
    estimate = {"type": kind.upper(), **{k: v for k, v in input.items() if k != "durationSeconds"}}
    answer = await gql(ESTIMATE, {"i": estimate})
    assert answer["data"] is None
    assert (
        answer["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
        and key in answer["errors"][0]["message"]
    )


async def test_estimate_cost_prices_a_composite_as_generate_holds_it() -> None:
    async def estimate(**input: Any) -> dict[str, Any]:
        return await gql(ESTIMATE, {"i": {"type": "COMPOSITE", **input}})

    # a template of undeclared size: 1920×1080, 60 fps, 30 s, as generateComposite holds it
    assert (await estimate())["data"]["estimateCost"]["cents"] == composite_hold(None) == 38 * CREDIT
    declared = await estimate(width=1080, height=1920, durationSeconds=45, settings={"frame_rate": 30})
    assert declared["data"]["estimateCost"]["cents"] == 28 * CREDIT
    for beyond in ({"durationSeconds": 3600}, {"settings": {"render_scale": 10}}):
        answer = await estimate(**beyond)
        assert answer["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED", answer


# -- through the running service ---------------------------------------------------------------------


async def test_case_colliding_settings_are_refused_over_graphql(stack: Stack, team: Team) -> None:
    kind, input, key = COLLIDING[0]  # each rule: test_undeclared_or_case_colliding_settings_are_refused
    before = await balance(stack, team)
    payload = await generate(stack, team, kind, {"prompt": "a lighthouse", **input})
    assert payload["job"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("VALIDATION_FAILED", ["input", "settings", key])
    assert await balance(stack, team) == before  # nothing held


@pytest.mark.both_databases
async def test_a_scaled_render_is_held_and_charged_what_creatomate_bills(stack: Stack, team: Team) -> None:
    # No top-level duration: two timed elements make 6 s; render_scale 4 makes 640×360 into 2560×1440.
    # Creatomate bills 2560×1440 × 25 fps × 6 s / 1e8 = 5.5 → 6 credits (before: held 2, charged 2).
    source = {
        "output_format": "mp4",
        "width": 640,
        "height": 360,
        "frame_rate": 25,
        "elements": [
            {"name": "Title", "type": "text", "text": "Spring", "time": 0, "duration": 3},
            {"name": "Sub", "type": "text", "text": "sale", "time": 3, "duration": 3},
        ],
    }
    payload = await generate(stack, team, "composite", {"source": source, "settings": {"render_scale": 4}})
    assert payload["userErrors"] == [], payload
    job = payload["job"]
    assert job["estimatedCostCents"] == 6 * CREDIT
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "COMPLETED"
    assert final["costCents"] == 6 * CREDIT

    refused = await generate(stack, team, "composite", {"source": source, "settings": {"render_scale": 10}})
    assert refused["job"] is None
    assert refused["userErrors"][0]["field"] == ["input", "settings", "render_scale"]

    # An overrun recorded on a completed job is reported by the audit, which fails past the threshold.
    def set_overrun(cents: int) -> None:
        from models.jobs import CreativeJob

        stack.database.run(lambda: CreativeJob.filter(id=job["id"]).update(overrun_cents=cents))

    set_overrun(250)
    try:
        report = audit(stack)
        assert not report["ok"] and report["mismatches"] == []
        assert report["overrun_cents"] >= 250
        assert {"job_id": job["id"], "overrun_cents": 250}.items() <= next(
            o for o in report["overruns"] if o["job_id"] == job["id"]
        ).items()
        tolerant = subprocess.run(  # noqa: ASYNC221 - the CLI, as operators run it
            [sys.executable, "main.py", "admin", "audit-ledger"],
            cwd=ROOT,
            env={**stack.env, "CH_AUDIT_OVERRUN_MAX_CENTS": "1000000"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert tolerant.returncode == 0 and json.loads(tolerant.stdout)["ok"]
    finally:
        set_overrun(0)
    assert audit(stack)["ok"]


def test_elevenlabs_billing_at_the_full_rate_is_charged_at_it() -> None:
    """ElevenLabs reports the credits it billed; a flash job billed a credit per character ran (and
    is charged) at the multilingual rate."""
    from providers.elevenlabs import billed_family

    job = finished_job("elevenlabs", "tts", {"model": "eleven_flash_v2_5"}, 50)
    family = billed_family(10_000, 10_000, "eleven_flash_v2_5")
    assert family == "multilingual" and billed_family(10_000, 5_000, "eleven_flash_v2_5") == "flash"
    assert pricing.final_cost(job, Usage(units=10_000, details={"model_family": family})) == 100


DEFAULT_JOBS: dict[str, dict[str, Any]] = {
    "image": {"aspect_ratio": "1:1", "width": 1024, "height": 1024},
    "video": {"aspect_ratio": "16:9", "duration_seconds": 10},
    "avatar": {"aspect_ratio": "16:9", "avatar_id": "a", "voice_id": "v"},
    "tts": {},
    "composite": {"template_id": "t"},
}


@pytest.mark.parametrize("provider", sorted(registry.ADAPTERS))
def test_every_rate_is_keyed_by_what_the_request_sends(provider: str) -> None:
    """A rate keyed by something the request never carries (a setting nobody sends) could only
    price a tier that does not run: every ``when`` key is a fact of the request built."""
    kind = CATALOG[provider].type
    params = {**DEFAULT_JOBS[kind], "settings": generation.provider_settings(provider, None)}
    if kind == "video" and 10 not in CATALOG[provider].durations:
        params["duration_seconds"] = CATALOG[provider].default_duration
    sent = pricing.priced_tier(provider, kind, "x", params)
    keys = {key for rate in pricing.price_table().get(provider, kind).rates for key in rate.when}
    assert keys <= set(sent), (provider, keys - set(sent))


def test_a_job_whose_settings_no_longer_parse_is_charged_the_tier_reported() -> None:
    """A row stored before settings were declared (here with "Quality") is charged at the tier the
    provider reports, not at the base rate."""
    params = {"aspect_ratio": "1:1", "width": 1024, "height": 1024, "settings": {"Quality": "low"}}
    job = SimpleNamespace(
        id=uuid.uuid4(),
        provider="gpt_image_1_5",
        type="image",
        prompt="x",
        settings=params,
        estimated_cost_cents=1,
    )
    assert pricing.final_cost(job, Usage(units=1, details={"quality": "high", "size": "1024x1536"})) == 20


def test_a_track_written_as_a_float_is_the_same_track() -> None:
    """JSON has one number type: Creatomate plays two elements on track 1.0 one after the other,
    as on track 1 (was: priced as two tracks of their own, half the render)."""
    clips = [{"type": "video", "duration": 100}, {"type": "video", "duration": 100}]
    on_int = script(elements=[{**clip, "track": 1} for clip in clips])
    on_float = script(elements=[{**clip, "track": 1.0} for clip in clips])
    assert (
        composite_hold(on_float) == composite_hold(on_int) == math_ceil(1280 * 720 * 25 * 200 / 1e8) * CREDIT
    )
    with pytest.raises(DomainError) as refused:
        composite_hold(script(elements=[{**clip, "track": "1"} for clip in clips]))
    assert refused.value.field == ["input", "source", "elements"]


def test_a_modification_by_element_id_is_priced() -> None:
    """Creatomate's modifications name an element by its name or its id."""
    clip = [{"id": "c1", "type": "video", "duration": 5}]
    assert composite_hold(script(elements=clip), modifications={"c1.duration": 200}) == 47 * CREDIT


@pytest.mark.parametrize("key", ["width", "height", "frame_rate"])
def test_a_source_size_or_rate_that_is_no_number_is_refused(key: str) -> None:
    """Not priced as the 1920×1080 / 60 fps assumed when absent (a "3840" wide source held 21
    cents where 3840 would hold 75)."""
    with pytest.raises(DomainError) as refused:
        composite_hold(script(duration=10, **{key: "3840"}))
    assert refused.value.field == ["input", "source", key]
