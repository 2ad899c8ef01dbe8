"""Every generation type through the real GraphQL endpoint, to a charged result in Drive."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import drive
from services.settings import Settings
from storage import open_storage
from tests.graphql_inprocess import gql
from tests.media import check_output
from tests.stack import JOB_FIELDS, Stack, Team, follow_job
from tests.standins import media as make

HEYGEN_VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"  # a voice of HeyGen's library (the simulator's)
PAYLOAD = f"job {{ {JOB_FIELDS} }} userErrors {{ code message field }}"
GENERATE = {
    "image": f"mutation ($input: GenerateImageInput!) {{ generateImage(input: $input) {{ {PAYLOAD} }} }}",
    "video": f"mutation ($input: GenerateVideoInput!) {{ generateVideo(input: $input) {{ {PAYLOAD} }} }}",
    "avatar": f"mutation ($input: GenerateAvatarInput!) {{ generateAvatar(input: $input) {{ {PAYLOAD} }} }}",
    "tts": f"mutation ($input: GenerateTtsInput!) {{ generateTts(input: $input) {{ {PAYLOAD} }} }}",
    "composite": f"mutation ($input: GenerateCompositeInput!) {{ generateComposite(input: $input) {{ {PAYLOAD} }} }}",
}
BALANCE = "{ creditBalance { balanceCents availableCents heldCents } }"
LEDGER = "{ creditTransactions(first: 100) { nodes { kind amountCents jobId balanceAfterCents availableAfterCents } } }"
CANCEL = f"mutation ($id: ID!) {{ cancelJob(id: $id) {{ {PAYLOAD} }} }}"


async def generate(stack: Stack, team: Team, kind: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await stack.data(team, GENERATE[kind], {"input": input})
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def submit_ok(stack: Stack, team: Team, kind: str, input: dict[str, Any]) -> dict[str, Any]:
    payload = await generate(stack, team, kind, input)
    assert payload["userErrors"] == [], payload
    job: dict[str, Any] = payload["job"]
    assert job["status"] == "PENDING" and job["costCents"] == 0 and job["estimatedCostCents"] > 0
    return job


async def download(url: str) -> tuple[str, bytes]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response.headers["content-type"], response.content


async def ledger(stack: Stack, team: Team) -> list[dict[str, Any]]:
    data = await stack.data(team, LEDGER)
    rows: list[dict[str, Any]] = data["creditTransactions"]["nodes"]
    return rows


async def balance(stack: Stack, team: Team) -> dict[str, int]:
    data = await stack.data(team, BALANCE)
    result: dict[str, int] = data["creditBalance"]
    return result


COMPOSITE_SOURCE = {
    "output_format": "mp4",
    "width": 1280,
    "height": 720,
    "frame_rate": 25,
    "duration": 3,
    "elements": [
        {"name": "Background", "type": "image", "source": ""},
        {"name": "Title", "type": "text", "text": "Spring sale"},
    ],
}


@pytest.mark.both_databases
async def test_every_type_completes_with_valid_output_and_exact_charge(stack: Stack, team: Team) -> None:
    before = await balance(stack, team)
    assert before == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}
    image = await submit_ok(
        stack, team, "image", {"prompt": "a bottle of olive oil on marble", "placement": "FEED"}
    )
    others = await asyncio.gather(
        submit_ok(
            stack, team, "video", {"prompt": "waves at dawn", "durationSeconds": 4, "aspectRatio": "9:16"}
        ),
        submit_ok(
            stack,
            team,
            "avatar",
            {
                "script": "Hello! Our spring sale starts today.",
                "avatarId": "Daisy-inskirt-20220818",
                "voiceId": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
                "placement": "REELS",
            },
        ),
        submit_ok(stack, team, "tts", {"text": "Welcome to the spring sale.", "voiceId": "nova"}),
    )
    image_states = await follow_job(stack, team, image["id"])
    composite = await submit_ok(
        stack,
        team,
        "composite",
        {"source": COMPOSITE_SOURCE, "inputs": [{"name": "Background", "jobId": image["id"]}]},
    )
    finals = [image_states[-1]]
    for job in [*others, composite]:
        states = await follow_job(stack, team, job["id"])
        statuses = [s["status"] for s in states]
        assert statuses[-1] == "COMPLETED", states[-1]
        assert "PROCESSING" in statuses or statuses == ["COMPLETED"]
        versions = [s["version"] for s in states]
        assert versions == sorted(set(versions)), "states arrive in order, once each"
        finals.append(states[-1])

    expected = {
        "image": "image/",
        "video": "video/mp4",
        "avatar": "video/mp4",
        "tts": "audio/",
        "composite": "video/mp4",
    }
    for job in finals:
        assert job["status"] == "COMPLETED", job
        assert 0 < job["costCents"] <= job["estimatedCostCents"], job
        assert job["resultUrls"], job
        assert job["driveFolderId"]
        content_type, data = await download(job["resultUrls"][0])
        assert content_type.startswith(expected[job["type"].lower()]), (job["type"], content_type)
        facts = check_output(content_type, data)
        if job["type"] == "IMAGE":
            assert facts["width"] == facts["height"]  # FEED placement: 1:1
        if job["type"] == "VIDEO":
            assert facts["height"] > facts["width"]  # 9:16

    total = sum(j["costCents"] for j in finals)
    after = await balance(stack, team)
    assert after["balanceCents"] == 5_000 - total
    assert after["availableCents"] == after["balanceCents"] and after["heldCents"] == 0

    rows = await ledger(stack, team)
    for job in finals:
        kinds = {r["kind"]: r["amountCents"] for r in rows if r["jobId"] == job["id"]}
        assert kinds["HOLD"] == job["estimatedCostCents"]
        assert kinds["CAPTURE"] == job["costCents"]
        assert kinds.get("RELEASE", 0) == job["estimatedCostCents"] - job["costCents"]
    assert rows[0]["balanceAfterCents"] == after["balanceCents"]


@pytest.mark.both_databases
async def test_provider_failure_ends_failed_and_free(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "image", {"prompt": "a lamp [sim:fail]"})
    # Held until the failure (the worker may already have released it: the ledger below shows both).
    held = await balance(stack, team)
    assert held["balanceCents"] == 5_000
    assert held["availableCents"] in (5_000 - job["estimatedCostCents"], 5_000)
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "FAILED" and final["costCents"] == 0 and final["errorMessage"]
    assert final["resultUrls"] == []
    assert await balance(stack, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}
    rows = {r["kind"]: r["amountCents"] for r in await ledger(stack, team) if r["jobId"] == job["id"]}
    assert rows == {"HOLD": job["estimatedCostCents"], "RELEASE": job["estimatedCostCents"]}


async def test_moderation_fails_free_with_a_readable_message(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "video", {"prompt": "something forbidden [sim:moderate]"})
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "FAILED" and final["costCents"] == 0
    assert final["errorMessage"] and len(final["errorMessage"]) > 10
    assert (await balance(stack, team))["availableCents"] == 5_000


async def test_throttled_provider_is_retried_then_completes(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "Retry me please [sim:429]"})
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "COMPLETED", final
    assert final["metadata"].get("retries") == 1


@pytest.mark.both_databases
async def test_cancel_costs_what_the_payload_says(stack: Stack, team: Team) -> None:
    """Free before the worker submitted the job, its estimate after (tests/test_cancel.py shows each
    case on its own); here the payload, the balance and the ledger agree on whichever it was."""
    job = await submit_ok(
        stack, team, "video", {"prompt": "a very long render [sim:slow]", "durationSeconds": 10}
    )
    payload = (await stack.data(team, CANCEL, {"id": job["id"]}))["cancelJob"]
    assert payload["userErrors"] == [] and payload["job"]["status"] == "CANCELED"
    cost = payload["job"]["costCents"]
    assert cost in (0, job["estimatedCostCents"])
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "CANCELED" and final["costCents"] == cost
    left = 5_000 - cost
    assert await balance(stack, team) == {"balanceCents": left, "availableCents": left, "heldCents": 0}
    kinds = {r["kind"]: r["amountCents"] for r in await ledger(stack, team) if r["jobId"] == job["id"]}
    held = job["estimatedCostCents"]
    assert kinds == ({"HOLD": held, "CAPTURE": held} if cost else {"HOLD": held, "RELEASE": held})
    again = (await stack.data(team, CANCEL, {"id": job["id"]}))["cancelJob"]
    assert again["job"] is None and again["userErrors"][0]["code"] == "CONFLICT"


@pytest.mark.both_databases
async def test_insufficient_credits_writes_nothing(stack: Stack) -> None:
    poor = stack.create_team(10)
    payload = await generate(stack, poor, "video", {"prompt": "an expensive video", "durationSeconds": 10})
    assert payload["job"] is None
    assert payload["userErrors"][0]["code"] == "INSUFFICIENT_CREDITS"
    assert await balance(stack, poor) == {"balanceCents": 10, "availableCents": 10, "heldCents": 0}
    jobs = await stack.data(poor, "{ jobs { edges { node { id } } } }")
    assert jobs["jobs"]["edges"] == []
    assert [r["kind"] for r in await ledger(stack, poor)] == ["TOP_UP"]


BAD_INPUTS = [
    ("image", {"prompt": "   "}, "VALIDATION_FAILED", ["input", "prompt"]),
    ("image", {"prompt": "x", "aspectRatio": "wide"}, "VALIDATION_FAILED", ["input", "aspectRatio"]),
    ("image", {"prompt": "x", "provider": "RUNWAY_GEN4"}, "PROVIDER_NOT_SUPPORTED", ["input", "provider"]),
    ("image", {"prompt": "x", "settings": [1, 2]}, "VALIDATION_FAILED", ["input", "settings"]),
    (
        "image",
        {"prompt": "x", "driveFolderId": "00000000-0000-0000-0000-000000000000"},
        "NOT_FOUND",
        ["input", "driveFolderId"],
    ),
    ("video", {"prompt": "x", "durationSeconds": 30}, "VALIDATION_FAILED", ["input", "durationSeconds"]),
    ("video", {"prompt": "x", "aspectRatio": "1:1"}, "VALIDATION_FAILED", ["input", "aspectRatio"]),
    ("video", {"prompt": "x", "imageFileId": "not-a-file"}, "NOT_FOUND", ["input", "imageFileId"]),
    ("video", {"prompt": "x" * 1001}, "VALIDATION_FAILED", ["input", "prompt"]),
    ("avatar", {"script": "hi", "avatarId": "", "voiceId": "v"}, "VALIDATION_FAILED", ["input", "avatarId"]),
    (
        "avatar",
        {"script": "hi", "avatarId": "a", "voiceId": "v", "aspectRatio": "21:9"},
        "VALIDATION_FAILED",
        ["input", "aspectRatio"],
    ),
    ("tts", {"text": "x" * 4097}, "VALIDATION_FAILED", ["input", "text"]),
    ("tts", {"text": "hi", "provider": "FLUX_2_PRO"}, "PROVIDER_NOT_SUPPORTED", ["input", "provider"]),
    ("composite", {}, "VALIDATION_FAILED", ["input", "templateId"]),
    (
        "composite",
        {"templateId": "t", "source": COMPOSITE_SOURCE},
        "VALIDATION_FAILED",
        ["input", "templateId"],
    ),
    ("composite", {"source": {"elements": []}}, "VALIDATION_FAILED", ["input", "source"]),
    (
        "composite",
        {"templateId": "t", "inputs": [{"name": "Clip", "jobId": "00000000-0000-0000-0000-000000000000"}]},
        "NOT_FOUND",
        ["input", "inputs", "0", "jobId"],
    ),
]


@pytest.mark.parametrize(("kind", "input", "code", "field"), [b for b in BAD_INPUTS if b[2] != "NOT_FOUND"])
async def test_bad_input_is_a_user_error_naming_the_field(
    kind: str, input: dict[str, Any], code: str, field: list[str]
) -> None:
    """The rules, in-process: the schema's resolvers and validation refuse before any database."""
    payload = next(iter((await gql(GENERATE[kind], {"input": input}))["data"].values()))
    assert payload["job"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], payload
    assert payload["userErrors"][0]["message"]


