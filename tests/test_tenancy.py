"""Tenancy: a second team learns nothing of the first, whatever it asks.

Team A gets one of every kind of object through the public API (a completed job and an open one,
their Drive files and folder, an API key, a webhook endpoint and its deliveries, ledger rows).
Then team B (its owner's API key, and a member's JWT) walks EVERY query, mutation and
subscription of the introspected schema with A's ids filled in wherever an ID goes, and the same
operation again with a random id that exists nowhere: the two answers must be identical once the
ids are swapped back, and no answer may carry anything of A. The walker refuses operations and ID
arguments it does not know, so a new operation cannot skip the walk. Subscriptions run over every
transport; the REST routes and file URLs get the same treatment; mutations must leave A's state
exactly as it was."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import websockets

from tests.stack import TERMINAL, Stack, Team, follow_job
from web import rest, uploads

MISSING_PLACEHOLDER = "<{kind}>"
ROOTS = ("Query", "Mutation", "Subscription")
A_CREDITS = 100_000
A_THRESHOLD = 1_234
WAIT = 30.0  # the bound on every wait for an event

# -- what the walker knows ------------------------------------------------------------------------
# Every operation of the schema. A new one fails test_walker_knows_every_operation until it is
# listed here (and, if it takes an ID, until ID_SLOTS says which of A's objects to pass).
HANDLED: dict[str, set[str]] = {
    "Query": {
        "job",
        "jobs",
        "batch",
        "creditBalance",
        "creditTransactions",
        "creditUsage",
        "providers",
        "estimateCost",
        "placements",
        "apiKeys",
        "webhookEndpoints",
        "webhookEndpoint",
        "webhookDeliveries",
        "viewer",
        "driveFolders",
        "driveFiles",
        "driveFile",
        "driveUsage",
        "avatars",  # the provider's library: one per deployment, nothing of a team
        "voices",
        "creative",
        "estimateCreative",
        "spendCaps",
        "billingContacts",
        "teamMembers",
    },
    "Mutation": {
        "generateImage",
        "generateVideo",
        "generateAvatar",
        "generateTts",
        "generateComposite",
        "cancelJob",
        "rateJob",
        "setLowBalanceThreshold",
        "createApiKey",
        "revokeApiKey",
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        "deleteWebhookEndpoint",
        "rotateWebhookSecret",
        "redeliverWebhook",
        "createDriveFolder",
        "renameDriveFolder",
        "moveDriveFolder",
        "deleteDriveFolder",
        "renameDriveFile",
        "moveDriveFile",
        "deleteDriveFile",
        "uploadDriveFile",
        "createUpload",
        "completeUpload",
        "createCreative",
        "cancelCreative",
        "setSpendCap",
        "setBillingContacts",
    },
    "Subscription": {"jobUpdated", "jobsUpdated", "creditBalanceUpdated", "creativeUpdated"},
}

# Where an ID goes -> which of A's objects to pass there (each kind is walked in turn).
# Keys are (owner, name): owner is "Root.operation" for an argument, the input type for a field.
ID_SLOTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Query.job", "id"): ("job", "open_job"),
    ("Query.webhookEndpoint", "id"): ("endpoint",),
    ("Query.webhookDeliveries", "endpointId"): ("endpoint",),
    ("Mutation.cancelJob", "id"): ("open_job", "job"),
    ("Query.batch", "id"): ("batch",),
    ("Mutation.rateJob", "id"): ("job", "open_job"),
    ("JobFilter", "batchId"): ("batch",),
    ("Mutation.revokeApiKey", "id"): ("api_key", "owner_key"),
    ("Mutation.updateWebhookEndpoint", "id"): ("endpoint",),
    ("Mutation.deleteWebhookEndpoint", "id"): ("endpoint",),
    ("Mutation.rotateWebhookSecret", "id"): ("endpoint",),
    ("Mutation.redeliverWebhook", "deliveryId"): ("delivery",),
    ("Subscription.jobUpdated", "id"): ("job", "open_job"),
    ("GenerateVideoInput", "imageFileId"): ("image_file", "audio_file"),
    ("GenerateImageInput", "referenceFileIds"): ("image_file", "audio_file"),
    ("GenerateAvatarInput", "portraitFileId"): ("image_file", "audio_file"),
    ("CompositeInputRef", "jobId"): ("job", "open_job"),
    ("CompositeInputRef", "fileId"): ("image_file", "audio_file"),
    ("CreditTransactionFilter", "jobId"): ("job",),
    ("*", "driveFolderId"): ("folder",),
    ("Query.driveFiles", "folderId"): ("folder",),
    ("DriveFileFilter", "jobId"): ("job",),
    ("Query.driveFile", "id"): ("image_file", "audio_file"),
    ("Mutation.createDriveFolder", "parentId"): ("folder",),
    ("Mutation.renameDriveFolder", "id"): ("folder",),
    ("Mutation.moveDriveFolder", "id"): ("folder",),
    ("Mutation.moveDriveFolder", "parentId"): ("folder",),
    ("Mutation.deleteDriveFolder", "id"): ("folder",),
    ("Mutation.renameDriveFile", "id"): ("image_file", "audio_file"),
    ("Mutation.moveDriveFile", "id"): ("image_file", "audio_file"),
    ("Mutation.moveDriveFile", "folderId"): ("folder",),
    ("Mutation.deleteDriveFile", "id"): ("image_file", "audio_file"),
    ("Mutation.uploadDriveFile", "folderId"): ("folder",),
    ("CreateUploadInput", "folderId"): ("folder",),
    ("Mutation.completeUpload", "fileId"): ("pending_upload", "image_file"),
    ("Query.creative", "id"): ("creative",),
    ("Mutation.cancelCreative", "id"): ("creative",),
    ("Subscription.creativeUpdated", "id"): ("creative",),
    ("ImageWithLogoInput", "logoFileId"): ("image_file", "audio_file"),
    ("LocalizedAvatarInput", "portraitFileId"): ("image_file", "audio_file"),
    ("SetSpendCapInput", "userId"): ("user",),
    ("SetSpendCapInput", "apiKeyId"): ("api_key", "owner_key"),
}

# Required scalars by name (anything else gets a generic value of its type).
STRINGS = {
    "prompt": "a walker's prompt",
    "text": "a walker's text",
    "script": "a walker's script",
    "name": "walker",
    # ids of the providers' libraries (the simulator's HeyGen look and voice): checked before the
    # team's own objects are looked up, so they must be real for the walk to reach those
    "avatarId": "Daisy-inskirt-20220818",
    "voiceId": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
    "locale": "en",  # a locale HeyGen's library has voices for (a creative's LOCALIZED_AVATAR)
}
# Input fields set beyond the required ones, so the walk reaches the id check (a composite needs a
# template) or tries the worst (retarget A's webhook and switch it off).
INPUT_OVERRIDES: dict[str, dict[str, Any]] = {
    "GenerateCompositeInput": {"templateId": "walker-template"},
    # avatarId is optional beside portraitFileId (exactly one is given); the portrait is looked up first
    "GenerateAvatarInput": {"avatarId": "Daisy-inskirt-20220818"},
    "LocalizedAvatarInput": {"script": "a walker's script"},
    "UpdateWebhookEndpointInput": {"url": "{walk_url}", "description": "taken over", "enabled": False},
    "CreateUploadInput": {"contentType": "image/png", "sizeBytes": 10},
}

# REST routes: each one is walked below (or, for health, carries nothing of a team).
REST_HANDLED = {
    "/healthz": "no team data",
    "/readyz": "no team data",
    "/files/{file_id}": "test_rest_routes_and_files",
    "/api/v1/creative-hub/generate/{type}": "test_rest_routes_and_files",
    "/api/v1/creative-hub/jobs/{job_id}": "test_rest_routes_and_files",
    "/api/v1/creative-hub/creatives": "test_rest_routes_and_files",
    "/api/v1/creative-hub/creatives/{creative_id}": "test_rest_routes_and_files",
    "/api/v1/creative-hub/creatives/{creative_id}/cancel": "test_rest_routes_and_files",
    "/uploads/{file_id}": "test_rest_routes_and_files",
    "/files/{file_id}/thumbnail": "test_rest_routes_and_files",
    "/api/v1/drive/folders": "test_rest_routes_and_files",
    "/api/v1/drive/files": "test_rest_routes_and_files",
    "/api/v1/drive/files/{file_id}": "test_rest_routes_and_files",
    "/api/v1/drive/usage": "test_rest_routes_and_files",
    "/api/v1/creative-hub/ledger.csv": "test_rest_routes_and_files",
}
PROVIDER_SIDE_IDS = {"avatar_id", "voice_id", "template_id"}  # names at the provider, not our objects
# The REST generate bodies: what each type needs, and where A's ids go.
REST_GENERATE: dict[str, tuple[dict[str, Any], dict[str, tuple[str, ...]]]] = {
    "image": (
        {"prompt": "a walker's prompt"},
        {"reference_file_ids": ("image_file", "audio_file"), "drive_folder_id": ("folder",)},
    ),
    "video": (
        {"prompt": "a walker's prompt"},
        {"image_file_id": ("image_file", "audio_file"), "drive_folder_id": ("folder",)},
    ),
    "avatar": (
        {
            "script": "a walker's script",
            "avatar_id": "Daisy-inskirt-20220818",
            "voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
        },
        {"portrait_file_id": ("image_file", "audio_file"), "drive_folder_id": ("folder",)},
    ),
    "tts": ({"text": "a walker's text"}, {"drive_folder_id": ("folder",)}),
    "composite": (
        {"template_id": "walker-template"},
        {
            "inputs.job_id": ("job", "open_job"),
            "inputs.file_id": ("image_file", "audio_file"),
            "drive_folder_id": ("folder",),
        },
    ),
}

INTROSPECTION = """
query Walk {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name
      fields(includeDeprecated: true) { name args { name defaultValue type { ...T } } type { ...T } }
      inputFields { name defaultValue type { ...T } }
      enumValues(includeDeprecated: true) { name }
    }
  }
}
fragment T on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}
"""

JOB_SNAPSHOT = """query ($id: ID!) { job(id: $id) { id type status provider prompt settings resultUrls costCents
estimatedCostCents overrunCents driveFolderId metadata errorMessage userId teamId version createdAt startedAt
completedAt updatedAt } }"""
KEYS = "{ apiKeys(includeRevoked: true) { id name prefix scopes createdByUserId createdAt revokedAt } }"
ENDPOINTS = "{ webhookEndpoints { id url description events enabled disabledReason disabledAt failingSince createdAt updatedAt } }"
DELIVERIES = """query ($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) { nodes { id endpointId eventId
webhookId eventType payload status attempts nextAttemptAt lastStatusCode lastError deliveredAt createdAt } } }"""
BALANCE = "{ creditBalance { teamId balanceCents availableCents heldCents lowBalanceThresholdCents } }"
LEDGER = "{ creditTransactions(first: 100) { nodes { id kind amountCents jobId balanceAfterCents } } }"
ALL_JOBS = "{ jobs(first: 100) { nodes { id status costCents userId teamId } } }"
CREATE_KEY = """mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) {
apiKey { id prefix } secret userErrors { code message } } }"""
REVOKE_KEY = "mutation ($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } userErrors { code } } }"
CREATE_ENDPOINT = """mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
webhookEndpoint { id url } secret userErrors { code message } } }"""
JOB_FIELDS = "id status costCents estimatedCostCents resultUrls driveFolderId teamId batchId"
GENERATE = {
    "tts": f"mutation ($i: GenerateTtsInput!) {{ generateTts(input: $i) {{ job {{ {JOB_FIELDS} }} userErrors {{ code message }} }} }}",
    "image": f"mutation ($i: GenerateImageInput!) {{ generateImage(input: $i) {{ job {{ {JOB_FIELDS} }} userErrors {{ code message }} }} }}",
    "video": f"mutation ($i: GenerateVideoInput!) {{ generateVideo(input: $i) {{ job {{ {JOB_FIELDS} }} userErrors {{ code message }} }} }}",
}
CANCEL = "mutation ($id: ID!) { cancelJob(id: $id) { userErrors { code } } }"
SET_THRESHOLD = "mutation ($c: Int) { setLowBalanceThreshold(cents: $c) { creditBalance { teamId } userErrors { code } } }"
SET_CAP = "mutation ($input: SetSpendCapInput!) { setSpendCap(input: $input) { spendCap { id } userErrors { code } } }"
SET_CONTACTS = "mutation ($e: [String!]!) { setBillingContacts(emails: $e) { userErrors { code } } }"
CAPS = "{ spendCaps { id subject { kind id name } period limitCents } billingContacts }"


class _Omit:
    """An argument or input field the walker leaves out."""


OMIT = _Omit()


# -- a webhook receiver ---------------------------------------------------------------------------
class Receiver:
    """Answers every POST with 204 and records (path, JSON body). It answers (rather than a dead
    port) so A's deliveries succeed once and A's endpoint never changes by itself: a failing one
    is retried, marked failing and disabled within the test run (CH_WEBHOOK_RETRY_SCALE)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._cond:
                    receiver.posts.append((self.path, json.loads(body or b"{}")))
                    receiver._cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    async def wait_for(
        self, what: str, predicate: Callable[[list[tuple[str, dict[str, Any]]]], bool]
    ) -> None:
        def wait() -> bool:
            with self._cond:
                return self._cond.wait_for(lambda: predicate(list(self.posts)), WAIT)

        assert await asyncio.to_thread(wait), f"the webhook receiver never got {what}: {self.posts}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- clients --------------------------------------------------------------------------------------
