"""The simulator's memory: tasks, the files they promise, first-time markers and counters.

One process, one event loop: handlers change this state without locks. It stays bounded:
tasks older than an hour (and their files) are dropped, and never more than ``MAX_TASKS`` kept.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from providers.simulator.media import MediaSpec

MARKER_PATTERN = re.compile(r"\[sim:([a-z0-9]+)\]")
MARKERS = ("fail", "moderate", "429", "500", "slow", "expire", "lost")
SLOW_FACTOR = 10.0
TASK_LIFETIME = 3600.0
MAX_TASKS = 10_000


def markers_in(text: str) -> frozenset[str]:
    """The known ``[sim:…]`` markers in a piece of user text."""
    return frozenset(found for found in MARKER_PATTERN.findall(text) if found in MARKERS)


@dataclass
class SimTask:
    """One piece of simulated provider work that finishes ``duration`` seconds after it starts."""

    id: str
    family: str
    markers: frozenset[str]
    created_at: float  # monotonic seconds
    created_wall: datetime
    duration: float
    started_at: float | None  # None while queued (Runway's THROTTLED)
    info: dict[str, Any] = field(default_factory=dict)  # what the family's handlers need to answer
    files: list[str] = field(default_factory=list)  # tokens of the files it produces
    canceled: bool = False

    def progress(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        if self.duration <= 0:
            return 1.0
        return min(1.0, (now - self.started_at) / self.duration)

    def finished(self, now: float) -> bool:
        return self.canceled or self.progress(now) >= 1.0

    @property
    def outcome(self) -> str:
        """How the task ends: "moderate", "fail" or "success"."""
        if "moderate" in self.markers:
            return "moderate"
        if "fail" in self.markers:
            return "fail"
        return "success"

    @property
    def lost(self) -> bool:
        return "lost" in self.markers

    def succeeded(self, now: float) -> bool:
        return not self.canceled and self.outcome == "success" and self.progress(now) >= 1.0


@dataclass(frozen=True)
class FileRef:
    task_id: str
    spec: MediaSpec
    ttl: float  # seconds the provider's CDN keeps the link alive


class SimState:
    def __init__(self, api_key: str, time_scale: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.api_key = api_key
        self.time_scale = max(0.0, time_scale)
        self.clock = clock
        self.tasks: dict[str, SimTask] = {}
        self.files: dict[str, FileRef] = {}
        self._tripped: set[tuple[str, str, str]] = set()
        self._attempts: Counter[str] = Counter()
        self._submissions: Counter[str] = Counter()
        self._markers: Counter[str] = Counter()
        self._cancellations: Counter[str] = Counter()
        self._reads: Counter[str] = Counter()  # authenticated library listings, "family:what" → pages
        self._task_ids: list[str] = []
        # The most unfinished tasks one family had at once (what a provider's concurrency cap counts).
        self._open_peak: Counter[str] = Counter()

    def now(self) -> float:
        return self.clock()

    def scaled(self, nominal_seconds: float, markers: frozenset[str]) -> float:
        """How long work of ``nominal_seconds`` takes here: time_scale applied, 10× with [sim:slow]."""
        factor = SLOW_FACTOR if "slow" in markers else 1.0
        return nominal_seconds * self.time_scale * factor

    def record_attempt(self, family: str, markers: frozenset[str]) -> None:
        """Count an authenticated submit call, whatever its answer."""
        self._attempts[family] += 1
        self._markers.update(markers)

    def trips_once(self, family: str, marker: str, text: str, markers: frozenset[str]) -> bool:
        """True the first time this family sees this text carrying ``marker`` ([sim:429], [sim:500])."""
        if marker not in markers:
            return False
        key = (family, marker, text)
        if key in self._tripped:
            return False
        self._tripped.add(key)
        return True

    def new_task(
        self,
        family: str,
        markers: frozenset[str],
        nominal_seconds: float,
        info: dict[str, Any],
        *,
        task_id: str | None = None,
        queued: bool = False,
    ) -> SimTask:
        self.prune()
        now = self.now()
        task = SimTask(
            id=task_id or new_id(),
            family=family,
            markers=markers,
            created_at=now,
            created_wall=datetime.now(UTC),
            duration=self.scaled(nominal_seconds, markers),
            started_at=None if queued else now,
            info=info,
        )
        open_now = 1 + sum(1 for t in self.tasks.values() if t.family == family and not t.finished(now))
        self._open_peak[family] = max(self._open_peak[family], open_now)
        self.tasks[task.id] = task
        self._submissions[family] += 1
        self._task_ids.append(task.id)
        return task

    def record_sync_submission(self, family: str, request_id: str) -> None:
        """A synchronous call (no task) that produced a result."""
        self._submissions[family] += 1
        self._task_ids.append(request_id)

    def record_read(self, family: str, what: str) -> None:
        """An authenticated page of a library listing (HeyGen's looks and voices, ElevenLabs' voices)."""
        self._reads[f"{family}:{what}"] += 1

    def record_cancel(self, family: str) -> None:
        self._cancellations[family] += 1

    def find(self, family: str, task_id: str) -> SimTask | None:
        """The task as the provider would see it: missing if unknown, another family's, or [sim:lost]."""
        task = self.tasks.get(task_id)
        if task is None or task.family != family or task.lost:
            return None
        return task

    def add_file(self, task: SimTask, spec: MediaSpec, ttl: float, token: str | None = None) -> str:
        """A file of the task, served until ``ttl``; ``token`` when the provider's ids have a shape."""
        token = token or secrets.token_urlsafe(18)
        self.files[token] = FileRef(task_id=task.id, spec=spec, ttl=ttl)
        task.files.append(token)
        return token

    def drop(self, task_id: str) -> None:
        task = self.tasks.pop(task_id, None)
        if task is not None:
            for token in task.files:
                self.files.pop(token, None)

    def prune(self) -> None:
        cutoff = self.now() - TASK_LIFETIME
        stale = [task.id for task in self.tasks.values() if task.created_at < cutoff]
        overflow = len(self.tasks) - len(stale) - MAX_TASKS + 1
        if overflow > 0:
            # dicts keep insertion order: the first tasks are the oldest.
            known = set(stale)
            stale.extend(itertools.islice((tid for tid in self.tasks if tid not in known), overflow))
        for task_id in stale:
            self.drop(task_id)
        if len(self._task_ids) > MAX_TASKS:
            del self._task_ids[: len(self._task_ids) - MAX_TASKS]
        if len(self._tripped) > MAX_TASKS:
            self._tripped.clear()

    def stats(self) -> dict[str, Any]:
        return {
            "attempts": dict(self._attempts),
            "submissions": dict(self._submissions),
            "markers": dict(self._markers),
            "cancellations": dict(self._cancellations),
            "library_reads": dict(self._reads),
            "open_peak": dict(self._open_peak),
            "task_ids": list(self._task_ids),
            "tasks": {
                family: [task.id for task in self.tasks.values() if task.family == family]
                for family in sorted({task.family for task in self.tasks.values()})
            },
            "time_scale": self.time_scale,
        }

    def reset(self) -> None:
        self.tasks.clear()
        self.files.clear()
        self._tripped.clear()
        self._attempts.clear()
        self._submissions.clear()
        self._markers.clear()
        self._cancellations.clear()
        self._reads.clear()
        self._open_peak.clear()
        self._task_ids.clear()


def new_id() -> str:
    """A random UUID-looking id, like most providers hand out."""
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
