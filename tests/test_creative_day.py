"""The run creatives are judged by: a marketing team's day, through the public API only (GraphQL
over HTTP and websockets; the test process only creates teams).

1. a logo is uploaded (``uploadDriveFile``); an avatar and a voice per language are picked from
   the ``avatars`` and ``voices(provider, language)`` queries first, as the product guide advises;
2. one concept as 4 variants × 3 placements (``generateVideo``), followed on
   ``jobsUpdated(filter: {batchId})``: progress reaches 1.0, ``expectedCompletionAt`` is set while
   a job is open and cleared once it ended; every output at its placement's ratio and target
   duration (docs/providers.md, Placements); Runway, which renders only 16:9 and 9:16 from text,
   is refused a FEED placement with a message saying why and who can;
3. a video + voice-over ad, an image + logo ad, an avatar in three languages and a creative whose
   video fails, each followed on ``creativeUpdated``: every job in its right state, the failed
   input and its dependant free, the rest charged exactly (each job held once, captured once);
4. a winner rated and listed by rating; the caller's reference round-trips and filters;
5. the same graph submitted by a team with credits for half of each request: refused whole,
   nothing held, no job made; and the whole graph, in order, by a team with credits for half of
   all of it: each request accepted whole while it fits, else refused whole, charged once."""

from __future__ import annotations

import asyncio
import time
import uuid
from fractions import Fraction
from typing import Any

import httpx

from tests.product_run import logo_png, multipart_upload
from tests.stack import TERMINAL, Stack, Team
from tests.test_generation import balance, ledger

WAIT_SECONDS = 45.0
ERRORS = "userErrors { code field message }"
OUTPUTS = "outputs { contentType width height durationSeconds }"
JOB = f"""id type status provider costCents estimatedCostCents settings errorMessage version batchId
placement variant seed rating clientReference clientMetadata progress queuePosition expectedCompletionAt
{OUTPUTS}"""
GENERATE_VIDEO = f"""mutation ($input: GenerateVideoInput!) {{ generateVideo(input: $input) {{
  jobs {{ {JOB} }} batch {{ id }} placementWarnings {{ code placement requested chosen }} {ERRORS} }} }}"""
ESTIMATE = "query ($input: EstimateCostInput!) { estimateCost(input: $input) { cents } }"
BATCH = f"""query ($id: ID!) {{ batch(id: $id) {{ id variants placements clientReference totalCostCents
  estimatedCostCents counts {{ total pending processing completed failed canceled }} jobs {{ {JOB} }} }} }}"""
JOBS_UPDATED = f"subscription ($f: JobFilter) {{ jobsUpdated(filter: $f) {{ {JOB} }} }}"
JOBS = "query ($f: JobFilter) { jobs(first: 50, filter: $f) { nodes { id rating clientReference batchId } } }"
RATE = f"mutation ($id: ID!, $r: JobRating) {{ rateJob(id: $id, rating: $r) {{ job {{ id rating }} {ERRORS} }} }}"
CREATIVE = (
    f"id recipe status estimatedCostCents costCents nodes {{ key dependsOn waitingFor job {{ {JOB} }} }}"
)
CREATE = f"""mutation ($input: CreateCreativeInput!) {{ createCreative(input: $input) {{
  creative {{ {CREATIVE} }} {ERRORS} }} }}"""
ESTIMATE_CREATIVE = "query ($input: CreateCreativeInput!) { estimateCreative(input: $input) { cents } }"
CREATIVE_UPDATED = f"subscription ($id: ID!) {{ creativeUpdated(id: $id) {{ {CREATIVE} }} }}"
PROVIDERS = "{ providers(type: VIDEO) { provider takesSeed } }"
AVATARS = '{ avatars(gender: "female") { id name gender previewImageUrl } }'
VOICES = "query ($p: Provider!, $l: String) { voices(provider: $p, language: $l) { id name languages } }"

