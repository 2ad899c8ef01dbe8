"""Team API keys: created, listed and revoked by team owners and admins."""

from __future__ import annotations

import strawberry

from models import teams
from models.generation import check_text
from resolvers.errors import query_errors, user_errors
from schema.context import Info
from schema.enums import ApiKeyScope
from schema.inputs import CreateApiKeyInput
from schema.types import ApiKey, ApiKeyPayload, CreateApiKeyPayload
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


@query_errors
async def api_keys(info: Info, include_revoked: bool = False) -> list[ApiKey]:
    principal = info.context.require("read")
    require_admin(principal, "see the team's API keys")
    return [
        api_key_type(k) for k in await teams.team_api_keys(principal.team_id, include_revoked=include_revoked)
    ]


@user_errors(CreateApiKeyPayload)
async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
    principal = info.context.require("read")
    require_admin(principal, "create API keys")
    check_text(input.name, "name")
    created = await teams.create_api_key(
        principal.team_id, principal.user_id, name=input.name, scopes=[s.value for s in input.scopes]
    )
    return CreateApiKeyPayload(api_key=api_key_type(created.key), secret=created.secret)


@user_errors(ApiKeyPayload)
async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKeyPayload:
    principal = info.context.require("read")
    require_admin(principal, "revoke API keys")
    row = await teams.revoke_api_key(principal.team_id, str(id))
    # Its live streams end now, in every API process (revocation.py)
    await info.context.services.bus.credential_revoked({"kind": "api_key", "key_id": str(row.id)})
    return ApiKeyPayload(api_key=api_key_type(row))
