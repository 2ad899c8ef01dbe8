"""The database: tortoise configuration, start-up and migrations (tortoise's built-in ones)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations

from models import MODEL_MODULES
from services.settings import Settings

MIGRATIONS_MODULE = "models.migrations"


def database_url(settings: Settings) -> str:
    """The configured URL with the pool and lock settings this service needs added when absent."""
    url = settings.database
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        # API and worker may share one SQLite file: wait for the lock instead of failing at once.
        query.setdefault("busy_timeout", "15000")
    elif parts.scheme in ("postgres", "postgresql", "asyncpg"):
        query.setdefault("maxsize", "20")  # the asyncpg default of 5 starves a busy worker
    return urlunsplit(parts._replace(query=urlencode(query)))


def connection_config(settings: Settings) -> str | dict[str, Any]:
    """The default connection: the URL, except that SQLite gets the engine whose write
    transactions begin immediately (see sqlite_backend)."""
    url = database_url(settings)
    if urlsplit(url).scheme != "sqlite":
        return url
    config = expand_db_url(url)
    config["engine"] = "services.sqlite_backend"
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(settings)},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(settings: Settings) -> None:
    await run_migrations(config=tortoise_config(settings))
    await Tortoise.close_connections()


async def init(settings: Settings) -> None:
    """Open the database for the whole process.

    tortoise keeps its state in a contextvar: a context opened in one task (the ASGI lifespan,
    arq's start-up) is invisible to the tasks that are not its children (every request, every
    job). A process has one database, so the context is also made the process-wide fallback, as
    tortoise's own starlette integration does. A context left by an earlier init (a worker
    restarted after losing Redis never ran its shutdown) is closed first: there is only one."""
    from tortoise.context import get_current_context

    if get_current_context() is not None:
        await close()
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close() -> None:
    await Tortoise.close_connections()


async def ping() -> bool:
    from tortoise import connections

    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True


def __getattr__(name: str) -> Any:
    # `tortoise -c db.TORTOISE_ORM makemigrations` (make migrations) reads the config from here;
    # built on access so importing this module reads no settings.
    if name == "TORTOISE_ORM":
        from services.settings import load_settings

        return tortoise_config(load_settings())
    raise AttributeError(name)
