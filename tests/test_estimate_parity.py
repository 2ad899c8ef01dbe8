"""estimateCost takes generate*'s inputs and rules: whatever a generate request would refuse, the
same estimate refuses with the same code, message and field path; whatever it accepts is priced as
the sum of the holds it would place (one job per variant × placement), with the same warnings.

In-process over a table of requests (the schema executed in the test process: generate's plan is
captured where it would hold), and once through GraphQL over HTTP."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from models import batches, generation
from models import jobs as job_ops
from models.generation import GenerationRequest
from tests.graphql_inprocess import ValidationOnly, gql
from tests.stack import Stack

MUTATION = {
    "IMAGE": ("generateImage", "GenerateImageInput", "prompt"),
    "VIDEO": ("generateVideo", "GenerateVideoInput", "prompt"),
    "AVATAR": ("generateAvatar", "GenerateAvatarInput", "script"),
    "TTS": ("generateTts", "GenerateTtsInput", "text"),
    "COMPOSITE": ("generateComposite", "GenerateCompositeInput", "prompt"),
}
WARNINGS = """warnings { code message provider model shutdownDate successor }
placementWarnings { code message placement provider requested chosen }"""
ESTIMATE = f"query ($i: EstimateCostInput!) {{ estimateCost(input: $i) {{ cents provider {WARNINGS} }} }}"
# generate-only fields: what the estimate states otherwise (characters) or needs not (a stand-in)
GENERATE_ONLY = {"prompt", "script", "text", "avatarId", "voiceId", "templateId"}
BEFORE_GPT_IMAGE_1_5_SHUTDOWN = date(2026, 11, 15)  # shuts down 2026-12-01: a MODEL_DEPRECATED notice
AFTER_IT = date(2026, 12, 2)  # shut down: runs on its successor, MODEL_REPLACED

# (type, generate input, day): the estimate is the same input without the generate-only fields
CASES: list[tuple[str, dict[str, Any], date | None]] = [
    # accepted: variants × placements, adjustments, seeds
    ("VIDEO", {"provider": "KLING_3_0", "variants": 4, "placements": ["REELS", "FEED", "IN_STREAM"]}, None),
    ("VIDEO", {"provider": "KLING_2_6", "variants": 2, "placements": ["FEED", "IN_STREAM"]}, None),
    ("VIDEO", {"provider": "VEO_3_1", "placement": "REELS"}, None),
    ("VIDEO", {"provider": "RUNWAY_GEN4", "placement": "STORY", "variants": 3, "seed": 7}, None),
    (
        "VIDEO",
        {
            "provider": "KLING_3_0",
            "placement": "STORY",
            "durationSeconds": 15,
            "allowLongerThanPlacement": True,
        },
        None,
    ),
    ("VIDEO", {"provider": "KLING_3_0", "placement": "STORY", "durationSeconds": 4}, None),
    (
        "IMAGE",
        {"provider": "GPT_IMAGE_1_5", "placements": ["POSTER", "STORY", "FEED"], "variants": 2},
        BEFORE_GPT_IMAGE_1_5_SHUTDOWN,
    ),
    ("IMAGE", {"provider": "GPT_IMAGE_1_5", "placement": "POSTER"}, AFTER_IT),
    ("IMAGE", {"provider": "FLUX_2_PRO", "seed": 42, "variants": 5, "placement": "IN_STREAM"}, None),
    ("IMAGE", {"provider": "SEEDREAM_4_5", "settings": {"width": 1024, "height": 1536}}, None),
    ("AVATAR", {"provider": "HEYGEN", "placements": ["STORY", "FEED"], "variants": 2}, None),
    ("TTS", {"provider": "ELEVENLABS", "variants": 3, "seed": 5}, None),
    ("TTS", {"variants": 2}, BEFORE_GPT_IMAGE_1_5_SHUTDOWN),
    # with no provider named: one that serves every placement (the default cannot render FEED from text)
    ("VIDEO", {"variants": 4, "placements": ["REELS", "FEED", "IN_STREAM"]}, None),
    ("VIDEO", {"placement": "FEED"}, None),
    ("VIDEO", {"placements": ["REELS", "IN_STREAM"]}, None),
    # every variant numbered; an aspectRatio equal to the placement's; placements in any case
    ("IMAGE", {"provider": "GPT_IMAGE_2_6_FLARE", "variants": 3}, None),
    ("VIDEO", {"provider": "RUNWAY_GEN4", "placement": "STORY", "aspectRatio": "9:16"}, None),
    # refused
    ("IMAGE", {"aspectRatio": "1:1", "placements": ["STORY"]}, None),
    ("VIDEO", {"provider": "RUNWAY_GEN4", "placement": "STORY", "aspectRatio": "16:9"}, None),
    ("VIDEO", {"provider": "RUNWAY_GEN4", "placements": ["REELS", "FEED"]}, None),
    ("VIDEO", {"provider": "VEO_3_1", "placement": "IN_STREAM", "durationSeconds": 5}, None),
    ("VIDEO", {"provider": "KLING_3_0", "placement": "STORY", "durationSeconds": 15}, None),
    ("VIDEO", {"provider": "KLING_3_0", "placements": ["REELS", "STORY"], "durationSeconds": 12}, None),
    ("VIDEO", {"provider": "VEO_3_1", "placement": "FEED"}, None),
    ("VIDEO", {"provider": "VEO_3_1", "placements": ["REELS", "FEED"]}, None),
    ("VIDEO", {"provider": "KLING_3_0", "placements": ["REELS", "REELS"]}, None),
    ("VIDEO", {"provider": "KLING_3_0", "placement": "FEED", "placements": ["REELS"]}, None),
    ("VIDEO", {"provider": "KLING_3_0", "placements": []}, None),
    (
        "VIDEO",
        {
            "provider": "KLING_3_0",
            "variants": 5,
            "placements": ["REELS", "FEED", "IN_STREAM", "STORY", "TIKTOK"],
        },
        None,
    ),
    ("VIDEO", {"provider": "KLING_3_0", "seed": 1}, None),
    ("IMAGE", {"provider": "FLUX_2_PRO", "variants": 0}, None),
    ("IMAGE", {"provider": "FLUX_2_PRO", "variants": 6}, None),
    ("IMAGE", {"provider": "GPT_IMAGE_1_5", "seed": 3}, BEFORE_GPT_IMAGE_1_5_SHUTDOWN),
    ("IMAGE", {"provider": "FLUX_2_PRO", "seed": -1}, None),
    ("IMAGE", {"provider": "FLUX_2_PRO", "seed": 9, "settings": {"seed": 10}}, None),
    ("IMAGE", {"provider": "GPT_IMAGE_1_5", "aspectRatio": "9:16"}, BEFORE_GPT_IMAGE_1_5_SHUTDOWN),
    ("COMPOSITE", {"templateId": "t-1", "variants": 2}, None),
]


def _id(case: tuple[str, dict[str, Any], date | None]) -> str:
    kind, fields, day = case
    return f"{kind}-" + "-".join(f"{k}={v}" for k, v in fields.items()) + (f"@{day}" if day else "")


def _generate_input(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    text = MUTATION[kind][2]
    extra: dict[str, Any] = {}
    if kind == "AVATAR":
        extra = {"avatarId": "Daisy-inskirt-20220818", "voiceId": "2d5b0e6cf36f460aa7fc47e3eee4ba54"}
    if kind == "COMPOSITE":
        return {**fields}
    return {text: "x" * 600 if kind in ("AVATAR", "TTS") else "a bottle on marble", **extra, **fields}


def estimate_input(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The generate input as an estimate: the same fields, the text as its length."""
    given = _generate_input(kind, fields)
    out: dict[str, Any] = {"type": kind, **{k: v for k, v in given.items() if k not in GENERATE_ONLY}}
    if kind in ("AVATAR", "TTS"):
        out["characters"] = len(given[MUTATION[kind][2]])
    return out


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generate reads one row before it holds: the team's Drive folder."""

    async def folder(req: GenerationRequest) -> uuid.UUID:
        return uuid.UUID(int=1)

    monkeypatch.setattr(generation, "_folder", folder)


