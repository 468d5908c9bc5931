"""Point reads that every request makes (who is this session or token?) without SQLAlchemy's
per-statement machinery.

Measured (2 cores): one `SELECT ... WHERE token_hash = ?` through an async engine cost 2.4 ms of
CPU on SQLite (aiosqlite moves every cursor call, the BEGIN and the pool's rollback to its
thread and back) and 1.3 ms on PostgreSQL (the pool's pre-ping, the rollback on return): more
than the knowledge-base search the request was for. Here a statement is compiled once and run
on a connection kept for these reads:

- SQLite: a read-only `sqlite3` connection used on the event loop thread. In WAL mode a reader
  takes no lock that a writer waits for and waits for no writer; each statement is its own read
  transaction and sees every commit before it. A primary-key lookup costs tens of microseconds.
- PostgreSQL: one pooled connection held by this process; statements run on the driver
  (asyncpg, which prepares and caches them) outside any transaction, one at a time.

Any driver error drops the kept connection and answers through the engine instead, so a
restarted server or a locked file behaves as it did before (SQLAlchemy's errors, the
middleware's 503s) and the next read opens a fresh connection. Revocation stays immediate:
nothing read here is cached, only the compiled statements.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import urllib.parse
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

log = logging.getLogger(__name__)

# A read that finds the file busy (a checkpoint resetting the WAL, another process's schema
# change) waits this long on the loop thread before it goes through the engine instead.
SQLITE_BUSY_MS = 200


@dataclass(frozen=True, slots=True)
class Prepared:
    sql: str
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]  # name, default, processor
    results: tuple[Callable[[Any], Any] | None, ...]
    row: type


def prepare(statement: Select[Any], dialect: Any) -> Prepared:
    """The statement's SQL for `dialect`, its parameters in order with their bind processors,
    and its columns' result processors (a UTC datetime from SQLite's text, a bool from 0/1)."""
    compiled = statement.compile(dialect=dialect)
    if compiled.positiontup is None:
        raise ValueError(f"{dialect.name}: hot reads need a positional paramstyle")
    binds = tuple(
        (name, compiled.params.get(name), compiled.binds[name].type._cached_bind_processor(dialect))
        for name in compiled.positiontup
    )
    columns = list(statement.selected_columns)
    results = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
    row = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]
    return Prepared(compiled.string, binds, results, row)


def arguments(prepared: Prepared, params: dict[str, Any]) -> list[Any]:
    unknown = set(params) - {name for name, _, _ in prepared.binds}
    if unknown:
        raise TypeError(f"unknown parameters {sorted(unknown)}")
    out = []
    for name, default, process in prepared.binds:
        value = params.get(name, default)
        out.append(process(value) if process is not None else value)
    return out


def shape(prepared: Prepared, raw: Any) -> Any:
    if raw is None:
        return None
    return prepared.row(*(p(v) if p is not None else v for p, v in zip(prepared.results, raw)))


class HotReads:
    """One per Database. `first(statement, params)` -> a named row or None; statements are
    module constants (compiled once, kept by identity) whose values come as bind parameters."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._prepared: dict[int, tuple[Select[Any], Prepared]] = {}
        self._sqlite: sqlite3.Connection | None = None
        self._held: AsyncConnection | None = None
        self._driver: Any = None
        self._lock = asyncio.Lock()
        database = engine.url.database or ""
        self._sqlite_path = (
            database
            if engine.dialect.name == "sqlite"
            and database not in ("", ":memory:")
            and not database.startswith("file:")
            else None
        )

    def _prepare(self, statement: Select[Any]) -> Prepared:
        known = self._prepared.get(id(statement))
        if known is None or known[0] is not statement:
            known = self._prepared[id(statement)] = (statement, prepare(statement, self.dialect))
        return known[1]

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> Any:
        prepared = self._prepare(statement)
        args = arguments(prepared, params)
        if self._sqlite_path is not None:
            raw = self._first_sqlite(prepared, args)
        elif self.dialect.driver == "asyncpg":
            raw = await self._first_driver(prepared, args)
        else:
            raw = _FALLBACK
        if raw is _FALLBACK:
            return await self._first_engine(statement, params)
        return shape(prepared, raw)

    def _first_sqlite(self, prepared: Prepared, args: list[Any]) -> Any:
        assert self._sqlite_path is not None
        try:
            if self._sqlite is None:
                uri = f"file:{urllib.parse.quote(self._sqlite_path)}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                self._sqlite = conn
            # All rows fetched: a statement left unfinished would keep its read transaction
            # (and an old snapshot) open.
            rows = self._sqlite.execute(prepared.sql, args).fetchall()
            return rows[0] if rows else None
        except sqlite3.Error as exc:
            log.debug("hot read on SQLite failed (%s): through the engine", exc)
            self._close_sqlite()
            return _FALLBACK

    async def _first_driver(self, prepared: Prepared, args: list[Any]) -> Any:
        async with self._lock:  # one statement at a time on one driver connection
            try:
                if self._driver is None:
                    self._held = await self.engine.connect()
                    self._driver = (await self._held.get_raw_connection()).driver_connection
                return await self._driver.fetchrow(prepared.sql, *args)
            except Exception as exc:  # the driver's own errors: answered through the engine
                log.debug("hot read on the driver failed (%r): through the engine", exc)
                await self._drop_held()
                return _FALLBACK

    async def _first_engine(self, statement: Select[Any], params: dict[str, Any]) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement, params)).first()

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            try:
                self._sqlite.close()
            except sqlite3.Error:
                pass
            self._sqlite = None

    async def _drop_held(self) -> None:
        held, self._held, self._driver = self._held, None, None
        if held is not None:
            try:
                await held.invalidate()
                await held.close()
            except Exception as exc:  # a connection that is already gone
                log.debug("dropping the held connection: %r", exc)

    async def close(self) -> None:
        self._close_sqlite()
        async with self._lock:
            held, self._held, self._driver = self._held, None, None
            if held is not None:
                await held.close()


_FALLBACK = object()
