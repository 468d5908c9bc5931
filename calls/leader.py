"""One AMI leader per PBX (issue 16): of the instances sharing a PostgreSQL database, exactly one
follows each configured AMI source; the others stand by and take over when it goes.

Leadership of a source is a PostgreSQL session-level advisory lock held on a dedicated
connection. A leader that dies (its connection closes: PostgreSQL ends the session and frees
the lock at once) or loses its session (its periodic check fails) stops ingesting; a standby
polling every `poll_s` takes the lock and starts a fresh `CallCenter`, which folds the stored raw
events again, connects and resyncs (and settles the gap from queue_log where configured). Stored
raw events are keyed and records upserted by Uniqueid, so the overlap counts nothing twice.

SQLite is one process: the instance is always the leader of every source (logged).

    group = LeaderGroup(db, [SourceLeader(name, make_center, lock) ...])
    await group.start(); ...; group.health()  # {"pbx1": {"role": "leader", "connected": True}}
    await group.stop()
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Callable, Mapping, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from calls.center import CallCenter
from hotline.db import Database

log = logging.getLogger(__name__)

LEADER, STANDBY = "leader", "standby"


class Lock(Protocol):
    async def acquire(self) -> bool: ...
    async def alive(self) -> bool: ...
    async def release(self) -> None: ...


class AlwaysLeader:
    """SQLite: a single process follows every source."""

    async def acquire(self) -> bool:
        return True

    async def alive(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own. The key is derived
    from the schema and the source's name, so deployments sharing a server do not collide."""

    def __init__(self, db: Database, name: str, check_timeout_s: float = 2.0) -> None:
        self.db = db
        self.name = name
        self.check_timeout_s = check_timeout_s
        self._conn: AsyncConnection | None = None
        self.key: int | None = None
        self.pid: int | None = None  # the holding connection's backend (tests end it)

    async def _key(self, conn: AsyncConnection) -> int:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
        digest = hashlib.blake2b(f"hotline.ami:{schema}:{self.name}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big", signed=True)

    async def acquire(self) -> bool:
        try:
            if self._conn is None:
                self._conn = await self.db.engine.connect()
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
            conn = self._conn
            if self.key is None:
                self.key = await self._key(conn)
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            ).scalar_one()
            self.pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await conn.commit()  # the lock is the session's, not the transaction's
            return bool(got)
        except Exception as exc:  # noqa: BLE001 - the database is away: stay standby, retry
            log.warning(
                "AMI leadership of %s: cannot ask PostgreSQL (%s)", self.name, type(exc).__name__
            )
            await self._drop()
            return False

    async def alive(self) -> bool:
        """The session (and with it the lock) still exists."""
        conn = self._conn
        if conn is None:
            return False
        try:
            async with asyncio.timeout(self.check_timeout_s):
                await conn.execute(text("SELECT 1"))
                await conn.commit()
            return True
        except Exception:  # noqa: BLE001 - any failure: the lock may be gone
            await self._drop()
            return False

    async def release(self) -> None:
        conn = self._conn
        if conn is not None and self.key is not None:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await conn.commit()
            except Exception:  # noqa: BLE001 - closing the session frees it anyway
                pass
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.invalidate()  # never back to the pool: the session held the lock
        except Exception:  # noqa: BLE001
            pass
        try:
            await conn.close()
        except Exception:  # noqa: BLE001
            pass


class SourceLeader:
    """Follows one AMI source while it holds that source's lock."""

    def __init__(
        self,
        name: str,
        make_center: Callable[[], CallCenter],
        lock: Lock,
        poll_s: float = 0.5,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.make_center = make_center
        self.lock = lock
        self.poll_s = poll_s
        self.on_change = on_change
        self.role = STANDBY
        self.center: CallCenter | None = None
        self.takeovers = 0
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.center is not None and self.center.connected

    def health(self) -> dict[str, object]:
        return {"role": self.role, "connected": self.connected}

    async def start(self) -> None:
        """Ask for the lock once before returning: an instance that gets it (always on SQLite)
        follows the PBX when its worker has started, as without fail-over."""
        first = await self.lock.acquire()
        self._task = asyncio.create_task(self._run(first), name=f"ami-leader-{self.name}")
        if first:
            async with asyncio.timeout(30):
                await self._started.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._step_down()
        await self.lock.release()

    async def _run(self, held: bool) -> None:
        while True:
            if not held and not await self.lock.acquire():
                self._started.set()
                await asyncio.sleep(self.poll_s)
                continue
            held = False
            self.role = LEADER
            self.takeovers += 1
            log.info("AMI source %s: this instance is the leader; following it", self.name)
            try:
                center = self.make_center()
                await center.start()
                self.center = center
                self._changed()
                self._started.set()
                while await self.lock.alive():
                    await asyncio.sleep(self.poll_s)
                log.warning(
                    "AMI source %s: leadership lost (database session gone); "
                    "stopping and standing by",
                    self.name,
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed start: give the lock back, retry
                log.exception("AMI source %s: following it failed; standing by", self.name)
                await self.lock.release()
                self._started.set()
            await self._step_down()
            await asyncio.sleep(self.poll_s)

    async def _step_down(self) -> None:
        center, self.center = self.center, None
        self.role = STANDBY
        if center is not None:
            self._changed()
            center.pops.close()  # open desk streams end; they reconnect to whoever leads
            await center.stop()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


class LeaderGroup:
    """The sources of one instance (hotline.ports.HealthSection for /healthz)."""

    def __init__(self, leaders: list[SourceLeader]) -> None:
        self.leaders = leaders

    async def start(self) -> None:
        for leader in self.leaders:
            await leader.start()

    async def stop(self) -> None:
        for leader in self.leaders:
            await leader.stop()

    def health(self) -> Mapping[str, object]:
        return {leader.name: leader.health() for leader in self.leaders}

    def first_center(self) -> CallCenter | None:
        """The center of the first source this instance leads (live board, screen pops)."""
        return next((leader.center for leader in self.leaders if leader.center is not None), None)
