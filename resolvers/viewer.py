"""Who is calling."""

from __future__ import annotations

import strawberry

from models.teams import ALL_SCOPES, Team
from resolvers.errors import query_errors
from schema.context import Info
from schema.enums import ApiKeyScope
from schema.types import Viewer


@query_errors
async def viewer(info: Info) -> Viewer:
    principal = info.context.require("read")
    team = await Team.get(id=principal.team_id)
    return Viewer(
        user_id=strawberry.ID(str(principal.user_id)),
        team_id=strawberry.ID(str(team.id)),
        team_name=team.name,
        role=principal.role.value,
        is_admin=principal.is_admin,
        scopes=[ApiKeyScope(s) for s in ALL_SCOPES if s in principal.scopes],
        api_key_id=strawberry.ID(str(principal.api_key_id)) if principal.api_key_id else None,
    )
