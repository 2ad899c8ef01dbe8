"""The providers' libraries: HeyGen's avatars, and the voices of HeyGen, ElevenLabs and OpenAI speech,
as one shape whatever the provider calls its fields (docs/providers.md, "Libraries").

Each adapter that has a library lists it (``list_avatars`` / ``list_voices``, every page); the service
caches the lists (services/library.py) and the generate mutations check ``avatarId``/``voiceId``
against them (models/library.py). Languages are ISO 639-1 codes ("en", "es") whatever the provider
sends ("English", "en", "en-US"), so one filter serves every provider.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Which of our providers has which library.
AVATAR_PROVIDERS: tuple[str, ...] = ("heygen",)
VOICE_PROVIDERS: tuple[str, ...] = ("heygen", "elevenlabs", "openai_tts")
# A listing stops after this many pages whatever the provider says (a provider answering has_more
# forever must not keep a request, or the validation waiting on it, busy without end).
MAX_PAGES = 200

# Language names providers use (HeyGen's voices say "English", "Spanish" …) → ISO 639-1.
LANGUAGE_NAMES: dict[str, str] = {
    "afrikaans": "af",
    "arabic": "ar",
    "armenian": "hy",
    "azerbaijani": "az",
    "belarusian": "be",
    "bengali": "bn",
    "bosnian": "bs",
    "bulgarian": "bg",
    "catalan": "ca",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "zh",
    "croatian": "hr",
    "czech": "cs",
    "danish": "da",
    "dutch": "nl",
    "english": "en",
    "estonian": "et",
    "filipino": "fil",
    "finnish": "fi",
    "french": "fr",
    "galician": "gl",
    "german": "de",
    "greek": "el",
    "hebrew": "he",
    "hindi": "hi",
    "hungarian": "hu",
    "icelandic": "is",
    "indonesian": "id",
    "italian": "it",
    "japanese": "ja",
    "kannada": "kn",
    "kazakh": "kk",
    "korean": "ko",
    "latvian": "lv",
    "lithuanian": "lt",
    "macedonian": "mk",
    "malay": "ms",
    "marathi": "mr",
    "maori": "mi",
    "nepali": "ne",
    "norwegian": "no",
    "persian": "fa",
    "polish": "pl",
    "portuguese": "pt",
    "romanian": "ro",
    "russian": "ru",
    "serbian": "sr",
    "slovak": "sk",
    "slovenian": "sl",
    "spanish": "es",
    "swahili": "sw",
    "swedish": "sv",
    "tagalog": "tl",
    "tamil": "ta",
    "telugu": "te",
    "thai": "th",
    "turkish": "tr",
    "ukrainian": "uk",
    "urdu": "ur",
    "vietnamese": "vi",
    "welsh": "cy",
}


def language_code(value: Any) -> str | None:
    """ISO 639-1 (or the provider's own code, lowercased) of a language name, code or locale:
    "English" → "en", "en-US" → "en", "pt_BR" → "pt", "Chinese (Mandarin)" → "zh"; ``None`` for nothing."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    head = text.split("(")[0].strip()
    if head in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[head]
    primary = text.replace("_", "-").split("-")[0].strip()
    if 2 <= len(primary) <= 3 and primary.isalpha():
        return primary
    return None


def locale_tag(value: Any) -> str | None:
    """A BCP 47 locale as written conventionally ("en-us" → "en-US"), ``None`` unless it has a region."""
    if not isinstance(value, str):
        return None
    parts = value.strip().replace("_", "-").split("-")
    if len(parts) != 2 or not parts[0].isalpha() or not parts[1].isalnum():
        return None
    return f"{parts[0].lower()}-{parts[1].upper()}"


@dataclass(frozen=True)
class Avatar:
    """One avatar (for HeyGen, a look: the id ``POST /v3/videos`` takes as ``avatar_id``)."""

    id: str
    name: str
    gender: str | None = None
    preview_image_url: str | None = None
    preview_video_url: str | None = None
    avatar_type: str | None = None  # studio_avatar | digital_twin | photo_avatar
    group_id: str | None = None
    default_voice_id: str | None = None
    public: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Avatar:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            gender=data.get("gender"),
            preview_image_url=data.get("preview_image_url"),
            preview_video_url=data.get("preview_video_url"),
            avatar_type=data.get("avatar_type"),
            group_id=data.get("group_id"),
            default_voice_id=data.get("default_voice_id"),
            public=data.get("public"),
        )


@dataclass(frozen=True)
class Voice:
    """One voice of a provider's library.

    ``languages``: ISO 639-1 codes the voice is known to speak (first: its main one); ``locales``:
    BCP 47 locales where the provider names them; ``multilingual``: the voice speaks the language
    of the text it is given (OpenAI's voices, ElevenLabs' multilingual models), so it serves a
    language not in ``languages`` too. ``models``: the provider's models the voice works with
    (empty: every model)."""

    id: str
    provider: str
    name: str
    languages: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    multilingual: bool = False
    gender: str | None = None
    accent: str | None = None
    age: str | None = None
    description: str | None = None
    category: str | None = None
    preview_url: str | None = None
    models: tuple[str, ...] = field(default_factory=tuple)

    @property
    def language(self) -> str | None:
        return self.languages[0] if self.languages else None

    def speaks(self, language: str) -> bool:
        """Whether the voice is listed for ``language`` (a code or a locale; a locale matches a voice
        of that locale, or of that language without a listed locale)."""
        code = language_code(language)
        if code is None:
            return False
        locale = locale_tag(language)
        if locale is not None and self.locales and code in self.languages:
            same_language = [lc for lc in self.locales if lc.split("-")[0].lower() == code]
            return not same_language or locale in same_language
        return code in self.languages

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("languages", "locales", "models"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Voice:
        return cls(
            id=str(data["id"]),
            provider=str(data["provider"]),
            name=str(data.get("name") or data["id"]),
            languages=tuple(data.get("languages") or ()),
            locales=tuple(data.get("locales") or ()),
            multilingual=bool(data.get("multilingual")),
            gender=data.get("gender"),
            accent=data.get("accent"),
            age=data.get("age"),
            description=data.get("description"),
            category=data.get("category"),
            preview_url=data.get("preview_url"),
            models=tuple(data.get("models") or ()),
        )


def text(value: Any) -> str | None:
    """A non-empty string of a provider's answer, else ``None``."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def lowered(value: Any) -> str | None:
    found = text(value)
    return found.lower() if found else None
