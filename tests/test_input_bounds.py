"""Every input bounded before work (docs/partners.md, "Input limits"): no single message stalls the service or
grows it by more than 50 MB, and no input, however malformed, answers 500 or logs a traceback.

Over the stack: websocket frames past the body limit, documents past the token limit, ping floods
from a client that never reads, messages that are not JSON objects, ``estimateCost`` asked for half
a billion characters, malformed JSON bodies, encodings and numbers, NUL bytes and lone surrogates.
In-process: the outbox cap for every message kind, and the text check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from models import generation
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from realtime import wsout
from tests.stack import Stack, Team

MB = 1024 * 1024
RSS_GROWTH_LIMIT = 50 * MB
# The CPU one hostile message may cost the service, from its arrival to the answer (the bar is 100 ms
# of stall). Measured as the service's CPU time, which other processes on a busy machine (a second
# test worker, CI's neighbours) do not inflate the way they inflate a round trip.
STALL_LIMIT_SECONDS = 0.5
# The round trip of a request sent right behind it: only a gross stall (the unbounded inputs held the
# process for seconds, or for good) shows through a busy machine's scheduling noise.
WAIT_LIMIT_SECONDS = 5.0
SUBPROTOCOL = "graphql-transport-ws"
ESTIMATE = "query ($i: EstimateCostInput!) { estimateCost(input: $i) { cents provider } }"


async def gql(stack: Stack, team: Team, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Like Stack.gql, in ASCII JSON: lone surrogates travel as \\ud800 escapes, as JSON allows."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{stack.url}/graphql",
            content=json.dumps({"query": query, "variables": variables}),
            headers={"content-type": "application/json", **team.headers},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def rss(stack: Stack) -> int:
    """The resident memory of the service process, in bytes."""
    assert stack.proc is not None
    with open(f"/proc/{stack.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def new_log(stack: Stack) -> Iterator[list[str]]:
    """What the service logs inside the block (filled in at its end)."""
    start = stack.log_path.stat().st_size
    lines: list[str] = []
    yield lines
    with stack.log_path.open("rb") as log:
        log.seek(start)
        lines.extend(log.read().decode(errors="replace").splitlines())


def assert_no_traceback(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "Exception in ASGI" not in text, text[-3000:]


async def connect(stack: Stack, team: Team | None, **options: Any) -> websockets.ClientConnection:
    ws = await websockets.connect(stack.ws_url, subprotocols=[SUBPROTOCOL], max_size=None, **options)  # type: ignore[list-item]  # websockets wants Subprotocol, a NewType of str
    if team is not None:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {team.api_key}"}})
        )
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
    return ws


async def close_code(ws: websockets.ClientConnection, within: float = 15.0) -> int:
    """Read (and drop) whatever the server still sends, until it closes; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, closed.value
    return closed.value.rcvd.code


