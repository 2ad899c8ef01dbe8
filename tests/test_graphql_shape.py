"""The one way a domain error reaches a GraphQL client (resolvers/errors.py), in-process: no stack.

- In a mutation, a ``DomainError`` is the payload's ``userErrors`` (code, message, field, and
  retryAfterSeconds for a rate limit), the payload's other fields null; any other exception is not
  swallowed (a GraphQL error, the field null).
- In a query, a ``DomainError`` is a GraphQL error carrying its code; any other exception stays a
  fault (masked by the API's schema).
- The schema's enums over the domain's string constants (job types, providers, webhook events, …)
  list exactly the domain's values (the domain's own enums are exposed as they are, schema/enums.py).
- The API's own schema: a member's createApiKey and apiKeys answer FORBIDDEN that way, and every
  root query and mutation goes through the mechanism (a new one cannot leak a DomainError as an
  "Internal server error").
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry

from models import usage, webhooks
from models.errors import DomainError, ErrorCode, RateLimited
from models.teams import ALL_SCOPES, Role
from providers import catalog, lifecycle
from resolvers.errors import query_errors, user_errors
from resolvers.root import Mutation, Query
from schema import enums
from schema.context import Context
from schema.types import DeletePayload
from services.auth import Principal
from services.settings import Settings
from web.graphql import build_schema

PAYLOAD = "{ deletedId userErrors { code message field retryAfterSeconds } }"


def _schema(failure: Exception | None) -> strawberry.Schema:
    """A schema whose one mutation and one query raise ``failure`` (or succeed)."""

    @user_errors(DeletePayload)
    async def delete_resolver(id: strawberry.ID) -> DeletePayload:
        if failure is not None:
            raise failure
        return DeletePayload(deleted_id=id)

    @query_errors
    async def thing_resolver(id: strawberry.ID) -> str:
        if failure is not None:
            raise failure
        return f"thing {id}"

    @strawberry.type
    class TinyQuery:
        thing: str = strawberry.field(resolver=thing_resolver)

    @strawberry.type
    class TinyMutation:
        delete_thing: DeletePayload = strawberry.mutation(resolver=delete_resolver)

    return strawberry.Schema(query=TinyQuery, mutation=TinyMutation)


async def _mutate(failure: Exception | None) -> Any:
    return await _schema(failure).execute(f'mutation {{ deleteThing(id: "7") {PAYLOAD} }}')


async def _query(failure: Exception | None) -> Any:
    return await _schema(failure).execute('{ thing(id: "7") }')


# -- mutations: userErrors -------------------------------------------------------------------------
async def test_a_domain_error_in_a_mutation_is_its_payloads_user_error() -> None:
    failure = DomainError(ErrorCode.NOT_FOUND, "webhook endpoint not found", ["id"])
    result = await _mutate(failure)
    assert result.errors is None
    assert result.data == {
        "deleteThing": {
            "deletedId": None,
            "userErrors": [
                {
                    "code": "NOT_FOUND",
                    "message": "webhook endpoint not found",
                    "field": ["id"],
                    "retryAfterSeconds": None,
                }
            ],
        }
    }


async def test_a_rate_limit_in_a_mutation_carries_its_retry_after() -> None:
    result = await _mutate(
        RateLimited("too many generations: wait a minute", retry_after_seconds=42, reset_at=0)
    )
    assert result.data["deleteThing"]["userErrors"] == [
        {
            "code": "RATE_LIMITED",
            "message": "too many generations: wait a minute",
            "field": None,
            "retryAfterSeconds": 42,
        }
    ]


async def test_a_mutation_that_succeeds_has_no_user_errors() -> None:
    result = await _mutate(None)
    assert result.errors is None
    assert result.data == {"deleteThing": {"deletedId": "7", "userErrors": []}}


async def test_a_fault_in_a_mutation_is_not_swallowed() -> None:
    result = await _mutate(RuntimeError("the disk is on fire"))
    assert result.data is None  # the payload is non-null: no partial answer pretends it worked
    assert [error.message for error in result.errors] == ["the disk is on fire"]
    assert isinstance(result.errors[0].original_error, RuntimeError)


# -- queries: GraphQL errors -----------------------------------------------------------------------
async def test_a_domain_error_in_a_query_is_a_graphql_error_with_its_code() -> None:
    result = await _query(
        DomainError(ErrorCode.VALIDATION_FAILED, "first must be between 1 and 100", ["first"])
    )
    assert result.data is None
    [error] = result.errors
    assert error.message == "first must be between 1 and 100"
    assert error.extensions == {"code": "VALIDATION_FAILED", "field": ["first"]}  # as a userError's
    assert error.path == ["thing"]


async def test_a_query_that_succeeds_answers() -> None:
    result = await _query(None)
    assert result.errors is None
    assert result.data == {"thing": "thing 7"}


async def test_a_fault_in_a_query_stays_a_fault() -> None:
    result = await _query(KeyError("result_urls"))
    [error] = result.errors
    assert isinstance(error.original_error, KeyError)
    assert not error.extensions  # no code: the API's MaskFaults answers it "Internal server error"


# -- the API's schema --------------------------------------------------------------------------------
class _Limiter:
    async def read(self, principal: Principal) -> None:
        return None


def _member_context() -> Context:
    principal = Principal(
        team_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.MEMBER, scopes=frozenset(ALL_SCOPES)
    )
    services = SimpleNamespace(settings=Settings(), limiter=_Limiter())
    return Context(request=None, services=services, principal=principal)  # type: ignore[arg-type]


async def test_a_members_create_api_key_is_refused_in_user_errors() -> None:
    result = await build_schema().execute(
        'mutation { createApiKey(input: {name: "ci", scopes: [READ]}) '
        "{ apiKey { id } secret userErrors { code message field } } }",
        context_value=_member_context(),
    )
    assert result.errors is None
    assert result.data == {
        "createApiKey": {
            "apiKey": None,
            "secret": None,
            "userErrors": [
                {
                    "code": "FORBIDDEN",
                    "message": "only team owners and admins can create API keys",
                    "field": None,
                }
            ],
        }
    }


async def test_a_members_api_keys_query_is_a_forbidden_error() -> None:
    result = await build_schema().execute("{ apiKeys { id } }", context_value=_member_context())
    assert result.data is None
    [error] = result.errors
    assert error.message == "only team owners and admins can see the team's API keys"
    assert error.extensions == {"code": "FORBIDDEN"}


def _fields(root: type) -> list[Any]:
    return list(root.__strawberry_definition__.fields)  # type: ignore[attr-defined]


@pytest.mark.parametrize("field", _fields(Mutation), ids=lambda f: f.python_name)
def test_every_mutation_answers_domain_errors_in_its_own_payload(field: Any) -> None:
    resolver = field.base_resolver.wrapped_func
    assert getattr(resolver, "domain_errors", None) == ("user_errors", field.type)


@pytest.mark.parametrize("field", _fields(Query), ids=lambda f: f.python_name)
def test_every_query_answers_domain_errors_as_graphql_errors(field: Any) -> None:
    resolver = field.base_resolver.wrapped_func
    assert getattr(resolver, "domain_errors", None) == ("query_errors", None)


# -- enums -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schema_enum", "domain_values"),
    [
        (enums.JobType, (catalog.IMAGE, catalog.VIDEO, catalog.AVATAR, catalog.TTS, catalog.COMPOSITE)),
        (enums.Provider, tuple(catalog.CATALOG)),
        (enums.ModelLifecycle, (lifecycle.ACTIVE, lifecycle.DEPRECATED, lifecycle.SHUT_DOWN)),
        (enums.Placement, tuple(catalog.PLACEMENTS)),
        (enums.CreditUsageGroupBy, usage.GROUPS),
        (enums.ApiKeyScope, ALL_SCOPES),
        (enums.WebhookEventType, webhooks.WEBHOOK_EVENTS),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_schema_enums_list_exactly_the_domains_values(
    schema_enum: Any, domain_values: tuple[str, ...]
) -> None:
    assert sorted(member.value for member in schema_enum) == sorted(domain_values)
