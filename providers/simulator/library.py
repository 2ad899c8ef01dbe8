"""The simulated providers' libraries: HeyGen's avatar looks and voices, ElevenLabs' voices.

Fixed, realistic data (ids in each provider's own shape; the HeyGen ids the repository's tests and
HeyGen's own examples use are among them: avatar look ``Daisy-inskirt-20220818``, voice
``2d5b0e6cf36f460aa7fc47e3eee4ba54``; ElevenLabs' premade voices keep their real ids and names).
More HeyGen looks than one page holds, so a client must follow ``next_token``.
Pages are cut by an opaque token (base64 of the offset and the filter it was made for).

Previews are the simulator's own media, never the real providers' CDN files (a development machine
fetches nothing from another host): each listing names URLs under ``<simulator root>/_library/``
on the host the client called (:func:`media_root`), and :func:`routes` serves them — a portrait
per avatar look (webp), a short clip of it (mp4), a short spoken-like sample per voice (mp3; wav for
OpenAI's, as OpenAI publishes them). No key is needed, as for the real CDN files.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
from typing import Any

from PIL import Image, ImageDraw
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from providers.simulator import media

PATH = "/_library"  # under the simulator's root: <root>/_library/{family}/{kind}/{name}
PREVIEW_SECONDS = 2.0  # a voice sample; a look's clip


def media_root(request: Request) -> str:
    """``<scheme>://<host the client called><simulator root>/_library``: previews are served by
    the simulator that answered the listing, on the same host."""
    root = str(request.scope.get("root_path") or "")
    return f"{request.url.scheme}://{request.url.netloc}{root}{PATH}"


def openai_preview(root: str, voice_id: str) -> str:
    """Where the simulator serves the sample of an OpenAI voice (OpenAI publishes wav samples)."""
    return f"{root}{PATH}/openai/voices/{voice_id}.wav"


def _hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


# (group name, gender, look names) — studio avatars, public.
_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Abigail", "female", ("Office Front", "Office Side", "Casual Sofa", "Upper Body")),
    ("Adrian", "male", ("Blue Suit", "Casual Standing", "Lounge Front", "Studio Sitting")),
    ("Amelia", "female", ("Business Front", "Kitchen", "Park Bench", "Yoga Studio")),
    ("Brandon", "male", ("Office Sitting", "Gym", "Street", "Podcast")),
    ("Carlos", "male", ("Cafe", "Office Front", "Warehouse", "Outdoor")),
    ("Chloe", "female", ("Sofa", "Bookshelf", "Studio Front", "Balcony")),
    ("Daisy", "female", ("inskirt",)),
    ("Diego", "male", ("Studio", "Garden", "Workshop", "Presenter")),
    ("Elena", "female", ("Newsroom", "Lobby", "Desk", "Terrace")),
    ("Hiro", "male", ("Desk", "Whiteboard", "Cafe", "Lab")),
    ("Imani", "female", ("Salon", "Studio", "Office", "Street")),
    ("Jonas", "male", ("Loft", "Library", "Studio Front", "Stage")),
    ("Leila", "female", ("Gallery", "Clinic", "Office", "Home")),
    ("Marco", "male", ("Restaurant", "Vineyard", "Office", "Studio")),
    ("Mei", "female", ("Classroom", "Studio", "Shop", "Office")),
    ("Noah", "male", ("Podcast", "Office", "Outdoor", "Studio Sitting")),
    ("Priya", "female", ("Office Front", "Lab", "Living Room", "Conference")),
)

# (name, language, gender) of HeyGen's public voices; the first is the one HeyGen's examples use.
_HEYGEN_VOICES: tuple[tuple[str, str, str], ...] = (
    ("Paul - Natural", "English", "male"),
    ("Sara - Cheerful", "English", "female"),
    ("Jenny - Professional", "English", "female"),
    ("Tony - Friendly", "English", "male"),
    ("Olivia - Calm", "English", "female"),
    ("Lucía - Natural", "Spanish", "female"),
    ("Mateo - Energetic", "Spanish", "male"),
    ("Valentina - Warm", "Spanish", "female"),
    ("Camille - Natural", "French", "female"),
    ("Louis - Confident", "French", "male"),
    ("Hannah - Clear", "German", "female"),
    ("Lukas - Natural", "German", "male"),
    ("Giulia - Natural", "Italian", "female"),
    ("Lorenzo - Warm", "Italian", "male"),
    ("Ana - Natural", "Portuguese", "female"),
    ("Rafael - Friendly", "Portuguese", "male"),
    ("Yui - Natural", "Japanese", "female"),
    ("Haruto - Calm", "Japanese", "male"),
    ("Ji-woo - Natural", "Korean", "female"),
    ("Xiaoxiao - Natural", "Chinese", "female"),
    ("Yunxi - Natural", "Chinese", "male"),
    ("Aarav - Natural", "Hindi", "male"),
    ("Sanne - Natural", "Dutch", "female"),
    ("Zofia - Natural", "Polish", "female"),
    ("Elif - Natural", "Turkish", "female"),
    ("Layla - Natural", "Arabic", "female"),
)
HEYGEN_EXAMPLE_VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"


def heygen_looks(root: str = PATH) -> list[dict[str, Any]]:
    """HeyGen's looks; previews under ``root`` (:func:`media_root`)."""
    cdn = f"{root}/heygen/avatars"
    looks = []
    for group, gender, names in _GROUPS:
        group_id = _hex(f"group:{group}")
        default_voice = HEYGEN_EXAMPLE_VOICE if gender == "male" else _hex("voice:Sara - Cheerful")
        for index, name in enumerate(names):
            look_id = (
                "Daisy-inskirt-20220818"
                if group == "Daisy"
                else f"{group}_{name.replace(' ', '_')}_2024{(index % 12) + 1:02d}{(index * 7) % 28 + 1:02d}"
            )
            looks.append(
                {
                    "id": look_id,
                    "name": f"{group} {name}" if group != "Daisy" else "Daisy in Skirt",
                    "avatar_type": "studio_avatar",
                    "group_id": group_id,
                    "gender": gender,
                    "default_voice_id": default_voice,
                    "preview_image_url": f"{cdn}/{look_id}.webp",
                    "preview_video_url": f"{cdn}/{look_id}.mp4",
                    "preferred_orientation": "landscape" if index % 2 == 0 else "portrait",
                    "image_width": 1920 if index % 2 == 0 else 1080,
                    "image_height": 1080 if index % 2 == 0 else 1920,
                    "supported_api_engines": ["avatar_iv", "avatar_iii"],
                    "tags": ["public", "business" if "Office" in name else "lifestyle"],
                    "status": None,
                    "error": None,
                    "ownership": "public",
                }
            )
    # the account's own: a digital twin ready, and one still training (not usable yet)
    for look_id, name, status in (
        ("twin_founder_01", "Founder Digital Twin", "completed"),
        ("twin_founder_02", "Founder Digital Twin (new outfit)", "processing"),
    ):
        looks.append(
            {
                "id": look_id,
                "name": name,
                "avatar_type": "digital_twin",
                "group_id": _hex("group:founder"),
                "gender": "male",
                "default_voice_id": _hex("voice:founder clone"),
                "preview_image_url": f"{cdn}/{look_id}.webp" if status == "completed" else None,
                "preview_video_url": f"{cdn}/{look_id}.mp4" if status == "completed" else None,
                "preferred_orientation": "portrait",
                "image_width": 1080,
                "image_height": 1920,
                "supported_api_engines": ["avatar_iv"],
                "tags": [],
                "status": status,
                "error": None,
                "ownership": "private",
            }
        )
    return looks


