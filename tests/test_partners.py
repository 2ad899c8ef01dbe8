"""Partner integrations through the real endpoints: API keys and roles, idempotent submissions,
and signed webhooks delivered at least once (verified with the ``standardwebhooks`` library)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import websockets

from tests.stack import Stack, Team, follow_job
from tests.test_generation import CANCEL, balance, download, generate, ledger, submit_ok
from tests.webhook_receiver import running_receiver

CREATE_KEY = """mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  apiKey { id name prefix scopes lastUsedAt revokedAt createdByUserId } secret userErrors { code message field } } }"""
KEYS = (
    "query ($all: Boolean!) { apiKeys(includeRevoked: $all) { id name prefix scopes lastUsedAt revokedAt } }"
)
REVOKE = "mutation ($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } userErrors { code } } }"
ENDPOINT_FIELDS = "id url events enabled disabledReason disabledAt failingSince description"
CREATE_ENDPOINT = f"""mutation ($input: CreateWebhookEndpointInput!) {{ createWebhookEndpoint(input: $input) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ code message field }} }} }}"""
UPDATE_ENDPOINT = f"""mutation ($id: ID!, $input: UpdateWebhookEndpointInput!) {{ updateWebhookEndpoint(id: $id, input: $input) {{
  webhookEndpoint {{ {ENDPOINT_FIELDS} }} userErrors {{ code message }} }} }}"""
ROTATE = "mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret userErrors { code } } }"
DELETE_ENDPOINT = "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }"
DELIVERIES = """query ($id: ID!) { webhookDeliveries(endpointId: $id, first: 50) { nodes {
  id webhookId eventType status attempts lastStatusCode lastError payload attemptLog { statusCode error } } } }"""
REDELIVER = (
    "mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id status } userErrors { code } } }"
)
THRESHOLD = "mutation ($c: Int) { setLowBalanceThreshold(cents: $c) { userErrors { code message } } }"
JOB_EVENTS = ["JOB_COMPLETED", "JOB_FAILED", "JOB_CANCELED"]


def member_of(stack: Stack, team: Team, role: str) -> Team:
    """A person with ``role`` in ``team``, calling with a JWT: what ``admin add-user`` makes, by the
    same calls in the test process (the command itself runs in tests/test_revocation.py)."""
    from models.teams import Role, add_member
    from services.auth import issue_jwt
    from services.settings import Settings

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user = stack.database.run(lambda: add_member(team.team_id, email, Role(role)))
    # the service's key, read (or made, as the command would) where the service keeps it
    settings = Settings(secret_key=stack.env.get("CH_SECRET_KEY"), data_dir=Path(stack.env["CH_DATA_DIR"]))
    secret = settings.secret
    return Team(team.team_id, str(user.id), issue_jwt(user.id, uuid.UUID(team.team_id), secret))


async def create_key(stack: Stack, team: Team, scopes: list[str], name: str = "partner") -> dict[str, Any]:
    payload = (await stack.data(team, CREATE_KEY, {"input": {"name": name, "scopes": scopes}}))[
        "createApiKey"
    ]
    assert payload["userErrors"] == [], payload
    return payload


async def create_endpoint(stack: Stack, team: Team, url: str, events: list[str]) -> dict[str, Any]:
    payload = (await stack.data(team, CREATE_ENDPOINT, {"input": {"url": url, "events": events}}))[
        "createWebhookEndpoint"
    ]
    assert payload["userErrors"] == [], payload
    return payload


async def rest_get(stack: Stack, team: Team, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(f"{stack.url}{path}", headers=team.headers)


# -- API keys and roles ------------------------------------------------------------------------
async def test_admins_manage_api_keys_shown_once_with_scopes_and_last_use(stack: Stack, team: Team) -> None:
    created = await create_key(stack, team, ["READ"], name="reporting")
    key = Team(team.team_id, team.user_id, created["secret"])
    assert created["secret"].startswith("chk_") and created["secret"].startswith(created["apiKey"]["prefix"])
    assert created["apiKey"]["scopes"] == ["READ"] and created["apiKey"]["lastUsedAt"] is None

    listed = (await stack.data(team, KEYS, {"all": False}))["apiKeys"]
    mine = next(k for k in listed if k["id"] == created["apiKey"]["id"])
    assert mine["name"] == "reporting" and "secret" not in mine
    assert created["secret"] not in str(listed)  # the secret is never shown again

    # A read-only key reads but cannot generate (GraphQL or REST) or see the ledger.
    assert (await stack.data(key, "{ jobs { edges { node { id } } } }"))["jobs"]["edges"] == []
    body = await stack.gql(key, 'mutation { generateTts(input: {text: "hi"}) { job { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await stack.gql(key, "{ creditTransactions { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/tts", json={"text": "hi"}, headers=key.headers
        )
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    used = next(k for k in (await stack.data(team, KEYS, {"all": False}))["apiKeys"] if k["id"] == mine["id"])
    assert used["lastUsedAt"] is not None

    # Made by an owner, it still manages nothing: no wider key, no revoking, no webhooks.
    wider = await stack.data(key, CREATE_KEY, {"input": {"name": "escalate", "scopes": ["BILLING"]}})
    assert wider["createApiKey"]["secret"] is None
    assert wider["createApiKey"]["userErrors"][0]["code"] == "FORBIDDEN"
    full = await create_key(stack, team, ["READ", "GENERATE", "BILLING"], name="full")
    refused = (await stack.data(key, REVOKE, {"id": full["apiKey"]["id"]}))["revokeApiKey"]
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    hook = await stack.data(
        key, CREATE_ENDPOINT, {"input": {"url": "https://hooks.example.com/x", "events": JOB_EVENTS}}
    )
    assert hook["createWebhookEndpoint"]["userErrors"][0]["code"] == "FORBIDDEN"
    body = await stack.gql(key, KEYS, {"all": False})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A key with every scope, made by an owner, does manage (it acts with its creator's role).
    full_key = Team(team.team_id, team.user_id, full["secret"])
    assert (await stack.data(full_key, REVOKE, {"id": full["apiKey"]["id"]}))["revokeApiKey"][
        "userErrors"
    ] == []

    # Revoked: refused everywhere at once, listed only on request.
    revoked = (await stack.data(team, REVOKE, {"id": mine["id"]}))["revokeApiKey"]
    assert revoked["userErrors"] == [] and revoked["apiKey"]["revokedAt"]
    body = await stack.gql(key, "{ jobs { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await rest_get(stack, key, f"/api/v1/creative-hub/jobs/{uuid.uuid4()}")).status_code == 401
    assert mine["id"] not in {k["id"] for k in (await stack.data(team, KEYS, {"all": False}))["apiKeys"]}
    assert mine["id"] in {k["id"] for k in (await stack.data(team, KEYS, {"all": True}))["apiKeys"]}

    bad = await stack.data(team, CREATE_KEY, {"input": {"name": " ", "scopes": ["READ"]}})
    assert bad["createApiKey"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
    for credential in ("chk_garbage", "not-a-key", "a.b.c"):
        body = await stack.gql(
            Team(team.team_id, team.user_id, credential), "{ creditBalance { balanceCents } }"
        )
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_members_generate_and_read_but_only_admins_manage(stack: Stack, team: Team) -> None:
    member = member_of(stack, team, "member")
    admin = member_of(stack, team, "admin")
    viewer = "{ viewer { userId teamId role isAdmin scopes apiKeyId } }"
    assert (await stack.data(member, viewer))["viewer"] == {
        "userId": member.user_id,
        "teamId": team.team_id,
        "role": "member",
        "isAdmin": False,
        "scopes": ["READ", "GENERATE", "BILLING"],
        "apiKeyId": None,
    }
    owner = (await stack.data(team, viewer))["viewer"]
    assert owner["role"] == "owner" and owner["isAdmin"] and owner["apiKeyId"]
    job = await submit_ok(stack, member, "tts", {"text": "a member's words"})
    assert (await stack.data(member, "query ($id: ID!) { job(id: $id) { id } }", {"id": job["id"]}))["job"]

    forbidden = [
        (CREATE_KEY, {"input": {"name": "x", "scopes": ["READ"]}}, "createApiKey"),
        (
            CREATE_ENDPOINT,
            {"input": {"url": "https://example.com/h", "events": JOB_EVENTS}},
            "createWebhookEndpoint",
        ),
        (THRESHOLD, {"c": 100}, "setLowBalanceThreshold"),
    ]
    for document, variables, name in forbidden:
        payload = (await stack.data(member, document, variables))[name]
        assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"], (name, payload)
    for document in ("{ apiKeys { id } }", "{ webhookEndpoints { id } }"):
        assert (await stack.gql(member, document))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    owner_key = (await stack.data(team, KEYS, {"all": False}))["apiKeys"][0]["id"]
    assert (await stack.data(member, REVOKE, {"id": owner_key}))["revokeApiKey"]["userErrors"][0][
        "code"
    ] == "FORBIDDEN"

    # An admin may do all of it; a key acts with its creator's role.
    created = await create_key(stack, admin, ["READ", "GENERATE"])
    assert created["apiKey"]["createdByUserId"] == admin.user_id
    assert (await stack.data(admin, THRESHOLD, {"c": None}))["setLowBalanceThreshold"]["userErrors"] == []


# -- idempotency -------------------------------------------------------------------------------
@pytest.mark.both_databases
async def test_concurrent_retries_with_one_idempotency_key_make_one_job_and_one_charge(stack: Stack) -> None:
    team = stack.create_team(5_000)
    key = f"order-{uuid.uuid4()}"
    body = {"text": "Welcome to the spring sale", "idempotency_key": key}

    async def graphql() -> str:
        payload = await generate(stack, team, "tts", {"text": body["text"], "idempotencyKey": key})
        assert payload["userErrors"] == [], payload
        return str(payload["job"]["id"])

    async def rest(client: httpx.AsyncClient) -> str:
        r = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/tts",
            json={"text": body["text"]},
            headers={**team.headers, "Idempotency-Key": key},
        )
        assert r.status_code == 202, r.text
        return str(r.json()["job_id"])

    async with httpx.AsyncClient(timeout=30) as client:
        ids = await asyncio.gather(*[graphql() for _ in range(10)], *[rest(client) for _ in range(10)])
    assert len(set(ids)) == 1
    final = (await follow_job(stack, team, ids[0]))[-1]
    assert final["status"] == "COMPLETED"
    rows = await ledger(stack, team)
    assert [r["kind"] for r in rows if r["jobId"] == ids[0]].count("HOLD") == 1
    assert [r["kind"] for r in rows if r["jobId"] == ids[0]].count("CAPTURE") == 1
    assert (await balance(stack, team))["balanceCents"] == 5_000 - final["costCents"]
    assert len((await stack.data(team, "{ jobs { edges { cursor } } }"))["jobs"]["edges"]) == 1

    # A retry after completion returns the same finished job; a different input is a conflict.
    again = await generate(stack, team, "tts", {"text": body["text"], "idempotencyKey": key})
    assert again["job"]["id"] == ids[0] and again["job"]["status"] == "COMPLETED"
    changed = await generate(stack, team, "tts", {"text": "something else", "idempotencyKey": key})
    assert changed["job"] is None and changed["userErrors"][0]["code"] == "CONFLICT"
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{stack.url}/api/v1/creative-hub/generate/tts",
            json={"text": "something else"},
            headers={**team.headers, "Idempotency-Key": key},
        )
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"


# -- webhooks ----------------------------------------------------------------------------------
def secrets_of(payload: dict[str, Any]) -> list[str]:
    return [payload["secret"]]


async def deliveries(stack: Stack, team: Team, endpoint_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await stack.data(team, DELIVERIES, {"id": endpoint_id}))[
        "webhookDeliveries"
    ]["nodes"]
    return rows


@pytest.mark.both_databases
async def test_every_terminal_event_is_delivered_signed_even_after_the_receiver_was_down(
    stack: Stack,
) -> None:
    team = stack.create_team(5_000)
    async with running_receiver() as receiver:
        created = await create_endpoint(stack, team, receiver.url, JOB_EVENTS)
        assert created["secret"].startswith("whsec_")
        receiver.secrets = secrets_of(created)
        endpoint_id = created["webhookEndpoint"]["id"]
        receiver.down_for = 3  # the first three requests find it down

        done = await submit_ok(stack, team, "tts", {"text": "a finished line"})
        failed = await submit_ok(stack, team, "tts", {"text": "this one breaks [sim:fail]"})
        canceled = await submit_ok(
            stack, team, "video", {"prompt": "a long render [sim:slow]", "durationSeconds": 5}
        )
        assert (await stack.data(team, CANCEL, {"id": canceled["id"]}))["cancelJob"]["userErrors"] == []

        expected = {done["id"]: "job.completed", failed["id"]: "job.failed", canceled["id"]: "job.canceled"}
        await receiver.wait_for(lambda r: {x.body["data"]["id"] for x in r.received} >= set(expected), 60)
        for got in receiver.received:
            assert got.verified, got
            assert got.body["type"] == expected[got.body["data"]["id"]]
            assert got.webhook_id.startswith("msg_")
        completed = receiver.of_type("job.completed")[0].body["data"]
        assert completed["status"] == "completed" and completed["cost_cents"] > 0
        content_type, _ = await download(completed["result_urls"][0])
        assert content_type.startswith("audio/")

        # The retried deliveries kept their webhook-id, and the log shows every attempt.
        retried_ids = set(receiver.attempts[:3])
        assert retried_ids <= {r.webhook_id for r in receiver.received}
        log = await deliveries(stack, team, endpoint_id)
        assert {d["status"] for d in log} == {"SUCCEEDED"} and len(log) == 3
        assert sum(d["attempts"] for d in log) == 6
        assert any(a["statusCode"] == 503 for d in log for a in d["attemptLog"])

        # Redelivery on request: same id and body again.
        first = next(d for d in log if d["eventType"] == "JOB_COMPLETED")
        before = len(receiver.received)
        assert (await stack.data(team, REDELIVER, {"id": first["id"]}))["redeliverWebhook"][
            "userErrors"
        ] == []
        await receiver.wait_for(lambda r: len(r.received) > before)
        assert receiver.received[-1].webhook_id == first["webhookId"] and receiver.received[-1].verified

        # Rotation: for a day both the new and the old secret sign.
        rotated = (await stack.data(team, ROTATE, {"id": endpoint_id}))["rotateWebhookSecret"]
        old_secret = receiver.secrets[0]
        receiver.secrets = [rotated["secret"], old_secret]
        late = await submit_ok(stack, team, "tts", {"text": "after the rotation"})
        await receiver.wait_for(lambda r: any(x.body["data"]["id"] == late["id"] for x in r.received), 60)
        got = next(x for x in receiver.received if x.body["data"]["id"] == late["id"])
        assert got.verified and len(got.signature.split()) == 2
        assert got.verified_with == {rotated["secret"], old_secret}


async def test_low_balance_webhook_and_endpoint_management(stack: Stack) -> None:
    team = stack.create_team(1_000)
    async with running_receiver() as receiver:
        created = await create_endpoint(stack, team, receiver.url, ["CREDITS_LOW_BALANCE"])
        receiver.secrets = secrets_of(created)
        endpoint_id = created["webhookEndpoint"]["id"]
        assert (await stack.data(team, THRESHOLD, {"c": 1_000}))["setLowBalanceThreshold"]["userErrors"] == []
        await submit_ok(stack, team, "tts", {"text": "spend a little"})
        await receiver.wait_for(lambda r: bool(r.of_type("credits.low_balance")), 30)
        event = receiver.of_type("credits.low_balance")[0]
        assert event.verified and event.body["data"]["low_balance_threshold_cents"] == 1_000

        # The signing secret is derived from CH_SECRET_KEY, never stored: a copy of the database signs nothing.
        if stack.env["CH_DATABASE_URL"].startswith("sqlite://"):
            database = Path(stack.env["CH_DATABASE_URL"].removeprefix("sqlite://"))
            stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
            assert created["secret"].encode() not in stored and created["secret"][6:].encode() not in stored
        listed = (await stack.data(team, "{ webhookEndpoints { id url events } }"))["webhookEndpoints"]
        assert listed == [{"id": endpoint_id, "url": receiver.url, "events": ["CREDITS_LOW_BALANCE"]}]
        updated = (
            await stack.data(
                team,
                UPDATE_ENDPOINT,
                {"id": endpoint_id, "input": {"events": ["JOB_FAILED"], "description": "ops"}},
            )
        )["updateWebhookEndpoint"]
        assert (
            updated["webhookEndpoint"]["events"] == ["JOB_FAILED"]
            and updated["webhookEndpoint"]["description"] == "ops"
        )
        bad = (await stack.data(team, UPDATE_ENDPOINT, {"id": endpoint_id, "input": {"events": []}}))[
            "updateWebhookEndpoint"
        ]
        assert bad["userErrors"][0]["code"] == "VALIDATION_FAILED"
        bad = await stack.data(
            team, CREATE_ENDPOINT, {"input": {"url": "ftp://example.com/x", "events": JOB_EVENTS}}
        )
        assert bad["createWebhookEndpoint"]["userErrors"][0]["code"] == "VALIDATION_FAILED"
        gone = (await stack.data(team, DELETE_ENDPOINT, {"id": endpoint_id}))["deleteWebhookEndpoint"]
        assert gone == {"deletedId": endpoint_id, "userErrors": []}
        assert (await stack.data(team, "{ webhookEndpoints { id } }"))["webhookEndpoints"] == []


@pytest.mark.both_databases
async def test_an_endpoint_that_keeps_failing_is_disabled_and_an_event_says_so(stack: Stack) -> None:
    team = stack.create_team(5_000)
    async with running_receiver() as broken, running_receiver() as watcher:
        broken.always_down = True
        dead = await create_endpoint(stack, team, broken.url, ["JOB_COMPLETED"])
        ops = await create_endpoint(stack, team, watcher.url, ["WEBHOOK_ENDPOINT_DISABLED"])
        watcher.secrets = secrets_of(ops)
        job = await submit_ok(stack, team, "tts", {"text": "nobody hears this"})
        assert (await follow_job(stack, team, job["id"]))[-1]["status"] == "COMPLETED"
        # The whole schedule (8 attempts over ~27.6 h, compressed by CH_WEBHOOK_RETRY_SCALE in tests).
        await watcher.wait_for(lambda r: bool(r.of_type("webhook.endpoint_disabled")), 90)
        event = watcher.of_type("webhook.endpoint_disabled")[0]
        assert event.verified and event.body["data"]["endpoint_id"] == dead["webhookEndpoint"]["id"]
        assert len(broken.attempts) == 8 and len(set(broken.attempts)) == 1
        state = (
            await stack.data(
                team,
                "query ($id: ID!) { webhookEndpoint(id: $id) { enabled disabledReason } }",
                {"id": dead["webhookEndpoint"]["id"]},
            )
        )["webhookEndpoint"]
        assert state["enabled"] is False and "failing continuously" in state["disabledReason"]
        log = await deliveries(stack, team, dead["webhookEndpoint"]["id"])
        assert log[0]["status"] == "FAILED" and log[0]["attempts"] == 8 and log[0]["lastStatusCode"] == 503

        # Fixed and re-enabled: a redelivery now arrives.
        broken.always_down = False
        broken.secrets = secrets_of(dead)
        enabled = await stack.data(
            team, UPDATE_ENDPOINT, {"id": dead["webhookEndpoint"]["id"], "input": {"enabled": True}}
        )
        assert enabled["updateWebhookEndpoint"]["webhookEndpoint"]["enabled"] is True
        assert (await stack.data(team, REDELIVER, {"id": log[0]["id"]}))["redeliverWebhook"][
            "userErrors"
        ] == []
        await broken.wait_for(lambda r: bool(r.received))
        assert broken.received[0].verified and broken.received[0].body["data"]["id"] == job["id"]


FORTY_DAYS_AGO = timedelta(days=40)


def _prune(stack: Stack, days: str = "30") -> dict[str, Any]:
    return stack.cli("admin", "prune-webhook-log", "--older-than-days", days)


@pytest.mark.both_databases
async def test_the_delivery_log_is_kept_for_the_retention_period_then_pruned(stack: Stack) -> None:
    from models.events import TeamEvent
    from models.webhooks import DeliveryStatus, WebhookDelivery, prune_log

    team = stack.create_team(5_000)
    async with running_receiver() as receiver:
        created = await create_endpoint(stack, team, receiver.url, ["JOB_COMPLETED"])
        receiver.secrets = secrets_of(created)
        endpoint_id = created["webhookEndpoint"]["id"]
        old = await submit_ok(stack, team, "tts", {"text": "delivered long ago"})
        kept = await submit_ok(stack, team, "tts", {"text": "its event is old, its delivery is not"})
        await receiver.wait_for(lambda r: len(r.received) == 2, 60)
        log = {d["payload"]["data"]["id"]: d for d in await deliveries(stack, team, endpoint_id)}
        gone, stays = log[old["id"]], log[kept["id"]]
        event_of = {d["id"]: uuid.UUID(hex=d["webhookId"].removeprefix("msg_")) for d in log.values()}

        async def forty_days_pass() -> dict[str, Any]:
            """For the first job's delivery and event, and for the second job's event only. Beside
            them, old rows that must outlive any retention: a delivery still waiting for its next
            attempt (and its event), and a low-balance crossing not yet told to subscribers."""
            then = datetime.now(UTC) - FORTY_DAYS_AGO
            await WebhookDelivery.filter(id=gone["id"]).update(created_at=then, updated_at=then)
            await TeamEvent.filter(id__in=[event_of[gone["id"]], event_of[stays["id"]]]).update(
                created_at=then
            )
            waiting = await TeamEvent.create(
                team_id=team.team_id, kind="job.completed", payload={"id": "x"}, dispatched_at=then
            )
            pending = await WebhookDelivery.create(
                endpoint_id=endpoint_id,
                team_id=team.team_id,
                event=waiting,
                event_type="job.completed",
                payload="{}",
                status=DeliveryStatus.PENDING,
                attempts=3,
                next_attempt_at=datetime.now(UTC) + timedelta(days=1),
            )
            unpublished = await TeamEvent.create(
                team_id=team.team_id, kind="credits.low_balance", payload={}, dispatched_at=then
            )
            await TeamEvent.filter(id__in=[waiting.id, unpublished.id]).update(created_at=then)
            await WebhookDelivery.filter(id=pending.id).update(created_at=then, updated_at=then)
            return {"pending": str(pending.id), "events": [waiting.id, unpublished.id]}

        survivors = stack.database.run(forty_days_pass)  # the service's database, as time passing would
        assert _prune(stack) == {
            "older_than_days": 30.0,
            "webhook_deliveries_pruned": 1,
            "team_events_pruned": 1,  # the other old events still have a use
        }
        assert {d["id"] for d in await deliveries(stack, team, endpoint_id)} == {
            stays["id"],
            survivors["pending"],
        }
        assert stack.database.run(lambda: TeamEvent.filter(id__in=survivors["events"]).count()) == 2
        missing = (await stack.data(team, REDELIVER, {"id": gone["id"]}))["redeliverWebhook"]
        assert missing["userErrors"][0]["code"] == "NOT_FOUND"
        # What is kept still works: its event can be delivered again, with the same webhook-id.
        assert (await stack.data(team, REDELIVER, {"id": stays["id"]}))["redeliverWebhook"][
            "userErrors"
        ] == []
        await receiver.wait_for(lambda r: len(r.received) == 3)
        assert receiver.received[-1].webhook_id == stays["webhookId"] and receiver.received[-1].verified

        thirty_days_ago = datetime.now(UTC) - timedelta(days=30)
        again = stack.database.run(lambda: prune_log(thirty_days_ago))  # the command's own function
        assert again == {"webhook_deliveries_pruned": 0, "team_events_pruned": 0}
        with pytest.raises(RuntimeError, match="must be more than 0"):
            _prune(stack, "0")

    # Its redelivery done, the kept delivery grows old too: the next prune takes it, the pending
    # one stays.
    then = datetime.now(UTC) - FORTY_DAYS_AGO
    stack.database.run(lambda: WebhookDelivery.filter(id=stays["id"]).update(updated_at=then))
    pruned = stack.database.run(lambda: prune_log(datetime.now(UTC) - timedelta(days=30)))
    assert pruned["webhook_deliveries_pruned"] == 1
    assert [d["id"] for d in await deliveries(stack, team, endpoint_id)] == [survivors["pending"]]


async def test_the_sweep_prunes_with_the_configured_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody has to run the command: the workers' sweep (tasks.worker.sweep) prunes a batch of
    what is older than CH_WEBHOOK_LOG_RETENTION_DAYS."""
    from models import webhooks
    from services.settings import Settings
    from tasks import webhooks as webhook_tasks

    asked: list[datetime] = []

    async def prune_log(before: datetime) -> dict[str, int]:
        asked.append(before)
        return {"webhook_deliveries_pruned": 4, "team_events_pruned": 2}

    async def nothing_pending(body_of: Any, team_id: Any = None) -> list[Any]:
        return []

    class NothingDue:
        def __aiter__(self) -> Any:
            return self

        async def __anext__(self) -> Any:
            raise StopAsyncIteration

    monkeypatch.setattr(webhooks, "prune_log", prune_log)
    monkeypatch.setattr(webhooks, "dispatch_pending_events", nothing_pending)
    monkeypatch.setattr(webhooks, "due_deliveries", lambda before: NothingDue())
    services: Any = SimpleNamespace(settings=Settings(webhook_log_retention_days=30))
    report = await webhook_tasks.sweep(services)
    assert report == {
        "webhooks_dispatched": 0,
        "webhooks_requeued": 0,
        "webhook_deliveries_pruned": 4,
        "team_events_pruned": 2,
    }
    [before] = asked
    assert abs((datetime.now(UTC) - before) - timedelta(days=30)) < timedelta(minutes=1)


async def test_revoking_a_key_closes_its_open_subscriptions(stack: Stack, team: Team) -> None:
    created = await create_key(stack, team, ["READ"], name="dashboard")
    async with websockets.connect(stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {created['secret']}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "subscription { jobsUpdated { id } }"}}
            )
        )
        revoked = (await stack.data(team, REVOKE, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
        assert revoked["userErrors"] == []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(15):  # the test stacks re-check credentials every second
                while True:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
