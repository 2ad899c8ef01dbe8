"""Creatives through the real API (GraphQL over HTTP and websockets, the simulator standing in for
the providers): the recipes run to the end with exact charges, a failed input fails its dependants
free, cancelCreative cancels every open job, a team with credits for half a creative is refused
whole, and bad graphs are user errors naming the field, nothing held."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.stack import JOB_FIELDS, Stack, Team
from tests.standins import media as make
from tests.test_generation import balance, download, ledger, upload_to_drive

CREATIVE = f"""id recipe status estimatedCostCents costCents createdAt
nodes {{ key dependsOn waitingFor job {{ {JOB_FIELDS} }} }}"""
ERRORS = "userErrors { code message field }"
CREATE = f"mutation ($input: CreateCreativeInput!) {{ createCreative(input: $input) {{ creative {{ {CREATIVE} }} {ERRORS} }} }}"
CANCEL = f"mutation ($id: ID!) {{ cancelCreative(id: $id) {{ creative {{ {CREATIVE} }} {ERRORS} }} }}"
READ = f"query ($id: ID!) {{ creative(id: $id) {{ {CREATIVE} }} }}"
ESTIMATE = "query ($input: CreateCreativeInput!) { estimateCreative(input: $input) { cents nodes { key provider cents } } }"
FOLLOW = f"subscription ($id: ID!) {{ creativeUpdated(id: $id) {{ {CREATIVE} }} }}"
ENDED = {"COMPLETED", "FAILED", "CANCELED"}

VOICEOVER = {
    "recipe": "VIDEO_WITH_VOICEOVER",
    "videoWithVoiceover": {
        "video": {"prompt": "a surfer at dawn", "provider": "RUNWAY_GEN4", "placement": "IN_STREAM"},
        "voiceover": {"text": "Catch the first wave."},
    },
}


async def create(stack: Stack, team: Team, input: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await stack.data(team, CREATE, {"input": input}))["createCreative"]
    return payload


async def follow(stack: Stack, team: Team, creative_id: str, within: float = 90.0) -> list[dict[str, Any]]:
    """Every state creativeUpdated yields, until the server completes it once every job ended."""
    states: list[dict[str, Any]] = []
    async with stack.subscription(team, FOLLOW, {"id": creative_id}) as queue:
        async with asyncio.timeout(within):
            while (payload := await queue.get()) is not None:
                assert "errors" not in payload, payload
                states.append(payload["data"]["creativeUpdated"])
    assert states and states[-1]["status"] in ENDED, states[-1]
    return states


def unsigned(creative: dict[str, Any]) -> dict[str, Any]:
    """The creative with its jobs' result links cut at the query (expires and signature)."""
    nodes = [
        {**n, "job": {**n["job"], "resultUrls": [u.split("?", 1)[0] for u in n["job"]["resultUrls"]]}}
        for n in creative["nodes"]
    ]
    return {**creative, "nodes": nodes}


def by_key(creative: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["key"]: node for node in creative["nodes"]}


async def assert_settled(stack: Stack, team: Team, creative: dict[str, Any], before: dict[str, int]) -> None:
    """Nothing left held; the balance fell by exactly the jobs' charges, each charged once."""
    after = await balance(stack, team)
    assert after["heldCents"] == 0, after
    assert after["balanceCents"] == before["balanceCents"] - creative["costCents"]
    assert creative["costCents"] == sum(n["job"]["costCents"] for n in creative["nodes"])
    rows = await ledger(stack, team)
    for node in creative["nodes"]:
        job = node["job"]
        kinds = sorted(r["kind"] for r in rows if r["jobId"] == job["id"])
        captured = sum(r["amountCents"] for r in rows if r["jobId"] == job["id"] and r["kind"] == "CAPTURE")
        assert captured == job["costCents"], (node["key"], kinds)
        assert kinds.count("HOLD") == 1 and kinds.count("CAPTURE") <= 1, kinds


