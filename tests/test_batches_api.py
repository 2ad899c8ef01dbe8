"""Batches through the public API: one concept as variants × placements, each job at its
placement's ratio and target duration and charged exactly; the same request by a team that can
afford half of it refused whole; the batch read back, filtered, rated, followed; the REST form."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import httpx
import pytest

from tests.stack import JOB_FIELDS, Stack, Team, follow_job
from tests.test_generation import balance, ledger
from tests.test_partners import JOB_EVENTS, create_endpoint, secrets_of
from tests.webhook_receiver import running_receiver

FIELDS = f"{JOB_FIELDS} batchId placement variant seed rating clientReference clientMetadata"
BATCH_FIELDS = f"""id variants placements clientReference totalCostCents estimatedCostCents
counts {{ total pending processing completed failed canceled }}
jobs {{ {FIELDS} outputs {{ width height durationSeconds contentType }} }}"""
GENERATE_VIDEO = f"""mutation ($input: GenerateVideoInput!) {{ generateVideo(input: $input) {{
  job {{ id }} jobs {{ {FIELDS} }} batch {{ id variants placements counts {{ total pending }} }}
  placementWarnings {{ code message placement provider requested chosen }}
  userErrors {{ code message field }} }} }}"""
GENERATE_IMAGE = GENERATE_VIDEO.replace("generateVideo", "generateImage").replace(
    "GenerateVideoInput", "GenerateImageInput"
)
BATCH = f"query ($id: ID!) {{ batch(id: $id) {{ {BATCH_FIELDS} }} }}"
JOBS = "query ($f: JobFilter) { jobs(first: 50, filter: $f) { nodes { id rating clientReference batchId } } }"
RATE = "mutation ($id: ID!, $r: JobRating) { rateJob(id: $id, rating: $r) { job { id rating } userErrors { code field message } } }"
ESTIMATE = "query ($input: EstimateCostInput!) { estimateCost(input: $input) { cents } }"

CONCEPT = {
    "prompt": "a runner at sunrise, slow motion",
    "provider": "KLING_3_0",
    "variants": 4,
    "placements": ["REELS", "FEED", "IN_STREAM"],
    "clientReference": "spring-campaign-7",
    "clientMetadata": {"campaign": "spring", "concept": 7},
}
# The placements' ratio and target duration (docs/providers.md, Placements): Kling 3.0 renders each.
EXPECTED = {"REELS": (Fraction(9, 16), 10), "FEED": (Fraction(1, 1), 15), "IN_STREAM": (Fraction(16, 9), 6)}


async def generate(stack: Stack, team: Team, query: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await stack.data(team, query, {"input": input})
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


@pytest.mark.both_databases
async def test_a_concept_as_4_variants_by_3_placements(stack: Stack) -> None:
    estimate = await stack.data(
        stack.create_team(0),
        ESTIMATE,
        {
            "input": {
                "type": "VIDEO",
                "provider": "KLING_3_0",
                "variants": 4,
                "placements": CONCEPT["placements"],
            }
        },
    )
    total = estimate["estimateCost"]["cents"]
    team = stack.create_team(total + 1_000)
    payload = await generate(stack, team, GENERATE_VIDEO, CONCEPT)
    assert payload["userErrors"] == [], payload
    jobs = payload["jobs"]
    assert len(jobs) == 12 and payload["job"]["id"] == jobs[0]["id"]
    assert sum(j["estimatedCostCents"] for j in jobs) == total, "estimateCost prices what generate holds"
    assert payload["batch"]["counts"] == {"total": 12, "pending": 12}
    assert payload["placementWarnings"] == []  # Kling 3.0 renders every ratio and target asked for
    assert {j["batchId"] for j in jobs} == {payload["batch"]["id"]}
    assert [(j["placement"], j["variant"]) for j in jobs] == [
        (p, v) for p in CONCEPT["placements"] for v in (1, 2, 3, 4)
    ]
    assert all(j["clientReference"] == "spring-campaign-7" for j in jobs)
    assert all(j["clientMetadata"] == CONCEPT["clientMetadata"] for j in jobs)
    assert (await balance(stack, team))["heldCents"] == total

    finals = await asyncio.gather(*(follow_job(stack, team, j["id"], wait_seconds=120) for j in jobs))
    assert all(states[-1]["status"] == "COMPLETED" for states in finals), [s[-1] for s in finals]

    batch = (await stack.data(team, BATCH, {"id": payload["batch"]["id"]}))["batch"]
    assert batch["counts"]["completed"] == 12 and batch["counts"]["total"] == 12
    assert batch["variants"] == 4 and batch["placements"] == CONCEPT["placements"]
    for job in batch["jobs"]:
        ratio, seconds = EXPECTED[job["placement"]]
        (output,) = job["outputs"]
        assert output["contentType"] == "video/mp4"
        assert Fraction(output["width"], output["height"]) == ratio, (job["placement"], output)
        assert round(output["durationSeconds"]) == seconds, (job["placement"], output)
        assert job["settings"]["duration_seconds"] == seconds
        assert 0 < job["costCents"] <= job["estimatedCostCents"]
    charged = sum(j["costCents"] for j in batch["jobs"])
    assert batch["totalCostCents"] == charged and batch["estimatedCostCents"] == total
    after = await balance(stack, team)
    assert after == {
        "balanceCents": total + 1_000 - charged,
        "availableCents": total + 1_000 - charged,
        "heldCents": 0,
    }
    rows = await ledger(stack, team)
    for job in batch["jobs"]:
        kinds = {r["kind"]: r["amountCents"] for r in rows if r["jobId"] == job["id"]}
        assert kinds["HOLD"] == job["estimatedCostCents"] and kinds["CAPTURE"] == job["costCents"]

    # the same request by a team with credits for half of it: refused whole, nothing held
    half = stack.create_team(total // 2)
    refused = await generate(stack, half, GENERATE_VIDEO, CONCEPT)
    assert refused["jobs"] == [] and refused["batch"] is None
    (error,) = refused["userErrors"]
    assert error["code"] == "INSUFFICIENT_CREDITS"
    assert f"need {total} cents" in error["message"] and "nothing was held" in error["message"]
    assert await balance(stack, half) == {
        "balanceCents": total // 2,
        "availableCents": total // 2,
        "heldCents": 0,
    }
    assert (await stack.data(half, JOBS))["jobs"]["nodes"] == []


async def test_variants_rating_filters_and_idempotency(stack: Stack) -> None:
    team = stack.create_team(5_000)
    concept = {
        "prompt": "a glass bottle on sand",
        "variants": 3,
        "clientReference": "ref-1",
        "idempotencyKey": "k-1",
    }
    payload = await generate(stack, team, GENERATE_IMAGE, concept)
    assert payload["userErrors"] == [], payload
    jobs = payload["jobs"]
    seeds = [j["seed"] for j in jobs]
    assert len(set(seeds)) == 3 and all(isinstance(s, int) for s in seeds), (
        "FLUX.2 variants get their own seeds"
    )
    again = await generate(stack, team, GENERATE_IMAGE, concept)
    assert [j["id"] for j in again["jobs"]] == [j["id"] for j in jobs], "same key, same batch"
    assert again["batch"]["id"] == payload["batch"]["id"]
    conflict = await generate(stack, team, GENERATE_IMAGE, {**concept, "variants": 2})
    assert conflict["userErrors"][0]["code"] == "CONFLICT"

    await asyncio.gather(*(follow_job(stack, team, j["id"]) for j in jobs))
    winner = jobs[1]["id"]
    rated = (await stack.data(team, RATE, {"id": winner, "r": "WINNER"}))["rateJob"]
    assert rated == {"job": {"id": winner, "rating": "WINNER"}, "userErrors": []}
    assert (await stack.data(team, RATE, {"id": jobs[2]["id"], "r": "REJECTED"}))["rateJob"][
        "userErrors"
    ] == []
    winners = (await stack.data(team, JOBS, {"f": {"rating": "WINNER"}}))["jobs"]["nodes"]
    assert [n["id"] for n in winners] == [winner]
    in_batch = (await stack.data(team, JOBS, {"f": {"batchId": payload["batch"]["id"]}}))["jobs"]["nodes"]
    assert sorted(n["id"] for n in in_batch) == sorted(j["id"] for j in jobs)
    by_ref = (await stack.data(team, JOBS, {"f": {"clientReference": "ref-1", "mine": True}}))["jobs"][
        "nodes"
    ]
    assert len(by_ref) == 3
    assert (await stack.data(team, JOBS, {"f": {"batchId": "not-an-id"}}))["jobs"]["nodes"] == []

    # the winner made again from its seed
    seed = next(j["seed"] for j in jobs if j["id"] == winner)
    remade = await generate(stack, team, GENERATE_IMAGE, {"prompt": concept["prompt"], "seed": seed})
    assert remade["userErrors"] == [] and remade["jobs"][0]["seed"] == seed

    # another team reads neither the batch nor the job to rate
    other = stack.create_team(100)
    assert (await stack.data(other, BATCH, {"id": payload["batch"]["id"]}))["batch"] is None
    foreign = (await stack.data(other, RATE, {"id": winner, "r": "LIKED"}))["rateJob"]
    assert foreign["job"] is None and foreign["userErrors"][0]["code"] == "NOT_FOUND"


async def test_bad_requests_are_refused_with_the_field_and_nothing_held(stack: Stack) -> None:
    team = stack.create_team(5_000)
    cases = [
        (GENERATE_IMAGE, {"prompt": "x", "variants": 0}, ["input", "variants"]),
        (GENERATE_IMAGE, {"prompt": "x", "variants": 6}, ["input", "variants"]),
        (
            GENERATE_IMAGE,
            {"prompt": "x", "variants": 5, "placements": ["FEED", "STORY", "REELS", "TIKTOK", "POSTER"]},
            ["input", "placements"],
        ),
        (
            GENERATE_VIDEO,
            {"prompt": "x", "provider": "VEO_3_1", "placements": ["REELS", "FEED"]},
            ["input", "placements", "1"],
        ),
        (
            GENERATE_VIDEO,
            {"prompt": "x", "provider": "KLING_3_0", "placement": "STORY", "durationSeconds": 15},
            ["input", "durationSeconds"],
        ),
        (GENERATE_IMAGE, {"prompt": "x", "provider": "GPT_IMAGE_1_5", "seed": 3}, ["input", "seed"]),
        (
            GENERATE_IMAGE,
            {"prompt": "x", "clientMetadata": {"blob": "x" * 5000}},
            ["input", "clientMetadata"],
        ),
    ]
    for query, input, field in cases:
        payload = await generate(stack, team, query, input)
        assert payload["jobs"] == [] and payload["job"] is None, (input, payload)
        (error,) = payload["userErrors"]
        assert error["code"] == "VALIDATION_FAILED" and error["field"] == field, (input, error)
    assert await balance(stack, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}
    assert (await stack.data(team, JOBS))["jobs"]["nodes"] == []


async def test_gpt_image_makes_posters_and_stories_at_its_nearest_ratio(stack: Stack) -> None:
    """Was: refused, naming aspectRatio, which the user never sent."""
    team = stack.create_team(5_000)
    payload = await generate(
        stack,
        team,
        GENERATE_IMAGE,
        {
            "prompt": "SALE 50% OFF poster",
            "provider": "GPT_IMAGE_2_6_FLARE",
            "placements": ["POSTER", "STORY"],
        },
    )
    assert payload["userErrors"] == [] and payload["placementWarnings"] == []  # 2.6 renders 4:5 and 9:16
    old = await generate(
        stack,
        team,
        GENERATE_IMAGE,
        {"prompt": "SALE 50% OFF poster", "provider": "GPT_IMAGE_1_5", "placements": ["POSTER", "STORY"]},
    )
    assert old["userErrors"] == [], old
    assert [j["settings"]["aspect_ratio"] for j in old["jobs"]] == ["2:3", "2:3"]
    assert [(w["placement"], w["requested"], w["chosen"]) for w in old["placementWarnings"]] == [
        ("POSTER", "4:5", "2:3"),
        ("STORY", "9:16", "2:3"),
    ]
    final = (await follow_job(stack, team, old["jobs"][0]["id"]))[-1]
    assert final["status"] == "COMPLETED"
    files = (await stack.data(team, BATCH, {"id": old["batch"]["id"]}))["batch"]["jobs"][0]["outputs"]
    assert Fraction(files[0]["width"], files[0]["height"]) == Fraction(2, 3)


async def test_the_rest_form_takes_variants_and_placements(stack: Stack) -> None:
    team = stack.create_team(5_000)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        r = await client.post(
            "/api/v1/creative-hub/generate/image",
            json={
                "prompt": "a red shoe",
                "variants": 2,
                "placements": ["feed", "Story"],  # any case, as the REST creatives take them
                "client_reference": "r-9",
            },
            headers=team.headers,
        )
        assert r.status_code == 202, r.text
        body = r.json()
        assert len(body["job_ids"]) == 4 and body["job_id"] == body["job_ids"][0] and body["batch_id"]
        job = (
            await client.get(f"/api/v1/creative-hub/jobs/{body['job_ids'][3]}", headers=team.headers)
        ).json()
        assert job["batch_id"] == body["batch_id"] and job["client_reference"] == "r-9"
        assert job["metadata"]["placement"] == "STORY" and job["settings"]["aspect_ratio"] == "9:16"
        assert job["metadata"]["variant"] == 2
        single = await client.post(
            "/api/v1/creative-hub/generate/video",
            json={"prompt": "a red shoe", "provider": "kling_3_0", "placement": "in_stream"},
            headers=team.headers,
        )
        assert single.status_code == 202, single.text  # was: 400 "unknown placement in_stream"
        bad = await client.post(
            "/api/v1/creative-hub/generate/image", json={"prompt": "x", "variants": 6}, headers=team.headers
        )
        error = bad.json()["error"]
        assert bad.status_code == 400 and error["code"] == "VALIDATION_FAILED", bad.text
        assert error["field"][-1] == "variants" and "1 to 5" in error["message"], bad.text


JOBS_UPDATED = (
    "subscription ($f: JobFilter) { jobsUpdated(filter: $f) { id status batchId clientReference } }"
)
GENERATE_TTS = GENERATE_VIDEO.replace("generateVideo", "generateTts").replace(
    "GenerateVideoInput", "GenerateTtsInput"
)


async def test_webhooks_and_jobs_updated_carry_the_batch_and_the_callers_reference(stack: Stack) -> None:
    team = stack.create_team(5_000)
    async with running_receiver() as receiver:
        created = await create_endpoint(stack, team, receiver.url, JOB_EVENTS)
        receiver.secrets = secrets_of(created)
        other = await generate(stack, team, GENERATE_TTS, {"text": "another batch", "variants": 2})
        payload = await generate(
            stack,
            team,
            GENERATE_TTS,
            {
                "text": "Spring sale starts today [sim:slow]",
                "variants": 2,
                "clientReference": "order-77",
                "clientMetadata": {"line": 3},
            },
        )
        assert payload["userErrors"] == [] and other["userErrors"] == [], (payload, other)
        batch_id, ids = payload["batch"]["id"], {j["id"] for j in payload["jobs"]}
        # the id as a client may spell it (upper case, braces) filters as the canonical one does
        spelled = "{" + batch_id.upper() + "}"
        async with stack.subscription(team, JOBS_UPDATED, {"f": {"batchId": spelled}}) as queue:
            ended: set[str] = set()
            async with asyncio.timeout(120):
                while ended != ids:
                    event = (await queue.get() or {}).get("data", {}).get("jobsUpdated")
                    assert (
                        event and event["batchId"] == batch_id and event["clientReference"] == "order-77"
                    ), event
                    if event["status"] in ("COMPLETED", "FAILED", "CANCELED"):
                        ended.add(event["id"])
        await receiver.wait_for(lambda r: {x.body["data"]["id"] for x in r.received} >= ids, 60)
        for got in receiver.received:
            data = got.body["data"]
            if data["id"] in ids:
                assert got.verified and data["batch_id"] == batch_id, data
                assert (data["client_reference"], data["client_metadata"]) == ("order-77", {"line": 3})


async def test_a_failed_variant_is_free_and_the_rest_of_the_batch_is_released(stack: Stack) -> None:
    team = stack.create_team(5_000)
    payload = await generate(stack, team, GENERATE_IMAGE, {"prompt": "a lamp [sim:fail]", "variants": 3})
    assert payload["userErrors"] == [] and len(payload["jobs"]) == 3
    held = sum(j["estimatedCostCents"] for j in payload["jobs"])
    assert (await balance(stack, team))["availableCents"] in range(5_000 - held, 5_001)
    finals = await asyncio.gather(*(follow_job(stack, team, j["id"]) for j in payload["jobs"]))
    assert {(s[-1]["status"], s[-1]["costCents"]) for s in finals} == {("FAILED", 0)}
    batch = (await stack.data(team, BATCH, {"id": payload["batch"]["id"]}))["batch"]
    assert batch["counts"]["failed"] == 3 and batch["totalCostCents"] == 0
    assert await balance(stack, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}
