"""Reading a job's normalised parameters the same way in every adapter."""

from __future__ import annotations

import math
from typing import Any

from providers.base import JobSpec


def settings(job: JobSpec) -> dict[str, Any]:
    """The job's provider settings (``job.params["settings"]``) as its provider declares them
    (:mod:`providers.options`), defaults filled in: what the price was computed from. Raises
    :class:`providers.options.SettingsError` (a ``RejectedError``) for a setting it does not accept."""
    from providers.options import SETTINGS, normalise

    value = job.params.get("settings")
    if job.provider not in SETTINGS:
        return dict(value) if isinstance(value, dict) else {}
    return normalise(job.provider, value)


def aspect_ratio(job: JobSpec, default: str = "16:9") -> tuple[int, int]:
    """``job.params["aspect_ratio"]`` ("W:H") as two positive integers; ``default`` when absent or bad."""
    parsed = parse_ratio(job.params.get("aspect_ratio"))
    if parsed is None:
        parsed = parse_ratio(default)
    assert parsed is not None
    return parsed


def parse_ratio(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    left, sep, right = value.strip().partition(":")
    if not sep:
        left, sep, right = value.strip().partition("x")
    try:
        width, height = int(left), int(right)
    except ValueError:
        return None
    if width <= 0 or height <= 0:
        return None
    return width, height


def closest(ratio: tuple[int, int], choices: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """The value in ``choices`` whose own aspect ratio is nearest ``ratio``."""
    wanted = ratio[0] / ratio[1]
    exact = choices.get(f"{ratio[0]}:{ratio[1]}")
    if exact is not None:
        return exact
    return min(choices.values(), key=lambda size: abs(size[0] / size[1] - wanted))


def duration_seconds(job: JobSpec, default: int = 5) -> int:
    value = job.params.get("duration_seconds")
    return int(value) if isinstance(value, int | float) and value > 0 else default


TARGET_PIXELS = 1_000_000
SIZE_STEP = 16
MIN_SIDE = 64


def size_for_ratio(width_ratio: int, height_ratio: int, pixels: int = TARGET_PIXELS) -> tuple[int, int]:
    """At most about ``pixels`` pixels at the given aspect ratio, each side a multiple of 16 and at
    least 64. Rounding down keeps a "1 MP" image inside the first megapixel that BFL bills."""
    ratio = width_ratio / height_ratio
    return _step(math.sqrt(pixels * ratio)), _step(math.sqrt(pixels / ratio))


def _step(value: float) -> int:
    return max(MIN_SIDE, int(value / SIZE_STEP) * SIZE_STEP)
