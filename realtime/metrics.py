"""The websocket server's Prometheus gauges (served by ``GET /metrics``, web/metrics.py)."""

from __future__ import annotations

from prometheus_client import Gauge

SUBSCRIPTIONS = Gauge("creative_hub_subscriptions", "Live websocket subscriptions in this process")
SUBSCRIPTION_GROUPS = Gauge(
    "creative_hub_subscription_groups",
    "Distinct subscription executions (subscribers sharing a document share one)",
)