async def test_video_with_voiceover_runs_to_one_ad_charged_exactly(stack: Stack, team: Team) -> None:
    estimate = (await stack.data(team, ESTIMATE, {"input": VOICEOVER}))["estimateCreative"]
    before = await balance(stack, team)
    payload = await create(stack, team, {**VOICEOVER, "idempotencyKey": "surf-ad-1"})
    assert payload["userErrors"] == [], payload
    creative = payload["creative"]
    retried = await create(stack, team, {**VOICEOVER, "idempotencyKey": "surf-ad-1"})  # a client's retry
    assert retried["creative"]["id"] == creative["id"]
    other = await create(
        stack,
        team,
        {**VOICEOVER, "recipe": None, "idempotencyKey": "surf-ad-1"}
        | {"videoWithVoiceover": {**VOICEOVER["videoWithVoiceover"], "voiceover": {"text": "Another line."}}},
    )
    assert other["creative"] is None and other["userErrors"][0]["code"] == "CONFLICT", other
    # open at submission (its inputs may already have reached the provider when the payload is read)
    assert creative["recipe"] == "VIDEO_WITH_VOICEOVER" and creative["status"] in ("PENDING", "PROCESSING")
    assert creative["estimatedCostCents"] == estimate["cents"] == sum(n["cents"] for n in estimate["nodes"])
    nodes = by_key(creative)
    assert [n["key"] for n in creative["nodes"]] == ["video", "voiceover", "composite"]
    assert nodes["composite"]["dependsOn"] == ["video", "voiceover"]
    assert nodes["composite"]["waitingFor"] == ["video", "voiceover"]
    assert nodes["composite"]["job"]["status"] == "PENDING"
    # every job held at submission (read in the ledger: a job may already have settled by now)
    job_ids = {n["job"]["id"] for n in creative["nodes"]}
    holds = [r for r in await ledger(stack, team) if r["kind"] == "HOLD" and r["jobId"] in job_ids]
    assert len(holds) == 3 and sum(r["amountCents"] for r in holds) == creative["estimatedCostCents"], holds

    states = await follow(stack, team, creative["id"])
    final = states[-1]
    assert final["status"] == "COMPLETED" and {n["job"]["status"] for n in final["nodes"]} == {"COMPLETED"}
    # the composite waited while its inputs ran, and started by itself once they completed
    waited = [by_key(s)["composite"] for s in states]
    assert any(n["waitingFor"] and n["job"]["status"] == "PENDING" for n in waited)
    assert by_key(final)["composite"]["waitingFor"] == []
    ad = by_key(final)["composite"]["job"]
    content_type, data = await download(ad["resultUrls"][0])
    assert content_type == "video/mp4" and len(data) > 0
    read = (await stack.data(team, READ, {"id": creative["id"]}))["creative"]
    assert unsigned(read) == unsigned(final)  # links are signed anew on every read (their expiry moves)
    await assert_settled(stack, team, final, before)


async def test_image_with_logo_and_localized_avatar(stack: Stack, team: Team) -> None:
    before = await balance(stack, team)
    logo = upload_to_drive(stack, team, "logo.png", make.image("png", 400, 200))
    image = await create(
        stack,
        team,
        {
            "recipe": "IMAGE_WITH_LOGO",
            "imageWithLogo": {
                "image": {"prompt": "a kitchen table", "aspectRatio": "1:1"},
                "logoFileId": logo,
            },
        },
    )
    assert image["userErrors"] == [], image
    avatar = await create(
        stack,
        team,
        {
            "recipe": "LOCALIZED_AVATAR",
            "localizedAvatar": {
                "script": "Hello from our team.",
                "avatarId": "Daisy-inskirt-20220818",
                "locales": [{"locale": "en-US"}, {"locale": "es", "script": "Hola de nuestro equipo."}],
            },
        },
    )
    assert avatar["userErrors"] == [], avatar
    nodes = by_key(avatar["creative"])
    assert list(nodes) == ["en-US", "es"]
    voices = {key: node["job"]["settings"]["voice_id"] for key, node in nodes.items()}
    assert voices["en-US"] != voices["es"]  # each locale its own voice
    assert nodes["es"]["job"]["prompt"] == "Hola de nuestro equipo."
    spanish = await stack.data(team, 'query { voices(provider: HEYGEN, language: "es") { id } }')
    assert voices["es"] in {v["id"] for v in spanish["voices"]}

    finals = [(await follow(stack, team, c["creative"]["id"]))[-1] for c in (image, avatar)]
    assert [f["status"] for f in finals] == ["COMPLETED", "COMPLETED"], finals
    poster = by_key(finals[0])["composite"]["job"]
    content_type, _ = await download(poster["resultUrls"][0])
    assert content_type == "image/png"
    after = await balance(stack, team)
    assert after["heldCents"] == 0
    assert after["balanceCents"] == before["balanceCents"] - sum(f["costCents"] for f in finals)


