"""The simulated CDNs: where output URLs lead, answering like signed-URL storage does.

As with the real providers, an output URL is not where the bytes are: ``/{family}/_files/{name}``
on the host the adapter called answers ``302 Found`` to ``/_cdn/{family}/{name}`` on a SECOND
host (:func:`cdn_host`: ``localhost`` and ``127.0.0.1`` stand for each other), which serves them
(BFL's ``delivery.*.bfl.ai`` links land on ``*.blob.core.windows.net``; others on their CDNs). A
production download checks both hops against the family's output hosts (providers/download.py).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from providers.simulator.state import SimState

# How each provider's storage answers a link that has expired (signed URLs: 403; Creatomate: 404;
# Kling deletes outputs after 30 days: 404). Veo's keyed downloads are served by simulator.gemini.
EXPIRED_STATUS: dict[str, int] = {
    "bfl": 403,
    "runway": 403,
    "heygen": 403,
    "creatomate": 404,
    "ark": 403,
    "luma": 403,
    "kling": 404,
}


def _storage_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


# The second host of each loopback name: the simulator listens on both, as one machine.
CDN_ALIASES: dict[str, str] = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}


def cdn_host(host: str) -> str:
    """The host the simulated CDN answers on for an output URL on ``host`` (itself when it has
    no loopback alias: the redirect then changes only the path)."""
    return CDN_ALIASES.get(host.lower(), host)


def routes(sim: SimState) -> list[BaseRoute]:
    async def redirect(request: Request) -> Response:
        family, name = request.path_params["family"], request.path_params["name"]
        root = str(request.scope.get("root_path") or "")
        target = request.url.replace(
            hostname=cdn_host(request.url.hostname or ""), path=f"{root}/_cdn/{family}/{name}"
        )
        return RedirectResponse(str(target), status_code=302)

    async def serve(request: Request) -> Response:
        family = request.path_params["family"]
        token = str(request.path_params["name"]).split(".", 1)[0]
        ref = sim.files.get(token)
        task = sim.tasks.get(ref.task_id) if ref is not None else None
        now = sim.now()
        if ref is None or task is None or task.family != family or task.lost or not task.succeeded(now):
            # Unknown, or (Creatomate) announced but not rendered yet.
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        if "expire" in task.markers or now - task.created_at > ref.ttl:
            status = EXPIRED_STATUS.get(family, 404)
            return _storage_error(
                status, "AccessDenied" if status == 403 else "NoSuchKey", "Request has expired"
            )
        data = await run_in_threadpool(ref.spec.render)
        return Response(
            data, media_type=ref.spec.content_type, headers={"Cache-Control": "private, max-age=600"}
        )

    return [
        Route("/{family}/_files/{name}", redirect, methods=["GET"]),
        Route("/_cdn/{family}/{name}", serve, methods=["GET"]),
    ]
