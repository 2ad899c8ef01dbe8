"""Property-based fuzzing of the public surface: GraphQL documents generated from the SDL
(hypothesis-graphql), the REST routes and websocket messages built from hypothesis strategies.

What must hold for every input, authenticated or not: no 500, no masked fault ("Internal server
error" means an exception nobody handled), no websocket closed as an internal error (1011), and,
once the jobs the fuzz submitted have ended, no hold left open and ``admin audit-ledger`` clean.

The examples are few per run (the suite stays fast) and random from run to run
(``derandomize=False``), so each CI run explores new inputs; a failure prints the input."""

from __future__ import annotations

import asyncio
import json
import string
import time
from typing import Any

import httpx
import pytest
import websockets
from graphql.language import IntValueNode
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema

from tests.stack import ROOT, Stack, Team
from tests.test_credits import audit

SDL = (ROOT / "schema.graphql").read_text()
FAULT = "Internal server error"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    # No shrinking: hypothesis-graphql's strategies do not always replay a document identically, and
    # a replay that differs turns a real failure into FlakyStrategyDefinition; the failing input is
    # printed as found.
    phases=[Phase.explicit, Phase.generate],
)

# Text that has broken parsers and databases before: NUL, lone surrogates, huge numbers, deep nests.
NASTY_TEXT = st.sampled_from(
    ["", "\x00", "a\x00b", "\ud800", "\udfff", "é" * 3, "[sim:fail]", "[sim:500]", "9" * 5000, " " * 3]
)
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
CUSTOM_SCALARS = {
    "JSON": JSON_VALUE.map(lambda v: _ast_value(v)),
    "DateTime": st.sampled_from(["2026-01-01T00:00:00Z", "not a date", "9999-12-31T23:59:59+00:00"]).map(
        lambda v: _ast_value(v)
    ),
    # Byte counts (createUpload's sizeBytes): any size, negative and past 64 bits too, or not a number.
    "BigInt": st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: IntValueNode(value=str(n))),
        st.sampled_from(["12", "a lot", "1e9"]).map(lambda v: _ast_value(v)),
    ),
    # A file is a multipart part; inside a document it can only be some other literal.
    "Upload": st.sampled_from(["", "file.png", "0"]).map(lambda v: _ast_value(v)),
}


def _ast_value(value: Any) -> Any:
    from graphql import ast_from_value
    from graphql.type import GraphQLString

    # hypothesis-graphql wants AST nodes for custom scalars; JSON goes in as its string form when it
    # is not a plain string (the scalar parses either).
    return ast_from_value(value if isinstance(value, str) else json.dumps(value), GraphQLString)


def _faults(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("errors") or [] if FAULT in str(e.get("message"))]


def _check_graphql(response: httpx.Response, document: str) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        document,
        response.text[:500],
    )
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        assert not _faults(body), (document, body)


def _settle(stack: Stack, team: Team, within: float = 90.0) -> None:
    """Until none of the team's jobs is open: then nothing may stay held."""
    deadline = time.monotonic() + within
    query = "{ creditBalance { heldCents } jobs(first: 1, filter: {status: PROCESSING}) { edges { node { id } } } }"
    while True:
        held = httpx.post(f"{stack.url}/graphql", json={"query": query}, headers=team.headers, timeout=30)
        body = held.json()
        if body["data"]["creditBalance"]["heldCents"] == 0:
            return
        assert time.monotonic() < deadline, f"a hold stayed open: {body}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def fuzz_team(stack: Stack) -> Team:
    return stack.create_team(1_000_000)


