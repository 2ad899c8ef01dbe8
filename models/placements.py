"""Placements: the aspect ratio and target duration an ad placement wants, and what a provider
renders nearest to them (docs/providers.md, "Placements", has the table and its sources).

Pure functions: ``models.generation`` asks them for every job of a request."""

from __future__ import annotations

import math
from dataclasses import dataclass

from providers.catalog import PLACEMENTS, VIDEO, ProviderSpec

# A provider "cannot serve" a placement when its nearest ratio is further than this from the
# placement's (as a factor on width/height): 9:16 → 2:3 (×1.19) is served, 1:1 → 9:16 (×1.78) is not.
MAX_RATIO_FACTOR = 1.5


@dataclass(frozen=True)
class Target:
    placement: str
    aspect_ratio: str
    duration_seconds: int


def target(placement: str) -> Target:
    ratio, seconds = PLACEMENTS[placement]
    return Target(placement, ratio, seconds)


def _value(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return int(width) / int(height)


def ratio_distance(a: str, b: str) -> float:
    """How far apart two "W:H" ratios are, symmetric in shape: |ln(a) − ln(b)|."""
    return abs(math.log(_value(a)) - math.log(_value(b)))


def nearest_ratio(wanted: str, supported: tuple[str, ...]) -> str | None:
    """The supported ratio nearest ``wanted`` (itself when supported; ties go to the first listed),
    or None when even the nearest is too far to serve the placement (a square feed in 9:16)."""
    if wanted in supported:
        return wanted
    if not supported:
        return None
    best = min(supported, key=lambda ratio: ratio_distance(wanted, ratio))
    return best if ratio_distance(wanted, best) <= math.log(MAX_RATIO_FACTOR) else None


def nearest_duration(target_seconds: int, durations: tuple[int, ...]) -> int:
    """The renderable duration nearest the target; a tie goes to the shorter (never pay for more
    seconds than the placement wants when as close a shorter one exists)."""
    return min(durations, key=lambda seconds: (abs(seconds - target_seconds), seconds))


def ratios(spec: ProviderSpec, *, with_image: bool) -> tuple[str, ...]:
    """The ratios the provider renders for this request (Runway's text-to-video: two of them)."""
    if spec.type == VIDEO and not with_image and spec.text_only_aspect_ratios:
        return spec.text_only_aspect_ratios
    return spec.aspect_ratios


def unservable_message(spec: ProviderSpec, placement: str, *, with_image: bool) -> str:
    from providers.catalog import CATALOG  # the alternatives: same type, serving this placement

    wanted = target(placement).aspect_ratio
    others = [
        s.provider
        for s in CATALOG.values()
        if s.type == spec.type
        and s.provider != spec.provider
        and nearest_ratio(wanted, ratios(s, with_image=with_image)) is not None
    ]
    message = (
        f"{spec.provider} cannot serve placement {placement} ({wanted}): it renders only "
        f"{', '.join(ratios(spec, with_image=with_image))}"
    )
    if spec.ratios_need_image(wanted) and not with_image:
        message += f" without imageFileId ({wanted} with one)"
    if others:
        message += f"; providers that can: {', '.join(others)}"
    return message


@dataclass(frozen=True)
class Served:
    """What one provider makes for a placement by default: the ratio (the placement's or the
    nearest), a video's duration (its target or the nearest) and whether only with an input image."""

    provider: str
    aspect_ratio: str
    duration_seconds: int | None
    needs_input_image: bool


def served(spec: ProviderSpec, placement: str) -> Served | None:
    """How ``spec`` serves ``placement`` (as generate* would plan it), or None when it cannot: the
    rule ``models.generation`` applies to each job, asked ahead for the placements query."""
    wanted = target(placement)
    if not spec.aspect_ratios:
        return None
    needs_image = False
    chosen = nearest_ratio(wanted.aspect_ratio, ratios(spec, with_image=False))
    if chosen is None and spec.type == VIDEO and spec.text_only_aspect_ratios:
        chosen = nearest_ratio(wanted.aspect_ratio, ratios(spec, with_image=True))
        needs_image = chosen is not None
    if chosen is None:
        return None
    duration = nearest_duration(wanted.duration_seconds, spec.durations) if spec.durations else None
    return Served(spec.provider, chosen, duration, needs_image)


def canonical(name: str) -> str:
    """A placement named in any case ("story", "Story") as the table names it ("STORY"); a name the
    table lacks is left as given (refused by the caller, quoting it). The one rule for the GraphQL
    enum, the REST forms and the estimate alike."""
    upper = name.upper()
    return upper if upper in PLACEMENTS else name


def implied_ratio_conflict(placement: str, aspect_ratio: str) -> str | None:
    """A placement implies its ratio: an ``aspectRatio`` beside it must be that ratio. The refusal's
    message when it is not (None: the same ratio, or nothing to compare)."""
    implied = target(placement).aspect_ratio
    if aspect_ratio == implied:
        return None
    return f"placement {placement} implies {implied}; leave aspectRatio out or give {implied}"


def durations_text(durations: tuple[int, ...]) -> str:
    """What a provider renders, said truly: "2 to 10 seconds" for a run of whole seconds, else
    "only 4, 6 or 8 seconds"."""
    ordered = sorted(durations)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]} to {ordered[-1]} seconds"
    if len(ordered) == 1:
        return f"only {ordered[0]} seconds"
    return f"only {', '.join(map(str, ordered[:-1]))} or {ordered[-1]} seconds"


def unserved(spec: ProviderSpec, wanted: list[str], *, with_image: bool) -> str | None:
    """The first of these placements the provider cannot serve even at its nearest ratio (None: it
    serves them all)."""
    if not spec.aspect_ratios:
        return None
    supported = ratios(spec, with_image=with_image)
    return next((p for p in wanted if nearest_ratio(target(p).aspect_ratio, supported) is None), None)


def native(spec: ProviderSpec, wanted: list[str], *, with_image: bool, duration: int | None) -> bool:
    """The provider renders every one of these placements exactly: its ratio, and (for a video) the
    duration asked for or else the placement's target; nothing made at a nearest."""
    supported = ratios(spec, with_image=with_image)
    for placement in wanted:
        goal = target(placement)
        if supported and goal.aspect_ratio not in supported:
            return False
        if spec.type == VIDEO and (duration or goal.duration_seconds) not in spec.durations:
            return False
    return True


def not_served_reason(spec: ProviderSpec, placement: str, *, with_image: bool) -> str:
    """Why the provider cannot serve the placement, in a few words: "FEED 1:1 from text"."""
    wanted = target(placement).aspect_ratio
    reason = f"{placement} {wanted}"
    if spec.ratios_need_image(wanted) and not with_image:
        reason += " from text"
    return reason
