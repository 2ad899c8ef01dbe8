"""The ``placements`` query: the placement table of providers/catalog.py (one home: the web app's
form reads it instead of copying it) and, per placement, the providers that can make it — checked
against what ``estimateCost`` (the rule generate* plans by) answers for the same placement on each
provider, so the query cannot say a provider serves a placement that generate refuses, or the
other way round."""

from __future__ import annotations

from typing import Any

import pytest

from providers.catalog import CATALOG, PLACEMENTS
from tests.graphql_inprocess import gql

PLACEMENTS_QUERY = """{ placements { placement name aspectRatio targetDurationSeconds
  providers { provider aspectRatio durationSeconds needsInputImage } } }"""
ESTIMATE = """query ($i: EstimateCostInput!) { estimateCost(input: $i) { provider
  placementWarnings { code requested chosen } } }"""

TYPES = {"image": "IMAGE", "video": "VIDEO", "avatar": "AVATAR"}


async def _placements() -> list[dict[str, Any]]:
    answer = await gql(PLACEMENTS_QUERY)
    assert "errors" not in answer, answer
    rows: list[dict[str, Any]] = answer["data"]["placements"]
    return rows


async def test_the_table_is_the_catalogs_with_names() -> None:
    rows = await _placements()
    assert [(r["placement"], r["aspectRatio"], r["targetDurationSeconds"]) for r in rows] == [
        (p, ratio, seconds) for p, (ratio, seconds) in PLACEMENTS.items()
    ]
    assert {r["placement"]: r["name"] for r in rows} == {
        "FEED": "Feed",
        "STORY": "Story",
        "REELS": "Reels",
        "TIKTOK": "TikTok",
        "IN_STREAM": "In-stream",
        "POSTER": "Poster",
    }


async def test_a_square_feed_video_on_runway_needs_a_start_image_and_veo_cannot_make_it() -> None:
    feed = next(r for r in await _placements() if r["placement"] == "FEED")
    by_provider = {p["provider"]: p for p in feed["providers"]}
    assert by_provider["RUNWAY_GEN4"] == {
        "provider": "RUNWAY_GEN4",
        "aspectRatio": "1:1",
        "durationSeconds": 10,  # Runway renders 2–10 s: the nearest to the feed's 15 s
        "needsInputImage": True,
    }
    assert "VEO_3_1" not in by_provider
    assert by_provider["FLUX_2_PRO"]["durationSeconds"] is None  # an image has no length
    assert not {"ELEVENLABS", "OPENAI_TTS", "CREATOMATE"} & set(by_provider)  # they take no placement


@pytest.mark.parametrize("placement", list(PLACEMENTS))
async def test_each_provider_is_listed_exactly_when_estimate_accepts_the_placement(placement: str) -> None:
    row = next(r for r in await _placements() if r["placement"] == placement)
    listed = {p["provider"]: p for p in row["providers"]}
    ratio, seconds = PLACEMENTS[placement]
    for spec in CATALOG.values():
        if spec.type not in TYPES:
            continue
        name = spec.provider.upper()
        asked = {"type": TYPES[spec.type], "provider": name, "placement": placement}
        answer = await gql(ESTIMATE, {"i": asked})
        served = "errors" not in answer
        if served and answer["data"]["estimateCost"]["provider"] != name:
            continue  # a shut-down model runs on its successor: the successor's row says what it makes
        with_image = None
        if not served and spec.type == "video":
            with_image = await gql(ESTIMATE, {"i": {**asked, "withInputImage": True}})
        if not served and (with_image is None or "errors" in with_image):
            assert name not in listed, (placement, name, answer["errors"])
            continue
        made = (answer if served else with_image or {})["data"]["estimateCost"]
        assert name in listed, (placement, name)
        assert listed[name]["needsInputImage"] is (not served), (placement, name)
        adjusted = {w["code"]: w["chosen"] for w in made["placementWarnings"]}
        assert listed[name]["aspectRatio"] == adjusted.get("ASPECT_RATIO_ADJUSTED", ratio), (placement, name)
        if spec.type == "video":
            wanted = int(adjusted.get("DURATION_ADJUSTED", seconds))
            assert listed[name]["durationSeconds"] == wanted, (placement, name)
        else:
            assert listed[name]["durationSeconds"] is None