async def test_a_failed_input_fails_its_dependant_free(stack: Stack, team: Team) -> None:
    before = await balance(stack, team)
    general = {
        "nodes": [
            {
                "key": "clip",
                "video": {"prompt": "a storm [sim:fail]", "provider": "RUNWAY_GEN4", "durationSeconds": 5},
            },
            {"key": "narration", "tts": {"text": "Stay dry."}},
            {
                "key": "ad",
                "composite": {"source": _source(5), "prompt": "storm ad"},
                "inputs": [{"name": "Video", "node": "clip"}, {"name": "Voiceover", "node": "narration"}],
            },
        ]
    }
    payload = await create(stack, team, general)
    assert payload["userErrors"] == [], payload
    final = (await follow(stack, team, payload["creative"]["id"]))[-1]
    nodes = by_key(final)
    assert nodes["clip"]["job"]["status"] == "FAILED" and nodes["clip"]["job"]["costCents"] == 0
    assert nodes["ad"]["job"]["status"] == "FAILED" and nodes["ad"]["job"]["costCents"] == 0
    assert "its input 'clip' failed" in nodes["ad"]["job"]["errorMessage"]
    assert final["status"] == "FAILED" and final["costCents"] == nodes["narration"]["job"]["costCents"]
    await assert_settled(stack, team, final, before)


async def test_cancel_creative_cancels_every_open_job(stack: Stack, team: Team) -> None:
    before = await balance(stack, team)
    slow = {
        "recipe": "VIDEO_WITH_VOICEOVER",
        "videoWithVoiceover": {
            "video": {"prompt": "a slow sunrise [sim:slow]", "provider": "RUNWAY_GEN4", "durationSeconds": 5},
            "voiceover": {"text": "Slowly now. [sim:slow]"},
        },
    }
    creative = (await create(stack, team, slow))["creative"]
    canceled = (await stack.data(team, CANCEL, {"id": creative["id"]}))["cancelCreative"]
    assert canceled["userErrors"] == [], canceled
    final = (await follow(stack, team, creative["id"]))[-1]
    nodes = by_key(final)
    assert final["status"] == "CANCELED"
    assert nodes["composite"]["job"]["status"] == "CANCELED" and nodes["composite"]["job"]["costCents"] == 0
    assert {n["job"]["status"] for n in final["nodes"]} <= {"CANCELED", "COMPLETED"}
    await assert_settled(stack, team, final, before)
    again = (await stack.data(team, CANCEL, {"id": creative["id"]}))["cancelCreative"]
    assert again["creative"] is None and again["userErrors"][0]["code"] == "CONFLICT"


