"""Tortoise's SQLite engine with write transactions that take the write lock when they begin.

SQLite's default ``BEGIN`` is deferred: a transaction that reads first and writes later (check a
row, then update it) tries to upgrade its read lock to a write lock. When another process (the
API beside a worker, or the admin CLI beside both) has committed since that read, the upgrade
fails at once with "database is locked" -- ``busy_timeout`` does not apply to it, because waiting
could never succeed on a stale snapshot. ``BEGIN IMMEDIATE`` takes the write lock up front, where
``busy_timeout`` does apply, so such a transaction waits its turn instead of failing.

Used by ``db.tortoise_config`` for ``sqlite://`` URLs; PostgreSQL is unaffected. The module's name
must keep "sqlite" in it: tortoise's migrations pick their SQLite schema editor by the client's
module name (``tortoise/migrations/executor.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from tortoise.backends.base.client import NestedTransactionContext, TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.connection import get_connections
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    def _in_transaction(self) -> TransactionContext:
        return NestedTransactionContext(ImmediateTransactionWrapper(self))

    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateTransactionContext(SqliteTransactionContext):
    """tortoise's context, entered the same way, except when BEGIN does not complete: it fails
    (busy past ``busy_timeout``) or the task is cancelled while aiosqlite's thread still runs it.
    Then whatever the BEGIN may have opened is rolled back (queued behind it on that thread; a
    no-op when nothing is open), and the context variable and the lock are handed back -- only
    by the task that took them."""

    connection: ImmediateTransactionWrapper  # tortoise annotates it Any

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        token = None
        try:
            await self.ensure_connection()
            token = self.token = get_connections().set(self.connection_name, self.connection)
            await self.connection.begin()
        except BaseException:
            connection = self.connection._connection
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.rollback())
            if token is not None:
                get_connections().reset(token)
            self._trxlock.release()
            raise
        return self.connection


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
