"""docs/contract.md names only what the service serves: every operation, argument, type, field,
enum value, route, REST field, header, error code, websocket subprotocol and close code, and
webhook event it lists exists in schema.graphql and the code. A rename or a removal of a listed
name fails here (the contract is "add freely; never rename or drop"), and so does a doc naming
something that was never served. No service runs: the names are read from the schema file, the
app's route table and the modules that send them."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)
from starlette.routing import Route

from models import events, ledger_csv
from models.webhook_wire import headers as webhook_headers
from realtime.server import PROTOCOLS
from schema.creatives import CreateCreativeInput
from services.settings import Settings
from web import rest
from web.app import create_app
from web.errors import error_response

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "contract.md"
SCHEMA = build_schema((ROOT / "schema.graphql").read_text())
CODE_DIRS = ("web", "realtime", "services", "schema", "resolvers", "models", "tasks", "storage")


def sections() -> dict[str, list[list[str]]]:
    """Each ``## heading`` of the doc with the body rows of its tables (header rows left out)."""
    found: dict[str, list[list[str]]] = {}
    heading, previous = "", ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("|") and previous.startswith("|"):
            if not re.fullmatch(r"\|[\s|:-]*\|", line):  # the line under a table's header
                found.setdefault(heading, []).append(
                    [cell.strip() for cell in line.strip().strip("|").split("|")]
                )
        previous = line
    return found


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def rows(heading: str) -> list[list[str]]:
    body = sections().get(heading, [])
    assert body, f"docs/contract.md has no table under {heading!r}"
    return body


def code_text() -> str:
    return "\n".join(
        path.read_text() for directory in CODE_DIRS for path in sorted((ROOT / directory).rglob("*.py"))
    )


def test_every_listed_operation_is_served_with_its_arguments_and_type() -> None:
    listed = set()
    for operation, arguments, returns in rows("GraphQL operations"):
        (name,) = names(operation)
        root, field_name = name.split(".")
        root_type = SCHEMA.type_map[root]
        assert isinstance(root_type, GraphQLObjectType)
        assert field_name in root_type.fields, f"{name} is not in schema.graphql"
        field = root_type.fields[field_name]
        for argument in names(arguments):
            assert argument in field.args, f"{name} has no argument {argument!r}"
        (type_name,) = names(returns)
        assert get_named_type(field.type).name == type_name, f"{name} no longer returns {type_name}"
        listed.add(name)
    served = {
        f"{root}.{f}" for root in ("Query", "Mutation", "Subscription") for f in SCHEMA.type_map[root].fields
    }
    # A new operation is welcome, and is written down here when it is added.
    assert served <= listed, f"operations served but not in docs/contract.md: {sorted(served - listed)}"


def test_every_listed_type_field_and_enum_value_is_in_the_schema() -> None:
    kinds = {
        "type": GraphQLObjectType,
        "interface": GraphQLInterfaceType,
        "input": GraphQLInputObjectType,
        "enum": GraphQLEnumType,
        "scalar": GraphQLScalarType,
    }
    for name_cell, kind, members in rows("GraphQL types, inputs, enums and scalars"):
        (name,) = names(name_cell)
        graphql_type = SCHEMA.type_map.get(name)
        assert isinstance(graphql_type, kinds[kind]), f"{name} is not a GraphQL {kind} in schema.graphql"
        served = (
            graphql_type.values
            if isinstance(graphql_type, GraphQLEnumType)
            else getattr(graphql_type, "fields", {})
        )
        for member in names(members):
            assert member in served, f"{name}.{member} is not in schema.graphql"


def test_every_listed_route_is_routed(tmp_path: Path) -> None:
    app = create_app(Settings(env="test", data_dir=tmp_path))
    routed = {
        (method, route.path)
        for route in app.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
    }
    listed = [row for row in rows("HTTP routes") if len(row) == 3]
    assert len(listed) >= 8
    for method, path, _ in listed:
        (method_name,), (path_name,) = names(method), names(path)
        assert (method_name, path_name) in routed, f"{method_name} {path_name} is not a route"