async def test_a_team_with_credits_for_half_is_refused_whole(stack: Stack, team: Team) -> None:
    cost = (await stack.data(team, ESTIMATE, {"input": VOICEOVER}))["estimateCreative"]["cents"]
    poor = stack.create_team(cost // 2)
    payload = await create(stack, poor, VOICEOVER)
    assert payload["creative"] is None
    assert payload["userErrors"][0]["code"] == "INSUFFICIENT_CREDITS", payload
    assert f"needs {cost} cents" in payload["userErrors"][0]["message"]
    assert await balance(stack, poor) == {
        "balanceCents": cost // 2,
        "availableCents": cost // 2,
        "heldCents": 0,
    }
    jobs = await stack.data(poor, "{ jobs(first: 5) { nodes { id } } }")
    assert jobs["jobs"]["nodes"] == [] and await ledger(stack, poor) == [
        r for r in await ledger(stack, poor) if r["kind"] == "TOP_UP"
    ]


async def test_bad_graphs_are_user_errors_naming_the_field(stack: Stack, team: Team) -> None:
    before = await balance(stack, team)
    video = {"prompt": "waves", "provider": "RUNWAY_GEN4", "durationSeconds": 5}
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        (
            {
                "nodes": [
                    {
                        "key": "a",
                        "composite": {"source": _source(5)},
                        "inputs": [{"name": "Video", "node": "b"}],
                    },
                    {
                        "key": "b",
                        "composite": {"source": _source(5)},
                        "inputs": [{"name": "Video", "node": "a"}],
                    },
                ]
            },
            ["input", "nodes", "0", "inputs", "0", "node"],
            "cycle",
        ),
        (
            {
                "nodes": [
                    {"key": "v", "video": video},
                    {
                        "key": "ad",
                        "composite": {"source": _source(5)},
                        "inputs": [{"name": "Video", "node": "w"}],
                    },
                ]
            },
            ["input", "nodes", "1", "inputs", "0", "node"],
            "not a job of this creative",
        ),
        (
            {"nodes": [{"key": f"n{i}", "tts": {"text": "hi"}} for i in range(21)]},
            ["input", "nodes"],
            "at most 20 jobs",
        ),
        (
            {
                "recipe": "LOCALIZED_AVATAR",
                "localizedAvatar": {
                    "script": "Hello",
                    "avatarId": "Daisy-inskirt-20220818",
                    "locales": [{"locale": "en"}, {"locale": "tlh"}],
                },
            },
            ["input", "localizedAvatar", "locales", "1", "locale"],
            "no voice for tlh",
        ),
        (
            {"nodes": [{"key": "v", "video": {**video, "durationSeconds": 99}}]},
            ["input", "nodes", "0", "video", "durationSeconds"],
            "seconds",
        ),
        (
            {
                "nodes": [
                    {"key": "v", "tts": {"text": "hi"}},
                    {
                        "key": "ad",
                        "composite": {"source": _source(5)},
                        "inputs": [{"name": "Video", "node": "v"}],
                    },
                ]
            },
            ["input", "nodes", "1", "inputs", "0", "node"],
            "takes video",
        ),
        ({"recipe": "IMAGE_WITH_LOGO", "nodes": []}, ["input", "imageWithLogo"], "takes imageWithLogo"),
    ]
    for input, field, words in cases:
        payload = await create(stack, team, input)
        assert payload["creative"] is None, payload
        error = payload["userErrors"][0]
        assert error["code"] == "VALIDATION_FAILED" and error["field"] == field, (input, error)
        assert words in error["message"], error
    # a recipe's composite provider that makes no composites: named as the client sent it
    wrong = {
        **VOICEOVER,
        "videoWithVoiceover": {**VOICEOVER["videoWithVoiceover"], "compositeProvider": "RUNWAY_GEN4"},
    }
    error = (await create(stack, team, wrong))["userErrors"][0]
    assert error["code"] == "PROVIDER_NOT_SUPPORTED", error
    assert error["field"] == ["input", "videoWithVoiceover", "compositeProvider"], error
    assert await balance(stack, team) == before
    assert (await stack.data(team, "{ jobs(first: 5) { nodes { id } } }"))["jobs"]["nodes"] == []


def _source(seconds: int) -> dict[str, Any]:
    return {
        "output_format": "mp4",
        "width": 1280,
        "height": 720,
        "duration": seconds,
        "elements": [
            {"name": "Video", "type": "video", "track": 1, "duration": seconds},
            {"name": "Voiceover", "type": "audio", "track": 2, "duration": seconds},
        ],
    }