def heygen_voices(root: str = PATH) -> list[dict[str, Any]]:
    """HeyGen's voices; samples under ``root`` (:func:`media_root`)."""
    voices = []
    for name, language, gender in _HEYGEN_VOICES:
        voice_id = HEYGEN_EXAMPLE_VOICE if name == "Paul - Natural" else _hex(f"voice:{name}")
        voices.append(
            {
                "voice_id": voice_id,
                "name": name,
                "language": language,
                "gender": gender,
                "preview_audio_url": f"{root}/heygen/voices/{voice_id}.mp3",
                "support_pause": True,
                "support_locale": language in ("English", "Spanish", "French", "Portuguese"),
                "type": "public",
                "engines": ["starfish"] if language in ("English", "Spanish") else [],
            }
        )
    voices.append(
        {
            "voice_id": _hex("voice:founder clone"),
            "name": "Founder (clone)",
            "language": "English",
            "gender": "male",
            "preview_audio_url": None,
            "support_pause": True,
            "support_locale": False,
            "type": "private",
            "engines": ["starfish"],
        }
    )
    return voices


# ElevenLabs' premade voices (real ids and names): (id, name, gender, accent, age, use case, description).
_ELEVEN: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("JBFqnCBsd6RMkjVDRZzb", "George", "male", "british", "middle_aged", "narrative_story", "warm"),
    ("21m00Tcm4TlvDq8ikWAM", "Rachel", "female", "american", "young", "narration", "calm"),
    ("EXAVITQu4vr4xnSDxMaL", "Sarah", "female", "american", "young", "news", "soft"),
    ("pNInz6obpgDQGcFmaJgB", "Adam", "male", "american", "middle_aged", "narration", "deep"),
    ("9BWtsMINqrJLrRacOk9x", "Aria", "female", "american", "middle_aged", "social_media", "expressive"),
    ("CwhRBWXzGAHq8TQ4Fs17", "Roger", "male", "american", "middle_aged", "social_media", "confident"),
    ("FGY2WhTYpPnrIDTdsKH5", "Laura", "female", "american", "young", "social_media", "upbeat"),
    ("IKne3meq5aSn9XLyUdCD", "Charlie", "male", "australian", "middle_aged", "conversational", "natural"),
    ("N2lVS1w4EtoT3dr4eOWO", "Callum", "male", "transatlantic", "middle_aged", "characters", "intense"),
    ("SAz9YHcvj6GT2YYXdXww", "River", "neutral", "american", "middle_aged", "social_media", "confident"),
    ("TX3LPaxmHKxFdv7VOQHJ", "Liam", "male", "american", "young", "narration", "articulate"),
    ("XB0fDUnXU5powFXDhCwa", "Charlotte", "female", "swedish", "young", "characters", "seductive"),
    ("Xb7hH8MSUJpSbSDYk0k2", "Alice", "female", "british", "middle_aged", "news", "confident"),
    ("XrExE9yKIg1WjnnlVkGX", "Matilda", "female", "american", "middle_aged", "narration", "friendly"),
    ("bIHbv24MWmeRgasZH58o", "Will", "male", "american", "young", "social_media", "friendly"),
    ("cgSgspJ2msm6clMCkdW9", "Jessica", "female", "american", "young", "conversational", "expressive"),
    ("cjVigY5qzO86Huf0OWal", "Eric", "male", "american", "middle_aged", "conversational", "friendly"),
    ("iP95p4xoKVk53GoZ742B", "Chris", "male", "american", "middle_aged", "conversational", "casual"),
    ("nPczCjzI2devNBz1zQrb", "Brian", "male", "american", "middle_aged", "narration", "deep"),
    ("onwK4e9ZLuTAKqWW03F9", "Daniel", "male", "british", "middle_aged", "news", "authoritative"),
    ("pFZP5JQG7iQjIQuC4Bku", "Lily", "female", "british", "middle_aged", "narration", "warm"),
    ("pqHfZKP75CvOlQylNhV4", "Bill", "male", "american", "old", "narration", "trustworthy"),
)
# Verified languages of some voices beyond English: (language, locale, accent).
_ELEVEN_VERIFIED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "9BWtsMINqrJLrRacOk9x": (("es", "es-MX", "mexican"), ("fr", "fr-FR", "parisian")),
    "FGY2WhTYpPnrIDTdsKH5": (("es", "es-ES", "peninsular"), ("it", "it-IT", "standard")),
    "cgSgspJ2msm6clMCkdW9": (("de", "de-DE", "standard"), ("pt", "pt-BR", "brazilian")),
    "XB0fDUnXU5powFXDhCwa": (("sv", "sv-SE", "standard"),),
}


