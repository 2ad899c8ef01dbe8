"""The ``settings`` each provider accepts, declared once: name, type and allowed values or range.

A job's free-form ``settings`` object is parsed with its provider's model before anything is
priced or held (:func:`normalise`). Unknown names are refused — names are case-sensitive, so
``{"Quality": "low"}`` and ``{"quality": "high", "Quality": "low"}`` are refused too, never read
one way by the price and another by the adapter. The result, defaults filled in, is stored with
the job and is the only settings object the adapter reads (``providers.params.settings``), so the
tier priced and the tier sent come from the same values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from providers.errors import InvalidInputError

Seed = Annotated[int, Field(ge=0, le=4_294_967_295)]
Side = Annotated[int, Field(ge=64, le=4096)]
Unit = Annotated[float, Field(ge=0, le=1)]


class SettingsError(InvalidInputError):
    """A setting the provider does not accept; ``path`` names it (``("settings", "Quality")``).
    Our own check, so its message (naming the field and what is allowed) is the one shown."""

    def __init__(self, message: str, path: tuple[str, ...]) -> None:
        super().__init__(message, code="bad_setting")
        self.path = path


class _Settings(BaseModel):
    # strict: "1" is not 1 and "HIGH" is not "high"; extra forbid: unknown names are refused.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Image(_Settings):
    width: Side | None = None
    height: Side | None = None


class FluxSettings(_Image):
    seed: Seed | None = None
    output_format: Literal["jpeg", "jpg", "png"] | None = None
    safety_tolerance: Annotated[int, Field(ge=0, le=6)] | None = None

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_16(cls, value: int | None, info: Any) -> int | None:
        # FLUX.2 [pro] refuses sides that are not multiples of 16 (docs/providers.md, BFL).
        if value is not None and value % 16:
            raise SettingsError(
                f"settings.{info.field_name} must be a multiple of 16 from 64 to 4096 for flux_2_pro, "
                f"not {value} (for example {value // 16 * 16 or 64} or {value // 16 * 16 + 16})",
                ("settings", info.field_name),
            )
        return value


class GptImageSettings(_Image):
    # The price table's rates are quality × size; medium is what runs when nothing is asked.
    quality: Literal["low", "medium", "high", "auto"] = "medium"
    output_format: Literal["png", "jpeg", "jpg", "webp"] | None = None
    background: Literal["transparent", "opaque", "auto"] | None = None
    output_compression: Annotated[int, Field(ge=0, le=100)] | None = None


class GptImage26Settings(GptImageSettings):
    # GPT Image 2.6 (Sunburst and Flare take the same parameters): five quality tiers and "auto".
    quality: Literal["low", "medium", "high", "xhigh", "max", "auto"] = "medium"  # type: ignore[assignment]  # widens the parent's tiers; pydantic allows it


class SeedreamSettings(_Image):
    size: Literal["2K", "4K"] | None = None  # Seedream 4.5 has no 1K preset (docs/providers.md)
    response_format: Literal["b64_json", "url"] = "b64_json"
    watermark: bool = False
    seed: Seed | None = None

    @field_validator("size", mode="before")
    @classmethod
    def _no_1k(cls, value: Any) -> Any:
        if isinstance(value, str) and value.upper() == "1K":
            raise SettingsError(
                "settings.size 1K is not supported by seedream_4_5; use 2K or 4K, "
                "or settings.width and settings.height",
                ("settings", "size"),
            )
        return value


class LumaSettings(_Settings):
    resolution: Literal["540p", "720p", "1080p"] = "720p"
    loop: bool | None = None


class RunwaySettings(_Settings):
    seed: Seed | None = None


class _Kling(_Settings):
    # The modes in which the model renders sound: kling-v2-6 only in pro, kling-v3 in both
    # (docs/providers.md, Kling).
    sound_modes: ClassVar[tuple[str, ...]] = ()
    provider: ClassVar[str] = ""
    mode: Literal["std", "pro"]
    negative_prompt: Annotated[str, Field(max_length=2500)] | None = None
    cfg_scale: Annotated[float, Field(ge=0, le=1)] | None = None
    sound: Literal["on", "off"] = "off"

    @field_validator("sound", mode="before")
    @classmethod
    def _sound(cls, value: Any) -> Any:
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("cfg_scale", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _sound_needs_pro(self) -> _Kling:
        if self.sound == "on" and self.mode not in self.sound_modes:
            raise SettingsError(
                f"settings.sound on needs settings.mode {' or '.join(self.sound_modes)} on {self.provider} "
                f"(got mode {self.mode}); allowed: sound off, or sound on with mode "
                f"{' or '.join(self.sound_modes)}",
                ("settings", "sound"),
            )
        return self


class Kling26Settings(_Kling):
    sound_modes = ("pro",)
    provider = "kling_2_6"
    # the price table's kling_2_6 base rate; std with sound (no rate, and Kling refuses it) is
    # refused by _Kling._sound_needs_pro
    mode: Literal["std", "pro"] = "pro"


class Kling30Settings(_Kling):
    sound_modes = ("std", "pro")
    provider = "kling_3_0"
    mode: Literal["std", "pro"] = "std"


class VeoSettings(_Settings):
    resolution: Literal["720p", "1080p", "4k"] = "720p"  # the Gemini API's own default
    negative_prompt: Annotated[str, Field(max_length=4000)] | None = None
    person_generation: Literal["allow_all", "allow_adult", "dont_allow"] | None = None


class HeygenSettings(_Settings):
    # v3 ``voice_settings`` (speed 0.5–1.5, pitch −50…50 semitones, volume 0–1, locale) and
    # ``background``; v2's ``emotion`` and ``avatar_style`` have no v3 field and are gone.
    speed: Annotated[float, Field(ge=0.5, le=1.5)] | None = None
    pitch: Annotated[int, Field(ge=-50, le=50)] | None = None
    volume: Unit | None = None
    locale: Annotated[str, Field(max_length=16)] | None = None
    resolution: Literal["720p", "1080p", "4k"] = "720p"  # the price tier (4k is dearer)
    background_color: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] | None = None

    @field_validator("speed", "volume", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class VoiceSettings(_Settings):
    stability: Unit | None = None
    similarity_boost: Unit | None = None
    style: Unit | None = None
    speed: Annotated[float, Field(ge=0.7, le=1.2)] | None = None
    use_speaker_boost: bool | None = None

    @field_validator("stability", "similarity_boost", "style", "speed", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ElevenLabsSettings(VoiceSettings):
    model: (
        Literal[
            "eleven_v3",
            "eleven_multilingual_v2",
            "eleven_flash_v2_5",
            "eleven_turbo_v2_5",
            "eleven_flash_v2",
            "eleven_turbo_v2",
        ]
        | None
    ) = None
    voice_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    output_format: Annotated[str, Field(max_length=32)] | None = None
    voice_settings: VoiceSettings | None = None
    language_code: Annotated[str, Field(max_length=16)] | None = None
    seed: Seed | None = None
    apply_text_normalization: Literal["auto", "on", "off"] | None = None


# The speech models that take ``instructions`` (OpenAI's text-to-speech guide: not tts-1 or tts-1-hd).
TTS_INSTRUCTION_MODELS = ("gpt-4o-mini-tts",)


class OpenAiTtsSettings(_Settings):
    model: Literal["tts-1", "tts-1-hd", "gpt-4o-mini-tts"] = "tts-1"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = None
    instructions: Annotated[str, Field(max_length=4096)] | None = None
    speed: Annotated[float, Field(ge=0.25, le=4.0)] | None = None

    @model_validator(mode="after")
    def _instructions(self) -> OpenAiTtsSettings:
        if self.instructions is not None and self.model not in TTS_INSTRUCTION_MODELS:
            raise SettingsError(
                f"settings.instructions is accepted only with model {', '.join(TTS_INSTRUCTION_MODELS)}, "
                f"not {self.model}",
                ("settings", "instructions"),
            )
        return self


class CreatomateSettings(_Settings):
    output_format: Literal["mp4", "gif", "jpg", "png"] | None = None
    frame_rate: Annotated[float, Field(ge=1, le=60)] | None = None
    render_scale: Annotated[float, Field(ge=0.1, le=10)] | None = None
    max_width: Annotated[int, Field(ge=1, le=16384)] | None = None
    max_height: Annotated[int, Field(ge=1, le=16384)] | None = None
    # What a template renders (its size and length are Creatomate's to know, not ours): declared
    # by the caller, priced, and compared with the render Creatomate reports. Sources carry their own.
    width: Annotated[int, Field(ge=1, le=16384)] | None = None
    height: Annotated[int, Field(ge=1, le=16384)] | None = None
    duration: Annotated[float, Field(gt=0)] | None = None

    @field_validator("frame_rate", "render_scale", "duration", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


SETTINGS: dict[str, type[_Settings]] = {
    "flux_2_pro": FluxSettings,
    "gpt_image_1_5": GptImageSettings,
    "gpt_image_2_6_sunburst": GptImage26Settings,
    "gpt_image_2_6_flare": GptImage26Settings,
    "seedream_4_5": SeedreamSettings,
    "luma_ray3": LumaSettings,
    "runway_gen4": RunwaySettings,
    "kling_2_6": Kling26Settings,
    "kling_3_0": Kling30Settings,
    "veo_3_1": VeoSettings,
    "heygen": HeygenSettings,
    "elevenlabs": ElevenLabsSettings,
    "openai_tts": OpenAiTtsSettings,
    "creatomate": CreatomateSettings,
}


def names(provider: str) -> list[str]:
    """The settings a provider accepts."""
    return list(SETTINGS[provider].model_fields)


def normalise(provider: str, raw: Any) -> dict[str, Any]:
    """``raw`` checked against the provider's declared settings, with defaults filled in.

    Raises :class:`SettingsError` naming the first offending key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsError("settings must be a JSON object", ("settings",))
    model = SETTINGS[provider]
    declared = set(model.model_fields)
    folded: dict[str, str] = {}
    for key in raw:
        other = folded.setdefault(str(key).lower(), str(key))
        if other != key:
            raise SettingsError(
                f"settings.{other} and settings.{key} differ only in case; names are case-sensitive",
                ("settings", str(key)),
            )
    for key in raw:
        if key not in declared:
            near = next((name for name in declared if name.lower() == str(key).lower()), None)
            hint = f"; names are case-sensitive: did you mean {near}?" if near else ""
            raise SettingsError(
                f"settings.{key} is not a setting of {provider}{hint} (it accepts {', '.join(sorted(declared))})",
                ("settings", str(key)),
            )
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = tuple(str(part) for part in error["loc"])
        raise SettingsError(f"settings.{'.'.join(path)}: {error['msg']}", ("settings", *path)) from None
    return parsed.model_dump(exclude_none=True)
