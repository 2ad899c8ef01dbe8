"""Helpers every simulated provider uses: reading requests, auth, markers, stages, URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse

from providers.simulator.state import SimTask


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request's JSON body when it is an object; ``None`` when it is missing or malformed."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def public_base(request: Request) -> str:
    """The absolute URL of the simulator's root, mount path included (``http://host/simulator``)."""
    root_path = str(request.scope.get("root_path") or "")
    return str(request.url.replace(path=root_path, query="", fragment="")).rstrip("/")


def file_url(request: Request, family_path: str, token: str, extension: str) -> str:
    return f"{public_base(request)}{family_path}/_files/{token}.{extension}"


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere inside a JSON value (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def stage(task: SimTask, now: float, stages: Sequence[tuple[float, str]]) -> str | None:
    """The in-progress stage name for the task's progress, or ``None`` once it reached the end.

    ``stages`` lists (start fraction, name) in order, the first starting at 0.
    """
    progress = task.progress(now)
    if progress >= 1.0:
        return None
    current = stages[0][1]
    for start, name in stages:
        if progress >= start:
            current = name
    return current


def too_many_requests(body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=429, headers={"Retry-After": "1"})


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