@pytest.mark.parametrize(
    ("kind", "input", "code", "field"),
    # the lookups in the team's Drive and jobs, and one rule of the above
    [b for b in BAD_INPUTS if b[2] == "NOT_FOUND"] + BAD_INPUTS[:1],
)
async def test_bad_input_is_a_user_error_and_charges_nothing(
    stack: Stack, team: Team, kind: str, input: dict[str, Any], code: str, field: list[str]
) -> None:
    payload = await generate(stack, team, kind, input)
    assert payload["job"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], payload
    assert payload["userErrors"][0]["message"]
    assert await balance(stack, team) == {"balanceCents": 5_000, "availableCents": 5_000, "heldCents": 0}


OTHER_PROVIDERS = [
    (
        "image",
        {"prompt": "a poster that says SALE", "provider": "GPT_IMAGE_1_5", "aspectRatio": "2:3"},
        "image/",
    ),
    ("image", {"prompt": "a watercolour fox", "provider": "SEEDREAM_4_5", "placement": "FEED"}, "image/"),
    (
        "video",
        {"prompt": "a cinematic drone shot", "provider": "LUMA_RAY3", "durationSeconds": 5},
        "video/mp4",
    ),
    ("video", {"prompt": "a ball bouncing", "provider": "KLING_2_6", "durationSeconds": 5}, "video/mp4"),
    (
        "video",
        {"prompt": "a ball rolling", "provider": "KLING_3_0", "durationSeconds": 3, "aspectRatio": "9:16"},
        "video/mp4",
    ),
    ("video", {"prompt": "a city at night", "provider": "VEO_3_1", "durationSeconds": 4}, "video/mp4"),
    ("tts", {"text": "Bonjour et bienvenue.", "provider": "ELEVENLABS"}, "audio/"),
]


