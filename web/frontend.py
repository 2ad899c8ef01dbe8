"""The web app (web/static/app): the Jobs panel, Drive and team billing, served at /app by the API
itself, from files in the repository: no build step, nothing fetched at run time (docs/web-app.md).

Also the development sign-in: on a development server, a browser on this machine may ask for the
demo team's credential (the one ``python main.py dev`` prints) with one click. And GraphiQL in
development: our own page at GET /graphql (web/graphql.py serves it), its scripts from
web/static/graphiql at /graphiql/, signed in with the app's credential.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Receive, Scope, Send

from services.settings import Settings

APP_DIR = Path(__file__).resolve().parent / "static" / "app"
GRAPHIQL_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
DEMO_TEAM_FILE = "demo_team.json"  # written by main.py dev (_ensure_demo_team)


class _AppFiles(StaticFiles):
    """Static files that a browser revalidates (ETag) rather than caches blindly: a new release is
    picked up on the next load, and an unchanged file costs a 304."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def dev_sign_in_allowed(settings: Settings, request: Request) -> bool:
    """Only a development server, asked from this machine by a page of this machine: the peer is a
    loopback address and so is the Host it was asked by (a DNS-rebinding page has its own host name),
    and a cross-origin page's request (Origin naming another host) is refused."""
    if settings.env != "development":
        return False
    client = request.client.host if request.client else None
    if not (_is_loopback(client) and _is_loopback(_host_name(request))):
        return False
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.headers.get('host', '')}":
        return False
    return True


def routes(settings: Settings) -> list[Route | Mount]:
    async def config(request: Request) -> JSONResponse:
        return JSONResponse(
            {"devSignIn": dev_sign_in_allowed(settings, request) and _demo_credential(settings) is not None},
            headers={"Cache-Control": "no-store"},
        )

    async def dev_session(request: Request) -> JSONResponse:
        credential = _demo_credential(settings) if dev_sign_in_allowed(settings, request) else None
        if credential is None:
            return JSONResponse(
                {
                    "code": "FORBIDDEN",
                    "message": "the one-click sign-in is for a development server, from the same machine",
                },
                status_code=403,
            )
        return JSONResponse({"credential": credential}, headers={"Cache-Control": "no-store"})

    async def to_app(request: Request) -> RedirectResponse:
        return RedirectResponse("/app/", status_code=307)

    files = GZipMiddleware(_AppFiles(directory=APP_DIR, html=True), minimum_size=512)

    async def app_files(scope: Scope, receive: Receive, send: Send) -> None:
        await files(scope, receive, send)

    return [
        Route("/", to_app),
        Route("/app", to_app),
        Route("/app/config.json", config),
        Route("/app/dev-session", dev_session, methods=["POST"]),
        Mount("/app", app=app_files),
        *_graphiql_routes(settings),
    ]


def graphiql_enabled(settings: Settings) -> bool:
    """GraphiQL is a development tool: served only by a development server that has it on."""
    return settings.graphiql and settings.env == "development"


# Only this origin: the page's scripts and styles are its own files (the inline styles are
# GraphiQL's editor's), its fonts are in its stylesheet, and it talks to /graphql only (HTTP and
# the websocket). A script that tried to load anything from another host would be refused.
GRAPHIQL_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def graphiql_page() -> HTMLResponse:
    """GraphiQL's page (web/static/graphiql/index.html), what a browser's GET /graphql shows."""
    return HTMLResponse(
        (GRAPHIQL_DIR / "index.html").read_text(),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": GRAPHIQL_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _graphiql_routes(settings: Settings) -> list[Route | Mount]:
    if not graphiql_enabled(settings):
        return []
    files = GZipMiddleware(_AppFiles(directory=GRAPHIQL_DIR), minimum_size=512)

    async def graphiql_files(scope: Scope, receive: Receive, send: Send) -> None:
        await files(scope, receive, send)

    async def to_graphql(request: Request) -> RedirectResponse:
        # GraphiQL's page is GET /graphql; /graphiql holds only its files (people type /graphiql).
        return RedirectResponse("/graphql", status_code=307)

    return [
        Route("/graphiql", to_graphql),
        Route("/graphiql/", to_graphql),
        Mount("/graphiql", app=graphiql_files),
    ]


def _demo_credential(settings: Settings) -> str | None:
    path = settings.data_dir / DEMO_TEAM_FILE
    try:
        return str(json.loads(path.read_text())["api_key"])
    except (OSError, ValueError, KeyError):
        return None