def test_fuzzed_graphql_documents_never_fault(stack: Stack, fuzz_team: Team) -> None:
    """Queries and mutations generated from the SDL, with and without a credential."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:

        @FUZZ
        @given(
            document=from_schema(SDL, custom_scalars=CUSTOM_SCALARS),
            authenticated=st.booleans(),
        )
        @example(document='{ job(id: "\ud800") { id } }', authenticated=True)
        # Found by this test: a malformed jobId in the ledger's filter was a 500 on PostgreSQL.
        @example(document="{ creditTransactions(filter: {jobId: 0}) { nodes { id } } }", authenticated=True)
        def run(document: str, authenticated: bool) -> None:
            headers = fuzz_team.headers if authenticated else {}
            # As JSON with ASCII escapes: a lone surrogate in a string reaches the service as the
            # escape "\\ud800" (it cannot be sent as UTF-8 text), which the service must refuse cleanly.
            body = json.dumps({"query": document}).encode()
            headers = {"content-type": "application/json", **headers}
            _check_graphql(client.post("/graphql", content=body, headers=headers), document)

        run()
    _settle(stack, fuzz_team)
    assert audit(stack)["ok"] is True


GRAPHQL_BODY = st.one_of(
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"query": TEXT, "variables": JSON_VALUE, "operationName": JSON_VALUE}).map(
        lambda d: json.dumps(d).encode()
    ),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b'{"query":' * n + b"}" * n),
    st.just(b'{"query": "{ creditBalance { balanceCents } }\xff"}'),
)


def test_fuzzed_graphql_bodies_never_fault(stack: Stack, fuzz_team: Team) -> None:
    """Whatever the body of POST /graphql is (not JSON, not an object, nested deep, bad UTF-8),
    the answer is a 4xx with a short error, never a 500."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:

        @FUZZ
        @given(body=GRAPHQL_BODY, authenticated=st.booleans())
        def run(body: bytes, authenticated: bool) -> None:
            headers = {"content-type": "application/json", **(fuzz_team.headers if authenticated else {})}
            _check_graphql(client.post("/graphql", content=body, headers=headers), body[:200])

        run()


REST_TYPES = st.sampled_from(["image", "video", "avatar", "tts", "composite", "IMAGE", "x", "%00", ""])
REST_KEYS = st.sampled_from(
    [
        "prompt",
        "text",
        "script",
        "aspect_ratio",
        "placement",
        "duration_seconds",
        "image_file_id",
        "avatar_id",
        "voice_id",
        "template_id",
        "source",
        "modifications",
        "inputs",
        "provider",
        "drive_folder_id",
        "idempotency_key",
        "settings",
    ]
)
REST_BODY = st.one_of(
    st.dictionaries(REST_KEYS, JSON_VALUE, max_size=6).map(lambda d: json.dumps(d).encode()),
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n + b"]" * n),
    st.just(b'{"prompt": "\xff\xfe"}'),
)
CREATIVE_KEYS = st.sampled_from(
    ["recipe", "nodes", "video_with_voiceover", "image_with_logo", "localized_avatar", "drive_folder_id", "x"]
)
NODE = st.dictionaries(
    st.sampled_from(["key", "image", "video", "tts", "composite", "inputs", "colour"]),
    st.one_of(
        JSON_VALUE,
        st.dictionaries(
            st.sampled_from(["prompt", "text", "variants", "seed", "placements", "duration_seconds", "name"]),
            JSON_VALUE,
            max_size=3,
        ),
    ),
    max_size=4,
)
CREATIVE_BODY = st.one_of(
    st.dictionaries(
        CREATIVE_KEYS,
        st.one_of(
            JSON_VALUE,
            st.lists(NODE, max_size=3),
            st.sampled_from(["VIDEO_WITH_VOICEOVER", "image_with_logo", "NOPE"]),
            st.fixed_dictionaries({"video": NODE, "voiceover": NODE}),
        ),
        max_size=4,
    ).map(lambda d: json.dumps(d).encode()),
    REST_BODY,
)
PATH_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.%~", max_size=40)


def _check_rest(response: httpx.Response, what: object) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        response.status_code,
        what,
        response.text[:500],
    )
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        error = response.json().get("error")
        assert isinstance(error, dict) and isinstance(error.get("code"), str), (what, response.text[:500])