async def test_the_rest_form_creates_reads_and_cancels(stack: Stack, team: Team) -> None:
    """POST/GET …/creatives and …/creatives/{id}/cancel: createCreative's input in snake_case, the
    creative as GraphQL shows it (its jobs as GET …/jobs/{id} answers them), the REST error shape."""
    before = await balance(stack, team)
    base = f"{stack.url}/api/v1/creative-hub/creatives"
    body = {
        "recipe": "VIDEO_WITH_VOICEOVER",
        "video_with_voiceover": {
            "video": {"prompt": "a surfer at dawn", "provider": "runway_gen4", "placement": "IN_STREAM"},
            "voiceover": {"text": "Catch the first wave.", "client_reference": "ignored-or-kept"},
        },
    }
    async with httpx.AsyncClient(timeout=30, headers=team.headers) as client:
        made = await client.post(base, json=body, headers={"Idempotency-Key": "rest-surf-1"})
        assert made.status_code == 202, made.text
        creative = made.json()
        # open when answered (its inputs may already have reached the provider)
        assert creative["recipe"] == "VIDEO_WITH_VOICEOVER" and creative["status"] in (
            "pending",
            "processing",
        )
        assert [n["key"] for n in creative["nodes"]] == ["video", "voiceover", "composite"]
        assert creative["nodes"][2]["depends_on"] == ["video", "voiceover"]
        again = await client.post(base, json=body, headers={"Idempotency-Key": "rest-surf-1"})
        assert again.status_code == 202 and again.json()["id"] == creative["id"]  # a retry: held once
        final = (await follow(stack, team, creative["id"]))[-1]
        read = await client.get(f"{base}/{creative['id']}")
        assert read.status_code == 200, read.text
        got = read.json()
        assert (got["status"], final["status"]) == ("completed", "COMPLETED") and got["cost_cents"] == final[
            "costCents"
        ]
        ad = got["nodes"][2]["job"]
        assert ad["status"] == "completed" and ad["outputs"][0]["content_type"] == "video/mp4"
        assert ad["outputs"][0]["width"] * 9 == ad["outputs"][0]["height"] * 16  # IN_STREAM's 16:9
        job = (await client.get(f"{stack.url}/api/v1/creative-hub/jobs/{ad['id']}")).json()
        assert {k: v for k, v in job.items() if k != "result_urls" and k != "outputs"} == {
            k: v for k, v in ad.items() if k != "result_urls" and k != "outputs"
        }
        ended = await client.post(f"{base}/{creative['id']}/cancel")
        assert ended.status_code == 409 and ended.json()["error"]["code"] == "CONFLICT", ended.text

        slow = await client.post(
            base,
            json={
                "nodes": [
                    {"key": "clip", "video": {"prompt": "slow [sim:slow]", "duration_seconds": 5}},
                    {"key": "words", "tts": {"text": "Slowly. [sim:slow]"}},
                ]
            },
        )
        assert slow.status_code == 202, slow.text
        canceled = await client.post(f"{base}/{slow.json()['id']}/cancel")
        assert canceled.status_code == 200, canceled.text
        assert canceled.json()["status"] == "canceled"
        assert (await follow(stack, team, slow.json()["id"]))[-1]["status"] == "CANCELED"

        refusals = [
            (
                {"nodes": [{"key": "a", "tts": {"text": "hi", "variants": "2"}}]},
                ["nodes", "0", "tts", "variants"],
            ),
            ({"nodes": [{"key": "a", "tts": {"text": "hi"}, "colour": "red"}]}, ["nodes", "0", "colour"]),
            ({"recipe": "NOT_A_RECIPE"}, ["recipe"]),
            (
                {
                    "nodes": [
                        {"key": "v", "video": {"prompt": "x", "duration_seconds": 99}},
                    ]
                },
                ["nodes", "0", "video", "duration_seconds"],
            ),
            (
                {
                    "recipe": "LOCALIZED_AVATAR",
                    "localized_avatar": {
                        "script": "Hello",
                        "avatar_id": "Daisy-inskirt-20220818",
                        "locales": [{"locale": "en"}, {"locale": "tlh"}],
                    },
                },
                ["localized_avatar", "locales", "1", "locale"],
            ),
        ]
        for bad, field in refusals:
            r = await client.post(base, json=bad)
            assert r.status_code == 400, (bad, r.text)
            error = r.json()["error"]
            assert error["code"] == "VALIDATION_FAILED" and error["field"] == field, (bad, error)
        assert (await client.post(base, content=b"[1]")).status_code == 400
        missing = str(uuid.uuid4())
        for r in (await client.get(f"{base}/{missing}"), await client.post(f"{base}/{missing}/cancel")):
            assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", r.text
        poor = stack.create_team(10)
        r = await client.post(base, json=body, headers=poor.headers)
        assert r.status_code == 402 and r.json()["error"]["code"] == "INSUFFICIENT_CREDITS", r.text
        assert await balance(stack, poor) == {"balanceCents": 10, "availableCents": 10, "heldCents": 0}
    after = await balance(stack, team)
    assert after["heldCents"] == 0
    slow_final = (await stack.data(team, READ, {"id": slow.json()["id"]}))["creative"]
    assert after["balanceCents"] == before["balanceCents"] - final["costCents"] - slow_final["costCents"]


