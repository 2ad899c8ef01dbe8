"""Prices: one table (``prices.toml``) read once, and the functions that use it.

``estimateCost`` and every hold go through :func:`estimate`, which prices the request the adapter
will send (its ``build_request``: the tier comes from that body, never from a second reading of
the settings); the capture (:func:`final_cost`) prices what the provider reported
(:class:`providers.base.Usage`) at the tier it ran, compares that tier with the one priced and
reports overruns."""

from __future__ import annotations

import importlib
import logging
import math
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from models import metrics
from providers.base import InputFile, JobSpec, Usage, input_file_ids
from providers.catalog import AVATAR, IMAGE, TTS, VIDEO
from providers.errors import ProviderError
from providers.params import size_for_ratio

log = logging.getLogger("creative_hub.pricing")

DEFAULT_PRICES_FILE = Path(__file__).with_name("prices.toml")
AVATAR_CHARS_PER_SECOND = 12  # a generous speaking rate, so the hold covers the real render
MAX_IMAGE_PIXELS = 4_000_000


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
    # Charged per megapixel of the job's input images (reference images), on top of the units, for
    # at most ``input_megapixels_cap`` megapixels a request (what the provider processes at most).
    input_megapixel_cents: float = 0.0
    input_megapixels_cap: float | None = None
    # Charged per input image, whatever its size, where the provider resizes each input before
    # billing it (OpenAI's image input tokens).
    input_image_cents: float = 0.0

    def input_cents(self, input_mp: float, input_images: int) -> float:
        """What the job's reference images add: their megapixels (capped) and their count."""
        megapixels = max(0.0, input_mp)
        if self.input_megapixels_cap is not None:
            megapixels = min(megapixels, self.input_megapixels_cap)
        return self.input_megapixel_cents * megapixels + self.input_image_cents * max(0, input_images)

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
                input_megapixel_cents=float(entry.get("input_megapixel_cents", 0.0)),
                input_megapixels_cap=(
                    float(entry["input_megapixels_cap"]) if "input_megapixels_cap" in entry else None
                ),
                input_image_cents=float(entry.get("input_image_cents", 0.0)),
            )
    return PriceTable(margin_percent=float(raw.get("margin_percent", 0)), prices=prices)


@cache
def price_table() -> PriceTable:
    return load_price_table(Path(os.environ.get("CH_PRICES_FILE", DEFAULT_PRICES_FILE)))


def planned_job(provider: str, job_type: str, text: str | None, params: dict[str, Any]) -> JobSpec:
    """The job as its adapter will see it (empty stand-ins for the Drive files: only their presence
    and number change the request's tier, e.g. Runway's model, HeyGen's photo avatar)."""
    files = tuple(InputFile(file_id, "image/png", b"") for file_id in input_file_ids(params))
    return JobSpec("estimate", job_type, provider, text, params, files)


def _adapter(provider: str) -> Any:
    """The provider's adapter, only to build requests (it sends nothing)."""
    from providers.registry import ADAPTERS

    module_name, class_name = ADAPTERS[provider].split(":")
    return getattr(importlib.import_module(module_name), class_name)(None, "", "")


def priced_tier(provider: str, job_type: str, text: str | None, params: dict[str, Any]) -> dict[str, str]:
    """The price facts of the request the adapter will send (``rates`` ``when`` keys). Raises
    :class:`providers.options.SettingsError` or ``RejectedError`` for a request it would refuse."""
    tier = _adapter(provider).priced_tier(planned_job(provider, job_type, text, params))
    return {key: _lower(value) for key, value in tier.items()}


def price(
    provider: str,
    job_type: str,
    units: float,
    facts: dict[str, str],
    input_mp: float = 0.0,
    input_images: int = 0,
) -> int:
    """Whole cents for ``units`` of the provider's unit (and the job's ``input_images`` reference
    images of ``input_mp`` megapixels in all, as the provider bills them), rounded up, margin
    included."""
    table = price_table()
    p = table.get(provider, job_type)
    rate = p.rate(facts)
    raw = p.first_unit_cents + rate * max(0.0, units - 1) if p.first_unit_cents is not None else rate * units
    raw += p.input_cents(input_mp, input_images)
    # round() first so float noise (0.1 * 3 = 0.30000000000000004) never adds a cent
    cents = math.ceil(round(raw * (1 + table.margin_percent / 100), 6))
    return max(p.min_cents, cents)


