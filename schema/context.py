"""The per-request (or per-websocket-connection) GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as _Info

from services.auth import Principal
from services.container import Services


class NotAuthenticated(GraphQLError):
    """No valid credential: a GraphQL error (not a userError), never masked."""

    def __init__(
        self, message: str = "authentication required: send Authorization: Bearer <API key or JWT>"
    ) -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


@dataclass
class Context:
    request: Request | WebSocket
    services: Services
    principal: Principal | None = None
    connection_params: dict[str, Any] | None = None
    # Batching loaders of this request, by name (resolvers/outputs.py): they do not cache, so a
    # websocket's context, living across events, never answers from an old read.
    loaders: dict[str, Any] = field(default_factory=dict)

    def require(self, scope: str = "read") -> Principal:
        if self.principal is None:
            raise NotAuthenticated()
        if scope not in self.principal.scopes:
            raise GraphQLError(f"this credential lacks the {scope!r} scope", extensions={"code": "FORBIDDEN"})
        return self.principal


Info = _Info[Context, None]
