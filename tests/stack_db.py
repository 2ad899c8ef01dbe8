"""A stack's database opened in the test process, to set up state in milliseconds.

``python main.py admin create-team`` costs a process start (about a second); the tests create
hundreds of teams. :class:`StackDatabase` runs the same domain functions against the stack's
database (``CH_DATABASE_URL``) with the engine the service uses (``db.tortoise_config``: on SQLite
``BEGIN IMMEDIATE`` and ``busy_timeout``, so it waits for the running service's write lock).

tortoise keeps part of its state on the model classes, for the whole process: the connection name
a model uses and its dialect's base queries. Tests also open a database in-process themselves
(``db.init``), and the SQLite and PostgreSQL stacks may both be alive. So each stack gets a
``TortoiseContext`` of its own, on one event loop in a thread of its own (its connections belong to
that loop), with a connection name of its own (tortoise caches statements by connection name, not
by dialect). The model classes are pointed at the stack's context only while a call runs -- its
caller waits for it, so nothing else uses them then -- and put back as they were afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tortoise.context import TortoiseContext
from tortoise.models import Model

T = TypeVar("T")
TIMEOUT = 60.0  # as for a CLI call

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_names = itertools.count()
_one_at_a_time = asyncio.Lock()  # the model classes point at one stack's context at a time


def _shared_loop() -> asyncio.AbstractEventLoop:
    """The event loop every stack's database runs on, in a daemon thread started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="stack-db", daemon=True).start()
            _loop = loop
        return _loop


_MODEL_STATE = ("default_connection", "basetable", "basequery", "basequery_all_fields")


def _model_classes() -> list[type[Model]]:
    found: list[type[Model]] = []
    pending = list(Model.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@contextlib.contextmanager
def _models_kept() -> Iterator[None]:
    """Whatever a context does to the model classes' process-wide state is undone at the end."""
    saved = [(m, [getattr(m._meta, a, None) for a in _MODEL_STATE]) for m in _model_classes()]
    try:
        yield
    finally:
        for model, values in saved:
            for attr, value in zip(_MODEL_STATE, values, strict=True):
                setattr(model._meta, attr, value)


class StackDatabase:
    """The database of one stack, opened on first use and kept open until :meth:`close`."""

    def __init__(self, database_url: str, data_dir: str | Path) -> None:
        self.database_url = database_url
        self.data_dir = Path(data_dir)
        self.connection_name = f"stack_db_{next(_names)}"
        self._context: TortoiseContext | None = None

    def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``await operation()`` against this database; blocks the calling thread until it is done."""
        return asyncio.run_coroutine_threadsafe(self._run(operation), _shared_loop()).result(TIMEOUT)

    def close(self) -> None:
        if self._context is not None:
            asyncio.run_coroutine_threadsafe(self._close(), _shared_loop()).result(TIMEOUT)

    async def _open(self) -> TortoiseContext:
        from services import db
        from services.settings import Settings

        config: dict[str, Any] = db.tortoise_config(
            Settings(database_url=self.database_url, data_dir=self.data_dir)
        )
        config["connections"] = {self.connection_name: config["connections"]["default"]}
        config["apps"]["models"]["default_connection"] = self.connection_name
        context = TortoiseContext()
        with context:
            await context.init(config=config)
        return context

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        async with _one_at_a_time:
            return await self._run_alone(operation)

    async def _run_alone(self, operation: Callable[[], Awaitable[T]]) -> T:
        with _models_kept():
            if self._context is None:
                self._context = await self._open()
            with self._context:
                apps = self._context.apps
                assert apps is not None
                for app in apps.apps.values():
                    for model in app.values():
                        model._meta.default_connection = self.connection_name
                apps._build_initial_querysets()  # this dialect's base queries
                return await operation()

    async def _close(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            await context.close_connections()