async def generate_answer(
    monkeypatch: pytest.MonkeyPatch, kind: str, fields: dict[str, Any], day: date | None
) -> batches.Plan | dict[str, Any]:
    """generate*'s plan (every job it would hold) or its userError."""
    name, input_type, _ = MUTATION[kind]
    doc = f"mutation ($i: {input_type}!) {{ {name}(input: $i) {{ userErrors {{ code message field }} }} }}"
    captured: list[batches.Plan] = []
    real = batches.plan

    async def spy(*args: Any, **kwargs: Any) -> batches.Plan:
        planned = await real(*args, **kwargs)
        captured.append(planned)
        return planned

    monkeypatch.setattr(batches, "plan", spy)
    try:
        answer = await gql(doc, {"i": _generate_input(kind, fields)}, today=day)
    except ValidationOnly:
        answer = {}
    finally:
        monkeypatch.setattr(batches, "plan", real)
    if captured:  # planned: past this the service holds every job's estimate
        return captured[0]
    assert "errors" not in answer, answer
    (error,) = answer["data"][name]["userErrors"]
    return dict(error)


def model_warnings(planned: batches.Plan) -> list[dict[str, Any]]:
    return [
        {
            "code": w["code"],
            "message": w["message"],
            "provider": w["provider"].upper(),
            "model": w["model"],
            "shutdownDate": w["shutdown_date"],
            "successor": w["successor"].upper() if w.get("successor") else None,
        }
        for w in job_ops.distinct_notes([j.metadata for j in planned.jobs], job_ops.WARNINGS)
    ]