def image_size(aspect_ratio: str) -> tuple[int, int]:
    """The default output size at a ratio (about one megapixel), as the image adapters request it."""
    width, height = (int(x) for x in aspect_ratio.split(":"))
    return size_for_ratio(width, height)


def estimate_units(job_type: str, text: str | None, params: dict[str, Any]) -> float:
    """How much a job is expected to use, from its validated params: output megapixels (image),
    seconds (video, avatar), characters (tts); composites are estimated by their adapter."""
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
    raise ValueError(f"unknown job type {job_type}")


def estimate(provider: str, job_type: str, text: str | None, params: dict[str, Any]) -> int:
    """The hold for a job: the price of its expected units at the tier of the request it sends.
    Raises :class:`providers.options.SettingsError` (or ``RejectedError``) for one it would refuse."""
    adapter = _adapter(provider)
    job = planned_job(provider, job_type, text, params)
    tier = {key: _lower(value) for key, value in adapter.priced_tier(job).items()}
    units = adapter.estimated_units(job)
    if units is None:
        per_image = price_table().get(provider, job_type).unit == "image"
        units = 1.0 if per_image else estimate_units(job_type, text, params)
    return price(provider, job_type, units, tier, input_megapixels(params), input_images(params))


def input_megapixels(params: dict[str, Any]) -> float:
    """Megapixels of the job's reference images in all, recorded when it was accepted."""
    value = params.get("input_megapixels")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def input_images(params: dict[str, Any]) -> int:
    """How many reference images the job sends."""
    ids = params.get("reference_file_ids")
    return len(ids) if isinstance(ids, list) else 0


def final_cost(job: Any, usage: Usage) -> int:
    """The charge for a finished job (a ``CreativeJob``): the units the provider reported, at the
    tier it reports having run where it reports one (never below it), else the tier priced. A
    reported tier that differs from the priced one, and a cost above the hold, are logged and
    counted (``creative_hub_price_tier_mismatches_total``, ``creative_hub_overruns_total``)."""
    provider, job_type = job.provider, job.type
    try:
        priced = priced_tier(provider, job_type, job.prompt, job.settings)
    except ProviderError:  # a row from before settings were declared: what was reported decides
        priced = {}
    keys = set(priced) | {key for rate in price_table().get(provider, job_type).rates for key in rate.when}
    reported = {
        key: _lower(usage.details[key])
        for key in keys
        if isinstance(usage.details.get(key), str | int | float | bool)
    }
    # "auto" lets the provider choose; it is priced at the dearest tier, so any report fits it.
    differs = {k: v for k, v in reported.items() if priced.get(k) not in (v, "auto")}
    input_mp, images = input_megapixels(job.settings or {}), input_images(job.settings or {})
    cost = price(provider, job_type, usage.units, priced, input_mp, images)
    if differs:
        metrics.PRICE_TIER_MISMATCHES.labels(provider).inc()
        log.warning(
            "job %s: %s ran tier %s but was priced at %s",
            job.id,
            provider,
            differs,
            {k: priced.get(k) for k in differs},
        )
        cost = max(cost, price(provider, job_type, usage.units, {**priced, **differs}, input_mp, images))
    hold = int(job.estimated_cost_cents)
    if cost > hold:
        metrics.OVERRUNS.labels(provider).inc()
        metrics.OVERRUN_CENTS.labels(provider).inc(cost - hold)
        log.warning(
            "job %s: %s cost %d cents, above its hold of %d (overrun %d cents; usage %s)",
            job.id,
            provider,
            cost,
            hold,
            cost - hold,
            {"units": usage.units, **usage.details},
        )
    return cost
