"""``GET /metrics``: the process's Prometheus metrics (counters in models/metrics.py and
realtime/metrics.py)."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from services.auth import bearer


async def metrics_endpoint(request: Request) -> Response:
    """With ``CH_METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``; without it, public
    in development and not served in production (404, as for any unknown path)."""
    settings = request.app.state.services.settings
    token: str | None = settings.metrics_token
    if token is None:
        if settings.env == "production":
            return PlainTextResponse("Not Found", status_code=404)
    else:
        supplied = bearer(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            return PlainTextResponse(
                "send Authorization: Bearer <CH_METRICS_TOKEN>",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