@pytest.mark.parametrize(
    ("kind", "input", "content_type"),
    OTHER_PROVIDERS,
    ids=lambda v: v.get("provider") if isinstance(v, dict) else None,
)
async def test_every_other_provider_completes_through_the_api(
    stack: Stack, team: Team, kind: str, input: dict[str, Any], content_type: str
) -> None:
    job = await submit_ok(stack, team, kind, input)
    final = (await follow_job(stack, team, job["id"]))[-1]
    assert final["status"] == "COMPLETED", final
    assert 0 < final["costCents"] <= final["estimatedCostCents"]
    got_type, data = await download(final["resultUrls"][0])
    assert got_type.startswith(content_type)
    check_output(got_type, data)


def upload_to_drive(stack: Stack, team: Team, name: str, data: bytes) -> str:
    """A file uploaded to the team's Drive, stored where the stack's API and worker read it (the
    upload API's own domain call, made in the test process)."""
    settings = Settings(database_url=stack.env["CH_DATABASE_URL"], data_dir=Path(stack.env["CH_DATA_DIR"]))

    async def upload() -> str:
        async with open_storage(
            settings.storage_url, local_root=settings.data_dir / "drive", s3=settings.s3
        ) as storage:
            file = await drive.upload_file(storage, team.team_id, name=name, data=data, quota_bytes=10**9)
            return str(file.id)

    return stack.database.run(upload)