async def test_a_nodes_generate_input_is_taken_whole(stack: Stack, team: Team) -> None:
    """Was: a creative's job dropped its input's seed, clientReference, clientMetadata and
    allowLongerThanPlacement without a word, and made one job for variants: 3 or placements."""
    before = await balance(stack, team)
    payload = await create(
        stack,
        team,
        {
            "nodes": [
                {"key": "still", "image": {"prompt": "a lamp", "seed": 42, "clientReference": "lamp-1"}},
                {
                    "key": "long",
                    "video": {
                        "prompt": "a long story",
                        "provider": "KLING_3_0",
                        "placement": "STORY",
                        "durationSeconds": 15,
                        "allowLongerThanPlacement": True,
                        "clientMetadata": {"cut": "long"},
                    },
                },
            ]
        },
    )
    assert payload["userErrors"] == [], payload
    nodes = by_key(payload["creative"])
    job = await stack.data(
        team,
        "query ($id: ID!) { job(id: $id) { seed clientReference } }",
        {"id": nodes["still"]["job"]["id"]},
    )
    assert job["job"] == {"seed": 42, "clientReference": "lamp-1"}
    long = await stack.data(
        team, "query ($id: ID!) { job(id: $id) { clientMetadata } }", {"id": nodes["long"]["job"]["id"]}
    )
    assert long["job"]["clientMetadata"] == {"cut": "long"}
    assert nodes["long"]["job"]["settings"]["duration_seconds"] == 15
    await follow(stack, team, payload["creative"]["id"])
    spent = await balance(stack, team)
    for field, value in (("variants", 3), ("placements", ["FEED", "STORY"])):
        refused = await create(
            stack, team, {"nodes": [{"key": "many", "image": {"prompt": "a lamp", field: value}}]}
        )
        assert refused["creative"] is None, refused
        (error,) = refused["userErrors"]
        assert error["code"] == "VALIDATION_FAILED", error
        assert error["field"] == ["input", "nodes", "0", "image", field], error
        assert "a node per" in error["message"], error
    assert await balance(stack, team) == spent
    assert spent["balanceCents"] < before["balanceCents"]


async def test_an_image_with_logo_is_made_at_its_placements_ratio_and_says_what_was_adjusted(
    stack: Stack, team: Team
) -> None:
    # GPT Image 1.5 renders 1:1, 2:3 and 3:2: a POSTER (4:5) image is made at the nearest, 2:3,
    # with a placement warning (or, past its shutdown, on its successor with a model warning).
    # The ad itself is exactly 4:5, the image covering it; the creative says what generate says.
    logo = upload_to_drive(stack, team, "logo.png", make.image("png", 300, 300))
    fields = (
        f"{CREATIVE} warnings {{ code provider }} placementWarnings {{ code placement requested chosen }}"
    )
    mutation = CREATE.replace(CREATIVE, fields)
    input = {
        "recipe": "IMAGE_WITH_LOGO",
        "imageWithLogo": {
            "image": {
                "prompt": "a poster of a lighthouse",
                "provider": "GPT_IMAGE_1_5",
                "placement": "POSTER",
            },
            "logoFileId": logo,
        },
    }
    payload = (await stack.data(team, mutation, {"input": input}))["createCreative"]
    assert payload["userErrors"] == [], payload
    creative = payload["creative"]
    image_job = by_key(creative)["image"]["job"]
    adjusted = image_job["metadata"].get("adjustments", [])
    warned = image_job["metadata"].get("warnings", [])
    assert adjusted or warned, image_job["metadata"]  # one or the other, either side of the shutdown
    assert creative["placementWarnings"] == [
        {
            "code": a["code"],
            "placement": a["placement"],
            "requested": str(a["requested"]),
            "chosen": str(a["chosen"]),
        }
        for a in adjusted
    ]
    assert [w["code"] for w in creative["warnings"]] == [w["code"] for w in warned]
    if adjusted:
        assert (adjusted[0]["requested"], adjusted[0]["chosen"]) == ("4:5", "2:3")

    final = (await follow(stack, team, creative["id"]))[-1]
    assert final["status"] == "COMPLETED", final
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, headers=team.headers) as http:
        rest = (await http.get(f"/api/v1/creative-hub/creatives/{creative['id']}")).json()
    assert rest["placement_warnings"] == adjusted and rest["warnings"] == warned
    composite = next(n for n in rest["nodes"] if n["key"] == "composite")["job"]
    (output,) = composite["outputs"]
    assert output["width"] * 5 == output["height"] * 4, output  # exactly the placement's 4:5
    image = next(n for n in rest["nodes"] if n["key"] == "image")["job"]
    made = image["outputs"][0]
    if adjusted:
        assert made["width"] * 3 == made["height"] * 2, made  # the image itself at 2:3
