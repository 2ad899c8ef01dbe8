"""How far a job is, and when it should be done: the rules behind ``progress``, ``queuePosition``
and ``expectedCompletionAt`` (docs/realtime.md, Progress and expectations).

* **Progress** is the provider's own figure where it gives one (Runway, BFL), else an estimate from
  the time since the job started against the provider's typical duration
  (``ProviderSpec.typical_seconds``). It never goes back, and only a completed job reads 1.0: an
  open job stays at or below :data:`OPEN_CEILING`, however late it runs.
* **Publishing**: every stored change bumps the job's version and goes out to subscribers, so a
  change is stored only when it moved :data:`STEP` (5 points) or more, or moved at all after
  :data:`QUIET_SECONDS` without one; the poll that finds no such change writes what it wrote before
  (the sweep's ``updated_at``) and publishes nothing.
* **Expected completion**: for a processing job, the provider's rate where it reports progress
  (elapsed ÷ progress), else its start plus the typical duration; once that is past, a tenth of the
  typical duration from now. For a job waiting for a provider slot, the turns of the queue ahead of
  it (position ÷ the provider's concurrency, rounded up) × the typical duration, plus its own;
  the position is the team's own (other teams' waiters are not counted: docs/realtime.md).
  None of the providers we call gives an ETA of its own.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from providers.catalog import CATALOG

STEP = 0.05  # a change of at least this much is published at once
QUIET_SECONDS = 15.0  # after this long without a published change, any rise is published
OPEN_CEILING = 0.99  # an open job never reads as done
ESTIMATE_AT_TYPICAL = 0.9  # where the estimate stands when the typical duration has passed
DEFAULT_TYPICAL_SECONDS = 60.0
# Below this the provider's own figure is too small to extrapolate a finishing time from.
MIN_RATE_PROGRESS = 0.05


# Providers answered by the simulator (development, tests): how long it takes for each, set at
# start-up by ``services.container`` (``use_simulated_times``). The simulator finishes in seconds
# what the real provider takes minutes for; expectations follow what will really happen here.
_simulated_seconds: dict[str, float] = {}
MIN_SIMULATED_SECONDS = 1.0


def use_simulated_times(seconds_by_provider: dict[str, float]) -> None:
    _simulated_seconds.clear()
    _simulated_seconds.update(seconds_by_provider)


def typical_seconds(provider: str) -> float:
    """The provider's typical generation time, in seconds (docs/providers.md, Typical generation
    times); for a provider the simulator answers, the simulator's time (at least a second)."""
    if provider in _simulated_seconds:
        return max(MIN_SIMULATED_SECONDS, _simulated_seconds[provider])
    spec = CATALOG.get(provider)
    return float(spec.typical_seconds) if spec else DEFAULT_TYPICAL_SECONDS


def estimated_progress(elapsed: float, typical: float) -> float:
    """Progress from time alone: linear up to :data:`ESTIMATE_AT_TYPICAL` at the typical duration,
    then ever slower towards :data:`OPEN_CEILING` (a job running late still moves, never reaches 1)."""
    if elapsed <= 0 or typical <= 0:
        return 0.0
    if elapsed <= typical:
        return ESTIMATE_AT_TYPICAL * elapsed / typical
    late = (elapsed - typical) / typical
    return ESTIMATE_AT_TYPICAL + (OPEN_CEILING - ESTIMATE_AT_TYPICAL) * (1 - math.exp(-late))


def next_progress(current: float | None, reported: float | None, elapsed: float, typical: float) -> float:
    """The open job's progress after a poll: the provider's figure when it gave one, else the
    estimate; never below what was already shown, never above :data:`OPEN_CEILING`."""
    value = reported if reported is not None else estimated_progress(elapsed, typical)
    value = min(OPEN_CEILING, max(0.0, value))
    return max(current or 0.0, value)


def worth_publishing(
    shown: float | None, new: float, since_shown: float | None, quiet: float = QUIET_SECONDS
) -> bool:
    """Whether ``new`` is stored and pushed, given what subscribers last saw (``shown``, ``None``:
    nothing yet) and the seconds since (``None``: unknown)."""
    if shown is None:
        return True
    moved = new - shown
    if moved >= STEP - 1e-9:  # 0.15 - 0.10 is 0.0499… in floating point
        return True
    return moved > 0 and (since_shown is None or since_shown >= quiet)


def expected_completion(
    now: datetime, started_at: datetime | None, typical: float, reported: float | None = None
) -> datetime:
    """When a processing job should be done (see the module's docstring)."""
    start = started_at or now
    elapsed = max(0.0, (now - start).total_seconds())
    if reported is not None and reported >= MIN_RATE_PROGRESS and elapsed > 0:
        remaining = elapsed * (1 - min(reported, 1.0)) / reported
    else:
        remaining = typical - elapsed
    return now + timedelta(seconds=max(remaining, typical / 10))


def expected_completion_waiting(now: datetime, position: int, concurrency: int, typical: float) -> datetime:
    """When a job at ``position`` (1: next) among those waiting for one of the provider's
    ``concurrency`` slots should be done: the queue's turns ahead of it, then its own run."""
    turns = math.ceil(max(position, 1) / max(concurrency, 1))
    return now + timedelta(seconds=typical * (turns + 1))
