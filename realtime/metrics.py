"""The websocket server's Prometheus metrics (served by ``GET /metrics``, web/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from realtime import wsout

SUBSCRIPTIONS = Gauge("creative_hub_subscriptions", "Live websocket subscriptions in this process")
SUBSCRIPTION_GROUPS = Gauge(
    "creative_hub_subscription_groups",
    "Distinct subscription executions (subscribers sharing a document share one)",
)


class _MessagesSent(Collector):
    """wsout's plain counters, read at scrape time (a Prometheus counter per write would cost a
    lock on the fan-out's hot path)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "creative_hub_websocket_messages_sent",
            "Messages WS /graphql wrote to its clients: straight to uvicorn's transport (link=direct) "
            "or through the ASGI send (link=asgi, the slow path)",
            labels=["link"],
        )
        for link, count in wsout.SENT.items():
            family.add_metric([link], count)
        yield family


REGISTRY.register(_MessagesSent())
