"""Team API keys: created, listed and revoked by team owners and admins."""

from __future__ import annotations

import strawberry

from models import teams
from models.errors import DomainError
from models.generation import check_text
from schema.context import Info, query_error
from schema.enums import ApiKeyScope
from schema.inputs import CreateApiKeyInput
from schema.types import ApiKey, ApiKeyPayload, CreateApiKeyPayload, UserError
from services.auth import require_admin


def api_key_type(row: teams.ApiKey) -> ApiKey:
    return ApiKey(
        id=strawberry.ID(str(row.id)),
        name=row.name,
        prefix=row.prefix,
        scopes=[ApiKeyScope(s) for s in row.scopes],
        created_by_user_id=strawberry.ID(str(row.user_id)),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def api_keys(info: Info, include_revoked: bool = False) -> list[ApiKey]:
    principal = info.context.require("read")
    try:
        require_admin(principal, "see the team's API keys")
    except DomainError as exc:
        raise query_error(exc) from None
    return [
        api_key_type(k) for k in await teams.team_api_keys(principal.team_id, include_revoked=include_revoked)
    ]


async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
    principal = info.context.require("read")
    try:
        require_admin(principal, "create API keys")
        check_text(input.name, "name")
        created = await teams.create_api_key(
            principal.team_id, principal.user_id, name=input.name, scopes=[s.value for s in input.scopes]
        )
    except DomainError as exc:
        return CreateApiKeyPayload(api_key=None, secret=None, user_errors=[UserError.of(exc)])
    return CreateApiKeyPayload(api_key=api_key_type(created.key), secret=created.secret, user_errors=[])


async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKeyPayload:
    principal = info.context.require("read")
    try:
        require_admin(principal, "revoke API keys")
        row = await teams.revoke_api_key(principal.team_id, str(id))
    except DomainError as exc:
        return ApiKeyPayload(api_key=None, user_errors=[UserError.of(exc)])
    # Its live streams end now, in every API process (revocation.py)
    await info.context.services.bus.credential_revoked({"kind": "api_key", "key_id": str(row.id)})
    return ApiKeyPayload(api_key=api_key_type(row), user_errors=[])
