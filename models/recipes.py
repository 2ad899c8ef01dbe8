"""The named recipes of creatives (docs/contract.md, Creatives): each builds the graph the general
form would, so every rule of models/creatives.py holds for them.

* ``VIDEO_WITH_VOICEOVER``: ``video`` and ``voiceover`` (TTS), then ``composite``: a RenderScript
  at the video's duration and its placement's ratio (the video covering it, where it was made at
  the provider's nearest ratio) or else its own, the narration on a track of its own, trimmed to
  the video;
* ``IMAGE_WITH_LOGO``: ``image``, then ``composite``: a PNG of the image with a Drive logo at the
  bottom right (the logo is a Drive file checked as any composite input), exactly at the ratio
  asked for: the placement's (the image may have been made at the provider's nearest ratio; it is
  then cropped to cover), else the image's own;
* ``LOCALIZED_AVATAR``: one avatar job per locale, keyed by the locale, with the locale's voice
  (given, or the first of the provider's library listed for it: a locale without one is refused
  on its field)."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from models import drive, generation, library, placements
from models.creatives import NodeSpec, at_node
from models.errors import DomainError, ErrorCode
from models.generation import GenerationRequest
from providers import lifecycle

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")
SHORT_SIDE = 720  # a composite video's shorter side (what the generated videos render at)


def video_size(ratio: str) -> tuple[int, int]:
    """Width and height of a composite video at ``ratio``: the shorter side 720, both even."""
    w, h = (int(x) for x in ratio.split(":"))
    if w >= h:
        return round(SHORT_SIDE * w / h / 2) * 2, SHORT_SIDE
    return SHORT_SIDE, round(SHORT_SIDE * h / w / 2) * 2


def image_size(ratio: str, like: tuple[int, int]) -> tuple[int, int]:
    """Width and height exactly at ``ratio`` (whole multiples of its reduced terms), the shorter
    side about ``like``'s shorter side: a composite image the size of the image it is made from."""
    w, h = (int(x) for x in ratio.split(":"))
    g = math.gcd(w, h)
    w, h = w // g, h // g
    k = max(1, round(min(like) / min(w, h)))
    return k * w, k * h


def voiceover_script(width: int, height: int, seconds: int) -> dict[str, Any]:
    """The voice-over ad's RenderScript: the video covering the frame, the narration on a track of
    its own, both ``seconds`` long (elements ``Video`` and ``Voiceover``)."""
    return {
        "output_format": "mp4",
        "width": width,
        "height": height,
        "duration": seconds,
        "elements": [
            {"name": "Video", "type": "video", "track": 1, "duration": seconds, "fit": "cover"},
            {"name": "Voiceover", "type": "audio", "track": 2, "duration": seconds},
        ],
    }


def logo_script(width: int, height: int) -> dict[str, Any]:
    """The logo ad's RenderScript: the image covering the frame, the logo (a fifth of the shorter
    side, at least 64 px) contained in a square at the bottom right (elements ``Image``, ``Logo``)."""
    logo = max(64, round(min(width, height) * 0.2))
    return {
        "output_format": "png",
        "width": width,
        "height": height,
        "elements": [
            {"name": "Image", "type": "image", "width": "100%", "height": "100%", "fit": "cover"},
            {
                "name": "Logo",
                "type": "image",
                "width": logo,
                "height": logo,
                "x_anchor": "100%",
                "y_anchor": "100%",
                "x": width - round(logo * 0.25),
                "y": height - round(logo * 0.25),
                "fit": "contain",
            },
        ],
    }


async def video_with_voiceover(
    video: GenerationRequest,
    voiceover: GenerationRequest,
    composite_provider: str | None,
    *,
    cfg: lifecycle.LifecycleConfig | None = None,
    libraries: library.LibraryLookup | None = None,
) -> list[NodeSpec]:
    base = ["videoWithVoiceover"]
    video_spec = NodeSpec("video", video, [*base, "video"])
    try:  # the composite follows the video's ratio and duration, as validated
        checked = await generation.validate(video, cfg, libraries)
    except DomainError as exc:
        raise at_node(exc, video_spec) from None
    # The placement's ratio where the video was made at the provider's nearest (it covers the ad).
    made = str(checked.settings.get("aspect_ratio") or "16:9")
    ratio = placements.target(video.placement).aspect_ratio if video.placement else made
    seconds = int(checked.settings["duration_seconds"])
    width, height = video_size(ratio)
    source = voiceover_script(width, height, seconds)
    composite = _composite(video, composite_provider, source, "Voice-over ad")
    return [
        video_spec,
        NodeSpec("voiceover", voiceover, [*base, "voiceover"]),
        NodeSpec(
            "composite",
            composite,
            base,
            refs=[("Video", "video"), ("Voiceover", "voiceover")],
            renames={"provider": "compositeProvider"},
        ),
    ]


