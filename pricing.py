"""Prices: one table (``prices.toml``) read once, and the functions that use it.

``estimateCost`` and every hold go through :func:`estimate`; the capture prices what the provider
actually reported (:class:`providers.base.Usage`) with :func:`price` and the same price facts."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
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
class Rate:
    cents_per_unit: float
    when: dict[str, str] = field(default_factory=dict)

    def matches(self, facts: dict[str, str]) -> bool:
        return all(facts.get(key) == value for key, value in self.when.items())


@dataclass(frozen=True)
class Price:
    unit: str
    cents_per_unit: float
    first_unit_cents: float | None = None
    min_cents: int = 1
    rates: tuple[Rate, ...] = ()

    def rate(self, facts: dict[str, str]) -> float:
        return next((r.cents_per_unit for r in self.rates if r.matches(facts)), self.cents_per_unit)


@dataclass(frozen=True)
class PriceTable:
    margin_percent: float
    prices: dict[tuple[str, str], Price]

    def get(self, provider: str, job_type: str) -> Price:
        return self.prices[(provider, job_type)]


def _lower(value: Any) -> str:
    return str(value).lower() if not isinstance(value, bool) else ("true" if value else "false")


def load_price_table(path: Path) -> PriceTable:
    raw = tomllib.loads(path.read_text())
    prices = {}
    for provider, types in raw.items():
        if not isinstance(types, dict):
            continue
        for job_type, entry in types.items():
            rates = tuple(
                Rate(float(r["cents_per_unit"]), {k: _lower(v) for k, v in r.get("when", {}).items()})
                for r in entry.get("rates", [])
            )
            prices[(provider, job_type)] = Price(
                unit=entry["unit"],
                cents_per_unit=float(entry["cents_per_unit"]),
                first_unit_cents=entry.get("first_unit_cents"),
                min_cents=int(entry.get("min_cents", 1)),
                rates=rates,
            )
    return PriceTable(margin_percent=float(raw.get("margin_percent", 0)), prices=prices)


@cache
def price_table() -> PriceTable:
    return load_price_table(Path(os.environ.get("CH_PRICES_FILE", DEFAULT_PRICES_FILE)))


def openai_image_size(width: int, height: int) -> str:
    """The GPT Image size a requested width × height is rendered at (square, portrait, landscape)."""
    if width == height:
        return "1024x1024"
    return "1536x1024" if width > height else "1024x1536"


def price_facts(provider: str, job_type: str, params: dict[str, Any]) -> dict[str, str]:
    """What a job's price depends on besides its units: its settings, and what the service derives."""
    settings = params.get("settings") or {}
    facts = {k.lower(): _lower(v) for k, v in settings.items() if isinstance(v, str | int | float | bool)}
    if provider == "gpt_image_1_5":
        facts.setdefault("quality", "medium")
        if params.get("width") and params.get("height"):
            facts["size"] = openai_image_size(int(params["width"]), int(params["height"]))
    elif provider == "runway_gen4":
        # Image-to-video runs gen4_turbo; text alone runs gen4.5 (providers.md, "Choices").
        facts["model"] = "gen4_turbo" if params.get("image_file_id") else "gen4.5"
    elif provider in ("kling_2_6", "kling_3_0"):
        facts.setdefault("mode", "std" if provider == "kling_3_0" else "pro")
        facts["sound"] = "on" if facts.get("sound") in ("on", "true") else "off"
    elif provider == "openai_tts":
        facts.setdefault("model", "tts-1")
    elif provider == "elevenlabs":
        model = facts.get("model", "eleven_multilingual_v2")
        facts["model_family"] = next((f for f in ("flash", "turbo") if f in model), "multilingual")
    elif provider in ("luma_ray3", "veo_3_1"):
        facts.setdefault("resolution", "720p")
    return facts


def price(provider: str, job_type: str, units: float, facts: dict[str, str]) -> int:
    """Whole cents for ``units`` of the provider's unit, rounded up, margin included."""
    table = price_table()
    p = table.get(provider, job_type)
    rate = p.rate(facts)
    raw = p.first_unit_cents + rate * max(0.0, units - 1) if p.first_unit_cents is not None else rate * units
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
    """The hold for a job: the price of its expected units."""
    per_image = price_table().get(provider, job_type).unit == "image"
    units = 1.0 if per_image else estimate_units(job_type, text, params)
    return price(provider, job_type, units, price_facts(provider, job_type, params))


def actual(provider: str, job_type: str, units: float, params: dict[str, Any]) -> int:
    """The charge for what the provider reported it produced."""
    return price(provider, job_type, units, price_facts(provider, job_type, params))
