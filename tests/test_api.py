"""The API around the jobs: auth, tenancy, listing, REST form, files, prices, schema, CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
import websockets

from tests.stack import JOB_UPDATED, ROOT, Stack, Team, follow_job
from tests.test_generation import balance, download, submit_ok

JOB = "query ($id: ID!) { job(id: $id) { id status costCents } }"


async def test_unauthenticated_calls_get_graphql_errors(stack: Stack) -> None:
    body = await stack.gql(None, "{ creditBalance { balanceCents } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = Team("x", "y", "chk_not_a_real_key")
    body = await stack.gql(bad, "{ creditBalance { balanceCents } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_team_never_sees_another_teams_job(stack: Stack, team: Team) -> None:
    other = stack.create_team(1_000)
    job = await submit_ok(stack, team, "tts", {"text": "private words"})
    assert (await stack.data(other, JOB, {"id": job["id"]}))["job"] is None
    missing = await stack.data(other, JOB, {"id": "00000000-0000-0000-0000-000000000000"})
    assert missing["job"] is None
    cancel = await stack.data(
        other,
        "mutation ($id: ID!) { cancelJob(id: $id) { job { id } userErrors { code } } }",
        {"id": job["id"]},
    )
    assert cancel["cancelJob"] == {"job": None, "userErrors": [{"code": "NOT_FOUND"}]}
    listed = await stack.data(other, "{ jobs { edges { node { id } } } }")
    assert listed["jobs"]["edges"] == []
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{stack.url}/api/v1/creative-hub/jobs/{job['id']}", headers=other.headers)
    assert r.status_code == 404
    final = (await follow_job(stack, team, job["id"]))[-1]
    file_id = final["resultUrls"][0].split("/files/")[1].split("?")[0]
    async with httpx.AsyncClient() as client:
        foreign = await client.get(f"{stack.url}/files/{file_id}", headers=other.headers)
        own = await client.get(f"{stack.url}/files/{file_id}", headers=team.headers)
        forged = await client.get(f"{stack.url}/files/{file_id}?expires=9999999999&signature=00")
    assert foreign.status_code == 404 and own.status_code == 200 and forged.status_code == 403
    assert own.headers["content-type"].startswith("audio/")


@pytest.mark.both_databases
async def test_jobs_are_listed_newest_first_with_cursors_and_filters(stack: Stack) -> None:
    team = stack.create_team(5_000)
    ids = [(await submit_ok(stack, team, "tts", {"text": f"line {i}"}))["id"] for i in range(3)]
    image = await submit_ok(stack, team, "image", {"prompt": "a chair"})
    query = "query ($after: String, $f: JobFilter) { jobs(first: 2, after: $after, filter: $f) { edges { cursor node { id type } } pageInfo { hasNextPage endCursor } } }"
    page1 = (await stack.data(team, query))["jobs"]
    assert [e["node"]["id"] for e in page1["edges"]] == [image["id"], ids[2]]
    assert page1["pageInfo"]["hasNextPage"]
    page2 = (await stack.data(team, query, {"after": page1["pageInfo"]["endCursor"]}))["jobs"]
    assert [e["node"]["id"] for e in page2["edges"]] == [ids[1], ids[0]]
    assert not page2["pageInfo"]["hasNextPage"]
    only_images = (await stack.data(team, query, {"f": {"type": "IMAGE"}}))["jobs"]
    assert [e["node"]["id"] for e in only_images["edges"]] == [image["id"]]


async def test_rest_form_accepts_and_reports_jobs(stack: Stack, team: Team) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        r = await client.post(
            "/api/v1/creative-hub/generate/image",
            json={"prompt": "a red shoe", "aspect_ratio": "4:5"},
            headers=team.headers,
        )
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "pending" and body["job_id"]
        job = await client.get(f"/api/v1/creative-hub/jobs/{body['job_id']}", headers=team.headers)
        assert job.status_code == 200
        row = job.json()
        assert row["id"] == body["job_id"] and row["type"] == "image" and row["team_id"] == team.team_id
        assert set(row) >= {
            "user_id",
            "team_id",
            "status",
            "provider",
            "prompt",
            "settings",
            "result_urls",
            "cost_cents",
            "drive_folder_id",
            "metadata",
            "error_message",
            "created_at",
            "completed_at",
        }
        if row["status"] in ("pending", "processing"):
            assert int(job.headers["retry-after"]) > 0
        unauth = await client.post("/api/v1/creative-hub/generate/image", json={"prompt": "x"})
        assert unauth.status_code == 401
        bad = await client.post(
            "/api/v1/creative-hub/generate/image", json={"prompt": ""}, headers=team.headers
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_FAILED"
        unknown = await client.post("/api/v1/creative-hub/generate/hologram", json={}, headers=team.headers)
        assert unknown.status_code == 404
    poor = stack.create_team(1)
    async with httpx.AsyncClient(base_url=stack.url) as client:
        r = await client.post(
            "/api/v1/creative-hub/generate/video", json={"prompt": "x"}, headers=poor.headers
        )
    assert r.status_code == 402 and r.json()["error"]["code"] == "INSUFFICIENT_CREDITS"
    final = (await follow_job(stack, team, body["job_id"]))[-1]
    assert final["status"] == "COMPLETED"


async def test_providers_and_estimates(stack: Stack, team: Team) -> None:
    data = await stack.data(
        team, "{ providers { provider type isDefault strengths configured available priceUnit } }"
    )
    rows = data["providers"]
    assert len(rows) == 14  # the twelve providers and GPT Image 2.6 Sunburst and Flare
    defaults = {r["type"]: r["provider"] for r in rows if r["isDefault"]}
    assert defaults == {
        "IMAGE": "FLUX_2_PRO",
        "VIDEO": "RUNWAY_GEN4",
        "AVATAR": "HEYGEN",
        "TTS": "OPENAI_TTS",
        "COMPOSITE": "CREATOMATE",
    }
    assert all(r["configured"] is False for r in rows)  # no real keys in tests
    assert all(r["available"] for r in rows)
    videos = (await stack.data(team, "{ providers(type: VIDEO) { provider } }"))["providers"]
    assert len(videos) == 5
    q = "query ($i: EstimateCostInput!) { estimateCost(input: $i) { cents provider } }"
    five = (await stack.data(team, q, {"i": {"type": "VIDEO", "durationSeconds": 5}}))["estimateCost"]
    ten = (await stack.data(team, q, {"i": {"type": "VIDEO", "durationSeconds": 10}}))["estimateCost"]
    assert five["provider"] == "RUNWAY_GEN4" and ten["cents"] == 2 * five["cents"]
    # The hold is the estimate: a job priced by estimateCost holds exactly that.
    job = await submit_ok(stack, team, "video", {"prompt": "a bike", "durationSeconds": 5})
    assert job["estimatedCostCents"] == five["cents"]
    wrong = await stack.gql(team, q, {"i": {"type": "TTS", "provider": "RUNWAY_GEN4"}})
    assert wrong["errors"][0]["extensions"]["code"] == "PROVIDER_NOT_SUPPORTED"
    flux = (await stack.data(team, q, {"i": {"type": "IMAGE", "variants": 4}}))["estimateCost"]
    assert flux["cents"] == 4 * 3  # 1 MP at 3 credits (BFL tariff), four variants


@pytest.mark.both_databases
async def test_create_team_and_grant_credits_cli(stack: Stack) -> None:
    team = stack.create_team(5_000, via_cli=True)  # the CLI itself (other tests create in-process)
    out = stack.cli("admin", "grant-credits", "--team", team.team_id, "--cents", "250")
    assert out["balance_cents"] == 5_250 and out["available_cents"] == 5_250
    assert (await balance(stack, team))["balanceCents"] == 5_250
    rows = (await stack.data(team, "{ creditTransactions { nodes { kind amountCents } } }"))[
        "creditTransactions"
    ]["nodes"]
    assert rows[0] == {"kind": "TOP_UP", "amountCents": 250}


async def test_health_and_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] and ready.json()["redis"]
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "creative_hub_jobs_submitted_total" in metrics.text


def test_schema_file_matches_the_code() -> None:
    out = subprocess.run(
        [sys.executable, "main.py", "export-schema"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    committed = (ROOT / "schema.graphql").read_text()
    assert out.stdout == committed, "schema.graphql is stale: run `make schema`"


def test_contract_names_are_in_the_schema() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    names: list[Any] = [
        "generateImage(input: GenerateImageInput!): GeneratePayload!",
        "cancelJob(id: ID!): GeneratePayload!",
        "jobUpdated(id: ID!): CreativeJob!",
        "jobsUpdated(filter: JobFilter = null): CreativeJob!",  # the contract's jobsUpdated, plus an optional filter
        "creditBalanceUpdated: CreditBalance!",
        "estimateCost(input: EstimateCostInput!): CostEstimate!",
        "enum ErrorCode",
        "INSUFFICIENT_CREDITS",
    ]
    for name in names:
        assert name in sdl, name


async def test_legacy_graphql_ws_protocol_and_balance_subscription(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "over the legacy protocol"})
    statuses = []
    async with stack.subscription(team, JOB_UPDATED, {"id": job["id"]}, protocol="graphql-ws") as queue:
        async with asyncio.timeout(60):
            while (payload := await queue.get()) is not None:
                statuses.append(payload["data"]["jobUpdated"]["status"])
    assert statuses[-1] == "COMPLETED"
    async with stack.subscription(
        team, "subscription { creditBalanceUpdated { balanceCents availableCents } }"
    ) as queue:
        first = await asyncio.wait_for(queue.get(), 10)
        assert (
            first["data"]["creditBalanceUpdated"]["balanceCents"]
            == (await balance(stack, team))["balanceCents"]
        )
        await submit_ok(stack, team, "tts", {"text": "spend a little"})
        held = await asyncio.wait_for(queue.get(), 10)
        assert (
            held["data"]["creditBalanceUpdated"]["availableCents"]
            < first["data"]["creditBalanceUpdated"]["availableCents"]
        )


async def test_websocket_without_credentials_is_refused(stack: Stack) -> None:
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


@pytest.mark.both_databases
async def test_data_survives_a_restart(stack: Stack, team: Team) -> None:
    job = await submit_ok(stack, team, "tts", {"text": "remember me"})
    final = (await follow_job(stack, team, job["id"]))[-1]
    stack.stop()
    stack.start()
    again = (await stack.data(team, JOB, {"id": job["id"]}))["job"]
    assert again == {"id": job["id"], "status": "COMPLETED", "costCents": final["costCents"]}
    assert (await balance(stack, team))["balanceCents"] == 5_000 - final["costCents"]
    content_type, data = await download(final["resultUrls"][0])
    assert content_type.startswith("audio/") and len(data) > 0


def test_production_refuses_unsafe_settings(stack: Stack) -> None:
    env = {**stack.env, "CH_ENV": "production"}
    env.pop("CH_SECRET_KEY", None)
    out = subprocess.run(
        [sys.executable, "main.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "CH_SECRET_KEY is not set" in out.stderr
