"""Where each provider family's credentials and base URL come from: environment variables named as the
providers' own SDKs name them (docs/providers.md)."""

from __future__ import annotations

PROVIDER_FAMILIES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "bfl": (("BFL_API_KEY",), "BFL_BASE_URL", "https://api.bfl.ai"),
    "openai": (("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "ark": (("ARK_API_KEY",), "ARK_BASE_URL", "https://ark.ap-southeast.bytepluses.com/api/v3"),
    "luma": (("LUMA_API_KEY",), "LUMA_BASE_URL", "https://agents.lumalabs.ai/v1"),
    "runway": (("RUNWAY_API_KEY",), "RUNWAY_BASE_URL", "https://api.dev.runwayml.com/v1"),
    "kling": (
        ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
        "KLING_BASE_URL",
        "https://api-singapore.klingai.com/v1",
    ),
    "gemini": (("GEMINI_API_KEY",), "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com/v1beta"),
    "heygen": (("HEYGEN_API_KEY",), "HEYGEN_BASE_URL", "https://api.heygen.com"),
    "elevenlabs": (("ELEVENLABS_API_KEY",), "ELEVENLABS_BASE_URL", "https://api.elevenlabs.io"),
    "creatomate": (("CREATOMATE_API_KEY",), "CREATOMATE_BASE_URL", "https://api.creatomate.com/v1"),
}


def provider_credentials(family: str, environ: dict[str, str]) -> tuple[str | None, str]:
    """The (key, base URL) configured for a provider family; key None when not configured.

    Kling's key is ``access:secret`` (the adapter signs its JWT from both)."""
    key_vars, base_var, default_base = PROVIDER_FAMILIES[family]
    values = [environ.get(v) for v in key_vars]
    key = ":".join(v for v in values if v) if all(values) else None
    return key, environ.get(base_var, default_base).rstrip("/")