def test_the_rest_bodies_have_the_listed_fields() -> None:
    job_fields = set(re.findall(r'"(\w+)":', (ROOT / "models" / "jobs.py").read_text()))
    rest_source = (ROOT / "web" / "rest.py").read_text()
    # the Drive bodies: the rows' snapshots (models/drive.py) and what web/rest.py adds to them
    drive_source = (ROOT / "models" / "drive.py").read_text() + rest_source
    drive_fields = set(re.findall(r'"(\w+)":', drive_source))
    job_get_fields = set(re.findall(r'body\["(\w+)"\] =', rest_source))  # what the GET adds to a job
    error_fields = {"code", "message", "field", "retry_after_seconds", "reset_at"}
    common = {"provider", "drive_folder_id", "settings", "idempotency_key"}
    checked = 0
    for body, fields in (row for row in rows("HTTP routes") if len(row) == 2):
        if body.startswith("generate "):
            (job_type,) = names(body)
            served = set(rest.GENERATE_FIELDS[job_type]) | common
        elif body == "job (GET only)":
            served = job_get_fields
        elif body.startswith("job "):
            served = job_fields
        elif body.startswith("drive "):
            served = drive_fields
        elif body == "creative (POST)":
            served = {f.python_name for f in CreateCreativeInput.__strawberry_definition__.fields}
        elif body == "creative (answer)":
            served = set(re.findall(r'"(\w+)":', inspect.getsource(rest.creative_json)))
        elif body.startswith("ledger CSV"):
            served = set(ledger_csv.HEADER)
        elif body == "error":
            served = error_fields
            rate_limited = error_response(
                429, "RATE_LIMITED", "m", None, extra={"retry_after_seconds": 1, "reset_at": "t"}
            )
            assert set(json.loads(rate_limited.body)["error"]) == error_fields
        else:
            continue
        for field in names(fields):
            assert field in served, f"the REST {body} has no field {field!r}"
        checked += 1
    assert checked == 15


def test_every_listed_header_is_sent_or_read() -> None:
    source = code_text().lower()
    sent_to_receivers = set(webhook_headers(["whsec_" + "A" * 32], "msg_1", 0, b"{}"))
    for header, direction, _ in rows("Headers"):
        (name,) = names(header)
        if direction == "webhook":
            assert name in sent_to_receivers, f"webhook deliveries do not carry {name}"
        else:
            assert f'"{name.lower()}"' in source, f"no code sends or reads the {name} header"


def test_every_listed_error_code_is_answered() -> None:
    source = code_text()
    enum = SCHEMA.type_map["ErrorCode"]
    assert isinstance(enum, GraphQLEnumType)
    for code_cell, _, where in rows("Error codes"):
        (code,) = names(code_cell)
        if "userErrors" in where:
            assert code in enum.values, f"{code} is not an ErrorCode"
        assert f'"{code}"' in source, f"no code answers {code}"


def test_every_listed_subprotocol_and_close_code_is_the_servers() -> None:
    server = (ROOT / "realtime" / "server.py").read_text() + (ROOT / "web" / "app.py").read_text()
    websocket_rows = rows("Websockets")
    protocols = [names(r[0])[0] for r in websocket_rows if names(r[0]) and not names(r[0])[0].isdigit()]
    assert set(protocols) == set(PROTOCOLS)
    close_codes = [names(r[0])[0] for r in websocket_rows if names(r[0]) and names(r[0])[0].isdigit()]
    assert close_codes
    for code in close_codes:
        assert re.search(rf"\b{code}\b", server), f"the server never closes with {code}"


def test_every_listed_webhook_event_is_sent() -> None:
    sent = {
        events.JOB_COMPLETED,
        events.JOB_FAILED,
        events.JOB_CANCELED,
        events.LOW_BALANCE,
        events.ENDPOINT_DISABLED,
    }
    enum = SCHEMA.type_map["WebhookEventType"]
    assert isinstance(enum, GraphQLEnumType)
    listed = rows("Webhook events")
    assert {names(event)[0] for event, _ in listed} == sent
    for event, enum_cell in listed:
        (enum_value,) = names(enum_cell)
        assert enum_value in enum.values, f"{enum_value} is not a WebhookEventType"
        assert enum_value == names(event)[0].replace(".", "_").upper()
