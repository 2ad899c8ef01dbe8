"""The HTTP application: REST routes, /metrics, GraphQL over HTTP and websockets, the simulator in
development, and the middleware around them."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute

from realtime.server import CLIENT_FAULTS, Hub, WebSocketFront
from services.container import Services, open_services
from services.settings import Settings
from web import errors, frontend, rest, uploads
from web.graphql import GraphQLView, build_schema
from web.metrics import metrics_endpoint
from web.middleware import BodySizeLimit, ServiceUnavailable


def create_app(settings: Settings, services: Services | None = None) -> WebSocketFront:
    """The API. With ``services`` it uses the caller's resources (``dev``); otherwise it opens its own."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.hub = Hub(schema)
        if services is not None:
            app.state.services = services
            _freeze_startup_objects()
            yield
            return
        async with open_services(settings) as opened:
            app.state.services = opened
            _freeze_startup_objects()
            yield

    schema = build_schema()
    view = GraphQLView(settings, schema)
    logging.getLogger("uvicorn.error").addFilter(CLIENT_FAULTS)
    routes: list[Any] = [
        *rest.routes,
        *uploads.routes,
        Route("/metrics", metrics_endpoint),
        Route("/graphql", view, methods=["GET", "POST"]),
        *frontend.routes(settings),
    ]
    if settings.bench_plain_ws and settings.env != "production":
        # WS /graphql is served by realtime.server.WebSocketFront (multiplexed subscriptions); strawberry's
        # own per-subscriber handler, only for the benchmark to compare with (CH_BENCH_PLAIN_WS).
        routes.append(WebSocketRoute("/graphql/plain", view))
    if settings.env != "production":
        from providers.registry import SIMULATOR_API_KEY
        from providers.simulator import create_simulator_app

        routes.append(
            Mount("/simulator", app=create_simulator_app(SIMULATOR_API_KEY, settings.simulator_time_scale))
        )
    middleware = [
        Middleware(
            BodySizeLimit,
            max_bytes=settings.max_body_bytes,
            exempt_prefixes=("/simulator/", uploads.PATH_PREFIX),  # an upload PUT enforces its declared size
            upload_path="/graphql",
            upload_max_bytes=settings.max_upload_bytes + settings.max_body_bytes,
        ),
        Middleware(ServiceUnavailable),
    ]
    if settings.cors_origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "OPTIONS"],  # PUT: /uploads/{id}
                allow_headers=["authorization", "content-type", "idempotency-key"],
                expose_headers=["retry-after", "x-ratelimit-reset"],
                max_age=600,
            ),
        )
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers=errors.EXCEPTION_HANDLERS,  # what the REST routes raise, as JSON errors
    )
    return WebSocketFront(app)


def _freeze_startup_objects() -> None:
    """Start-up objects (modules, the schema, settings) live as long as the process; frozen, a full
    collection scans only what came later. With thousands of websocket connections open a full
    collection is a pause every subscriber feels, and freezing shortens it several times over
    (BENCHMARKS.md, "What remains in the tail")."""
    gc.collect()
    gc.freeze()
    # Full collections 10× rarer (third threshold 10 → 100): with thousands of connections each one
    # is a pause every subscriber feels, and little cyclic garbage lives long.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    # Small JSON frames gain nothing from per-message compression, and compressing them was a large
    # share of a fan-out's CPU (BENCHMARKS.md, "What the measurements changed"); without it, too,
    # realtime/wsout.py may write frames straight to the transport (a negotiated extension sends
    # every connection the slow way).
    # A websocket message is no larger than a request body (1009 "message too big" past it).
    return {
        "ws": settings.ws_implementation,
        "ws_per_message_deflate": False,
        "ws_max_size": settings.max_body_bytes,
    }
