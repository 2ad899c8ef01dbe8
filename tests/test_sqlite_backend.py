"""The SQLite engine (sqlite_backend.py): write transactions that begin IMMEDIATE, and a connection
that stays consistent when a task waiting to begin one is cancelled (arq cancels jobs at their
timeout and at shutdown; in ``main.py dev`` the API and the worker share one connection)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

from models import MODEL_MODULES
from services.db import connection_config


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "engine.sqlite3"
    settings = SimpleNamespace(database=f"sqlite://{path}")
    config = connection_config(settings)  # type: ignore[arg-type]  # a stand-in with the one field it reads
    assert isinstance(config, dict) and config["engine"] == "services.sqlite_backend"
    config["credentials"]["busy_timeout"] = "2000"
    await Tortoise.init(
        config={
            "connections": {"default": config},
            "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        }
    )
    await connections.get("default").execute_script("CREATE TABLE note (n INTEGER)")
    try:
        yield path
    finally:
        await Tortoise.close_connections()


async def _notes() -> list[int]:
    _, rows = await connections.get("default").execute_query("SELECT n FROM note ORDER BY n")
    return [row["n"] for row in rows]


async def test_a_cancelled_waiter_leaves_the_open_transaction_alone(database: Path) -> None:
    inside, finish = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with in_transaction() as conn:
            await conn.execute_query("INSERT INTO note VALUES (1)")
            inside.set()
            await finish.wait()
            await conn.execute_query("INSERT INTO note VALUES (2)")
        order.append("holder committed")

    async def waiter() -> None:
        async with in_transaction():
            order.append("waiter entered")  # never: it is cancelled while waiting

    async def third() -> None:
        async with in_transaction() as conn:
            order.append("third entered")
            await conn.execute_query("INSERT INTO note VALUES (3)")

    held = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # it is now queued on the connection's lock
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    later = asyncio.create_task(third())
    await asyncio.sleep(0.05)
    assert order == [], "nobody may enter while the first transaction is open"
    finish.set()
    await asyncio.wait_for(asyncio.gather(held, later), 10)
    assert order == ["holder committed", "third entered"]
    assert await _notes() == [1, 2, 3]


async def test_a_begin_cancelled_while_busy_leaves_no_transaction_open(database: Path) -> None:
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:

        async def write() -> None:
            async with in_transaction() as conn:
                await conn.execute_query("INSERT INTO note VALUES (1)")

        attempt = asyncio.create_task(write())
        await asyncio.sleep(0.3)  # BEGIN IMMEDIATE is waiting for the lock on aiosqlite's thread
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
    finally:
        other.execute("INSERT INTO note VALUES (0)")
        other.execute("COMMIT")
    # Our connection must not keep a transaction (and the write lock) from the cancelled BEGIN.
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note VALUES (5)")
    other.execute("COMMIT")
    other.close()
    async with in_transaction() as conn:
        await conn.execute_query("INSERT INTO note VALUES (6)")
    assert await _notes() == [0, 5, 6]