LOGO_SOURCE = {
    "output_format": "png",
    "width": 1080,
    "height": 1080,
    "elements": [
        {"name": "Background", "type": "image"},
        {"name": "Logo", "type": "image", "width": "20%", "height": "10%", "x": "85%", "y": "10%"},
    ],
}


async def test_an_uploaded_logo_over_an_ai_background_end_to_end(stack: Stack, team: Team) -> None:
    """The logo case: an uploaded PNG and an AI image fill a RenderScript's elements; the composite
    provider (the simulator, like Creatomate) downloads both through their signed links and renders."""
    logo = upload_to_drive(stack, team, "logo.png", make.image("png", 400, 200))
    background = await submit_ok(
        stack, team, "image", {"prompt": "a sunny kitchen table", "aspectRatio": "1:1"}
    )
    assert (await follow_job(stack, team, background["id"]))[-1]["status"] == "COMPLETED"
    before = await balance(stack, team)
    composite = await submit_ok(
        stack,
        team,
        "composite",
        {
            "source": LOGO_SOURCE,
            "inputs": [{"name": "Background", "jobId": background["id"]}, {"name": "Logo", "fileId": logo}],
        },
    )
    final = (await follow_job(stack, team, composite["id"]))[-1]
    assert final["status"] == "COMPLETED", final
    content_type, data = await download(final["resultUrls"][0])
    assert content_type == "image/png" and check_output(content_type, data)["width"] == 1080
    after = await balance(stack, team)
    assert after["balanceCents"] == before["balanceCents"] - final["costCents"]

    # The logo in an element that cannot take it, or a jingle as the logo: user errors, nothing held.
    jingle = upload_to_drive(stack, team, "jingle.mp3", make.audio("mp3", 1.0))
    for inputs, field, words in (
        ([{"name": "Logo", "fileId": jingle}], ["input", "inputs", "0", "fileId"], "takes image"),
        ([{"name": "Watermark", "fileId": logo}], ["input", "inputs", "0", "name"], "no element named"),
    ):
        payload = await generate(stack, team, "composite", {"source": LOGO_SOURCE, "inputs": inputs})
        assert payload["job"] is None and payload["userErrors"][0]["field"] == field, payload
        assert words in payload["userErrors"][0]["message"]
    # A start image of the wrong kind for a video, and a reference image of the wrong kind
    for kind, input, field in (
        ("video", {"prompt": "x", "imageFileId": jingle}, ["input", "imageFileId"]),
        ("image", {"prompt": "x", "referenceFileIds": [logo, jingle]}, ["input", "referenceFileIds", "1"]),
    ):
        payload = await generate(stack, team, kind, input)
        assert payload["job"] is None and payload["userErrors"] == [
            {"code": "VALIDATION_FAILED", "message": payload["userErrors"][0]["message"], "field": field}
        ], payload
        assert "must be an image file, not audio/mpeg" in payload["userErrors"][0]["message"]
    assert await balance(stack, team) == after


