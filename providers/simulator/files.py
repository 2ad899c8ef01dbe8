"""The simulated CDNs: where output URLs lead, answering like signed-URL storage does."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
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


def routes(sim: SimState) -> list[BaseRoute]:
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

    return [Route("/{family}/_files/{name}", serve, methods=["GET"])]