def placement_warnings(planned: batches.Plan) -> list[dict[str, Any]]:
    return [
        {
            "code": a["code"],
            "message": a["message"],
            "placement": a["placement"],
            "provider": a["provider"].upper(),
            "requested": str(a["requested"]),
            "chosen": str(a["chosen"]),
        }
        for a in job_ops.distinct_notes([j.metadata for j in planned.jobs], job_ops.ADJUSTMENTS)
    ]


@pytest.mark.parametrize(("kind", "fields", "day"), CASES, ids=[_id(c) for c in CASES])
async def test_estimate_refuses_and_prices_as_generate(
    monkeypatch: pytest.MonkeyPatch, kind: str, fields: dict[str, Any], day: date | None
) -> None:
    generated = await generate_answer(monkeypatch, kind, fields, day)
    estimated = await gql(ESTIMATE, {"i": estimate_input(kind, fields)}, today=day)
    if isinstance(generated, dict):  # refused: the same error, the same field path
        assert estimated["data"] is None, (generated, estimated)
        (error,) = estimated["errors"]
        assert error["message"] == generated["message"]
        assert error["extensions"]["code"] == generated["code"]
        assert error["extensions"].get("field") == generated["field"]
        return
    assert "errors" not in estimated, estimated
    answer = estimated["data"]["estimateCost"]
    assert answer["cents"] == generated.total_cents == sum(j.estimated_cost_cents for j in generated.jobs)
    assert answer["provider"] == generated.jobs[0].provider.upper()
    assert answer["warnings"] == model_warnings(generated)
    assert answer["placementWarnings"] == placement_warnings(generated)


def test_the_table_covers_refusals_adjustments_and_model_notices() -> None:
    """The parity above is not vacuous: each kind of outcome is in the table."""
    assert any("variants" in f and f["variants"] in (0, 6) for _, f, _ in CASES)
    assert any(f.get("durationSeconds") == 15 and not f.get("allowLongerThanPlacement") for _, f, _ in CASES)


@pytest.mark.parametrize("variants", [0, 6])
async def test_variants_out_of_range_are_refused_on_estimate(variants: int) -> None:
    answer = await gql(ESTIMATE, {"i": {"type": "IMAGE", "variants": variants}})
    (error,) = answer["errors"]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": ["input", "variants"]}
    assert error["message"] == f"variants must be from 1 to 5; got {variants}"


async def test_a_longer_video_than_the_story_is_refused_on_estimate_unless_allowed() -> None:
    story = {"type": "VIDEO", "provider": "KLING_3_0", "placement": "STORY", "durationSeconds": 15}
    (error,) = (await gql(ESTIMATE, {"i": story}))["errors"]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": ["input", "durationSeconds"]}
    assert (
        "STORY's target of 5 seconds" in error["message"] and "allowLongerThanPlacement" in error["message"]
    )
    allowed = await gql(ESTIMATE, {"i": {**story, "allowLongerThanPlacement": True}})
    fifteen = await gql(ESTIMATE, {"i": {"type": "VIDEO", "provider": "KLING_3_0", "durationSeconds": 15}})
    assert allowed["data"]["estimateCost"]["cents"] == fifteen["data"]["estimateCost"]["cents"] > 0


