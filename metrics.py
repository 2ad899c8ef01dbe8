"""Prometheus metrics of this process (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import Response

JOBS_SUBMITTED = Counter("creative_hub_jobs_submitted_total", "Jobs accepted", ["type", "provider"])
SUBSCRIPTIONS = Gauge("creative_hub_subscriptions", "Live websocket subscriptions in this process")
SUBSCRIPTION_GROUPS = Gauge(
    "creative_hub_subscription_groups",
    "Distinct subscription executions (subscribers sharing a document share one)",
)
JOBS_FINISHED = Counter(
    "creative_hub_jobs_finished_total", "Jobs that reached a terminal status", ["type", "status"]
)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