async def image_with_logo(
    image: GenerationRequest,
    logo_file_id: str,
    composite_provider: str | None,
    *,
    cfg: lifecycle.LifecycleConfig | None = None,
    libraries: library.LibraryLookup | None = None,
) -> list[NodeSpec]:
    base = ["imageWithLogo"]
    image_spec = NodeSpec("image", image, [*base, "image"])
    try:
        checked = await generation.validate(image, cfg, libraries)
    except DomainError as exc:
        raise at_node(exc, image_spec) from None
    await _logo(image, logo_file_id, [*base, "logoFileId"])
    made = int(checked.settings["width"]), int(checked.settings["height"])
    # The placement's ratio, not the nearest the image provider renders (the image covers it).
    ratio = placements.target(image.placement).aspect_ratio if image.placement else None
    width, height = image_size(ratio, made) if ratio else made
    source = logo_script(width, height)
    composite = _composite(image, composite_provider, source, "Logo ad")
    composite.inputs = [{"name": "Logo", "fileId": logo_file_id}]
    spec = NodeSpec(
        "composite",
        composite,
        base,
        refs=[("Image", "image")],
        renames={"provider": "compositeProvider"},
    )
    return [image_spec, spec]


@dataclass
class Locale:
    locale: str
    script: str | None = None
    voice_id: str | None = None


async def localized_avatar(
    avatar: GenerationRequest,
    locales: list[Locale],
    *,
    gender: str | None,
    max_jobs: int,
    libraries: library.LibraryLookup | None,
) -> list[NodeSpec]:
    """``avatar`` holds what every locale shares (avatar, provider, ratio, settings, the script of
    locales without their own); one avatar job per locale, each with its locale's voice."""
    base = ["localizedAvatar"]
    if not locales:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "give at least one locale", ["input", *base, "locales"]
        )
    if len(locales) > max_jobs:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"a creative takes at most {max_jobs} jobs; {len(locales)} locales ask for {len(locales)}",
            ["input", *base, "locales"],
        )
    try:  # before its libraries are read: a provider of another type is refused on its field
        provider = generation.named_provider(avatar).provider
    except DomainError as exc:
        raise at_node(exc, NodeSpec("", avatar, base)) from None
    seen: set[str] = set()
    specs = []
    for i, item in enumerate(locales):
        path = [*base, "locales", str(i)]
        locale = item.locale.strip()
        if not _LOCALE.match(locale):
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                f'locale {locale[:20]!r} must be a language or locale such as "es" or "es-MX"',
                ["input", *path, "locale"],
            )
        if locale.lower() in seen:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, f"locale {locale} is given twice", ["input", *path, "locale"]
            )
        seen.add(locale.lower())
        voice_id = item.voice_id
        if voice_id is None:
            if libraries is None:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED, f"give a voiceId for {locale}", ["input", *path, "voiceId"]
                )
            voice = await library.voice_for_locale(libraries, provider, locale, [*path, "locale"], gender)
            voice_id = voice.id
        request = replace(
            avatar, text=item.script if item.script is not None else avatar.text, voice_id=voice_id
        )
        # errors on the script or voice name the locale's own field when it gave them
        specs.append(NodeSpec(locale, request, path if item.script or item.voice_id else base))
    return specs


async def _logo(like: GenerationRequest, file_id: str, path: list[str]) -> None:
    """The logo: the team's own Drive image (a foreign, pending or missing id reads "not found")."""
    try:
        file = await drive.team_file(like.team_id, uuid.UUID(str(file_id)))
    except ValueError:
        file = None
    if file is None:
        raise DomainError(ErrorCode.NOT_FOUND, "logoFileId not found", ["input", *path])
    if not file.content_type.startswith("image/"):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"logoFileId must be an image file, not {file.content_type}",
            ["input", *path],
        )


COMPOSITE_NOTE_CHARS = 200


def _composite(
    like: GenerationRequest, provider: str | None, source: dict[str, Any], note: str
) -> GenerationRequest:
    return GenerationRequest(
        type="composite",
        team_id=like.team_id,
        user_id=like.user_id,
        provider=provider,
        # What the Jobs panel and the Drive name show: the ad's kind and the concept it is made of.
        text=f"{note}: {like.text}"[:COMPOSITE_NOTE_CHARS] if like.text else note,
        source=source,
        drive_folder_id=like.drive_folder_id,
    )