def test_fuzzed_rest_requests_never_fault(stack: Stack, fuzz_team: Team) -> None:
    """The REST forms (generate, creatives) and the file route with bodies, paths, query strings
    and headers from strategies."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:

        @FUZZ
        @given(
            kind=REST_TYPES,
            body=REST_BODY,
            authenticated=st.booleans(),
            content_type=st.sampled_from(
                ["application/json", "text/plain", "application/json; charset=latin-1"]
            ),
            idempotency=st.one_of(st.none(), PATH_TEXT),
        )
        def generate(
            kind: str, body: bytes, authenticated: bool, content_type: str, idempotency: str | None
        ) -> None:
            headers = {"content-type": content_type, **(fuzz_team.headers if authenticated else {})}
            if idempotency:
                headers["idempotency-key"] = idempotency
            response = client.post(f"/api/v1/creative-hub/generate/{kind}", content=body, headers=headers)
            _check_rest(response, (kind, body[:200]))

        @FUZZ
        @given(body=CREATIVE_BODY, authenticated=st.booleans())
        def creative(body: bytes, authenticated: bool) -> None:
            headers = {"content-type": "application/json", **(fuzz_team.headers if authenticated else {})}
            response = client.post("/api/v1/creative-hub/creatives", content=body, headers=headers)
            _check_rest(response, body[:300])

        @FUZZ
        @given(
            route=st.sampled_from(
                ["/api/v1/creative-hub/jobs/", "/files/", "/api/v1/creative-hub/creatives/"]
            ),
            ident=st.one_of(PATH_TEXT, st.uuids().map(str)),
            params=st.dictionaries(
                st.sampled_from(["expires", "signature", "x"]),
                st.one_of(PATH_TEXT, st.integers(min_value=-(10**30), max_value=10**30).map(str), NASTY_TEXT),
                max_size=3,
            ),
            authorization=st.one_of(
                st.none(),
                st.just("own"),
                st.sampled_from(["Bearer ", "Bearer chk_x", "Basic abc", "Bearer a.b.c", "Bearer \x7f"]),
            ),
        )
        def read(route: str, ident: str, params: dict[str, str], authorization: str | None) -> None:
            headers = {}
            if authorization == "own":
                headers = fuzz_team.headers
            elif authorization is not None:
                headers = {"authorization": authorization}
            try:
                response = client.get(f"{route}{ident}", params=params, headers=headers)
            except (httpx.InvalidURL, UnicodeEncodeError, httpx.LocalProtocolError):
                return  # not sendable as HTTP: nothing reached the service
            _check_rest(response, (route, ident, params, authorization))

        generate()
        creative()
        read()
    _settle(stack, fuzz_team)
    assert audit(stack)["ok"] is True


WS_MESSAGE = st.one_of(
    JSON_VALUE.map(json.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["subscribe", "start", "ping", "pong", "complete", "stop", "x"]),
            "id": st.one_of(st.none(), TEXT, st.integers()),
            "payload": st.one_of(
                JSON_VALUE,
                st.fixed_dictionaries(
                    {
                        "query": st.one_of(
                            TEXT,
                            st.sampled_from(
                                [
                                    "subscription { creditBalanceUpdated { balanceCents } }",
                                    "{ creditBalance { balanceCents } }",
                                    "subscription ($id: ID!) { jobUpdated(id: $id) { status } }",
                                ]
                            ),
                        ),
                        "variables": JSON_VALUE,
                    }
                ),
            ),
        }
    ).map(json.dumps),
    st.binary(max_size=32),
)


def test_fuzzed_websocket_messages_never_fault(stack: Stack, fuzz_team: Team) -> None:
    """After an accepted connection_init, a few fuzzed messages: the server answers or closes the
    connection with a protocol code, never with 1011 (an internal error), and stays up."""

    async def session(messages: list[str | bytes], protocol: str) -> None:
        async with websockets.connect(stack.ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
            await ws.send(json.dumps({"type": "connection_init", "payload": dict(fuzz_team.headers)}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
            try:
                for message in messages:
                    await ws.send(message)
                # A ping the server must answer proves it is still serving this connection (or it
                # closed it with a reason, checked below).
                await ws.send(
                    json.dumps(
                        {"type": "ping"}
                        if protocol == "graphql-transport-ws"
                        else {"type": "connection_init"}
                    )
                )
                async with asyncio.timeout(10):
                    async for _ in ws:
                        break
            except websockets.ConnectionClosed:
                pass
            if ws.close_code is not None:
                assert ws.close_code != 1011, (messages, ws.close_code, ws.close_reason)

    log_start = stack.log_path.stat().st_size

    @settings(FUZZ, max_examples=40)
    @given(
        messages=st.lists(WS_MESSAGE, min_size=1, max_size=4),
        protocol=st.sampled_from(["graphql-transport-ws", "graphql-ws"]),
    )
    def run(messages: list[str | bytes], protocol: str) -> None:
        asyncio.run(session(messages, protocol))

    run()
    assert httpx.get(f"{stack.url}/healthz", timeout=10).status_code == 200
    with stack.log_path.open("rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    assert "Exception in ASGI application" not in log, log[-3000:]
