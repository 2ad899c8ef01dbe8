"""What each of the twelve providers does, is good at, and accepts: the product's guidance and the
limits from docs/providers.md. Input validation, the ``providers`` query and the adapter registry read it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

IMAGE, VIDEO, AVATAR, TTS, COMPOSITE = "image", "video", "avatar", "tts", "composite"


@dataclass(frozen=True)
class ProviderSpec:
    provider: str
    type: str
    family: str
    strengths: str
    is_default: bool = False
    aspect_ratios: tuple[str, ...] = ()  # empty: no aspect ratio for this type
    default_aspect_ratio: str | None = None
    durations: tuple[int, ...] = ()  # allowed durations in seconds (video)
    default_duration: int | None = None
    max_text_chars: int = 4000  # prompt / script / text
    # The provider takes a seed (docs/providers.md, "Seeds"): variants get different seeds and the
    # ``seed`` input is accepted; elsewhere ``seed`` is refused.
    takes_seed: bool = False
    # Aspect ratios that need an input image (Runway's gen4_turbo ratios beyond text-to-video's two).
    text_only_aspect_ratios: tuple[str, ...] = ()
    # Our tasks running at once at this provider (0: no documented cap); CH_PROVIDER_CONCURRENCY overrides.
    max_concurrency: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    # The model id sent on the wire (CH_PROVIDER_MODELS overrides it without a release), the day
    # the provider shuts that model down (None: no date announced) and what replaces it: a provider
    # of ours (``successor``) and/or the provider's own recommended model id (``successor_model``).
    # providers/lifecycle.py turns these into active / deprecated / shut down against today's date.
    wire_model: str = ""
    shutdown_date: date | None = None
    successor: str | None = None
    successor_model: str | None = None
    # Seconds a job of this provider typically takes at the provider (its default duration for
    # video): the base of estimated progress and expectedCompletionAt (models/progress.py). Estimates
    # within the product guide's ranges, with their sources: docs/providers.md, Typical generation times.
    typical_seconds: int = 60

    def ratios_need_image(self, ratio: str) -> bool:
        """True when this ratio renders only from an input image (Runway's beyond 16:9 and 9:16)."""
        return (
            bool(self.text_only_aspect_ratios)
            and ratio in self.aspect_ratios
            and (ratio not in self.text_only_aspect_ratios)
        )


_ANY_IMAGE_RATIO = ("1:1", "4:5", "5:4", "3:4", "4:3", "2:3", "3:2", "9:16", "16:9", "21:9")

# The wire model of the entries that do not name their own (their adapters send these ids).
_WIRE_MODELS: dict[str, str] = {
    "flux_2_pro": "flux-2-pro",
    "seedream_4_5": "seedream-4-5-251128",
    "luma_ray3": "ray-3.2",
    "runway_gen4": "gen4_turbo",
    "kling_2_6": "kling-v2-6",
    "kling_3_0": "kling-v3",
    "veo_3_1": "veo-3.1-generate-001",  # CH_PROVIDER_MODELS (or GEMINI_VEO_MODEL) overrides it
    "heygen": "v3/videos",
    "elevenlabs": "eleven_multilingual_v2",
    "creatomate": "renders",
}

# The entries whose adapters send the wire model recorded on the job, so CH_PROVIDER_MODELS may
# change it (the others' adapters send their own ids; settings.py refuses an override for them).
MODEL_SETTING_PROVIDERS = ("gpt_image_1_5", "gpt_image_2_6_sunburst", "gpt_image_2_6_flare", "veo_3_1")

CATALOG: dict[str, ProviderSpec] = {
    s.provider: s if s.wire_model else replace(s, wire_model=_WIRE_MODELS.get(s.provider, s.provider))
    for s in [
        ProviderSpec(
            "flux_2_pro",
            IMAGE,
            "bfl",
            "Photoreal and product photography (default)",
            is_default=True,
            aspect_ratios=_ANY_IMAGE_RATIO,
            default_aspect_ratio="1:1",
            max_text_chars=10000,
            takes_seed=True,  # BFL's request: seed
            max_concurrency=24,  # 24 in-flight tasks (docs/providers.md, Concurrency caps)
            typical_seconds=15,
        ),
        ProviderSpec(
            "gpt_image_1_5",
            IMAGE,
            "openai",
            "Text-aware: posters with copy on the image",
            aspect_ratios=("1:1", "2:3", "3:2"),
            default_aspect_ratio="1:1",
            max_text_chars=32000,
            # OpenAI's deprecations page: gpt-image-1.5 (and its snapshot, gpt-image-1-mini,
            # chatgpt-image-latest) shut down 2026-12-01; replacements gpt-image-2.6-sunburst or -flare.
            wire_model="gpt-image-1.5",
            shutdown_date=date(2026, 12, 1),
            successor="gpt_image_2_6_sunburst",
            successor_model="gpt-image-2.6-sunburst",
            typical_seconds=45,
        ),
        ProviderSpec(
            "gpt_image_2_6_sunburst",
            IMAGE,
            "openai",
            "Text-aware, precise detail: posters with copy on the image (GPT Image 2.6 Sunburst)",
            aspect_ratios=_ANY_IMAGE_RATIO,
            default_aspect_ratio="1:1",
            max_text_chars=32000,
            wire_model="gpt-image-2.6-sunburst",
            typical_seconds=45,
        ),
        ProviderSpec(
            "gpt_image_2_6_flare",
            IMAGE,
            "openai",
            "Text-aware and fast: posters with copy, in seconds (GPT Image 2.6 Flare)",
            aspect_ratios=_ANY_IMAGE_RATIO,
            default_aspect_ratio="1:1",
            max_text_chars=32000,
            wire_model="gpt-image-2.6-flare",
            typical_seconds=20,
        ),
        ProviderSpec(
            "seedream_4_5",
            IMAGE,
            "ark",
            "Stylized and artistic images",
            aspect_ratios=_ANY_IMAGE_RATIO,
            default_aspect_ratio="1:1",
            max_text_chars=4000,
            takes_seed=True,  # ModelArk's images request: seed
            typical_seconds=20,
        ),
        ProviderSpec(
            "luma_ray3",
            VIDEO,
            "luma",
            "Cinematic motion",
            aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
            default_aspect_ratio="16:9",
            durations=(5, 10),
            default_duration=5,
            max_text_chars=4000,
            max_concurrency=10,  # Build tier: 10 concurrent generations (docs/providers.md, Concurrency caps)
            typical_seconds=120,
        ),
        ProviderSpec(
            "runway_gen4",
            VIDEO,
            "runway",
            "Text-to-video and image-to-video (default)",
            is_default=True,
            aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
            default_aspect_ratio="16:9",
            text_only_aspect_ratios=("16:9", "9:16"),
            durations=tuple(range(2, 11)),
            default_duration=5,
            max_text_chars=1000,
            takes_seed=True,  # Runway's image_to_video / text_to_video: seed
            typical_seconds=90,
        ),
        ProviderSpec(
            "kling_2_6",
            VIDEO,
            "kling",
            "Strong physics",
            aspect_ratios=("16:9", "9:16", "1:1"),
            default_aspect_ratio="16:9",
            durations=(5, 10),
            default_duration=5,
            max_text_chars=2500,
            typical_seconds=180,
        ),
        ProviderSpec(
            "kling_3_0",
            VIDEO,
            "kling",
            "Newer Kling model, strong physics",
            aspect_ratios=("16:9", "9:16", "1:1"),
            default_aspect_ratio="16:9",
            durations=tuple(range(3, 16)),
            default_duration=5,
            max_text_chars=2500,
            typical_seconds=180,
        ),
        ProviderSpec(
            "veo_3_1",
            VIDEO,
            "gemini",
            "Highest quality (Google)",
            aspect_ratios=("16:9", "9:16"),
            default_aspect_ratio="16:9",
            durations=(4, 6, 8),
            default_duration=8,
            max_text_chars=4000,
            max_concurrency=10,  # 10 concurrent (docs/providers.md, Concurrency caps; UNVERIFIED)
            typical_seconds=120,
        ),
        ProviderSpec(
            "heygen",
            AVATAR,
            "heygen",
            "Lip-synced spokesperson videos: stock and custom avatars",
            is_default=True,
            aspect_ratios=("16:9", "9:16", "1:1", "4:5"),
            default_aspect_ratio="16:9",
            max_text_chars=2000,
            max_concurrency=10,  # Pay-As-You-Go: 10 concurrent video jobs (docs/providers.md, Concurrency caps)
            typical_seconds=300,
        ),
        ProviderSpec(
            "elevenlabs",
            TTS,
            "elevenlabs",
            "Premium quality, multilingual, voice cloning",
            max_text_chars=5000,
            takes_seed=True,  # ElevenLabs' text-to-speech: seed (best effort, not guaranteed)
            max_concurrency=5,  # Creator plan: 5 (docs/providers.md, Concurrency caps; UNVERIFIED)
            typical_seconds=10,
        ),
        ProviderSpec(
            "openai_tts",
            TTS,
            "openai",
            "Good baseline, faster and cheaper (default)",
            is_default=True,
            max_text_chars=4096,
            # OpenAI's text-to-speech guide: tts-1, tts-1-hd and gpt-4o-mini-tts shut down 2027-01-06;
            # the named replacement, gpt-realtime-2.1-mini, is a Realtime API model that
            # /v1/audio/speech does not serve, so no provider of ours succeeds this one yet.
            wire_model="tts-1",
            shutdown_date=date(2027, 1, 6),
            successor_model="gpt-realtime-2.1-mini",
            typical_seconds=10,
        ),
        ProviderSpec(
            "creatomate",
            COMPOSITE,
            "creatomate",
            "Template-based compositing of clips, text and audio",
            is_default=True,
            max_text_chars=20000,
            typical_seconds=60,
        ),
    ]
}

# Placement → (aspect ratio, target duration in seconds): the table in docs/providers.md,
# "Placements", with its sources. A video's default duration is the target (the nearest the
# provider renders); a longer one is refused unless the request allows it.
PLACEMENTS: dict[str, tuple[str, int]] = {
    "FEED": ("1:1", 15),
    "STORY": ("9:16", 5),
    "REELS": ("9:16", 10),
    "TIKTOK": ("9:16", 10),
    "IN_STREAM": ("16:9", 6),
    "POSTER": ("4:5", 5),
}

# How people call each placement (the Placements table's rows, the web app's picker).
PLACEMENT_NAMES: dict[str, str] = {
    "FEED": "Feed",
    "STORY": "Story",
    "REELS": "Reels",
    "TIKTOK": "TikTok",
    "IN_STREAM": "In-stream",
    "POSTER": "Poster",
}


def default_provider(job_type: str) -> ProviderSpec:
    return next(s for s in CATALOG.values() if s.type == job_type and s.is_default)
