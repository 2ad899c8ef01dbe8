"""Where each provider family's output URLs may lead, for production downloads.

:func:`providers.download.fetch_output` takes ``allowed_hosts`` (exact names, or suffixes written
``".bfl.ai"``) and ``require_https``; production passes :func:`output_hosts` of the job's family.

Each entry says where it came from. Hosts the provider documents are marked verified; the others
were seen only in third-party code and examples and are marked UNVERIFIED: for those the operator
can replace the list with ``<FAMILY>_OUTPUT_HOSTS`` (comma-separated, e.g.
``RUNWAY_OUTPUT_HOSTS=".cloudfront.net,runway-task-artifacts.s3.amazonaws.com"``). An empty tuple
means the family never hands out URLs (its outputs are the bytes of the answer), so any URL is
refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class HostRule:
    hosts: tuple[str, ...]
    verified: bool
    source: str


OUTPUT_HOST_RULES: dict[str, HostRule] = {
    "bfl": HostRule(
        (
            ".bfl.ai",
            "bfldeliveryprod.blob.core.windows.net",
            "bfldeliveryprodeu4.blob.core.windows.net",
            "bfldeliveryscus.blob.core.windows.net",
        ),
        True,
        "docs/providers.md, BFL: result.sample is a signed URL on a delivery.*.bfl.ai host whose region part "
        "changes (BFL: do not pin the hostname) — hence the suffix. BFL's own skills docs "
        "(black-forest-labs/skills, references/endpoints.md) show results on "
        "bfldeliveryprod.blob.core.windows.net (verified); bfldeliveryprodeu4 and bfldeliveryscus "
        "were seen in third-party code and logs (UNVERIFIED). Only these accounts, never all of "
        ".blob.core.windows.net (anyone can host there).",
    ),
    "openai": HostRule(
        (),
        True,
        "docs/providers.md, OpenAI: images come back as b64_json and speech as the answer body; no URLs.",
    ),
    "ark": HostRule(
        (".bytepluses.com", ".volces.com"),
        False,
        "UNVERIFIED. docs/providers.md, Seedream: data[].url is a signed TOS URL (X-Tos-Expires) valid "
        "24 h, host not documented. Third-party code shows ark-content-generation-v2-<region>.tos-<region>."
        "volces.com. The adapter asks for b64_json by default, so no download happens.",
    ),
    "luma": HostRule(
        (".cdn-luma.com",),
        False,
        "UNVERIFIED. docs/providers.md, Luma: output[].url is presigned (~1 h), host not documented. Legacy "
        "Dream Machine outputs were seen on storage.cdn-luma.com (third-party code).",
    ),
    "runway": HostRule(
        ("dnznrvs05pmza.cloudfront.net",),
        False,
        "UNVERIFIED. docs/providers.md, Runway: output[] are signed URLs (24–48 h), host not documented. "
        "Third-party code pins dnznrvs05pmza.cloudfront.net (URLs carry a _jwt query).",
    ),
    "kling": HostRule(
        (".klingai.com",),
        False,
        "UNVERIFIED. docs/providers.md, Kling: task_result.videos[].url, kept 30 days, host not documented. "
        "Third-party code shows v15-kling.klingai.com / p2-kling.klingai.com CDN hosts.",
    ),
    "gemini": HostRule(
        ("generativelanguage.googleapis.com",),
        True,
        "docs/providers.md, Veo: video.uri is https://generativelanguage.googleapis.com/v1beta/files/<id>"
        ":download?alt=media, fetched with the API key. Where it may redirect is UNVERIFIED: add the "
        "target with GEMINI_OUTPUT_HOSTS if downloads are refused as a bad host.",
    ),
    "heygen": HostRule(
        (".heygen.ai", ".heygen.com"),
        False,
        "UNVERIFIED. docs/providers.md, HeyGen: video_url / thumbnail_url expire after 7 days, host not "
        "documented. Third-party code shows files2.heygen.ai (signed, Expires=…) and resource2.heygen.ai.",
    ),
    "elevenlabs": HostRule(
        (),
        True,
        "docs/providers.md, ElevenLabs: the audio is the answer body; no URLs.",
    ),
    "creatomate": HostRule(
        ("cdn.creatomate.com",),
        True,
        "docs/providers.md, Creatomate: url is https://cdn.creatomate.com/renders/<id>.<ext>.",
    ),
}

OUTPUT_HOSTS: dict[str, tuple[str, ...]] = {family: rule.hosts for family, rule in OUTPUT_HOST_RULES.items()}

# Hosts besides the configured base URL's that a family's answers may send us to WITH our key
# (over https only; see providers.http_adapter.HttpAdapter.is_api_url). BFL's polling_url names the
# regional cluster holding the task (api.us1.bfl.ai, api.eu1.bfl.ai …: docs/providers.md, BFL). No other
# family hands out API URLs: their task ids are paths under the base URL.
API_HOSTS: dict[str, tuple[str, ...]] = {"bfl": (".bfl.ai",)}


def output_hosts(family: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The hosts a family's outputs may be downloaded from: ``<FAMILY>_OUTPUT_HOSTS`` when set,
    else the list above. Unknown families get an empty tuple (nothing is trusted)."""
    env = os.environ if environ is None else environ
    configured = env.get(f"{family.upper()}_OUTPUT_HOSTS")
    if configured is not None:
        return tuple(host.strip().lower() for host in configured.split(",") if host.strip())
    return OUTPUT_HOSTS.get(family, ())
