"""Prices: one table (``prices.toml``) read once; ``estimate_units`` says how much of a unit a job will use.

``estimateCost`` and every hold go through :func:`price`; the capture prices what the provider
actually reported with the same function."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from providers.catalog import AVATAR, COMPOSITE, IMAGE, TTS, VIDEO
from providers.params import size_for_ratio

DEFAULT_PRICES_FILE = Path(__file__).with_name("prices.toml")
AVATAR_CHARS_PER_SECOND = 12  # a generous speaking rate, so the hold covers the real render
MAX_IMAGE_PIXELS = 4_000_000
COMPOSITE_DEFAULT = {"width": 1920, "height": 1080, "frame_rate": 30, "duration": 30}


@dataclass(frozen=True)
class Price:
    unit: str
    cents_per_unit: float
    first_unit_cents: float | None = None
    min_cents: int = 1
    text_only_cents_per_unit: float | None = None


@dataclass(frozen=True)
class PriceTable:
    margin_percent: float
    prices: dict[tuple[str, str], Price]

    def get(self, provider: str, job_type: str) -> Price:
        return self.prices[(provider, job_type)]


@cache
def price_table() -> PriceTable:
    path = Path(os.environ.get("CH_PRICES_FILE", DEFAULT_PRICES_FILE))
    raw = tomllib.loads(path.read_text())
    prices = {}
    for provider, types in raw.items():
        if not isinstance(types, dict):
            continue
        for job_type, entry in types.items():
            prices[(provider, job_type)] = Price(**entry)
    return PriceTable(margin_percent=float(raw.get("margin_percent", 0)), prices=prices)


def price(provider: str, job_type: str, units: float, *, text_only: bool = False) -> int:
    """Whole cents for ``units`` of the provider's unit, rounded up, margin included."""
    table = price_table()
    p = table.get(provider, job_type)
    rate = (
        p.text_only_cents_per_unit
        if text_only and p.text_only_cents_per_unit is not None
        else p.cents_per_unit
    )
    if p.first_unit_cents is not None:
        raw = p.first_unit_cents + rate * max(0.0, units - 1)
    else:
        raw = rate * units
    # round() first so float noise (0.1 * 3 = 0.30000000000000004) never adds a cent
    cents = math.ceil(round(raw * (1 + table.margin_percent / 100), 6))
    return max(p.min_cents, cents)


def image_size(aspect_ratio: str) -> tuple[int, int]:
    """The default output size at a ratio (about one megapixel), as the image adapters request it."""
    width, height = (int(x) for x in aspect_ratio.split(":"))
    return size_for_ratio(width, height)


def composite_credits(width: int, height: int, frame_rate: float, duration: float, *, is_video: bool) -> int:
    if not is_video:
        return 1
    return max(1, math.ceil(width * height * frame_rate * duration / 100_000_000))


def estimate_units(job_type: str, text: str | None, params: dict[str, Any]) -> float:
    """How much a job is expected to use, from its validated params: output megapixels (image),
    seconds (video, avatar), characters (tts), render credits (composite)."""
    settings = params.get("settings") or {}
    if job_type == IMAGE:
        if params.get("width") and params.get("height"):
            width, height = int(params["width"]), int(params["height"])
        else:
            width, height = image_size(params.get("aspect_ratio") or "1:1")
        return width * height / 1_000_000
    if job_type == VIDEO:
        return float(params["duration_seconds"])
    if job_type == AVATAR:
        return float(max(1, math.ceil(len(text or "") / AVATAR_CHARS_PER_SECOND)))
    if job_type == TTS:
        return float(len(text or ""))
    if job_type == COMPOSITE:
        source = params.get("source") or {}
        fmt = source.get("output_format", settings.get("output_format", "mp4"))
        return composite_credits(
            int(source.get("width", COMPOSITE_DEFAULT["width"])),
            int(source.get("height", COMPOSITE_DEFAULT["height"])),
            float(source.get("frame_rate", COMPOSITE_DEFAULT["frame_rate"])),
            float(source.get("duration", COMPOSITE_DEFAULT["duration"])),
            is_video=fmt in ("mp4", "gif"),
        )
    raise ValueError(f"unknown job type {job_type}")


def estimate(provider: str, job_type: str, text: str | None, params: dict[str, Any]) -> int:
    per_image = price_table().get(provider, job_type).unit == "image"
    units = 1.0 if per_image else estimate_units(job_type, text, params)
    return price(provider, job_type, units, text_only=not params.get("image_file_id"))