async def test_rest_takes_references_and_portraits_and_refuses_wrong_files(stack: Stack, team: Team) -> None:
    portrait = upload_to_drive(stack, team, "me.png", make.image("png", 400, 500))
    jingle = upload_to_drive(stack, team, "jingle.wav", make.audio("wav", 1.0))
    url = f"{stack.url}/api/v1/creative-hub/generate"
    before = await balance(stack, team)
    async with httpx.AsyncClient(timeout=30, headers=team.headers) as client:
        ok = await client.post(
            f"{url}/avatar",
            json={"script": "Hello from the shop", "portrait_file_id": portrait, "voice_id": HEYGEN_VOICE},
        )
        assert ok.status_code == 202, ok.text
        job = await follow_job(stack, team, ok.json()["job_id"])
        assert job[-1]["status"] == "COMPLETED" and job[-1]["settings"]["portrait_file_id"] == portrait
        # the domain's field names, as for every REST refusal of a generate body
        for body, field, code in (
            (
                {"prompt": "x", "reference_file_ids": [portrait, jingle]},
                ["input", "referenceFileIds", "1"],
                400,
            ),
            ({"prompt": "x", "reference_file_ids": portrait}, ["reference_file_ids"], 400),
            (
                {"prompt": "x", "reference_file_ids": [str(uuid.uuid4())]},
                ["input", "referenceFileIds", "0"],
                404,
            ),
        ):
            answer = await client.post(f"{url}/image", json=body)
            assert answer.status_code == code and answer.json()["error"]["field"] == field, answer.text
    after = await balance(stack, team)
    assert after["balanceCents"] == before["balanceCents"] - job[-1]["costCents"] and after["heldCents"] == 0
