"""Batches as domain rules, in-process: variants and placements expand to jobs, each placement's
nearest ratio and target duration, seeds per variant, and bad requests refused with the field named
(models/batches.py, models/placements.py, models/generation.py). The contract runs through GraphQL
and REST in tests/test_batches_api.py."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from models import batches, generation, placements
from models import jobs as job_ops
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from providers.catalog import CATALOG, PLACEMENTS
from tests.test_creatives import database  # noqa: F401  (the fixture)

FOLDER = uuid.uuid4()


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules need no rows: the Drive folder a job lands in is the only thing read."""

    async def folder(req: GenerationRequest) -> uuid.UUID:
        return FOLDER

    monkeypatch.setattr(generation, "_folder", folder)


def request(kind: str, provider: str, **fields: Any) -> GenerationRequest:
    return GenerationRequest(
        type=kind,
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider=provider,
        text=fields.pop("text", "a bottle of olive oil on marble"),
        **fields,
    )


async def refused(req: GenerationRequest, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await batches.plan(req, **kw)
    return caught.value


# -- the bug first: GPT Image and the poster/story placements -------------------------------------


@pytest.mark.parametrize(("placement", "chosen"), [("POSTER", "2:3"), ("STORY", "2:3"), ("FEED", "1:1")])
async def test_gpt_image_serves_poster_and_story_at_its_nearest_ratio(placement: str, chosen: str) -> None:
    """Was: VALIDATION_FAILED naming aspectRatio, which the user never sent."""
    new = await generation.validate(request("image", "gpt_image_1_5", placement=placement))
    assert new.settings["aspect_ratio"] == chosen
    assert new.metadata["placement"] == placement
    wanted = PLACEMENTS[placement][0]
    if chosen == wanted:
        assert "adjustments" not in new.metadata
    else:
        (warning,) = new.metadata["adjustments"]
        assert warning["code"] == "ASPECT_RATIO_ADJUSTED"
        assert (warning["requested"], warning["chosen"], warning["placement"]) == (wanted, chosen, placement)
        assert chosen in warning["message"] and placement in warning["message"]


async def test_an_explicit_unsupported_ratio_is_still_refused_naming_aspect_ratio() -> None:
    with pytest.raises(DomainError) as caught:
        await generation.validate(request("image", "gpt_image_1_5", aspect_ratio="9:16"))
    assert caught.value.field == ["input", "aspectRatio"]


async def test_a_placement_the_provider_cannot_serve_is_refused_naming_the_placement() -> None:
    error = await refused(request("video", "veo_3_1", placement="FEED"))
    assert error.code == ErrorCode.VALIDATION_FAILED and error.field == ["input", "placement"]
    assert "FEED" in error.message and "16:9, 9:16" in error.message
    error = await refused(request("video", "veo_3_1", placements=["REELS", "FEED"]))
    assert error.field == ["input", "placements", "1"]


# -- the rules as functions --------------------------------------------------------------------------


def test_nearest_ratio() -> None:
    assert placements.nearest_ratio("4:5", ("1:1", "2:3", "3:2")) == "2:3"
    assert placements.nearest_ratio("9:16", ("1:1", "2:3", "3:2")) == "2:3"
    assert placements.nearest_ratio("1:1", ("16:9", "9:16")) is None  # a square feed is not served
    assert placements.nearest_ratio("4:5", ("16:9", "9:16", "1:1", "4:5")) == "4:5"
    assert placements.nearest_ratio("16:9", ("1:1", "4:3", "3:4")) == "4:3"


def test_nearest_duration_prefers_the_shorter_on_a_tie() -> None:
    assert placements.nearest_duration(15, tuple(range(2, 11))) == 10
    assert placements.nearest_duration(5, (4, 6, 8)) == 4
    assert placements.nearest_duration(6, (5, 10)) == 5
    assert placements.nearest_duration(6, tuple(range(2, 11))) == 6


def test_every_placement_has_a_target() -> None:
    for name, (ratio, seconds) in PLACEMENTS.items():
        target = placements.target(name)
        assert (target.aspect_ratio, target.duration_seconds) == (ratio, seconds) and seconds > 0
    assert PLACEMENTS["IN_STREAM"] == ("16:9", 6)  # YouTube's bumper: up to 6 s


# -- durations ----------------------------------------------------------------------------------------


async def test_the_default_duration_is_the_placements_target() -> None:
    for placement in ("STORY", "REELS", "IN_STREAM"):
        new = await generation.validate(request("video", "runway_gen4", placement=placement))
        assert new.settings["duration_seconds"] == PLACEMENTS[placement][1]
        assert "adjustments" not in new.metadata
    feed = await generation.validate(request("video", "kling_3_0", placement="FEED"))
    assert feed.settings["duration_seconds"] == 15
    capped = await generation.validate(request("video", "luma_ray3", placement="FEED"))
    assert capped.settings["duration_seconds"] == 10
    (warning,) = capped.metadata["adjustments"]
    assert warning["code"] == "DURATION_ADJUSTED" and (warning["requested"], warning["chosen"]) == (
        "15",
        "10",
    )


async def test_longer_than_the_placement_is_refused_naming_the_target_unless_allowed() -> None:
    story = request("video", "kling_3_0", placement="STORY", duration_seconds=15)
    error = await refused(story)
    assert error.field == ["input", "durationSeconds"]
    assert "STORY's target of 5 seconds" in error.message and "allowLongerThanPlacement" in error.message
    allowed = await generation.validate(
        request(
            "video", "kling_3_0", placement="STORY", duration_seconds=15, allow_longer_than_placement=True
        )
    )
    assert allowed.settings["duration_seconds"] == 15
    shorter = await generation.validate(request("video", "kling_3_0", placement="STORY", duration_seconds=3))
    assert shorter.settings["duration_seconds"] == 3


# -- expansion and seeds -----------------------------------------------------------------------------


async def test_variants_times_placements_expand_to_one_job_each() -> None:
    plan = await batches.plan(
        request("video", "luma_ray3", variants=4, placements=["REELS", "FEED", "IN_STREAM"])
    )
    assert len(plan.jobs) == 12 and plan.variants == 4 and plan.placements == ["REELS", "FEED", "IN_STREAM"]
    shapes = [
        (j.metadata["placement"], j.settings["aspect_ratio"], j.settings["duration_seconds"])
        for j in plan.jobs
    ]
    assert shapes == [("REELS", "9:16", 10)] * 4 + [("FEED", "1:1", 10)] * 4 + [("IN_STREAM", "16:9", 5)] * 4
    assert [j.metadata["variant"] for j in plan.jobs] == [1, 2, 3, 4] * 3
    assert all("seed" not in j.settings["settings"] for j in plan.jobs)  # Luma takes no seed
    assert plan.total_cents == sum(j.estimated_cost_cents for j in plan.jobs) > 0
    # FEED's 15 s and IN_STREAM's 6 s: Luma renders 5 or 10
    assert [
        (a["placement"], a["chosen"])
        for a in job_ops.distinct_notes([j.metadata for j in plan.jobs], job_ops.ADJUSTMENTS)
    ] == [("FEED", "10"), ("IN_STREAM", "5")]
    runway = await batches.plan(
        request("video", "runway_gen4", variants=4, placements=["REELS", "IN_STREAM"])
    )
    seeds = [j.settings["settings"]["seed"] for j in runway.jobs]
    assert len(set(seeds[:4])) == 4 and len(set(seeds[4:])) == 4, "the variants of a placement differ"
    assert [j.settings["duration_seconds"] for j in runway.jobs] == [10] * 4 + [6] * 4


async def test_a_given_seed_is_the_first_variants_and_the_next_ones_follow() -> None:
    plan = await batches.plan(request("image", "flux_2_pro", variants=3, seed=41))
    assert [j.settings["settings"]["seed"] for j in plan.jobs] == [41, 42, 43]
    assert [j.metadata.get("seed_auto", False) for j in plan.jobs] == [False, True, True]
    single = await batches.plan(request("image", "flux_2_pro", seed=7))
    assert single.jobs[0].settings["settings"]["seed"] == 7


async def test_a_single_job_on_a_seeded_provider_records_a_seed_outside_its_hash() -> None:
    req = request("image", "flux_2_pro", idempotency_key="one")
    first, again = await batches.plan(req), await batches.plan(req)
    job = first.jobs[0]
    assert isinstance(job.settings["settings"].get("seed"), int), "a winner can be made again"
    assert job.metadata.get("seed_auto") is True and "variant" not in job.metadata
    assert job.request_hash() == again.jobs[0].request_hash()
    assert job.request_hash() == (await generation.validate(req)).job_hash(), "the hash it always had"


async def test_seeds_for_every_provider_that_takes_one() -> None:
    seeded = {name for name, spec in CATALOG.items() if spec.takes_seed}
    assert seeded == {"flux_2_pro", "seedream_4_5", "runway_gen4", "elevenlabs"}
    plan = await batches.plan(request("image", "gpt_image_1_5", variants=3))
    assert len(plan.jobs) == 3 and all("seed" not in j.settings["settings"] for j in plan.jobs)
    error = await refused(request("image", "gpt_image_1_5", seed=5))
    assert (
        error.field == ["input", "seed"]
        and "takes no seed" in error.message
        and "flux_2_pro" in error.message
    )


async def test_the_same_request_hashes_the_same_whatever_seeds_were_picked() -> None:
    req = request("image", "flux_2_pro", variants=3, placements=["FEED", "STORY"], idempotency_key="k")
    first, second = await batches.plan(req), await batches.plan(req)
    assert first.jobs[0].request_hash() == second.jobs[0].request_hash()
    other = await batches.plan(request("image", "flux_2_pro", variants=2, placements=["FEED", "STORY"]))
    assert other.jobs[0].request_hash() != first.jobs[0].request_hash()


# -- bad input: the field named, nothing planned -----------------------------------------------------


@pytest.mark.parametrize("variants", [0, 6, -1])
async def test_variants_out_of_range(variants: int) -> None:
    error = await refused(request("image", "flux_2_pro", variants=variants))
    assert error.field == ["input", "variants"] and "1 to 5" in error.message


async def test_too_many_jobs_and_bad_placements() -> None:
    every = list(PLACEMENTS)
    error = await refused(request("image", "flux_2_pro", variants=5, placements=every))
    assert (
        error.field == ["input", "placements"]
        and "30 jobs" in error.message
        and "at most 20" in error.message
    )
    error = await refused(request("image", "flux_2_pro", variants=2, placements=every), max_jobs=6)
    assert "at most 6" in error.message
    error = await refused(request("image", "flux_2_pro", placements=["FEED", "FEED"]))
    assert error.field == ["input", "placements", "1"]
    error = await refused(request("image", "flux_2_pro", placements=[]))
    assert error.field == ["input", "placements"]
    error = await refused(request("image", "flux_2_pro", placements=["FEED"], placement="STORY"))
    assert error.field == ["input", "placements"]


async def test_client_reference_and_metadata_are_bounded_and_kept() -> None:
    new = await generation.validate(
        request("image", "flux_2_pro", client_reference="cmp-42", client_metadata={"campaign": "spring"})
    )
    assert (new.client_reference, new.client_metadata) == ("cmp-42", {"campaign": "spring"})
    with pytest.raises(DomainError) as caught:
        await generation.validate(request("image", "flux_2_pro", client_metadata={"x": "y" * 5000}))
    assert caught.value.field == ["input", "clientMetadata"] and "4 KiB" in caught.value.message
    with pytest.raises(DomainError) as caught:
        await generation.validate(request("image", "flux_2_pro", client_metadata=["not", "an", "object"]))
    assert caught.value.field == ["input", "clientMetadata"]
    with pytest.raises(DomainError) as caught:
        await generation.validate(request("image", "flux_2_pro", client_reference="r" * 256))
    assert caught.value.field == ["input", "clientReference"]


async def test_a_composite_renders_the_same_every_time_so_variants_are_refused() -> None:
    source = {
        "output_format": "png",
        "width": 512,
        "height": 512,
        "elements": [{"type": "text", "text": "hi"}],
    }
    req = request("composite", "creatomate", source=source, variants=5)
    error = await refused(req)
    assert error.code == ErrorCode.VALIDATION_FAILED and error.field == ["input", "variants"]
    assert "same output" in error.message
    assert len((await batches.plan(request("composite", "creatomate", source=source))).jobs) == 1


# -- on a database: retries of one batch ----------------------------------------------------------

_REAL_FOLDER = generation._folder


@pytest.mark.usefixtures("database")
async def test_retries_racing_the_first_batch_get_it_not_insufficient_credits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A team with credits for exactly one batch: every retry with its key answers that batch (the
    pre-check that refuses a second batch must not refuse a retry of the first)."""
    from models.jobs import CreativeJob
    from tests.test_creatives import USER, Recorder, _team

    monkeypatch.setattr(generation, "_folder", _REAL_FOLDER)

    def req(team: uuid.UUID) -> GenerationRequest:
        return GenerationRequest(
            type="image",
            team_id=team,
            user_id=USER,
            provider="flux_2_pro",
            text="a cat",
            variants=3,
            idempotency_key="retry-1",
        )

    total = (await batches.plan(req(await _team(10_000)))).total_cents
    for _ in range(3):
        team = await _team(total)
        rec = Recorder()

        async def one(team: uuid.UUID = team, rec: Recorder = rec) -> str:
            submitted = await batches.submit(await batches.plan(req(team)), queue=rec, events=rec)
            assert submitted.batch is not None
            return str(submitted.batch.id)

        answers = await asyncio.gather(*(one() for _ in range(4)), return_exceptions=True)
        assert all(isinstance(a, str) for a in answers), answers
        assert len(set(answers)) == 1
        assert await CreativeJob.filter(team_id=team).count() == 3


# -- found through the public API by a reviewer: each failed on the code before its fix ----------------


@pytest.mark.parametrize(
    ("kind", "provider", "fields", "path"),
    [
        ("image", None, {"aspect_ratio": "1:1", "placements": ["STORY"]}, ["input", "aspectRatio"]),
        ("video", "runway_gen4", {"placement": "STORY", "aspect_ratio": "16:9"}, ["input", "aspectRatio"]),
        ("avatar", "heygen", {"placement": "FEED", "aspect_ratio": "9:16"}, ["input", "aspectRatio"]),
    ],
)
async def test_an_aspect_ratio_other_than_the_placements_is_refused_naming_it(
    kind: str, provider: str | None, fields: dict[str, Any], path: list[str]
) -> None:
    """Was: the explicit ratio won silently (a "STORY" job at 1:1 or 16:9, no warning)."""
    if kind == "avatar":
        fields = {**fields, "avatar_id": "a", "voice_id": "v"}
    error = await refused(request(kind, provider, **fields))  # type: ignore[arg-type]
    placement = (fields.get("placements") or [fields.get("placement")])[0]
    implied = PLACEMENTS[placement][0]
    assert error.code == ErrorCode.VALIDATION_FAILED and error.field == path
    assert error.message == (
        f"placement {placement} implies {implied}; leave aspectRatio out or give {implied}"
    )


async def test_an_aspect_ratio_equal_to_the_placements_is_the_placement() -> None:
    given = await batches.plan(request("video", "runway_gen4", placement="STORY", aspect_ratio="9:16"))
    left_out = await batches.plan(request("video", "runway_gen4", placement="STORY"))
    assert given.jobs[0].settings["aspect_ratio"] == left_out.jobs[0].settings["aspect_ratio"] == "9:16"
    # GPT Image 1.5 has no 9:16: the placement's nearest, as when the ratio is left out
    nearest = await batches.plan(request("image", "gpt_image_1_5", placement="STORY", aspect_ratio="9:16"))
    assert nearest.jobs[0].settings["aspect_ratio"] == "2:3"


@pytest.mark.parametrize(
    ("kind", "provider", "fields"),
    [
        ("image", "gpt_image_2_6_flare", {}),
        ("tts", "openai_tts", {}),
        ("tts", "elevenlabs", {}),
        ("image", "flux_2_pro", {"seed": 100}),
    ],
)
async def test_every_variant_is_numbered_the_first_too(
    kind: str, provider: str, fields: dict[str, Any]
) -> None:
    """Was: variant null, 2, 3 (the first job reused without its number) where the provider takes
    no seed or the caller gave one."""
    plan = await batches.plan(request(kind, provider, variants=3, **fields))
    assert [j.metadata.get("variant") for j in plan.jobs] == [1, 2, 3]
    assert [j.metadata.get("variants") for j in plan.jobs] == [3, 3, 3]
    if "seed" in fields:
        assert [j.settings["settings"]["seed"] for j in plan.jobs] == [100, 101, 102]
    single = await batches.plan(request(kind, provider, **fields))
    assert "variant" not in single.jobs[0].metadata, "a lone job has no variant number"


async def test_with_no_provider_named_a_video_for_a_square_feed_goes_to_one_that_renders_it() -> None:
    """Was: the default (Runway, 16:9 and 9:16 from text) refused the whole request over FEED."""
    plan = await batches.plan(request("video", None, variants=4, placements=["REELS", "FEED", "IN_STREAM"]))  # type: ignore[arg-type]
    assert len(plan.jobs) == 12 and {j.provider for j in plan.jobs} == {"kling_3_0"}
    shapes = {
        (j.metadata["placement"], j.settings["aspect_ratio"], j.settings["duration_seconds"])
        for j in plan.jobs
    }
    assert shapes == {(p, *PLACEMENTS[p]) for p in ("REELS", "FEED", "IN_STREAM")}, "exactly each target"
    for job in plan.jobs:  # said on each job
        (note,) = job.metadata["adjustments"]
        assert note == {
            "code": "PROVIDER_CHOSEN",
            "placement": "FEED",
            "provider": "kling_3_0",
            "requested": "runway_gen4",
            "chosen": "kling_3_0",
            "message": "runway_gen4 (the default) cannot render FEED 1:1 from text; kling_3_0 was used",
        }
    # the default when it serves every placement asked for
    served = await batches.plan(request("video", None, placements=["REELS", "IN_STREAM"]))  # type: ignore[arg-type]
    assert {j.provider for j in served.jobs} == {"runway_gen4"}
    assert all("adjustments" not in j.metadata for j in served.jobs)
    # a creative's node (one job, validated alone) goes the same way
    single = await generation.validate(
        request("video", None, placement="FEED"),  # type: ignore[arg-type]
        assumed=generation.Assumed(),
    )
    assert single.provider == "kling_3_0"
    # a named provider that cannot serve is still refused, naming the placement
    error = await refused(request("video", "runway_gen4", placements=["REELS", "FEED"]))
    assert (
        error.field == ["input", "placements", "1"]
        and "runway_gen4 cannot serve placement FEED" in error.message
    )


async def test_the_default_is_kept_when_a_start_image_lets_it_serve_the_placement() -> None:
    with_image = await generation.validate(
        request("video", None, placement="FEED", image_file_id="start"),  # type: ignore[arg-type]
        assumed=generation.Assumed(),
    )
    assert with_image.provider == "runway_gen4" and with_image.settings["aspect_ratio"] == "1:1"


async def test_veo_says_it_renders_only_4_6_or_8_seconds() -> None:
    """Was: "renders 4 to 8 seconds; got 5", and 5 is between them."""
    error = await refused(request("video", "veo_3_1", placement="IN_STREAM", duration_seconds=5))
    assert error.field == ["input", "durationSeconds"]
    assert error.message == "veo_3_1 renders only 4, 6 or 8 seconds; got 5"
    assert placements.durations_text(tuple(range(2, 11))) == "2 to 10 seconds"
    assert placements.durations_text((5, 10)) == "only 5 or 10 seconds"
    luma = await batches.plan(request("video", "luma_ray3", placement="IN_STREAM"))
    (note,) = luma.jobs[0].metadata["adjustments"]
    assert "luma_ray3 renders only 5 or 10 seconds, so 5 seconds were made" in note["message"]


async def test_placements_are_taken_in_any_case() -> None:
    """Was: the REST form's "story" refused as an unknown placement (its creatives took any case)."""
    plan = await batches.plan(request("video", "kling_3_0", placements=["story", "Feed"]))
    assert [j.metadata["placement"] for j in plan.jobs] == ["STORY", "FEED"]
    assert plan.placements == ["STORY", "FEED"]
    single = await batches.plan(request("image", "flux_2_pro", placement="in_stream"))
    assert (
        single.jobs[0].metadata["placement"] == "IN_STREAM"
        and single.jobs[0].settings["aspect_ratio"] == "16:9"
    )
    error = await refused(request("video", "kling_3_0", placements=["story", "STORY"]))
    assert error.field == ["input", "placements", "1"] and "named twice" in error.message
    error = await refused(request("video", "kling_3_0", placements=["storie"]))
    assert error.message == "unknown placement storie"
