"""The provider simulator: an ASGI app answering every simulated provider's real paths.

Mounted by the main app under ``/simulator``; a family's base URL in development is
``<server root>/simulator`` + :data:`SIMULATOR_BASE_PATHS` [family], and the adapter appends the
provider's own paths, exactly as it does against the real host. Auth, validation and error bodies
follow each provider; tasks advance with time (scaled by ``time_scale``: 1.0 finishes any job
within 10 s, 0 at once) and produce real media files; their output URLs redirect to a
simulated CDN on a second host (:mod:`providers.simulator.files`). Each refuses what its real
API refuses (docs/providers.md), with that API's error body and status.

Families: BFL, OpenAI (speech and images), BytePlus Ark (Seedream), Luma (Agents API), Runway,
Kling (JWT auth), Gemini (Veo, keyed downloads), HeyGen, ElevenLabs and Creatomate.

Failures on demand ride in the user's text (prompt, script, speech input, Creatomate source):
``[sim:fail]``, ``[sim:moderate]``, ``[sim:429]`` and ``[sim:500]`` (first submit of that text only),
``[sim:slow]`` (10× longer), ``[sim:expire]`` (output URL answers as expired), ``[sim:lost]``
(the provider forgets the task). ``GET /_sim/stats`` and ``POST /_sim/reset`` are test controls.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from providers.simulator import (
    ark,
    bfl,
    control,
    creatomate,
    elevenlabs,
    files,
    gemini,
    heygen,
    kling,
    library,
    luma,
    openai,
    runway,
)
from providers.simulator.state import MARKERS, SimState

SIMULATOR_BASE_PATHS: dict[str, str] = {
    "bfl": bfl.PATH,
    "openai": openai.PATH,
    "runway": f"{runway.PATH}/v1",
    "heygen": heygen.PATH,
    "creatomate": f"{creatomate.PATH}/v1",
    "ark": f"{ark.PATH}/api/v3",
    "luma": f"{luma.PATH}/v1",
    "kling": f"{kling.PATH}/v1",
    "gemini": f"{gemini.PATH}/{gemini.API_VERSION}",
    "elevenlabs": elevenlabs.PATH,
}

__all__ = ["MARKERS", "SIMULATOR_BASE_PATHS", "create_simulator_app", "nominal_seconds"]

# How long each family's simulated task takes at time_scale 1.0 (its module's NOMINAL_SECONDS).
_NOMINAL_SECONDS: dict[str, float] = {
    "bfl": bfl.NOMINAL_SECONDS,
    "runway": runway.NOMINAL_SECONDS,
    "heygen": heygen.NOMINAL_SECONDS,
    "creatomate": creatomate.NOMINAL_SECONDS,
    "ark": ark.NOMINAL_SECONDS,
    "luma": luma.NOMINAL_SECONDS,
    "kling": kling.NOMINAL_SECONDS,
    "gemini": gemini.NOMINAL_SECONDS,
    "elevenlabs": elevenlabs.NOMINAL_SECONDS,
}


def nominal_seconds(family: str, job_type: str) -> float:
    """How long the simulator takes for a job of this family and type, before ``time_scale``."""
    if family == "openai":
        return openai.IMAGE_NOMINAL_SECONDS if job_type.upper() == "IMAGE" else openai.NOMINAL_SECONDS
    return _NOMINAL_SECONDS[family]


def create_simulator_app(api_key: str, time_scale: float = 1.0) -> Starlette:
    """A fresh simulator accepting only ``api_key``, with its own in-memory state."""
    sim = SimState(api_key=api_key, time_scale=time_scale)
    route_list: list[BaseRoute] = [
        *bfl.routes(sim),
        *openai.routes(sim),
        *runway.routes(sim),
        *heygen.routes(sim),
        *creatomate.routes(sim),
        *ark.routes(sim),
        *luma.routes(sim),
        *kling.routes(sim),
        *gemini.routes(sim),
        *elevenlabs.routes(sim),
        *control.routes(sim),
        *files.routes(sim),
        *library.routes(),  # the libraries' previews: the simulator's own media, no outside host
        # The read-only calls `admin providers check` makes (credits, models, account).
        *bfl.check_routes(sim),
        *openai.check_routes(sim),
        *runway.check_routes(sim),
        *heygen.check_routes(sim),
        *creatomate.check_routes(sim),
        *ark.check_routes(sim),
        *luma.check_routes(sim),
        *gemini.check_routes(sim),
        *elevenlabs.check_routes(sim),
    ]
    app = Starlette(routes=route_list)
    app.state.sim = sim
    return app
