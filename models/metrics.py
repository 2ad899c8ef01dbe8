"""The domain's Prometheus counters (served by ``GET /metrics``, web/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

JOBS_SUBMITTED = Counter("creative_hub_jobs_submitted_total", "Jobs accepted", ["type", "provider"])
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