def eleven_voices(root: str = PATH) -> list[dict[str, Any]]:
    """ElevenLabs' premade voices; samples under ``root`` (:func:`media_root`)."""
    voices = []
    for voice_id, name, gender, accent, age, use_case, descriptive in _ELEVEN:
        english = {"language": "en", "model_id": "eleven_multilingual_v2", "accent": accent, "locale": None}
        english["locale"] = {"british": "en-GB", "australian": "en-AU"}.get(accent, "en-US")
        verified = [english] + [
            {"language": lang, "model_id": "eleven_multilingual_v2", "accent": acc, "locale": loc}
            for lang, loc, acc in _ELEVEN_VERIFIED.get(voice_id, ())
        ]
        preview = f"{root}/elevenlabs/voices/{voice_id}.mp3"
        voices.append(
            {
                "voice_id": voice_id,
                "name": name,
                "samples": None,
                "category": "premade",
                "labels": {
                    "accent": accent,
                    "descriptive": descriptive,
                    "age": age,
                    "gender": gender,
                    "language": "en",
                    "use_case": use_case,
                },
                "description": f"A {descriptive} {accent} voice for {use_case.replace('_', ' ')}.",
                "preview_url": preview,
                "available_for_tiers": [],
                "settings": None,
                "sharing": None,
                "high_quality_base_model_ids": [
                    "eleven_v2_flash",
                    "eleven_flash_v2_5",
                    "eleven_multilingual_v2",
                ],
                "verified_languages": [v | {"preview_url": preview} for v in verified],
                "collection_ids": [],
                "is_owner": False,
                "is_legacy": False,
                "is_mixed": False,
                "created_at_unix": None,
            }
        )
    return voices


