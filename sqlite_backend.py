"""Tortoise's SQLite engine with write transactions that take the write lock when they begin.

SQLite's default ``BEGIN`` is deferred: a transaction that reads first and writes later (check a
row, then update it) tries to upgrade its read lock to a write lock. When another process (the
API beside a worker, or the admin CLI beside both) has committed since that read, the upgrade
fails at once with "database is locked" -- ``busy_timeout`` does not apply to it, because waiting
could never succeed on a stale snapshot. ``BEGIN IMMEDIATE`` takes the write lock up front, where
``busy_timeout`` does apply, so such a transaction waits its turn instead of failing.

Used by ``db.tortoise_config`` for ``sqlite://`` URLs; PostgreSQL is unaffected.
"""

from __future__ import annotations

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
    async def __aenter__(self) -> TransactionalDBClient:
        try:
            return await super().__aenter__()
        except BaseException:
            # tortoise's context keeps its lock and context variable when BEGIN fails
            # (busy past busy_timeout); hand both back so the connection stays usable.
            if getattr(self, "token", None) is not None:
                get_connections().reset(self.token)
            if self._trxlock.locked():
                self._trxlock.release()
            raise


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