def headers_of(who: Team | None) -> dict[str, str]:
    return who.headers if who else {}


class Api:
    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack = stack
        self.client = client

    async def gql(
        self, who: Team | None, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        r = await self.client.post(
            f"{self.stack.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers_of(who),
        )
        return r.status_code, r.json()

    async def data(self, who: Team, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        status, body = await self.gql(who, query, variables)
        assert status == 200 and "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def generate(self, who: Team, kind: str, input: dict[str, Any]) -> dict[str, Any]:
        payload = next(iter((await self.data(who, GENERATE[kind], {"i": input})).values()))
        assert payload["userErrors"] == [], payload
        job: dict[str, Any] = payload["job"]
        return job


@dataclass
class Sub:
    """One subscription's frames as they arrive: {"type": next|error|complete|closed, ...}."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, frame: dict[str, Any], *, final: bool = False) -> None:
        self.frames.append(frame)
        self.done = self.done or final
        self.changed.set()

    def payloads(self) -> list[dict[str, Any]]:
        return [f["payload"] for f in self.frames if f["type"] == "next"]

    async def wait_for(self, what: str, predicate: Callable[[list[dict[str, Any]]], bool]) -> None:
        try:
            async with asyncio.timeout(WAIT):
                while not predicate(self.payloads()):
                    assert not self.done, f"the subscription ended before {what}: {self.frames}"
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {WAIT} s: {self.frames}") from None

    async def wait_done(self) -> None:
        try:
            async with asyncio.timeout(WAIT):
                while not self.done:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            self.add({"type": "timeout"}, final=True)


TRANSPORTS = ("ws", "ws-legacy", "ws-plain", "multipart", "sse")
PART = re.compile(r"\r\n\r\n(\{.*?\})\r\n--graphql", re.S)


async def _run_ws(
    stack: Stack, who: Team | None, body: dict[str, Any], sub: Sub, path: str, legacy: bool
) -> None:
    url = stack.url.replace("http://", "ws://") + path
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    init = {"Authorization": f"Bearer {who.api_key}"} if who else {}
    try:
        async with websockets.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "connection_ack":
                    break
                if msg["type"] != "ka":
                    sub.add({"type": "error", "payload": msg}, final=True)
                    return
            await ws.send(
                json.dumps({"id": "1", "type": "start" if legacy else "subscribe", "payload": body})
            )
            async for raw in ws:
                msg = json.loads(raw)
                kind = msg["type"]
                if kind in ("next", "data"):
                    sub.add({"type": "next", "payload": msg["payload"]})
                elif kind == "complete":
                    sub.add({"type": "complete"}, final=True)
                    return
                elif kind == "error":
                    sub.add({"type": "error", "payload": msg["payload"]}, final=True)
                    return
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
            sub.add({"type": "closed", "code": ws.close_code}, final=True)
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        sub.add({"type": "closed", "code": code}, final=True)


async def _run_http(stack: Stack, who: Team | None, body: dict[str, Any], sub: Sub, sse: bool) -> None:
    accept = "text/event-stream" if sse else 'multipart/mixed;subscriptionSpec="1.0",application/json'
    async with (
        httpx.AsyncClient(timeout=WAIT) as client,
        client.stream(
            "POST", f"{stack.url}/graphql", json=body, headers={**headers_of(who), "Accept": accept}
        ) as response,
    ):
        if response.status_code != 200:
            text = (await response.aread()).decode(errors="replace")
            sub.add({"type": "error", "status": response.status_code, "payload": text})
            sub.add({"type": "complete"}, final=True)
            return
        received, seen = "", 0
        async for chunk in response.aiter_text():
            received += chunk
            if sse:
                events = re.findall(r"event: (\w+)\r?\ndata: ([^\r\n]*)", received)
                for name, data in events[seen:]:
                    if name == "next":
                        sub.add({"type": "next", "payload": json.loads(data)})
                    else:
                        sub.add({"type": name, "payload": json.loads(data) if data else None}, final=True)
                seen = len(events)
            else:
                parts = [json.loads(p) for p in PART.findall(received)]
                for part in parts[seen:]:
                    if part:  # {} is a heartbeat
                        sub.add({"type": "next", "payload": part.get("payload", part)})
                seen = len(parts)
        if not sub.done:
            sub.add({"type": "complete"}, final=True)


@contextlib.asynccontextmanager
async def subscribe(
    stack: Stack, who: Team | None, query: str, variables: dict[str, Any] | None, transport: str
) -> AsyncIterator[Sub]:
    sub = Sub()
    body = {"query": query, "variables": variables or {}}
    if transport.startswith("ws"):
        path = "/graphql/plain" if transport == "ws-plain" else "/graphql"
        task = asyncio.create_task(_run_ws(stack, who, body, sub, path, transport == "ws-legacy"))
    else:
        task = asyncio.create_task(_run_http(stack, who, body, sub, transport == "sse"))
    try:
        yield sub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_subscription(
    stack: Stack,
    who: Team | None,
    query: str,
    variables: dict[str, Any],
    transport: str,
    *,
    first_only: bool = False,
) -> list[dict[str, Any]]:
    """Every frame until the server ends the operation (or WAIT passes: a "timeout" frame)."""
    async with subscribe(stack, who, query, variables, transport) as sub:
        if first_only:
            with contextlib.suppress(AssertionError):
                await sub.wait_for("a first frame", bool)
        else:
            await sub.wait_done()
    return sub.frames


# -- the schema walker ----------------------------------------------------------------------------
def is_required(arg: dict[str, Any]) -> bool:
    return bool(arg["type"]["kind"] == "NON_NULL" and arg["defaultValue"] is None)


def type_str(t: dict[str, Any]) -> str:
    if t["kind"] == "NON_NULL":
        return type_str(t["ofType"]) + "!"
    if t["kind"] == "LIST":
        return "[" + type_str(t["ofType"]) + "]"
    return str(t["name"])


def named_type(t: dict[str, Any]) -> str:
    while t["kind"] in ("NON_NULL", "LIST"):
        t = t["ofType"]
    return str(t["name"])


@dataclass(frozen=True)
class Slot:
    """A place in an operation's arguments where an ID goes."""

    path: tuple[str | int, ...]
    owner: str
    name: str
    required: bool
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    root: str  # Query, Mutation, Subscription
    name: str
    field: dict[str, Any]
    slots: tuple[Slot, ...]

    @property
    def label(self) -> str:
        return f"{self.root}.{self.name}"


class Walker:
    def __init__(self, introspection: dict[str, Any], strings: dict[str, str]) -> None:
        schema = introspection["__schema"]
        self.types: dict[str, dict[str, Any]] = {t["name"]: t for t in schema["types"]}
        self.roots = {
            root: schema[key]["name"]
            for root, key in (
                ("Query", "queryType"),
                ("Mutation", "mutationType"),
                ("Subscription", "subscriptionType"),
            )
            if schema[key]
        }
        self.strings = strings
        self.unknown_slots: list[str] = []
        operations = [
            Operation(root, f["name"], f, tuple(self._op_slots(root, f)))
            for root, type_name in self.roots.items()
            for f in self.types[type_name]["fields"]
        ]
        # Deleting and revoking go last: were one to reach A's object, the operations after it
        # would otherwise meet nothing and prove nothing.
        self.operations = sorted(operations, key=lambda op: op.name.startswith(("delete", "revoke")))

    # which IDs an operation takes
    def _op_slots(self, root: str, op: dict[str, Any]) -> list[Slot]:
        out: list[Slot] = []
        for arg in op["args"]:
            self._slots(
                arg["type"], (arg["name"],), f"{root}.{op['name']}", arg["name"], is_required(arg), 0, out
            )
        return out

    def _slots(
        self,
        t: dict[str, Any],
        path: tuple[str | int, ...],
        owner: str,
        name: str,
        required: bool,
        depth: int,
        out: list[Slot],
    ) -> None:
        if t["kind"] == "NON_NULL":
            self._slots(t["ofType"], path, owner, name, required, depth, out)
            return
        if t["kind"] == "LIST":
            self._slots(t["ofType"], (*path, 0), owner, name, required, depth, out)
            return
        named = self.types[t["name"]]
        if named["kind"] == "SCALAR" and named["name"] == "ID":
            kinds = ID_SLOTS.get((owner, name)) or ID_SLOTS.get(("*", name))
            if kinds is None:
                self.unknown_slots.append(f"{owner}.{name}")
            else:
                out.append(Slot(path, owner, name, required, kinds))
        elif named["kind"] == "INPUT_OBJECT" and depth < 6:
            for f in named["inputFields"]:
                self._slots(
                    f["type"],
                    (*path, f["name"]),
                    named["name"],
                    f["name"],
                    required and is_required(f),
                    depth + 1,
                    out,
                )

    # the document
    def selection(self, t: dict[str, Any], depth: int = 0) -> str:
        named = self.types[named_type(t)]
        if named["kind"] in ("SCALAR", "ENUM"):
            return ""
        if depth >= 4:
            return "__typename"
        if named["kind"] in ("UNION", "INTERFACE"):
            return "{ __typename }"
        picks = []
        for f in named["fields"]:
            if any(is_required(a) for a in f["args"]):
                continue
            sub = self.selection(f["type"], depth + 1)
            picks.append(f"{f['name']} {sub}".strip() if sub != "__typename" else "")
        return "{ " + " ".join(p for p in picks if p) + " }" if any(picks) else "__typename"

    def build(
        self, op: Operation, active: dict[tuple[str | int, ...], Any], extra: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The document and its variables: required arguments, whatever leads to an active slot, and
        ``extra`` top-level arguments."""
        defs, call, variables = [], [], {}
        for arg in op.field["args"]:
            if extra and arg["name"] in extra:
                value = extra[arg["name"]]
            else:
                value = self._value(arg["type"], (arg["name"],), is_required(arg), active, arg["name"])
            if value is OMIT:
                continue
            defs.append(f"${arg['name']}: {type_str(arg['type'])}")
            call.append(f"{arg['name']}: ${arg['name']}")
            variables[arg["name"]] = value
        kind = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}[op.root]
        head = f"{kind} Walk" + (f"({', '.join(defs)})" if defs else "")
        args = f"({', '.join(call)})" if call else ""
        selection = self.selection(op.field["type"])
        if selection == "__typename":
            selection = "{ __typename }"
        return f"{head} {{ {op.name}{args} {selection} }}", variables

    def _value(
        self, t: dict[str, Any], path: tuple[str | int, ...], need: bool, active: dict[Any, Any], name: str
    ) -> Any:
        if t["kind"] == "NON_NULL":
            return self._value(t["ofType"], path, need, active, name)
        leads_to_slot = any(p[: len(path)] == path for p in active)
        if t["kind"] == "LIST":
            if not (need or leads_to_slot):
                return OMIT
            item = self._value(t["ofType"], (*path, 0), True, active, name)
            return OMIT if item is OMIT else [item]
        if path in active:
            return active[path]
        named = self.types[t["name"]]
        if named["kind"] == "INPUT_OBJECT":
            if not (need or leads_to_slot):
                return OMIT
            obj = {}
            for f in named["inputFields"]:
                value = self._value(f["type"], (*path, f["name"]), is_required(f), active, f["name"])
                if value is not OMIT:
                    obj[f["name"]] = value
            for key, value in INPUT_OVERRIDES.get(named["name"], {}).items():
                obj[key] = value.format(**self.strings) if isinstance(value, str) else value
            return obj
        if not need:
            return OMIT
        return self.plausible(named, name)

    def plausible(self, named: dict[str, Any], name: str) -> Any:
        if named["kind"] == "ENUM":
            return named["enumValues"][0]["name"]
        scalar = named["name"]
        if scalar == "String":
            return self.strings.get(name, STRINGS.get(name, "walker"))
        if scalar == "ID":
            return str(uuid.uuid4())
        if scalar == "Int":
            return 1
        if scalar == "Float":
            return 1.0
        if scalar == "Boolean":
            return False
        if scalar == "DateTime":
            now = datetime.now(UTC)
            return (now - timedelta(days=1) if name == "from" else now + timedelta(days=1)).isoformat()
        if scalar == "JSON":
            return {}
        if scalar == "BigInt":
            return 1
        if (
            scalar == "Upload"
        ):  # a JSON request carries no file part: uploadDriveFile refuses after the folder
            return "walker-file"
        raise AssertionError(f"the walker has no value for a required {scalar} ({name}): teach plausible()")

    def enum_sweep(self, op: Operation) -> list[dict[str, Any]]:
        """Extra arguments for a run without ids: as given, then each value of each top-level enum or
        boolean argument in turn (a grouping or a filter is where a list could reach past the team)."""
        sweep: list[dict[str, Any]] = [{}]
        for arg in op.field["args"]:
            named = self.types[named_type(arg["type"])]
            if named["kind"] == "ENUM" and arg["type"]["kind"] != "LIST":
                sweep += [{arg["name"]: v["name"]} for v in named["enumValues"]]
            elif named["name"] == "Boolean" and arg["type"]["kind"] != "LIST":  # includeRevoked: true
                sweep += [{arg["name"]: True}, {arg["name"]: False}]
        return sweep

    @staticmethod
    def variants(op: Operation) -> list[dict[Slot, str]]:
        """Which slots get an id, one slot (and kind) at a time beside the required ones."""
        required = [s for s in op.slots if s.required]
        base = {s: s.kinds[0] for s in required}
        out: list[dict[Slot, str]] = []
        if not op.slots or (not required and op.root == "Query"):
            out.append({})
        for slot in op.slots:
            for kind in slot.kinds:
                variant = {**base, slot: kind}
                if variant not in out:
                    out.append(variant)
        return out


# -- A's world ------------------------------------------------------------------------------------
@dataclass
class World:
    stack: Stack
    api: Api
    a: Team
    a_key: Team  # the API key A created through createApiKey
    b: Team
    b_member: Team
    receiver: Receiver
    walker: Walker
    tag: str
    ids: dict[str, str]
    markers: set[str]
    a_jobs: list[str]
    open_jobs: list[str] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)

    async def foreign(self, kind: str) -> str:
        if kind == "open_job":
            return await self.open_job()
        return self.ids[kind]

    async def open_job(self) -> str:
        """An A job that is still pending or processing (a slow Veo render: several seconds)."""
        if self.open_jobs:
            job = (await self.api.data(self.a, JOB_SNAPSHOT, {"id": self.open_jobs[-1]}))["job"]
            if job["status"] not in TERMINAL:
                return self.open_jobs[-1]
        job = await self.api.generate(
            self.a,
            "video",
            {
                "prompt": f"A-private open render {self.tag} [sim:slow]",
                "provider": "VEO_3_1",
                "durationSeconds": 8,
            },
        )
        self.open_jobs.append(job["id"])
        self.a_jobs.append(job["id"])
        self.markers.add(job["id"])
        return str(job["id"])

    def leaks(self, text: str, sent: set[str]) -> list[str]:
        """A's markers in ``text`` (a response), beyond the ids the caller itself sent."""
        lowered = text.lower()
        return sorted(m for m in self.markers - sent if m.lower() in lowered)


def file_id(url: str) -> str:
    return url.split("/files/")[1].split("?")[0]


def unsigned(job: dict[str, Any]) -> dict[str, Any]:
    """A job without the expiring signatures on its result URLs."""
    return {**job, "resultUrls": [u.split("?")[0] for u in job["resultUrls"]]}


async def eventually(what: str, probe: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """Poll ``probe`` until ``done`` holds, within WAIT (for database state no event announces)."""
    deadline = time.monotonic() + WAIT
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT} s: {value}"
        await asyncio.sleep(0.05)


async def snapshot_of_a(world: World) -> dict[str, Any]:
    api, a = world.api, world.a
    deliveries = (await api.data(a, DELIVERIES, {"id": world.ids["endpoint"]}))["webhookDeliveries"]["nodes"]
    return {
        "jobs": {
            j: unsigned((await api.data(a, JOB_SNAPSHOT, {"id": j}))["job"])
            for j in (world.ids["job"], world.ids["image_job"])
        },
        "keys": (await api.data(a, KEYS))["apiKeys"],
        "endpoints": (await api.data(a, ENDPOINTS))["webhookEndpoints"],
        "deliveries": {d["id"]: d for d in deliveries if d["id"] in world.ids["deliveries"].split(",")},
        "threshold": (await api.data(a, BALANCE))["creditBalance"]["lowBalanceThresholdCents"],
        "caps_and_contacts": await api.data(a, CAPS),
    }


async def settle_open_jobs(world: World) -> None:
    """B's cancelJob must not have reached A's open jobs; then A ends them itself (free), so its
    credits settle now rather than when the slow renders finish."""
    api, a = world.api, world.a
    for job_id in world.open_jobs:
        status = (await api.data(a, JOB_SNAPSHOT, {"id": job_id}))["job"]["status"]
        assert status != "CANCELED", f"A's open job {job_id} was canceled, and not by A"
    for job_id in world.open_jobs:
        await api.data(a, CANCEL, {"id": job_id})  # CONFLICT when it has just finished: fine
        await follow_job(world.stack, a, job_id, WAIT)
    world.open_jobs.clear()


async def assert_a_unchanged(world: World) -> None:
    """Whatever B did, A's jobs, keys, webhook endpoint, deliveries and credits are as A left them."""
    api, a = world.api, world.a
    await settle_open_jobs(world)
    now = await snapshot_of_a(world)
    assert now == world.snapshot
    # A's own keys still work (neither was revoked)
    for who in (a, world.a_key):
        assert (await api.data(who, BALANCE))["creditBalance"]["teamId"] == a.team_id
    # Credits: every job in A is A's own, and the balance is exactly what A's jobs cost.
    jobs = (await api.data(a, ALL_JOBS))["jobs"]["nodes"]
    assert {j["userId"] for j in jobs} == {a.user_id} and {j["teamId"] for j in jobs} == {a.team_id}
    assert {j["id"] for j in jobs} == set(world.a_jobs)
    assert all(j["status"] in TERMINAL for j in jobs), jobs
    balance = (await api.data(a, BALANCE))["creditBalance"]
    spent = sum(j["costCents"] for j in jobs)
    assert balance["balanceCents"] == A_CREDITS - spent
    assert balance["availableCents"] == balance["balanceCents"] and balance["heldCents"] == 0
    ledger = (await api.data(a, LEDGER))["creditTransactions"]["nodes"]
    assert {r["jobId"] for r in ledger if r["jobId"]} <= set(world.a_jobs)
    assert [r["kind"] for r in ledger if not r["jobId"]] == ["TOP_UP"]
    assert ledger[0]["balanceAfterCents"] == balance["balanceCents"]


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    receiver = Receiver()
    tag = uuid.uuid4().hex[:12]
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            yield await _build_world(stack, Api(stack, client), receiver, tag)
        finally:
            receiver.close()


async def _build_world(stack: Stack, api: Api, receiver: Receiver, tag: str) -> World:
    a, b = stack.create_team(A_CREDITS), stack.create_team(20_000)
    b_member = stack.add_member(b, "member")
    _, introspection = await api.gql(a, INTROSPECTION)
    walker = Walker(
        introspection["data"], {"url": receiver.url("/b-walk-hook"), "walk_url": receiver.url("/b-walk-hook")}
    )

    # A: a low-balance threshold, a webhook endpoint (before the jobs, so they are delivered), a key
    await api.data(a, SET_THRESHOLD, {"c": A_THRESHOLD})
    # A: billing contacts and a spend cap (far above what A spends here), which B must never see
    await api.data(a, SET_CONTACTS, {"e": [f"a-billing-{tag}@example.com"]})
    await api.data(a, SET_CAP, {"input": {"userId": a.user_id, "period": "MONTH", "limitCents": A_CREDITS}})
    endpoint = (
        await api.data(
            a,
            CREATE_ENDPOINT,
            {
                "input": {
                    "url": receiver.url("/a-hook"),
                    "events": ["JOB_COMPLETED", "JOB_FAILED", "JOB_CANCELED"],
                    "description": f"A-private endpoint {tag}",
                }
            },
        )
    )["createWebhookEndpoint"]
    assert endpoint["userErrors"] == [], endpoint
    key = (
        await api.data(
            a,
            CREATE_KEY,
            {"input": {"name": f"A-private key {tag}", "scopes": ["READ", "GENERATE", "BILLING"]}},
        )
    )["createApiKey"]
    assert key["userErrors"] == [], key
    # B has an endpoint of its own (its deliveries must never land in A's)
    b_endpoint = (
        await api.data(
            b, CREATE_ENDPOINT, {"input": {"url": receiver.url("/b-hook"), "events": ["JOB_COMPLETED"]}}
        )
    )["createWebhookEndpoint"]
    assert b_endpoint["userErrors"] == [], b_endpoint

    # A: a voice-over and an image, completed, with their Drive files
    tts, image = await asyncio.gather(
        api.generate(a, "tts", {"text": f"A-private words {tag}", "idempotencyKey": f"A-private-idem-{tag}"}),
        api.generate(
            a,
            "image",
            {
                "prompt": f"A-private picture {tag}",
                "placement": "FEED",
                "idempotencyKey": f"A-private-idem2-{tag}",
            },
        ),
    )
    finals = await asyncio.gather(
        follow_job(stack, a, tts["id"], WAIT), follow_job(stack, a, image["id"], WAIT)
    )
    tts_final, image_final = (states[-1] for states in finals)
    assert tts_final["status"] == image_final["status"] == "COMPLETED", finals

    # A's deliveries: the receiver answered both, and the log says so
    await receiver.wait_for(
        "A's two job.completed deliveries",
        lambda posts: {b["data"]["id"] for p, b in posts if p == "/a-hook"} >= {tts["id"], image["id"]},
    )
    deliveries = await eventually(
        "A's deliveries succeeding",
        lambda: api.data(a, DELIVERIES, {"id": endpoint["webhookEndpoint"]["id"]}),
        lambda d: (
            len(d["webhookDeliveries"]["nodes"]) == 2
            and {n["status"] for n in d["webhookDeliveries"]["nodes"]} == {"SUCCEEDED"}
        ),
    )
    nodes = deliveries["webhookDeliveries"]["nodes"]
    # A: a creative (one TTS job), completed (after the deliveries above were counted)
    creative = (
        await api.data(
            a,
            "mutation ($input: CreateCreativeInput!) { createCreative(input: $input) { "
            "creative { id nodes { job { id } } } userErrors { code message } } }",
            {"input": {"nodes": [{"key": "words", "tts": {"text": f"A-private creative {tag}"}}]}},
        )
    )["createCreative"]
    assert creative["userErrors"] == [], creative
    creative_job = creative["creative"]["nodes"][0]["job"]["id"]
    assert (await follow_job(stack, a, creative_job, WAIT))[-1]["status"] == "COMPLETED"
    keys = (await api.data(a, KEYS))["apiKeys"]
    owner_key = next(k for k in keys if k["id"] != key["apiKey"]["id"])
    ledger = (await api.data(a, LEDGER))["creditTransactions"]["nodes"]
    team_name = (await api.data(a, "{ viewer { teamName } }"))["viewer"]["teamName"]

    pending = await api.data(
        a,
        "mutation ($input: CreateUploadInput!) { createUpload(input: $input) { upload { fileId } } }",
        {"input": {"name": f"A-private-upload-{tag}.png", "contentType": "image/png", "sizeBytes": 100}},
    )
    ids = {
        "pending_upload": pending["createUpload"]["upload"]["fileId"],
        "job": tts["id"],
        "image_job": image["id"],
        "batch": image["batchId"],
        "audio_file": file_id(tts_final["resultUrls"][0]),
        "image_file": file_id(image_final["resultUrls"][0]),
        "folder": tts_final["driveFolderId"],
        "api_key": key["apiKey"]["id"],
        "owner_key": owner_key["id"],
        "endpoint": endpoint["webhookEndpoint"]["id"],
        "delivery": nodes[0]["id"],
        "deliveries": ",".join(n["id"] for n in nodes),
        "creative": creative["creative"]["id"],
        "user": a.user_id,
    }
    assert ids["folder"], tts_final
    markers = {
        a.team_id,
        a.user_id,
        a.api_key,
        team_name,
        key["secret"],
        key["apiKey"]["prefix"],
        owner_key["prefix"],
        endpoint["secret"],
        receiver.url("/a-hook"),
        tag,  # in A's prompts, key name, endpoint description and idempotency key
        *(v for k, v in ids.items() if k != "deliveries"),
        creative_job,
        *(n["id"] for n in nodes),
        *(n["eventId"] for n in nodes),
        *(n["webhookId"] for n in nodes),
        *(r["id"] for r in ledger),
        *(file_id(u) for u in tts_final["resultUrls"] + image_final["resultUrls"]),
    }
    world = World(
        stack=stack,
        api=api,
        a=a,
        a_key=Team(a.team_id, a.user_id, key["secret"]),
        b=b,
        b_member=b_member,
        receiver=receiver,
        walker=walker,
        tag=tag,
        ids=ids,
        markers=markers,
        a_jobs=[tts["id"], image["id"], creative_job],
    )
    world.snapshot = await snapshot_of_a(world)
    assert world.snapshot["threshold"] == A_THRESHOLD
    return world


# -- comparing a foreign id's answer with a missing one's -----------------------------------------
def normalise(value: Any, ids: dict[str, str]) -> Any:
    """The answer with each id that was sent replaced by a placeholder naming its kind."""
    text = json.dumps(value, sort_keys=True)
    for sent, kind in ids.items():
        text = text.replace(sent, MISSING_PLACEHOLDER.format(kind=kind))
    return json.loads(text)


def looks_absent(body: dict[str, Any], op: str, allowed: tuple[str, ...]) -> bool:
    """Whether an answer says "no such thing" (null, an empty list, or a NOT_FOUND error)."""
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
    if codes & set(allowed):
        return True
    result = (body.get("data") or {}).get(op, OMIT)
    if result is None or result == []:
        return "errors" not in body
    if isinstance(result, dict):
        if {e["code"] for e in result.get("userErrors") or []} & set(allowed):
            # (0: the counts of a deletion that deleted nothing)
            return all(v in (None, [], "", 0) for k, v in result.items() if k != "userErrors")
        if result.get("nodes") == [] or result.get("edges") == []:
            return True
    return False


def frames_absent(frames: list[dict[str, Any]]) -> bool:
    """Whether a subscription ended without giving anything (what a missing id does)."""
    if not frames or frames[-1]["type"] == "timeout":
        return False
    data = [f["payload"].get("data") for f in frames if f["type"] == "next"]
    return not any(d and any(v is not None for v in d.values()) for d in data)


@dataclass
class Findings:
    """Everything that differs or leaks, reported together at the end of a walk."""

    problems: list[str] = field(default_factory=list)
    walked: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def assert_clean(self, who: str) -> None:
        report = "\n".join(f"- {p}" for p in self.problems)
        assert not self.problems, (
            f"{who} learned something of team A, or a foreign id answered unlike a missing one:\n{report}"
        )


async def walk(
    world: World,
    who: Team,
    allowed: tuple[str, ...],
    *,
    control: bool = False,
    roots: tuple[str, ...] = ROOTS,
) -> Findings:
    """Every operation of ``roots``, as ``who``, with A's ids and with missing ones.

    ``control``: ``who`` is A itself, so each of A's ids must answer UNLIKE a missing one (which
    proves every id the walk passes is the real object that operation takes)."""
    findings = Findings()
    walker = world.walker
    assert not walker.unknown_slots, walker.unknown_slots
    for op in walker.operations:
        if op.root not in roots:
            continue
        for variant in walker.variants(op):
            label = f"{op.label}({', '.join(f'{s.name}={k}' for s, k in variant.items())})"
            if not variant and (control or op.root == "Subscription"):
                continue  # no id to pass: test_subscriptions_never_carry_another_teams_events
            if not variant:
                for extra in walker.enum_sweep(op):
                    swept = f"{op.label}({', '.join(f'{k}={v}' for k, v in extra.items())})"
                    findings.walked.append(swept)
                    doc, variables = walker.build(op, {}, extra)
                    status, body = await world.api.gql(who, doc, variables)
                    leaked = world.leaks(json.dumps(body), set())
                    findings.check(not leaked, f"{swept}: the answer carries A's {leaked}: {body}")
                    findings.check(status == 200, f"{swept}: HTTP {status}: {body}")
                continue
            findings.walked.append(label)
            foreign = {s.path: await world.foreign(k) for s, k in variant.items()}
            missing = {s.path: str(uuid.uuid4()) for s in variant}
            doc, foreign_vars = walker.build(op, foreign)
            doc_missing, missing_vars = walker.build(op, missing)
            assert doc == doc_missing
            sent = {foreign[s.path]: k for s, k in variant.items()}
            sent_missing = {missing[s.path]: k for s, k in variant.items()}
            if op.root == "Subscription":
                await _walk_subscription(
                    world,
                    who,
                    findings,
                    label,
                    doc,
                    (foreign_vars, missing_vars),
                    (sent, sent_missing),
                    control,
                )
                continue
            status, body = await world.api.gql(who, doc, foreign_vars)
            leaked = world.leaks(json.dumps(body), set(sent))
            findings.check(control or not leaked, f"{label}: the answer carries A's {leaked}: {body}")
            status_m, body_m = await world.api.gql(who, doc, missing_vars)
            findings.check(
                looks_absent(body_m, op.name, allowed),
                f"{label}: a missing id does not answer 'not found', so the walk never reached the id check "
                f"(fill this operation better): {body_m}",
            )
            same = (status, normalise(body, sent)) == (status_m, normalise(body_m, sent_missing))
            findings.check(
                same != control,
                f"{label}: A's id answers {'like' if control else 'unlike'} a missing one:\n"
                f"    foreign: {status} {body}\n    missing: {status_m} {body_m}",
            )
            if op.root == "Mutation" and "open_job" in variant.values():
                job = (await world.api.data(world.a, JOB_SNAPSHOT, {"id": sent_key(sent, "open_job")}))["job"]
                findings.check(job["status"] != "CANCELED", f"{label}: A's open job was canceled by B")
    return findings


def sent_key(sent: dict[str, str], kind: str) -> str:
    return next(value for value, k in sent.items() if k == kind)


async def _walk_subscription(
    world: World,
    who: Team,
    findings: Findings,
    label: str,
    doc: str,
    variables: tuple[dict[str, Any], dict[str, Any]],
    sent: tuple[dict[str, str], dict[str, str]],
    control: bool,
) -> None:
    """One subscription with A's id and with a missing one, over every transport, side by side."""
    runs = [
        # as A (the control) an open job streams until it ends: its first state is the difference
        run_subscription(world.stack, who, doc, v, transport, first_only=control and v is variables[0])
        for transport in TRANSPORTS
        for v in variables
    ]
    results = await asyncio.gather(*runs)
    for i, transport in enumerate(TRANSPORTS):
        foreign, missing = results[2 * i], results[2 * i + 1]
        leaked = world.leaks(json.dumps(foreign), set(sent[0]))
        findings.check(
            control or not leaked, f"{label} over {transport}: the frames carry A's {leaked}: {foreign}"
        )
        findings.check(
            frames_absent(missing),
            f"{label} over {transport}: a missing id does not end like 'not found': {missing}",
        )
        same = normalise(foreign, sent[0]) == normalise(missing, sent[1])
        findings.check(
            same != control,
            f"{label} over {transport}: A's id answers {'like' if control else 'unlike'} a missing one:\n"
            f"    foreign: {foreign}\n    missing: {missing}",
        )


# -- the tests ------------------------------------------------------------------------------------
async def test_walker_knows_every_operation(world: World) -> None:
    """A new operation (or a new ID argument) fails here until the walker is taught to fill it."""
    schema_ops = {root: {op.name for op in world.walker.operations if op.root == root} for root in HANDLED}
    assert set(world.walker.roots) <= set(HANDLED)
    for root in HANDLED:
        new = schema_ops[root] - HANDLED[root]
        assert not new, (
            f"{root} gained {sorted(new)}: add them to HANDLED (and ID_SLOTS) in tests/test_tenancy.py"
        )
        gone = HANDLED[root] - schema_ops[root]
        assert not gone, f"{root} lost {sorted(gone)}: the contract forbids removing operations"
    assert not world.walker.unknown_slots, (
        f"the walker does not know which of A's objects goes into {world.walker.unknown_slots}: extend ID_SLOTS"
    )
    routes = {r.path for r in (*rest.routes, *uploads.routes)}
    assert routes == set(REST_HANDLED), (
        f"REST routes changed: {sorted(routes ^ set(REST_HANDLED))}; walk them"
    )
    assert set(rest.GENERATE_FIELDS) == set(REST_GENERATE), "a REST generate type is not walked"
    for job_type, fields in rest.GENERATE_FIELDS.items():  # ids of ours (not the provider's)
        ours = {f for f in fields if f.endswith("_id")} - PROVIDER_SIDE_IDS
        assert ours <= set(REST_GENERATE[job_type][1]), f"REST generate/{job_type}: walk {ours}"
    # and every operation with an id is walked with each kind of A's object it can take
    for op in world.walker.operations:
        assert world.walker.variants(op), op.label


async def test_the_walk_passes_ids_that_reach_a_objects(world: World) -> None:
    """The control: as A itself, every read with one of A's ids answers unlike a missing id, so each
    id the walk passes is a real object of the kind that operation takes (mutations are left out:
    as A they would really cancel, revoke and delete)."""
    findings = await walk(world, world.a, ("NOT_FOUND",), control=True, roots=("Query", "Subscription"))
    assert len(findings.walked) >= 6, findings.walked
    assert not findings.problems, "\n".join(findings.problems)


USAGE = """query ($from: DateTime!, $to: DateTime!, $g: CreditUsageGroupBy!) {
creditUsage(from: $from, to: $to, groupBy: $g) { totalCents rows { key costCents jobCount } } }"""


async def assert_aggregates_are_own(world: World, who: Team, team: Team) -> None:
    """Sums carry no ids to spot: B's usage (every grouping) and balance add up to B's own jobs."""
    for job in (await world.api.data(who, ALL_JOBS))["jobs"]["nodes"]:
        if job["status"] not in TERMINAL:  # B's own jobs settle first, so the sums hold still
            await follow_job(world.stack, who, job["id"], WAIT)
    jobs = (await world.api.data(who, ALL_JOBS))["jobs"]["nodes"]
    done = [j for j in jobs if j["status"] == "COMPLETED"]
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    for group in ("PROVIDER", "TYPE", "USER", "DAY"):
        usage = (await world.api.data(who, USAGE, {**window, "g": group}))["creditUsage"]
        assert usage["totalCents"] == sum(j["costCents"] for j in done), (group, usage, jobs)
        assert sum(r["jobCount"] for r in usage["rows"]) == len(done), (group, usage, jobs)
        if group == "USER":
            assert {r["key"] for r in usage["rows"]} <= {j["userId"] for j in done}, usage
    ledger = (await world.api.data(who, LEDGER))["creditTransactions"]["nodes"]
    assert {r["jobId"] for r in ledger if r["jobId"]} <= {j["id"] for j in jobs}, ledger
    balance = (await world.api.data(who, BALANCE))["creditBalance"]
    assert balance["teamId"] == team.team_id
    assert ledger and ledger[0]["balanceAfterCents"] == balance["balanceCents"], (ledger, balance)


async def test_second_team_learns_nothing_from_any_operation(world: World) -> None:
    findings = await walk(world, world.b, allowed=("NOT_FOUND",))
    assert {label.split("(")[0] for label in findings.walked} >= {
        f"{op.root}.{op.name}" for op in world.walker.operations if op.slots or op.root != "Subscription"
    }
    findings.assert_clean("team B's owner")
    await assert_aggregates_are_own(world, world.b, world.b)
    await assert_a_unchanged(world)


async def test_a_member_of_the_second_team_learns_nothing_either(world: World) -> None:
    member = world.b_member
    assert (await world.api.data(member, BALANCE))["creditBalance"]["teamId"] == world.b.team_id
    findings = await walk(world, member, allowed=("NOT_FOUND", "FORBIDDEN"))
    findings.assert_clean("a member of team B")
    await assert_aggregates_are_own(world, member, world.b)
    await assert_a_unchanged(world)


async def test_subscriptions_never_carry_another_teams_events(world: World) -> None:
    """B subscribes to every subscription that takes no id (and A to the very same documents, which
    the multiplexer must keep apart); A runs a job to the end, crossing its low-balance threshold
    on the way; then B's own events, published after all of A's, are the barrier: every frame B got
    before them is B's."""
    stack, api, a, b = world.stack, world.api, world.a, world.b
    await settle_open_jobs(world)  # A's credits are still while its balance is watched
    open_ops = [
        op
        for op in world.walker.operations
        if op.root == "Subscription" and not any(s.required for s in op.slots)
    ]
    assert {op.name for op in open_ops} >= {"jobsUpdated", "creditBalanceUpdated"}
    docs = {op.name: world.walker.build(op, {})[0] for op in open_ops}
    balance_of = "creditBalanceUpdated"
    async with contextlib.AsyncExitStack() as subs:
        b_subs = {
            (name, transport): await subs.enter_async_context(subscribe(stack, b, doc, None, transport))
            for name, doc in docs.items()
            for transport in ("ws", "ws-plain", "sse")
        }
        a_subs = {
            name: await subs.enter_async_context(subscribe(stack, a, doc, None, "ws"))
            for name, doc in docs.items()
        }
        # Every subscription is live: the balance ones answer with the current state, and B's
        # first job (slowed down, so its last state comes well after the subscriptions started)
        # shows up on each jobsUpdated.
        await a_subs[balance_of].wait_for("A's balance", bool)
        first = await api.generate(b, "tts", {"text": "B's first words [sim:slow]"})
        for (name, transport), sub in b_subs.items():
            if name == "jobsUpdated":
                await sub.wait_for(
                    f"B's first job over {transport}",
                    lambda p, name=name: any(x["data"][name]["id"] == first["id"] for x in p),
                )
            else:
                await sub.wait_for(f"{name} answering over {transport}", bool)

        # A's job runs to the end while B watches; its hold takes A below its threshold (an alert)
        before = (await api.data(a, BALANCE))["creditBalance"]
        await api.data(a, SET_THRESHOLD, {"c": before["availableCents"]})
        job = await api.generate(a, "tts", {"text": f"A-private events {world.tag} [sim:slow]"})
        world.a_jobs.append(job["id"])
        world.markers.add(job["id"])
        missing = str(uuid.uuid4())
        by_id = await asyncio.gather(  # B asks for that job by id, while it runs, over every transport
            *(
                run_subscription(stack, b, docs_by_id(world), {"id": job_id}, transport)
                for transport in TRANSPORTS
                for job_id in (job["id"], missing)
            )
        )
        final = (await follow_job(stack, a, job["id"], WAIT))[-1]
        assert final["status"] == "COMPLETED", final
        # A saw all of it (so there was something to leak): the job, the alert, the settled balance
        await a_subs["jobsUpdated"].wait_for(
            "A's job completing",
            lambda p: any(
                x["data"]["jobsUpdated"]["id"] == job["id"]
                and x["data"]["jobsUpdated"]["status"] == "COMPLETED"
                for x in p
            ),
        )
        await a_subs[balance_of].wait_for(
            "A's low-balance alert", lambda p: any(x["data"][balance_of]["lowBalanceCrossed"] for x in p)
        )
        settled = before["balanceCents"] - final["costCents"]
        await a_subs[balance_of].wait_for(
            "A's settled balance",
            lambda p: any(
                x["data"][balance_of]["balanceCents"] == settled and x["data"][balance_of]["heldCents"] == 0
                for x in p
            ),
        )
        await api.data(a, SET_THRESHOLD, {"c": A_THRESHOLD})
        # the barrier: B's own events, published after all of A's (one Redis connection, in order)
        await api.data(b, SET_THRESHOLD, {"c": 4_321})
        second = await api.generate(b, "tts", {"text": "B's second words"})
        for (name, transport), sub in b_subs.items():
            if name == balance_of:
                await sub.wait_for(
                    f"B's threshold over {transport}",
                    lambda p: any(x["data"][balance_of]["lowBalanceThresholdCents"] == 4_321 for x in p),
                )
            elif name == "jobsUpdated":
                await sub.wait_for(
                    f"B's second job over {transport}",
                    lambda p, name=name: any(x["data"][name]["id"] == second["id"] for x in p),
                )
        problems = []
        for (name, transport), sub in b_subs.items():
            leaked = world.leaks(json.dumps(sub.frames), set())
            if leaked:
                problems.append(f"{name} over {transport} gave B A's {leaked}: {sub.frames}")
            teams = {x["data"][name].get("teamId") for x in sub.payloads() if x.get("data")}
            if teams - {b.team_id, None}:
                problems.append(f"{name} over {transport} gave B another team's events: {sub.frames}")
            if name == balance_of and any(x["data"][name]["lowBalanceCrossed"] for x in sub.payloads()):
                problems.append(f"{name} over {transport} gave B A's low-balance alert: {sub.frames}")
        for i, transport in enumerate(TRANSPORTS):
            foreign, absent = by_id[2 * i], by_id[2 * i + 1]
            if normalise(foreign, {job["id"]: "job"}) != normalise(absent, {missing: "job"}):
                problems.append(
                    f"jobUpdated over {transport} on A's running job: {foreign} != missing {absent}"
                )
            if world.leaks(json.dumps(foreign), {job["id"]}):
                problems.append(f"jobUpdated over {transport} on A's running job leaked: {foreign}")
        assert not problems, "B got something of team A over a subscription:\n" + "\n".join(problems)

    # B's webhook deliveries go to B alone (they are created with A's, in one dispatch, if ever)
    await world.receiver.wait_for(
        "B's delivery for its second job",
        lambda posts: any(p == "/b-hook" and body["data"]["id"] == second["id"] for p, body in posts),
    )
    for path, body in world.receiver.posts:
        assert (path == "/a-hook") == (body["data"].get("team_id") == a.team_id), (path, body)
    deliveries = (await api.data(a, DELIVERIES, {"id": world.ids["endpoint"]}))["webhookDeliveries"]["nodes"]
    assert not any(first["id"] in json.dumps(d) or second["id"] in json.dumps(d) for d in deliveries)
    await assert_a_unchanged(world)


def docs_by_id(world: World) -> str:
    op = next(op for op in world.walker.operations if op.label == "Subscription.jobUpdated")
    return world.walker.build(op, {s.path: "x" for s in op.slots})[0]


async def test_idempotency_keys_belong_to_their_team(world: World) -> None:
    """B reusing A's idempotency keys gets jobs of its own: with A's very input not A's job, with
    another input no CONFLICT (either would tell B that A used the key)."""
    api, b, tag = world.api, world.b, world.tag
    tries = {
        "A's key, A's input": {"text": f"A-private words {tag}", "idempotencyKey": f"A-private-idem-{tag}"},
        "A's key, another input": {"text": "B's own words", "idempotencyKey": f"A-private-idem2-{tag}"},
    }
    for name, input in tries.items():
        sent = {input["text"], input["idempotencyKey"]} | ({tag} if tag in input["text"] else set())
        answers = [(await api.data(b, GENERATE["tts"], {"i": input}))["generateTts"] for _ in range(2)]
        for answer in answers:
            assert answer["userErrors"] == [] and answer["job"]["teamId"] == b.team_id, (name, answer)
            assert answer["job"]["id"] not in world.a_jobs, (name, answer)
            assert not world.leaks(json.dumps(answer), sent), (name, answer)
        assert answers[0]["job"]["id"] == answers[1]["job"]["id"], (name, answers)  # B's own key, B's job
    r = await api.client.post(
        f"{world.stack.url}/api/v1/creative-hub/generate/tts",
        json={"text": "B's REST words"},
        headers={**b.headers, "Idempotency-Key": f"A-private-idem-{tag}"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT", r.text  # B used it above
    await assert_aggregates_are_own(world, b, b)
    await assert_a_unchanged(world)


async def test_rest_routes_and_files(world: World) -> None:
    """The REST job route, the REST generate routes with A's ids in the body, and Drive file URLs."""
    client = world.api.client
    problems: list[str] = []
    for who, name in ((world.b, "B's owner"), (world.b_member, "B's member")):
        # GET a job
        for kind in ("job", "open_job"):
            foreign_id, missing_id = await world.foreign(kind), str(uuid.uuid4())
            got = [
                await client.get(f"{world.stack.url}/api/v1/creative-hub/jobs/{j}", headers=who.headers)
                for j in (foreign_id, missing_id)
            ]
            f, m = ((r.status_code, r.headers.get("retry-after"), r.json()) for r in got)
            if m[0] != 404 or normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                problems.append(f"{name}: GET /jobs/<A's {kind}> answered {f}, a missing id {m}")
            if world.leaks(got[0].text, {foreign_id}):
                problems.append(f"{name}: GET /jobs/<A's {kind}> leaked {got[0].text}")
        # POST generate/{type} with A's ids in the body, one at a time
        for job_type, (base, slots) in REST_GENERATE.items():
            for where, kinds in slots.items():
                for kind in kinds:
                    foreign_id, missing_id = await world.foreign(kind), str(uuid.uuid4())
                    answers = []
                    for value in (foreign_id, missing_id):
                        body = dict(base)
                        if where.startswith("inputs."):
                            body["inputs"] = [{"name": "Background", where.split(".")[1]: value}]
                        elif where.endswith("_ids"):
                            body[where] = [value]
                        else:
                            body[where] = value
                        r = await client.post(
                            f"{world.stack.url}/api/v1/creative-hub/generate/{job_type}",
                            json=body,
                            headers=who.headers,
                        )
                        answers.append((r.status_code, r.json()))
                    f, m = answers
                    label = f"{name}: POST generate/{job_type} with {where}=<A's {kind}>"
                    if m[0] != 404 or m[1]["error"]["code"] != "NOT_FOUND":
                        problems.append(f"{label}: a missing id answers {m}, not 404 NOT_FOUND")
                    if normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                        problems.append(f"{label} answered {f}, a missing id {m}")
                    if world.leaks(json.dumps(f), {foreign_id}):
                        problems.append(f"{label} leaked {f}")
        # A creative: GET it and cancel it by A's ids, create one with A's ids in the body
        creatives = f"{world.stack.url}/api/v1/creative-hub/creatives"
        for method, path, kinds in (
            ("GET", creatives + "/{}", ("creative", "job")),
            ("POST", creatives + "/{}/cancel", ("creative", "job")),
        ):
            for kind in kinds:
                foreign_id, missing_id = world.ids[kind], str(uuid.uuid4())
                got = [
                    await client.request(method, path.format(x), headers=who.headers)
                    for x in (foreign_id, missing_id)
                ]
                f, m = ((r.status_code, r.json()) for r in got)
                label = f"{name}: {method} " + path.format(f"<A's {kind}>")
                if m[0] != 404 or normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                    problems.append(f"{label} answered {f}, a missing id {m}")
                if world.leaks(got[0].text, {foreign_id}):
                    problems.append(f"{label} leaked {got[0].text}")
        for kind, place in (
            ("folder", lambda v: {"drive_folder_id": v, "nodes": [{"key": "t", "tts": {"text": "x"}}]}),
            ("image_file", lambda v: {"image_with_logo": {"image": {"prompt": "x"}, "logo_file_id": v}}),
            ("audio_file", lambda v: {"image_with_logo": {"image": {"prompt": "x"}, "logo_file_id": v}}),
            ("image_file", lambda v: {"nodes": [{"key": "v", "video": {"prompt": "x", "image_file_id": v}}]}),
            ("folder", lambda v: {"nodes": [{"key": "t", "tts": {"text": "x", "drive_folder_id": v}}]}),
        ):
            foreign_id, missing_id = world.ids[kind], str(uuid.uuid4())
            answers = []
            for value in (foreign_id, missing_id):
                r = await client.post(creatives, json=place(value), headers=who.headers)
                answers.append((r.status_code, r.json()))
            f, m = answers
            label = f"{name}: POST creatives with <A's {kind}> in {sorted(place('x'))}"
            if m[0] != 404 or m[1]["error"]["code"] != "NOT_FOUND":
                problems.append(f"{label}: a missing id answers {m}, not 404 NOT_FOUND")
            if normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                problems.append(f"{label} answered {f}, a missing id {m}")
            if world.leaks(json.dumps(f), {foreign_id}):
                problems.append(f"{label} leaked {f}")
        # GET a Drive file
        for kind in ("audio_file", "image_file"):
            foreign_id, missing_id = world.ids[kind], str(uuid.uuid4())
            got = [
                await client.get(f"{world.stack.url}/files/{x}", headers=who.headers)
                for x in (foreign_id, missing_id)
            ]
            f, m = ((r.status_code, r.headers.get("content-type"), r.text) for r in got)
            if f[0] != 404 or normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                problems.append(f"{name}: GET /files/<A's {kind}> answered {f}, a missing file {m}")
        # The Drive's REST reads: A's ids in the path or the query answer like missing ones, and
        # the team-wide reads show nothing of A
        for path, kind in (
            ("/files/{}/thumbnail", "image_file"),
            ("/api/v1/drive/files/{}", "image_file"),
            ("/api/v1/drive/files/{}", "pending_upload"),
            ("/api/v1/drive/files?folder_id={}", "folder"),
            ("/api/v1/drive/files?job_id={}", "job"),
        ):
            foreign_id, missing_id = world.ids[kind], str(uuid.uuid4())
            got = [
                await client.get(world.stack.url + path.format(x), headers=who.headers)
                for x in (foreign_id, missing_id)
            ]
            f, m = ((r.status_code, r.text) for r in got)
            label = f"{name}: GET " + path.format(f"<A's {kind}>")
            if normalise(f, {foreign_id: kind}) != normalise(m, {missing_id: kind}):
                problems.append(f"{label} answered {f}, a missing id {m}")
            if world.leaks(got[0].text, {foreign_id}):
                problems.append(f"{label} leaked {got[0].text}")
        for path in (
            "/api/v1/drive/folders",
            "/api/v1/drive/files",
            "/api/v1/drive/usage",
            "/api/v1/creative-hub/ledger.csv",
        ):
            r = await client.get(world.stack.url + path, headers=who.headers)
            # (the tag aside: B's own job with A's text, test_idempotency_keys_belong_to_their_team, has
            # an output named after it; A's files would show their ids)
            if r.status_code != 200 or world.leaks(r.text, {world.tag}):
                problems.append(
                    f"{name}: GET {path} answered {r.status_code}: {world.leaks(r.text, {world.tag})}"
                )
    # PUT an upload's bytes: the signature names the file, so B has none for A's upload
    pending, missing_id = world.ids["pending_upload"], str(uuid.uuid4())
    got = [
        await client.put(
            f"{world.stack.url}/uploads/{x}?expires={int(time.time()) + 600}&signature={'ab' * 32}",
            content=b"\0" * 100,
            headers=world.b.headers,
        )
        for x in (pending, missing_id)
    ]
    f, m = ((r.status_code, r.json()) for r in got)
    if f[0] != 403 or normalise(f, {pending: "upload"}) != normalise(m, {missing_id: "upload"}):
        problems.append(f"PUT /uploads/<A's pending upload> answered {f}, a missing upload {m}")
    for kind in ("audio_file", "image_file"):
        anonymous = await client.get(f"{world.stack.url}/files/{world.ids[kind]}")
        missing = await client.get(f"{world.stack.url}/files/{uuid.uuid4()}")
        assert anonymous.status_code == missing.status_code == 401, (anonymous.text, missing.text)
        assert anonymous.json() == missing.json() and anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
        own = await client.get(f"{world.stack.url}/files/{world.ids[kind]}", headers=world.a.headers)
        assert own.status_code == 200  # A's file is there: B's 404 hides something real
    own = await client.get(
        f"{world.stack.url}/api/v1/creative-hub/jobs/{world.ids['job']}", headers=world.a.headers
    )
    assert own.status_code == 200 and own.json()["team_id"] == world.a.team_id
    assert not problems, (
        "B learned something of team A over REST, or a foreign id answered unlike a missing one:\n"
        + "\n".join(problems)
    )
    await assert_a_unchanged(world)


async def test_revoked_and_malformed_credentials_are_refused(world: World) -> None:
    api, client, stack = world.api, world.api.client, world.stack
    created = (await api.data(world.b, CREATE_KEY, {"input": {"name": "soon revoked"}}))["createApiKey"]
    revoked = Team(world.b.team_id, world.b.user_id, created["secret"])
    assert (await api.data(revoked, BALANCE))["creditBalance"]["teamId"] == world.b.team_id  # it worked
    out = (await api.data(world.b, REVOKE_KEY, {"id": created["apiKey"]["id"]}))["revokeApiKey"]
    assert out["userErrors"] == [] and out["apiKey"]["revokedAt"]
    refused = {
        "a revoked key": revoked,
        "chk_garbage": Team("x", "y", "chk_garbage"),
        "a malformed JWT": Team("x", "y", "abc.def.ghi"),
        "no credential": None,
    }
    for name, who in refused.items():
        for doc, variables in ((BALANCE, None), (JOB_SNAPSHOT, {"id": world.ids["job"]})):
            _, body = await api.gql(who, doc, variables)
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
            assert codes and set(codes) == {"UNAUTHENTICATED"}, (name, body)
            assert not world.leaks(json.dumps(body), {world.ids["job"]}), (name, body)
        for method, path, body in (
            ("GET", f"/api/v1/creative-hub/jobs/{world.ids['job']}", None),
            (
                "POST",
                "/api/v1/creative-hub/generate/tts",
                {"text": "x", "drive_folder_id": world.ids["folder"]},
            ),
            ("GET", f"/files/{world.ids['audio_file']}", None),
        ):
            r = await client.request(method, f"{stack.url}{path}", json=body, headers=headers_of(who))
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED", (
                name,
                path,
                r.text,
            )
        if who is not None:
            frames = await run_subscription(stack, who, docs_by_id(world), {"id": world.ids["job"]}, "ws")
            assert frames == [{"type": "closed", "code": 4403}], (name, frames)
    await assert_a_unchanged(world)