async def test_a_placement_the_provider_cannot_serve_is_refused_on_estimate() -> None:
    (error,) = (await gql(ESTIMATE, {"i": {"type": "VIDEO", "provider": "VEO_3_1", "placement": "FEED"}}))[
        "errors"
    ]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": ["input", "placement"]}
    assert error["message"].startswith("veo_3_1 cannot serve placement FEED (1:1)")
    both = {"type": "VIDEO", "provider": "VEO_3_1", "placements": ["REELS", "FEED"]}
    (error,) = (await gql(ESTIMATE, {"i": both}))["errors"]
    assert error["extensions"]["field"] == ["input", "placements", "1"]


async def test_a_placement_named_twice_is_refused_not_priced_twice() -> None:
    twice = {"type": "VIDEO", "provider": "KLING_3_0", "placements": ["REELS", "REELS"]}
    (error,) = (await gql(ESTIMATE, {"i": twice}))["errors"]
    assert error["extensions"]["field"] == ["input", "placements", "1"]
    assert "named twice" in error["message"]


# -- through the running service ---------------------------------------------------------------------

GENERATE_VIDEO = f"""mutation ($input: GenerateVideoInput!) {{ generateVideo(input: $input) {{
  jobs {{ id placement variant estimatedCostCents
    warnings {{ __typename code message provider ... on PlacementWarning {{ placement requested chosen }} }} }}
  {WARNINGS} userErrors {{ code message field }} }} }}"""
HTTP_ESTIMATE = f"query ($input: EstimateCostInput!) {{ estimateCost(input: $input) {{ cents {WARNINGS} }} }}"


async def test_estimate_over_http_is_what_generate_holds_and_says(stack: Stack) -> None:
    team = stack.create_team(100_000)
    concept = {"provider": "KLING_2_6", "variants": 2, "placements": ["FEED", "IN_STREAM"]}
    estimate = await stack.data(team, HTTP_ESTIMATE, {"input": {"type": "VIDEO", **concept}})
    payload = (await stack.data(team, GENERATE_VIDEO, {"input": {"prompt": "a kite", **concept}}))[
        "generateVideo"
    ]
    assert payload["userErrors"] == [], payload
    jobs = payload["jobs"]
    assert len(jobs) == 4
    assert estimate["estimateCost"]["cents"] == sum(j["estimatedCostCents"] for j in jobs)
    assert estimate["estimateCost"]["warnings"] == payload["warnings"]
    assert estimate["estimateCost"]["placementWarnings"] == payload["placementWarnings"]
    # Kling 2.6 renders 5 or 10 seconds: FEED's 15 s target made 10, IN_STREAM's 6 s made 5
    chosen = {(w["placement"], w["requested"], w["chosen"]) for w in payload["placementWarnings"]}
    assert chosen == {("FEED", "15", "10"), ("IN_STREAM", "6", "5")}
    for job in jobs:  # each job's own warnings name what was made for it
        (warning,) = job["warnings"]
        assert warning["__typename"] == "PlacementWarning" and warning["code"] == "DURATION_ADJUSTED"
        assert warning["placement"] == job["placement"] and warning["provider"] == "KLING_2_6"

    story = {"provider": "KLING_3_0", "placement": "STORY", "durationSeconds": 15}
    refused = (await stack.data(team, GENERATE_VIDEO, {"input": {"prompt": "a kite", **story}}))[
        "generateVideo"
    ]
    (user_error,) = refused["userErrors"]
    body = await stack.gql(team, HTTP_ESTIMATE, {"input": {"type": "VIDEO", **story}})
    (error,) = body["errors"]
    assert (
        (error["message"], error["extensions"]["code"], error["extensions"]["field"])
        == (
            user_error["message"],
            user_error["code"],
            user_error["field"],
        )
        == (user_error["message"], "VALIDATION_FAILED", ["input", "durationSeconds"])
    )