def token_for(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "s": scope}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def offset_of(token: str | None, scope: str) -> int | None:
    """The offset an opaque token stands for (0 without one); ``None`` when it is not ours or was
    made for another filter."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(offset, int) or offset < 0 or data.get("s") != scope:
        return None
    return offset


def page(
    items: list[dict[str, Any]], offset: int, size: int, scope: str
) -> tuple[list[dict[str, Any]], str | None]:
    chunk = items[offset : offset + size]
    after = offset + len(chunk)
    return chunk, token_for(after, scope) if after < len(items) else None


# ---- the previews' media -----------------------------------------------------------------------
def _colour(seed: str, lightness: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(seed.encode()).digest()
    base = [int(b) for b in digest[:3]]
    low = min(base)
    spread = max(1, max(base) - low)  # stretch to a saturated hue, then lighten to ``lightness``
    red, green, blue = (lightness + (v - low) * (255 - lightness) // spread // 2 for v in base)
    return red, green, blue


_HAIR = ((44, 30, 22), (92, 58, 32), (24, 24, 28), (160, 118, 64), (120, 40, 28))
_SKIN = ((236, 200, 170), (200, 150, 110), (150, 100, 70), (245, 214, 190), (110, 72, 50))


@functools.lru_cache(maxsize=128)
def portrait(look_id: str, width: int, height: int) -> bytes:
    """A look's preview: head and shoulders on a backdrop of the look's own colour (webp)."""
    picture = Image.new("RGB", (width, height), _colour(look_id, 150))
    draw = ImageDraw.Draw(picture)
    pick = hashlib.sha256(look_id.encode()).digest()
    cx, ground = width // 2, height
    head = min(width // 4, height // 5)
    face_top = ground - head * 4 - head // 3
    hair = _HAIR[pick[4] % len(_HAIR)]
    draw.ellipse((cx - head - 4, face_top - 6, cx + head + 4, face_top + head * 2 + 2), fill=hair)
    draw.ellipse(
        (cx - head * 2, ground - head * 2, cx + head * 2, ground + head * 2),
        fill=_colour(look_id + ":outfit", 30),
    )
    draw.ellipse(
        (cx - head, face_top + head // 4, cx + head, face_top + head * 2 + head // 4),
        fill=_SKIN[pick[5] % len(_SKIN)],
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=80)
    return buffer.getvalue()


def _looks_by_id() -> dict[str, dict[str, Any]]:
    return {look["id"]: look for look in heygen_looks() if look["preview_image_url"]}


def routes() -> list[BaseRoute]:
    """``GET /_library/{family}/{kind}/{name}``: the previews the listings name."""
    looks = _looks_by_id()
    voices = {
        "heygen": {v["voice_id"] for v in heygen_voices() if v["preview_audio_url"]},
        "elevenlabs": {v["voice_id"] for v in eleven_voices()},
    }

    def missing() -> Response:
        body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code></Error>'
        return Response(body, status_code=404, media_type="application/xml")

    async def preview(request: Request) -> Response:
        family, kind = request.path_params["family"], request.path_params["kind"]
        stem, _, extension = str(request.path_params["name"]).rpartition(".")
        data: bytes | None = None
        content_type = media.CONTENT_TYPES.get(extension, "")
        if family == "heygen" and kind == "avatars" and stem in looks:
            look = looks[stem]
            size = media.preview_size(look["image_width"], look["image_height"])
            if extension == "webp":
                data = await run_in_threadpool(portrait, stem, *size)
            elif extension == "mp4":
                data = await run_in_threadpool(media.mp4, *media.preview_size(*size, 160), PREVIEW_SECONDS)
        elif kind == "voices" and extension == "mp3" and stem in voices.get(family, ()):
            data = await run_in_threadpool(media.mp3, PREVIEW_SECONDS)
        elif family == "openai" and kind == "voices" and extension == "wav" and stem.isalpha():
            data = await run_in_threadpool(media.wav, PREVIEW_SECONDS)
        if data is None:
            return missing()
        return Response(data, media_type=content_type, headers={"Cache-Control": "public, max-age=86400"})

    return [Route(f"{PATH}/{{family}}/{{kind}}/{{name}}", preview, methods=["GET"])]
