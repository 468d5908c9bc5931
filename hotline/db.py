"""Database: declarative base, portable column types, engine and transactions, migrations.

SQLite is the default store, PostgreSQL the scale-out one; both run the whole test suite.
Measured here (the shared folder's LIBRARIES.md): aiosqlite with default settings loses concurrent
read-then-write updates without an error. Hence: WAL, busy_timeout, foreign_keys=ON, and every
writing transaction on SQLite starts with BEGIN IMMEDIATE (`Database.write()`), so the
write lock is taken before the read. On PostgreSQL writers use row locks (`with_for_update`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence

from sqlalchemy import DateTime, MetaData, Select, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from hotline.hotreads import HotReads

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both backends.

    SQLite silently drops offsets; we store naive UTC there and re-attach UTC on the way out.
    Naive datetimes are refused: a wall-clock time without a zone is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # aiosqlite's connection wraps sqlite3's; isolation_level None lets us issue BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def _private_file(database: str) -> None:
    """The SQLite file holds citizens' names and numbers: owner-only, like the session key.
    SQLite gives its -wal and -shm files the database file's mode."""
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except PermissionError:
        pass  # a read-only or foreign-owned file: SQLite reports what it cannot do


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """The engine for `url`. Statement parameters are never put into errors or logs: they hold
    password and token hashes and confidential callers' names and numbers."""
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            _private_file(database)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class DatabaseBusy(Exception):
    """A write could not start in time: SQLite's write lock stayed with another process past
    busy_timeout, or this process's writers queued past `write_wait_s`. Nothing was written;
    the request may be sent again (HTTP 503 with Retry-After)."""


def _locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


class Database:
    """Owns the engine and hands out sessions: `read()` for queries, `write()` for use cases.

    On SQLite the process's writers queue on an asyncio lock before BEGIN IMMEDIATE: SQLite
    takes one writer at a time anyway, and queued in SQLite each writer held a pooled
    connection and waited in its busy handler (sleeping up to busy_timeout, then "database is
    locked": 20 of 500 parallel creations failed so, and the others waited for connections).
    busy_timeout then only covers other processes (CLI imports, a second service)."""

    def __init__(self, engine: AsyncEngine, write_wait_s: float = 30.0) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.write_wait_s = write_wait_s
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._writer = asyncio.Lock()
        self._hot = HotReads(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "Database":
        return cls(create_engine(url, **kwargs))

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction for one use case: commits on success, rolls back on any error.
        DatabaseBusy when it could not start in time (nothing written)."""
        if not self.is_sqlite:
            async with self._transaction() as session:
                yield session
            return
        try:
            async with asyncio.timeout(self.write_wait_s):
                await self._writer.acquire()
        except TimeoutError:
            raise DatabaseBusy(f"no write slot within {self.write_wait_s:.0f} s") from None
        try:
            async with self._transaction() as session:
                yield session
        finally:
            self._writer.release()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            if self.is_sqlite:
                # Take the write lock before the first read, so a concurrent writer waits
                # here (busy_timeout) instead of deciding on stale data.
                try:
                    await session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
                except OperationalError as exc:
                    if _locked(exc):
                        raise DatabaseBusy("the database stayed locked by another process") from exc
                    raise
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def first(self, statement: Any, /, **params: Any) -> Any:
        """The first row (named fields) of a read every request makes (authentication), or None:
        `statement` is a module constant whose values come as bind parameters (`params`), run
        on a connection kept for such reads (`hotline.hotreads`)."""
        return await self._hot.first(statement, params)

    async def dispose(self) -> None:
        await self._hot.close()
        await self.engine.dispose()


class DatabaseUnavailable(Exception):
    """The database cannot be opened or reached. The message names it (password hidden) and
    gives the driver's reason in one line."""


def safe_url(url: str) -> str:
    """The URL for messages and logs: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: name only its scheme
        return url.split("://")[0] + "://..."


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc  # DBAPIError wraps the driver's exception
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


async def open_database(url: str) -> Database:
    """A Database whose first connection worked; DatabaseUnavailable when the server is down,
    the database or role does not exist, or the SQLite file cannot be opened."""
    try:
        db = Database.from_url(url)
    except OSError as exc:  # the SQLite file's folder cannot be created
        raise DatabaseUnavailable(
            f"cannot open the database {safe_url(url)}: {_reason(exc)}"
        ) from exc
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, DBAPIError, asyncio.TimeoutError) as exc:
        await db.dispose()
        raise DatabaseUnavailable(
            f"cannot connect to the database {safe_url(url)}: {_reason(exc)}"
        ) from exc
    return db


# --- migrations -------------------------------------------------------------------------------


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("hotline") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def import_all_models() -> None:
    """Every package's models register on Base.metadata; migrations and create_all need them all:
    the shell's own, then each feature's (hotline.features)."""
    import importlib

    from hotline.features import FEATURES

    importlib.import_module("hotline.models")
    importlib.import_module("hotline.directory.models")
    for feature in FEATURES:
        if feature.models:
            importlib.import_module(feature.models)


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Run Alembic migrations on the live engine (used by `hotline db upgrade` and on start)."""
    await _alembic(db, "upgrade", revision)


async def downgrade(db: Database, revision: str) -> None:
    """Run Alembic downgrades down to `revision` ("base" removes every table)."""
    await _alembic(db, "downgrade", revision)


async def _alembic(db: Database, verb: str, revision: str) -> None:
    from alembic import command

    def run(sync_conn: Connection) -> None:
        cfg = alembic_config(str(db.engine.url))
        cfg.attributes["connection"] = sync_conn
        getattr(command, verb)(cfg, revision)

    async with db.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return ",".join(sorted(heads)) or None


def upsert(
    session: AsyncSession,
    table: Any,
    values: Any = None,
    *,
    index_elements: Sequence[Any],
    set_: Mapping[str, Any] | None = None,
    set_excluded: Iterable[str] = (),
) -> Any:
    """`INSERT ... ON CONFLICT (index_elements) DO UPDATE SET ...`: the one dialect switch.

    PostgreSQL and SQLite share the statement, SQLAlchemy has one construct per dialect.
    `values` (a dict, or None to pass rows to `execute`), `set_` the update (column name ->
    value or expression), `set_excluded` the columns that take the incoming row's value
    (`excluded.<column>`). The caller adds `.returning(...)` and executes it.
    """
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    if values is not None:
        stmt = stmt.values(values)
    updates: dict[str, Any] = {name: stmt.excluded[name] for name in set_excluded}
    updates.update(set_ or {})
    return stmt.on_conflict_do_update(index_elements=index_elements, set_=updates)


def distinct_values(column: Any) -> Select[Any]:
    """The column's distinct non-null values, each found by one index seek past the last (a
    loose index scan, as a recursive CTE both dialects run): a few dozen values among millions
    of rows cost a few dozen seeks, where DISTINCT reads every row or index entry. The column
    must be indexed."""
    found = select(func.min(column).label("value")).cte("found", recursive=True)
    following = select(func.min(column)).where(column > found.c.value).scalar_subquery()
    found = found.union_all(select(following).where(found.c.value.is_not(None)))
    return select(found.c.value).where(found.c.value.is_not(None))
