"""Prometheus metrics of this process (``GET /metrics``)."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from auth import bearer

JOBS_SUBMITTED = Counter("creative_hub_jobs_submitted_total", "Jobs accepted", ["type", "provider"])
SUBSCRIPTIONS = Gauge("creative_hub_subscriptions", "Live websocket subscriptions in this process")
SUBSCRIPTION_GROUPS = Gauge(
    "creative_hub_subscription_groups",
    "Distinct subscription executions (subscribers sharing a document share one)",
)
JOBS_FINISHED = Counter(
    "creative_hub_jobs_finished_total", "Jobs that reached a terminal status", ["type", "status"]
)

PRICE_TIER_MISMATCHES = Counter(
    "creative_hub_price_tier_mismatches_total",
    "Finished jobs whose provider reported a different tier (quality, size, mode …) than was priced",
    ["provider"],
)
OVERRUNS = Counter(
    "creative_hub_overruns_total", "Finished jobs whose cost exceeded their hold", ["provider"]
)
OVERRUN_CENTS = Counter(
    "creative_hub_overrun_cents_total",
    "Cents by which finished jobs' costs exceeded their holds",
    ["provider"],
)


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