def service_cpu_seconds(stack: Stack) -> float:
    """CPU time (user + system) the service process has used so far."""
    assert stack.proc is not None
    with open(f"/proc/{stack.proc.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def healthz_seconds(stack: Stack) -> float:
    """How long /healthz takes to answer, asked right now."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as client:
        assert (await client.get(f"{stack.url}/healthz")).status_code == 200
    return time.monotonic() - started


def many_tokens(size: int) -> str:
    """A subscription document of about ``size`` characters, nearly all of it tokens."""
    head = "subscription { jobsUpdated { id } }"
    return head + " query q { a }" * ((size - len(head)) // 14)


# -- websocket frames ----------------------------------------------------------------------------
async def test_a_frame_past_the_body_limit_is_refused_and_stalls_nothing(stack: Stack, team: Team) -> None:
    ws = await connect(stack, team)
    before, cpu = rss(stack), service_cpu_seconds(stack)
    with contextlib.suppress(ConnectionClosed):  # the server may close before the frame is all out
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": many_tokens(2 * MB)}}))
    waited = await healthz_seconds(stack)  # asked the moment the frame is out
    assert await close_code(ws) == 1009  # message too big: ws_max_size is CH_MAX_BODY_BYTES
    assert service_cpu_seconds(stack) - cpu < STALL_LIMIT_SECONDS
    assert waited < WAIT_LIMIT_SECONDS, waited
    assert rss(stack) - before < RSS_GROWTH_LIMIT


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        (many_tokens(90_000), "more than 2000 tokens"),
        (many_tokens(900 * 1024), "longer than 100000 characters"),
        ("subscription { jobsUpdated { id } } #" + "x" * 900 * 1024, "longer than 100000 characters"),
    ],
    ids=["tokens", "tokens-900k", "comment-900k"],
)
async def test_a_document_past_the_limits_is_refused_over_websockets_as_over_http(
    stack: Stack, team: Team, query: str, refusal: str
) -> None:
    over_http = await stack.gql(team, query)
    assert refusal in json.dumps(over_http), over_http
    ws = await connect(stack, team)
    before, cpu = rss(stack), service_cpu_seconds(stack)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    waited = await healthz_seconds(stack)
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["type"] == "error" and reply["id"] == "1", reply
    assert refusal in reply["payload"][0]["message"]
    assert service_cpu_seconds(stack) - cpu < STALL_LIMIT_SECONDS
    assert waited < WAIT_LIMIT_SECONDS, waited
    assert rss(stack) - before < RSS_GROWTH_LIMIT
    # The connection carries on.
    await ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "pong"}
    await ws.close()


async def test_a_ping_flood_from_a_client_that_never_reads_is_closed(stack: Stack, team: Team) -> None:
    # max_queue=1: the client stops reading its socket after one message, as a hostile one would.
    ws = await connect(stack, team, max_queue=1)
    before = rss(stack)
    with contextlib.suppress(ConnectionClosed):
        for _ in range(20_000):
            await ws.send('{"type":"ping"}')
    assert await close_code(ws) in (1008, 1013)
    assert rss(stack) - before < RSS_GROWTH_LIMIT


NOT_OBJECTS = [
    "[]",
    '"subscribe"',
    "42",
    "null",
    "[" * 100_000 + "]" * 100_000,
    "{not json",
    '{"type": 1e999999}',
]


async def test_a_message_that_is_not_a_json_object_closes_with_4400(stack: Stack, team: Team) -> None:
    with new_log(stack) as log:
        for initialised in (None, team):
            for message in NOT_OBJECTS:
                ws = await connect(stack, initialised)
                await ws.send(message)
                assert await close_code(ws) == 4400, (message[:20], initialised)
        assert await healthz_seconds(stack) < 30
    assert_no_traceback(log)


async def test_frames_that_are_not_json_text_close_the_socket_without_a_traceback(stack: Stack) -> None:
    with new_log(stack) as log:
        ws = await connect(stack, None)
        await ws.send(b'{"type": "connection_init"}')  # a binary frame
        assert await close_code(ws) == 4400
        ws = await connect(stack, None)
        # Invalid UTF-8 in a text frame: the websocket layer refuses it (1007, invalid data).
        ws.protocol.send_frame(websockets.frames.Frame(websockets.frames.Opcode.TEXT, b'{"type": "\xff"}'))
        ws.send_data()
        assert await close_code(ws) == 1007
        # A lone surrogate as the credential (legal JSON, no legal text).
        ws = await connect(stack, None)
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer chk_\ud800"}})
        )
        assert await close_code(ws) in (4400, 4403)
    assert_no_traceback(log)


GENERATE_COMPOSITE = """mutation ($i: GenerateCompositeInput!) { generateComposite(input: $i) {
  job { id } userErrors { code field message } } }"""


async def test_variables_and_lists_are_bounded_before_they_are_coerced(stack: Stack, team: Team) -> None:
    many = [{"name": "clip", "jobId": str(uuid.uuid4())}] * 15_000  # under 1 MiB
    cpu = service_cpu_seconds(stack)
    body = await stack.gql(team, GENERATE_COMPOSITE, {"i": {"templateId": "t", "inputs": many}})
    assert service_cpu_seconds(stack) - cpu < STALL_LIMIT_SECONDS
    waited = await healthz_seconds(stack)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED", body
    assert "more than 1000 items" in body["errors"][0]["message"]
    assert waited < WAIT_LIMIT_SECONDS, waited
    wide = {f"k{i}": [i] for i in range(30_000)}  # short lists, too many values
    body = await stack.gql(team, GENERATE_COMPOSITE, {"i": {"templateId": "t", "modifications": wide}})
    assert "more than 50000 values" in body["errors"][0]["message"], body
    # Under the list limit, a composite still takes at most 100 inputs (each one is looked up),
    # over GraphQL and REST.
    some = many[:101]
    got = (await stack.data(team, GENERATE_COMPOSITE, {"i": {"templateId": "t", "inputs": some}}))[
        "generateComposite"
    ]
    assert (
        got["userErrors"][0]["code"] == "VALIDATION_FAILED"
        and "100 inputs" in got["userErrors"][0]["message"]
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        rest = await client.post(
            "/api/v1/creative-hub/generate/composite",
            json={"template_id": "t", "inputs": [{"name": "clip", "job_id": str(uuid.uuid4())}] * 10_000},
            headers=team.headers,
        )
    assert rest.status_code == 400 and "100 inputs" in rest.json()["error"]["message"], rest.text


# -- estimateCost --------------------------------------------------------------------------------
async def test_estimate_cost_refuses_what_the_provider_would_refuse_without_allocating_it(
    stack: Stack, team: Team
) -> None:
    before = rss(stack)
    with new_log(stack) as log:
        for bad in (
            {"type": "TTS", "characters": 500_000_000},
            {"type": "TTS", "characters": 2**31 - 1},
            {"type": "TTS", "characters": 0},
            {"type": "AVATAR", "characters": 2**31 - 1},
            {"type": "AVATAR", "durationSeconds": 2**31 - 1},
            {"type": "VIDEO", "durationSeconds": 2**31 - 1},
            {"type": "IMAGE", "variants": 2**31 - 1},
            {"type": "IMAGE", "width": 2**31 - 1, "height": 2**31 - 1},
        ):
            body = await stack.gql(team, ESTIMATE, {"i": bad})
            assert body["data"] is None, (bad, body)
            error = body["errors"][0]
            assert error["extensions"]["code"] == "VALIDATION_FAILED", (bad, error)
    assert rss(stack) - before < RSS_GROWTH_LIMIT
    assert_no_traceback(log)
    # Within the limits it still prices: the provider's most characters cost what the table says.
    most = (await stack.data(team, ESTIMATE, {"i": {"type": "TTS", "characters": 4096}}))["estimateCost"]
    one = (await stack.data(team, ESTIMATE, {"i": {"type": "TTS", "characters": 1000}}))["estimateCost"]
    assert most["provider"] == "OPENAI_TTS" and most["cents"] >= one["cents"] > 0


# -- malformed HTTP ------------------------------------------------------------------------------
NESTED = b"[" * 100_000 + b"]" * 100_000
MALFORMED = {
    "nested-100k": NESTED,
    "nested-object": b'{"query": "{ __typename }", "variables": {"a": ' + NESTED + b"}}",
    "invalid-utf8": b'{"query": "{ \xff\xfe }"}',
    "lone-utf8-continuation": b'{"query": "\x80"}',
    "5000-digit-number": b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5000 + b"}}",
    "syntax": b'{"query": ',
    "a-string": b'"{ __typename }"',
    "null": b"null",
}


async def test_a_malformed_body_answers_400_with_a_short_json_error(stack: Stack, team: Team) -> None:
    headers = {"content-type": "application/json"}
    with new_log(stack) as log:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
            for name, body in MALFORMED.items():
                answers = {
                    "graphql": await client.post("/graphql", content=body, headers=headers),
                    "graphql-authenticated": await client.post(
                        "/graphql", content=body, headers={**headers, **team.headers}
                    ),
                    "rest": await client.post(
                        "/api/v1/creative-hub/generate/image",
                        content=body,
                        headers={**headers, **team.headers},
                    ),
                }
                for where, answer in answers.items():
                    assert answer.status_code == 400, (name, where, answer.status_code, answer.text[:300])
                    assert len(answer.content) < 300, (name, where, answer.text[:300])
                    code = answer.json()["error"]["code"]
                    assert code in ("BAD_REQUEST", "VALIDATION_FAILED"), (name, where, answer.text)
    assert_no_traceback(log)


async def test_malformed_query_strings_answer_400(stack: Stack) -> None:
    file_id = uuid.uuid4()
    with new_log(stack) as log:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
            answers = [
                await client.get(f"/files/{file_id}", params={"expires": "9" * 5000, "signature": "ab"}),
                await client.get(f"/files/{file_id}", params={"expires": "²", "signature": "ab"}),
                await client.get("/graphql", params={"query": "{ __typename }", "variables": "[" * 5000}),
                await client.get("/graphql", params={"query": "{ __typename }", "variables": "9" * 5000}),
            ]
    for answer in answers:
        assert answer.status_code == 400, (answer.url, answer.status_code, answer.text[:300])
        assert len(answer.content) < 300 and answer.json()["error"]["code"] in (
            "BAD_REQUEST",
            "VALIDATION_FAILED",
        )
    assert_no_traceback(log)


async def test_an_unauthenticated_graphql_call_logs_no_traceback(stack: Stack) -> None:
    with new_log(stack) as log:
        body = await stack.gql(None, "{ creditBalance { balanceCents } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert_no_traceback(log)


# -- NUL bytes and lone surrogates ---------------------------------------------------------------
GENERATE_IMAGE = """mutation ($i: GenerateImageInput!) { generateImage(input: $i) {
  job { id } userErrors { code field message } } }"""
CREATE_KEY = """mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  secret userErrors { code field } } }"""


async def test_nul_bytes_and_lone_surrogates_are_refused_with_validation_failed(
    stack: Stack, team: Team
) -> None:
    with new_log(stack) as log:
        for bad in ("a\x00b", "a\ud800b", "\udfff"):  # NUL, a lone high and a lone low surrogate
            for variables in (
                {"i": {"prompt": f"a cat {bad}"}},
                {"i": {"prompt": "a cat", "settings": {"style": bad}}},
                {"i": {"prompt": "a cat", "settings": {bad: "x"}}},
                {"i": {"prompt": "a cat", "idempotencyKey": bad}},
            ):
                got = (await gql(stack, team, GENERATE_IMAGE, variables))["generateImage"]
                assert got["job"] is None, (variables, got)
                assert got["userErrors"][0]["code"] == "VALIDATION_FAILED", (variables, got)
            key = (await gql(stack, team, CREATE_KEY, {"i": {"name": bad, "scopes": ["READ"]}}))[
                "createApiKey"
            ]
            assert key["secret"] is None and key["userErrors"][0]["code"] == "VALIDATION_FAILED", key
            async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
                rest = await client.post(
                    "/api/v1/creative-hub/generate/image",
                    content=json.dumps({"prompt": f"a cat {bad}"}),  # ASCII JSON: \\u0000, \\ud800
                    headers={"content-type": "application/json", **team.headers},
                )
            assert rest.status_code == 400 and rest.json()["error"]["code"] == "VALIDATION_FAILED", rest.text
    assert_no_traceback(log)


# -- in-process -----------------------------------------------------------------------------------
async def test_check_text_names_the_field_and_the_check_runs_first_in_validate() -> None:
    generation.check_text("plain text, emoji \U0001f600 and all", "prompt")  # fine
    with pytest.raises(DomainError) as nul:
        generation.check_text({"a": [1, {"b": "x\x00"}]}, "settings")
    assert nul.value.code == ErrorCode.VALIDATION_FAILED and nul.value.field == ["input", "settings"]
    deep: Any = "\ud800"
    for _ in range(100_000):  # deeper than any recursion limit: the walk is iterative
        deep = [deep]
    with pytest.raises(DomainError):
        generation.check_text(deep, "source")
    # validate refuses before it reads anything (no database here).
    req = GenerationRequest(type="image", team_id=uuid.uuid4(), user_id=uuid.uuid4(), text="a\x00b")
    with pytest.raises(DomainError) as refused:
        await generation.validate(req)
    assert refused.value.code == ErrorCode.VALIDATION_FAILED and refused.value.field == ["input", "prompt"]


class _StuckLink:
    """A client that never reads: nothing is ever written."""

    immediate = False

    def write_now(self, messages: list[wsout.Message]) -> bool:
        return False

    async def write(self, messages: list[wsout.Message]) -> None:
        await asyncio.Event().wait()


@pytest.mark.parametrize("droppable", [False, True], ids=["control", "next"])
@pytest.mark.parametrize("size", [15, 256 * 1024], ids=["small", "large"])
async def test_the_outbox_is_capped_for_every_message_kind(droppable: bool, size: int) -> None:
    overflowed: list[bool] = []
    outbox = wsout.Outbox(_StuckLink(), on_overflow=lambda: overflowed.append(True))
    for _ in range(100_000 if size < 1024 else 1_000):
        outbox.put(b"x" * size, droppable=droppable)
    await asyncio.sleep(0)
    assert outbox.queued <= wsout.OUTBOX_SIZE and outbox.queued_bytes <= wsout.OUTBOX_BYTES
    # "next" messages make way for newer ones; anything else past the cap ends the connection.
    assert overflowed == ([] if droppable else [True])
    outbox.close()


async def test_fragments_that_double_at_every_step_are_refused_before_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """About 700 tokens (under MAX_TOKENS) naming 2**59 fields: strawberry's depth and alias
    limiters expand every spread afresh, so over HTTP this held the process for good
    (unauthenticated, since validation runs first). Refused before any validation rule
    (the walks that cost seconds to forever) or limiter sees the document."""
    import strawberry.schema.schema as strawberry_schema

    from web.graphql import build_schema

    schema = build_schema()

    def validation_must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the document reached validation")

    monkeypatch.setattr(strawberry_schema, "validate", validation_must_not_run)
    fragments = "fragment F0 on Viewer { userId teamId }\n" + "\n".join(
        f"fragment F{i} on Viewer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 60)
    )
    result = await schema.execute("query { viewer { ...F59 } }\n" + fragments)
    assert result.errors and "fragments are expanded" in result.errors[0].message
    assert result.errors[0].extensions == {"code": "VALIDATION_FAILED"}
    # no fragments at all: 990 fields of one name, quadratic in graphql-core's overlap rule
    result = await schema.execute("query { viewer { " + " userId" * 990 + " } }")
    assert result.errors and "fragments are expanded" in result.errors[0].message
    # nor split over operations or an unused fragment, each validated on its own (250 ms each)
    for document in (
        " ".join(f"query Q{i} {{ viewer {{" + " userId" * 480 + " } }" for i in range(4)),
        "fragment A on Viewer {" + " userId" * 1900 + " } query { __typename }",
    ):
        result = await schema.execute(document)
        assert result.errors and "fragments are expanded" in result.errors[0].message
    monkeypatch.undo()
    # the same fragments spread a bounded number of times are fine (refused for auth, not size)
    small = "fragment F0 on Viewer { userId }\nfragment F1 on Viewer { ...F0 ...F0 }"
    result = await schema.execute("query { viewer { ...F1 } }\n" + small)
    assert not result.errors or "expanded" not in result.errors[0].message


@pytest.mark.parametrize(
    "body",
    ['{"a": NaN}', '{"a": Infinity}', '{"a": [-Infinity]}', '{"a": 1e400}', '{"a": -1E+999}'],
)
def test_json_that_only_python_reads_is_refused(body: str) -> None:
    """Stored in a job's source or modifications, NaN and Infinity answered 500 on PostgreSQL
    ("invalid input syntax for type json"), over GraphQL and REST."""
    from web import rest

    with pytest.raises(ValueError, match="invalid JSON"):
        rest.loads(body)
    assert rest.loads('{"a": 1.5e300, "b": -0.0}') == {"a": 1.5e300, "b": -0.0}


async def test_a_graphql_literal_past_a_floats_range_is_refused_before_the_database() -> None:
    """``modifications: {a: 1e400}`` in the document itself (not a JSON body) reaches the resolver
    as infinity; stored, PostgreSQL refused it and generateComposite answered Internal server error."""
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(DomainError) as refused:
            generation.check_text({"a": [1.5, {"b": value}]}, "modifications")
        assert refused.value.code == ErrorCode.VALIDATION_FAILED
        assert refused.value.field == ["input", "modifications"]
    req = GenerationRequest(
        type="composite",
        team_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        template_id="t-1",
        modifications={"Title.x": float("inf")},
    )
    with pytest.raises(DomainError) as refused:
        await generation.validate(req)
    assert refused.value.field == ["input", "modifications"]


def test_a_client_error_is_logged_on_one_line_with_its_text_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """What a client sent comes back in the error message; logged raw, a newline would forge a log
    line and a NUL make the log a binary file."""
    from graphql import GraphQLError

    from web.graphql import build_schema

    schema = build_schema()

    caplog.set_level(logging.INFO, logger="creative_hub.graphql")
    forged = 'bad key "x\n2026-11-30 INFO creative_hub: all is well\x00"'
    schema.process_errors([GraphQLError(forged, extensions={"code": "VALIDATION_FAILED"})])
    lines = [r.getMessage() for r in caplog.records if r.name == "creative_hub.graphql"]
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\x00" not in lines[0]
    assert "VALIDATION_FAILED" in lines[0] and "all is well" in lines[0]