# docs/providers.md, Placements: the ratio and the target duration of each placement.
PLACEMENT = {"REELS": (Fraction(9, 16), 10), "FEED": (Fraction(1, 1), 15), "IN_STREAM": (Fraction(16, 9), 6)}
LANGUAGES = ("en", "es", "de")
SCRIPTS = {
    "en": "Spring is here: run further.",
    "es": "Llegó la primavera: corre más lejos.",
    "de": "Der Frühling ist da: lauf weiter.",
}


HOLDS = "{ creditTransactions(first: 100, filter: {kinds: [HOLD]}) { nodes { id jobId amountCents } } }"


async def holds(stack: Stack, team: Team) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await stack.data(team, HOLDS))["creditTransactions"]["nodes"]
    return rows


def ratio(output: dict[str, Any]) -> Fraction:
    return Fraction(output["width"], output["height"])


async def payload_of(stack: Stack, team: Team, query: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await stack.data(team, query, {"input": input})
    result: dict[str, Any] = next(iter(data.values()))
    return result


async def follow_batch(stack: Stack, team: Team, batch_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every state of the batch's jobs: the batch read once the subscription listens, then each
    jobsUpdated event, until every job ended. The team's first subscription (wait_listening)."""
    history: dict[str, list[dict[str, Any]]] = {}
    async with stack.subscription(team, JOBS_UPDATED, {"f": {"batchId": batch_id}}) as queue:
        await stack.wait_listening(team)
        for job in (await stack.data(team, BATCH, {"id": batch_id}))["batch"]["jobs"]:
            history[job["id"]] = [job]
        async with asyncio.timeout(WAIT_SECONDS):
            while any(states[-1]["status"] not in TERMINAL for states in history.values()):
                payload = await queue.get()
                assert payload is not None and "errors" not in payload, payload
                event = payload["data"]["jobsUpdated"]
                assert event["batchId"] == batch_id, event
                if event["version"] > history[event["id"]][-1]["version"]:
                    history[event["id"]].append(event)
    return history


async def follow_creative(stack: Stack, team: Team, creative_id: str) -> list[dict[str, Any]]:
    """Every state creativeUpdated yields (the whole graph first), until the server completes it."""
    states: list[dict[str, Any]] = []
    async with stack.subscription(team, CREATIVE_UPDATED, {"id": creative_id}) as queue:
        async with asyncio.timeout(WAIT_SECONDS):
            while (payload := await queue.get()) is not None:
                assert "errors" not in payload, payload
                states.append(payload["data"]["creativeUpdated"])
    assert states and states[-1]["status"] in TERMINAL, states[-1:]
    return states


def by_key(creative: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["key"]: node["job"] for node in creative["nodes"]}


def check_progress(states: list[dict[str, Any]]) -> None:
    """Progress never goes back and is 1.0 at COMPLETED; an open job expects an end, an ended one not."""
    final = states[-1]
    figures = [s["progress"] for s in states if s["progress"] is not None]
    assert figures == sorted(figures), figures
    assert final["progress"] == 1.0 and final["expectedCompletionAt"] is None, final
    assert final["queuePosition"] is None
    for state in states:
        if state["status"] == "PROCESSING":
            assert state["expectedCompletionAt"] is not None, state
        if state["queuePosition"] is not None:
            assert state["status"] == "PENDING" and state["queuePosition"] >= 1, state


async def test_a_concept_runs_as_a_day_of_creatives(stack: Stack) -> None:
    started = time.monotonic()
    owner = stack.create_team(100_000)
    reference = f"spring-{uuid.uuid4().hex[:8]}"

    # -- the library first, and the logo ---------------------------------------------------------
    avatars = (await stack.data(owner, AVATARS))["avatars"]
    assert avatars and all(a["gender"] == "female" for a in avatars), avatars[:3]
    avatar = avatars[0]
    heygen = {}
    for language in LANGUAGES:
        voices = (await stack.data(owner, VOICES, {"p": "HEYGEN", "l": language}))["voices"]
        assert voices and all(language in v["languages"] for v in voices), (language, voices[:3])
        heygen[language] = voices[0]["id"]
    narrator = (await stack.data(owner, VOICES, {"p": "ELEVENLABS", "l": "en"}))["voices"][0]["id"]
    async with httpx.AsyncClient(timeout=30) as client:
        status, body = await multipart_upload(client, stack, owner, logo_png(), "logo.png")
    assert status == 200 and body["data"]["uploadDriveFile"]["userErrors"] == [], body
    logo = body["data"]["uploadDriveFile"]["file"]
    assert (logo["kind"], logo["width"], logo["height"]) == ("IMAGE", 300, 300), logo

    # -- Runway renders only 16:9 and 9:16 from text: a FEED video there is refused, saying why --
    runway = await payload_of(
        stack,
        owner,
        GENERATE_VIDEO,
        {"prompt": "a runner", "provider": "RUNWAY_GEN4", "placements": ["FEED"]},
    )
    assert runway["jobs"] == [] and runway["batch"] is None
    (error,) = runway["userErrors"]
    assert error["code"] == "VALIDATION_FAILED" and error["field"] == ["input", "placements", "0"], error
    assert "cannot serve placement FEED (1:1): it renders only 16:9, 9:16" in error["message"], error
    assert "without imageFileId" in error["message"] and "providers that can" in error["message"], error

    # -- the concept: 4 variants × 3 placements ------------------------------------------------------
    concept = {
        "prompt": "a runner at sunrise, slow motion",
        "provider": "KLING_3_0",
        "variants": 4,
        "placements": list(PLACEMENT),
        "clientReference": reference,
        "clientMetadata": {"campaign": "spring", "concept": 7},
    }
    estimate = {k: v for k, v in concept.items() if k in ("provider", "variants", "placements")}
    batch_cents = (await stack.data(owner, ESTIMATE, {"input": {"type": "VIDEO", **estimate}}))[
        "estimateCost"
    ]["cents"]
    before = await balance(stack, owner)
    generated = await payload_of(stack, owner, GENERATE_VIDEO, concept)
    assert generated["userErrors"] == [] and generated["placementWarnings"] == [], generated
    batch_id = generated["batch"]["id"]
    assert (
        len(generated["jobs"]) == 12
        and sum(j["estimatedCostCents"] for j in generated["jobs"]) == batch_cents
    )
    assert [(j["placement"], j["variant"]) for j in generated["jobs"]] == [
        (p, v) for p in PLACEMENT for v in (1, 2, 3, 4)
    ]
    seeds = {j["seed"] for j in generated["jobs"]}
    takes_seed = {p["provider"]: p["takesSeed"] for p in (await stack.data(owner, PROVIDERS))["providers"]}
    assert len(seeds) == 12 if takes_seed["KLING_3_0"] else seeds == {None}, seeds
    for job in generated["jobs"]:  # expected at submission, after now
        assert job["status"] == "PENDING" and job["expectedCompletionAt"] is not None, job
    batch_follow = asyncio.create_task(follow_batch(stack, owner, batch_id))

    # -- the creatives -----------------------------------------------------------------------------
    creatives = {
        "voiceover": {
            "recipe": "VIDEO_WITH_VOICEOVER",
            "videoWithVoiceover": {
                "video": {
                    "prompt": "a runner on a bridge",
                    "provider": "KLING_3_0",
                    "placement": "REELS",
                    "clientReference": f"{reference}-ad",
                },
                "voiceover": {"text": SCRIPTS["en"], "provider": "ELEVENLABS", "voiceId": narrator},
            },
        },
        "logo": {
            "recipe": "IMAGE_WITH_LOGO",
            "imageWithLogo": {
                "image": {"prompt": "running shoes on wet asphalt", "placement": "FEED"},
                "logoFileId": logo["id"],
            },
        },
        "avatar": {
            "recipe": "LOCALIZED_AVATAR",
            "localizedAvatar": {
                "avatarId": avatar["id"],
                "aspectRatio": "9:16",
                "locales": [
                    {"locale": lang, "script": SCRIPTS[lang], "voiceId": heygen[lang]} for lang in LANGUAGES
                ],
            },
        },
        "failing": {  # its video fails: the ad made of it fails free, the narration is charged
            "nodes": [
                {
                    "key": "clip",
                    "video": {
                        "prompt": "a storm [sim:fail]",
                        "provider": "KLING_3_0",
                        "placement": "IN_STREAM",
                    },
                },
                {"key": "narration", "tts": {"text": "Run in any weather."}},
                {
                    "key": "ad",
                    "composite": {"source": _source(6)},
                    "inputs": [{"name": "Video", "node": "clip"}, {"name": "Voiceover", "node": "narration"}],
                },
            ]
        },
    }
    estimates = {
        name: (await stack.data(owner, ESTIMATE_CREATIVE, {"input": input}))["estimateCreative"]["cents"]
        for name, input in creatives.items()
    }
    made = {name: await payload_of(stack, owner, CREATE, input) for name, input in creatives.items()}
    for name, payload in made.items():
        assert payload["userErrors"] == [], (name, payload)
        assert payload["creative"]["estimatedCostCents"] == estimates[name], name
    finals = dict(
        zip(
            made,
            await asyncio.gather(
                *(follow_creative(stack, owner, p["creative"]["id"]) for p in made.values())
            ),
            strict=True,
        )
    )
    history = await batch_follow

    # -- the batch: every job completed at its placement's ratio and target duration ------------
    batch = (await stack.data(owner, BATCH, {"id": batch_id}))["batch"]
    assert batch["counts"] == {
        "total": 12,
        "pending": 0,
        "processing": 0,
        "completed": 12,
        "failed": 0,
        "canceled": 0,
    }, batch["counts"]
    # Kling has no concurrency cap here: no job waits in a line, so none is told a place in one
    assert all(s["queuePosition"] is None for states in history.values() for s in states)
    for job in batch["jobs"]:
        check_progress(history[job["id"]])
        wanted_ratio, seconds = PLACEMENT[job["placement"]]
        (output,) = job["outputs"]
        assert output["contentType"] == "video/mp4" and ratio(output) == wanted_ratio, (
            job["placement"],
            output,
        )
        assert round(output["durationSeconds"]) == seconds, (job["placement"], output)
        assert 0 < job["costCents"] <= job["estimatedCostCents"]
        assert job["clientReference"] == reference and job["clientMetadata"] == concept["clientMetadata"]
    assert batch["totalCostCents"] == sum(j["costCents"] for j in batch["jobs"])
    assert batch["estimatedCostCents"] == batch_cents

    # -- the creatives: each job in its right state, outputs at their ratio and duration ---------
    ad = by_key(finals["voiceover"][-1])
    assert finals["voiceover"][-1]["status"] == "COMPLETED" and {j["status"] for j in ad.values()} == {
        "COMPLETED"
    }
    submitted = {n["key"]: n for n in made["voiceover"]["creative"]["nodes"]}["composite"]
    assert submitted["job"]["status"] == "PENDING" and submitted["waitingFor"] == ["video", "voiceover"]
    assert {n["key"]: n for n in finals["voiceover"][-1]["nodes"]}["composite"]["waitingFor"] == []
    assert ad["video"]["clientReference"] == f"{reference}-ad"  # a creative's job keeps its reference
    for key in ("video", "composite"):
        (output,) = ad[key]["outputs"]
        assert ratio(output) == Fraction(9, 16) and round(output["durationSeconds"]) == 10, (key, output)
    poster = by_key(finals["logo"][-1])
    assert {j["status"] for j in poster.values()} == {"COMPLETED"}
    (output,) = poster["composite"]["outputs"]
    assert output["contentType"] == "image/png" and ratio(output) == 1, output
    speakers = by_key(finals["avatar"][-1])
    assert list(speakers) == list(LANGUAGES) and {j["status"] for j in speakers.values()} == {"COMPLETED"}
    for lang, job in speakers.items():
        assert job["settings"]["voice_id"] == heygen[lang], (lang, job["settings"])
        (output,) = job["outputs"]
        assert ratio(output) == Fraction(9, 16) and output["durationSeconds"] > 0, (lang, output)
    storm = by_key(finals["failing"][-1])
    assert finals["failing"][-1]["status"] == "FAILED"
    assert (storm["clip"]["status"], storm["clip"]["costCents"]) == ("FAILED", 0)
    assert (storm["ad"]["status"], storm["ad"]["costCents"]) == ("FAILED", 0)
    assert "its input 'clip' failed" in storm["ad"]["errorMessage"], storm["ad"]
    assert storm["narration"]["status"] == "COMPLETED" and storm["narration"]["costCents"] > 0
    for name, states in finals.items():
        final = states[-1]
        assert final["costCents"] == sum(j["costCents"] for j in by_key(final).values()), name
        for key, job in by_key(final).items():
            if job["status"] == "COMPLETED":
                check_progress([by_key(state)[key] for state in states])

    # -- charges exact: each job held once at its estimate and captured once at its cost ---------
    jobs = [*batch["jobs"], *(j for states in finals.values() for j in by_key(states[-1]).values())]
    rows = await ledger(stack, owner)
    for job in jobs:
        kinds = [r["kind"] for r in rows if r["jobId"] == job["id"]]
        held = sum(r["amountCents"] for r in rows if r["jobId"] == job["id"] and r["kind"] == "HOLD")
        captured = sum(r["amountCents"] for r in rows if r["jobId"] == job["id"] and r["kind"] == "CAPTURE")
        assert kinds.count("HOLD") == 1 and kinds.count("CAPTURE") <= 1, (job["id"], kinds)
        assert held == job["estimatedCostCents"] and captured == job["costCents"], (job["id"], kinds)
    charged = sum(j["costCents"] for j in jobs)
    assert await balance(stack, owner) == {
        "balanceCents": before["balanceCents"] - charged,
        "availableCents": before["balanceCents"] - charged,
        "heldCents": 0,
    }

    # -- a winner, listed by rating; the reference filters ---------------------------------------
    winner = batch["jobs"][5]["id"]
    rated = (await stack.data(owner, RATE, {"id": winner, "r": "WINNER"}))["rateJob"]
    assert rated == {"job": {"id": winner, "rating": "WINNER"}, "userErrors": []}
    winners = (await stack.data(owner, JOBS, {"f": {"rating": "WINNER"}}))["jobs"]["nodes"]
    assert winners == [{"id": winner, "rating": "WINNER", "clientReference": reference, "batchId": batch_id}]
    referenced = (await stack.data(owner, JOBS, {"f": {"clientReference": reference}}))["jobs"]["nodes"]
    assert sorted(n["id"] for n in referenced) == sorted(j["id"] for j in batch["jobs"])
    in_ad = (await stack.data(owner, JOBS, {"f": {"clientReference": f"{reference}-ad"}}))["jobs"]["nodes"]
    assert [n["id"] for n in in_ad] == [ad["video"]["id"]]
    unknown = (await stack.data(owner, JOBS, {"f": {"clientReference": f"{reference}-x"}}))["jobs"]
    assert unknown["nodes"] == []

    # -- the same graph, by a team with credits for half of each request: refused whole ------------
    requests = [(GENERATE_VIDEO, concept, batch_cents)] + [
        (CREATE, input, estimates[name]) for name, input in creatives.items()
    ]
    for query, input, cents in requests:
        half = stack.create_team(cents // 2)
        if "imageWithLogo" in input:  # with a logo of its own, uploaded as the first team's was
            async with httpx.AsyncClient(timeout=30) as client:
                _, body = await multipart_upload(client, stack, half, logo_png(), "logo.png")
            own = body["data"]["uploadDriveFile"]["file"]["id"]
            input = {**input, "imageWithLogo": {**input["imageWithLogo"], "logoFileId": own}}
        refused = await payload_of(stack, half, query, input)
        assert refused.get("creative") is None and not refused.get("jobs"), refused
        (error,) = refused["userErrors"]
        assert error["code"] == "INSUFFICIENT_CREDITS" and str(cents) in error["message"], error
        assert await balance(stack, half) == {
            "balanceCents": cents // 2,
            "availableCents": cents // 2,
            "heldCents": 0,
        }
        assert (await stack.data(half, JOBS))["jobs"]["nodes"] == []
        assert [r["kind"] for r in await ledger(stack, half)] == ["TOP_UP"]

    # -- the whole graph, in order, by one team with credits for half of all of it ------------------
    # Each request runs whole or is refused whole: accepted while its estimate fits what is still
    # available, refused (nothing held, no job) once it does not; what ran is charged once, at most
    # its hold, and nothing stays held.
    total = sum(cents for _, _, cents in requests)
    team = stack.create_team(total // 2)
    async with httpx.AsyncClient(timeout=30) as client:
        _, body = await multipart_upload(client, stack, team, logo_png(), "logo.png")
    own_logo = body["data"]["uploadDriveFile"]["file"]["id"]
    accepted: list[tuple[str, str]] = []  # ("batch" | "creative", id)
    refusals = 0
    for query, input, cents in requests:
        if "imageWithLogo" in input:
            input = {**input, "imageWithLogo": {**input["imageWithLogo"], "logoFileId": own_logo}}
        # Jobs accepted earlier may end meanwhile (a capture below its hold frees credits), so what is
        # available only grows between this read and the request: one that fits now is accepted.
        available = (await balance(stack, team))["availableCents"]
        holds_before = {r["id"] for r in await holds(stack, team)}
        answer = await payload_of(stack, team, query, input)
        new_holds = [r for r in await holds(stack, team) if r["id"] not in holds_before]
        if not answer["userErrors"]:
            jobs = answer["jobs"] if "batch" in answer else [n["job"] for n in answer["creative"]["nodes"]]
            assert sum(j["estimatedCostCents"] for j in jobs) == cents, answer
            assert sorted(r["jobId"] for r in new_holds) == sorted(j["id"] for j in jobs)  # one hold each
            assert sum(r["amountCents"] for r in new_holds) == cents
            accepted.append(
                ("batch", answer["batch"]["id"])
                if "batch" in answer
                else ("creative", answer["creative"]["id"])
            )
        else:
            assert cents > available, (cents, available, answer)  # refused only what did not fit
            (error,) = answer["userErrors"]
            assert (
                error["code"] == "INSUFFICIENT_CREDITS"
                and answer.get("creative") is None
                and not answer.get("jobs")
            )
            assert new_holds == []  # refused whole: nothing held
            refusals += 1
    assert accepted and refusals, (accepted, refusals)  # half the graph: some of it runs, some is refused
    for kind, ident in accepted:
        if kind == "batch":
            await follow_batch(stack, team, ident)
        else:
            await follow_creative(stack, team, ident)
    ended = await balance(stack, team)
    jobs = (await stack.data(team, "{ jobs(first: 50) { nodes { status costCents estimatedCostCents } } }"))[
        "jobs"
    ]["nodes"]
    assert ended["heldCents"] == 0 and all(j["status"] in TERMINAL for j in jobs), (ended, jobs)
    assert all(0 <= (j["costCents"] or 0) <= j["estimatedCostCents"] for j in jobs), jobs
    assert ended["balanceCents"] == total // 2 - sum(j["costCents"] or 0 for j in jobs), (ended, jobs)
    print(f"\ncreative day: {time.monotonic() - started:.1f} s")


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
