"""Test controls under ``/_sim/`` — not part of any provider's API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from providers.simulator.state import SimState


def routes(sim: SimState) -> list[BaseRoute]:
    async def stats(request: Request) -> JSONResponse:
        """Submit calls per family (``attempts``), tasks created (``submissions``), marker counts, task ids."""
        sim.prune()
        return JSONResponse(sim.stats())

    async def reset(request: Request) -> JSONResponse:
        sim.reset()
        return JSONResponse({"ok": True})

    return [
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
