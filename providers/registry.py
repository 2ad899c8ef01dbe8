"""Which adapter serves which provider, and where it points: the provider's own API when its key is
set, the built-in simulator otherwise (development and tests only)."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Protocol

import httpx

from providers.base import Adapter
from providers.catalog import CATALOG
from providers.credentials import provider_credentials
from providers.errors import NotConfiguredError
from providers.library import Voice


class ProviderSettings(Protocol):
    """What the registry reads of the service's settings (services.settings.Settings has it all)."""

    @property
    def env(self) -> str: ...
    @property
    def simulator_url(self) -> str | None: ...
    @property
    def public_url(self) -> str: ...
    @property
    def provider_env(self) -> dict[str, str]: ...
    @property
    def poll_interval_scale(self) -> float: ...
    @property
    def provider_models(self) -> dict[str, str]: ...


# The key the built-in simulator accepts; it guards nothing real, it only exercises the auth path.
SIMULATOR_API_KEY = "sim_creative_hub_development_key"

# provider -> "module:Class". Providers missing here answer PROVIDER_NOT_SUPPORTED until they get one.
ADAPTERS: dict[str, str] = {
    "flux_2_pro": "providers.bfl:BflAdapter",
    "runway_gen4": "providers.runway:RunwayAdapter",
    "heygen": "providers.heygen:HeygenAdapter",
    "openai_tts": "providers.openai:OpenAITtsAdapter",
    "creatomate": "providers.creatomate:CreatomateAdapter",
    "gpt_image_1_5": "providers.openai:OpenAIImageAdapter",
    "gpt_image_2_6_sunburst": "providers.openai:OpenAIImage26Adapter",
    "gpt_image_2_6_flare": "providers.openai:OpenAIImage26Adapter",
    "seedream_4_5": "providers.ark:ArkAdapter",
    "luma_ray3": "providers.luma:LumaAdapter",
    "kling_2_6": "providers.kling:KlingAdapter",
    "kling_3_0": "providers.kling:KlingAdapter",
    "veo_3_1": "providers.gemini:GeminiVeoAdapter",
    "elevenlabs": "providers.elevenlabs:ElevenLabsAdapter",
}


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    simulated: bool


def is_supported(provider: str) -> bool:
    return provider in ADAPTERS


def simulator_root(settings: ProviderSettings) -> str:
    return (settings.simulator_url or f"{settings.public_url}/simulator").rstrip("/")


def endpoint(provider: str, settings: ProviderSettings) -> Endpoint:
    """Where this provider's adapter sends its requests."""
    from providers.simulator import SIMULATOR_BASE_PATHS

    family = CATALOG[provider].family
    key, base_url = provider_credentials(family, settings.provider_env)
    if key:
        if settings.env == "production" and not base_url.lower().startswith("https://"):
            # The key travels with every request: never over plain http in production.
            raise NotConfiguredError(f"{provider} is not configured: its base URL must be https")
        return Endpoint(base_url=base_url, api_key=key, simulated=False)
    if settings.env == "production":
        raise NotConfiguredError(f"{provider} is not configured: set its API key")
    return Endpoint(
        base_url=simulator_root(settings) + SIMULATOR_BASE_PATHS[family],
        api_key=SIMULATOR_API_KEY,
        simulated=True,
    )


def simulated_typical_seconds(settings: ProviderSettings, time_scale: float) -> dict[str, float]:
    """How long each provider the simulator answers for takes there (its nominal time ×
    ``time_scale``), by provider: what to expect of a job in development, where the simulator
    finishes in seconds what the real provider does in minutes. Empty in production."""
    from providers.simulator import nominal_seconds

    if settings.env == "production":
        return {}
    return {
        provider: nominal_seconds(spec.family, spec.type) * time_scale
        for provider, spec in CATALOG.items()
        if is_supported(provider) and endpoint(provider, settings).simulated
    }


def is_configured(provider: str, settings: ProviderSettings) -> bool:
    """True when the provider's real key is set (the simulator does not count)."""
    key, _ = provider_credentials(CATALOG[provider].family, settings.provider_env)
    return key is not None


def adapter_class(provider: str) -> type[Adapter]:
    if provider not in ADAPTERS:
        raise NotConfiguredError(f"{provider} is not supported yet")
    module_name, class_name = ADAPTERS[provider].split(":")
    cls: type[Adapter] = getattr(importlib.import_module(module_name), class_name)
    return cls


def can_cancel(provider: str) -> bool:
    """True when the provider's API can stop a task it accepted (its adapter says so)."""
    return is_supported(provider) and adapter_class(provider).can_cancel


def static_voices(provider: str, settings: ProviderSettings) -> tuple[Voice, ...] | None:
    """A provider's documented fixed voice set (OpenAI: no listing call), ``None`` for a provider
    that lists its voices. Under the simulator a sample is the simulator's own file (nothing is
    fetched from the provider's CDN in development); with the real key, the provider's own URL."""
    if not is_supported(provider):
        return None
    static: tuple[Voice, ...] | None = getattr(adapter_class(provider), "static_voices", None)
    if static is None:
        return None
    try:
        simulated = endpoint(provider, settings).simulated
    except NotConfiguredError:
        return static
    if not simulated:
        return static
    from providers.simulator.library import openai_preview

    root = simulator_root(settings)
    return tuple(
        dataclasses.replace(v, preview_url=openai_preview(root, v.id)) if v.preview_url else v for v in static
    )


def adapter_for(provider: str, client: httpx.AsyncClient, settings: ProviderSettings) -> Adapter:
    cls = adapter_class(provider)
    ep = endpoint(provider, settings)
    adapter: Adapter = cls(client, ep.base_url, ep.api_key, poll_interval_scale=settings.poll_interval_scale)
    if hasattr(adapter, "wire_models"):
        adapter.wire_models = settings.provider_models
    return adapter
