"""Storage of call tracking (outbound adapter): raw AMI events appended as received, call
records upserted by the caller channel's Uniqueid, the missed-call callback list kept in step,
all in one transaction per batch.

    store = CallStore(db, source="pbx1:5038")
    listener.subscribe_raw(store.on_raw)
    tracker = CallTracker(on_record=store.on_record)
    task = asyncio.create_task(store.run())     # flushes every `interval_s` or `batch` events
    ...
    listener.throttle(store.wait_for_room)      # backpressure: bounded memory
    ...
    await store.close()                         # the last flush

Batches are what makes storage keep up with a busy PBX (tens of thousands of events a second
on SQLite): one INSERT of many rows per flush instead of a transaction per event. A failed
flush keeps its batch in memory and is retried: the PBX does not wait for us, and events are
not dropped because the database was briefly locked or restarting.

Memory is bounded by backpressure: `wait_for_room`, registered as the listener's throttle, holds
the listener while more than `high_water` items (default two batches) are held in memory,
buffered or being written, until a flush has made room; the listener then stops reading and TCP
holds the PBX back. `run` writes a batch per transaction, so the listener goes on while the
previous batch is being written. Policy when the database stays down
or far too slow: holding the listener for more than `stall_s` would also freeze the live state
(board, screen pops) and a PBX kept waiting long may drop us, so after `stall_s` the store stops
holding the listener and buffers beyond the high-water mark in memory, logged as CRITICAL, until
a flush succeeds again (then it throttles again). Nothing is dropped; memory grows only for an
outage longer than `stall_s`, and loudly.

The records stored here can be rebuilt from the raw events stored here (calls.recompute).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from calls import partitions
from calls.callbacks import Missed, missed_after
from calls.calls import CallRecord
from calls.models import AmiEventRow, CallRow, MissedCallback, stamped_at
from calls.records import at_utc, record_values
from hotline.db import Database, upsert

log = logging.getLogger(__name__)

PARTITIONS_EVERY_S = 86400.0


def event_key(name: str, headers_json: str, headers: Mapping[str, str]) -> str | None:
    """An event's identity: a digest of its name and every header. Asterisk stamps each event
    with microseconds (`timestampevents`), so the same frame received twice is one event and
    two events never share every header. List items without a Timestamp get none."""
    if "Timestamp" not in headers:
        return None
    return hashlib.blake2b(f"{name}\n{headers_json}".encode(), digest_size=16).hexdigest()


def _insert_events(s: AsyncSession) -> Any:
    """INSERT into ami_events that skips an event stored already (same source and key)."""
    dialect = s.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(AmiEventRow)
    return stmt.on_conflict_do_nothing(index_elements=["source", "event_key", "stamped_at"])


# --- the writer -------------------------------------------------------------------------------


class CallStore:
    """Buffers raw events and finished records from the listener (on the loop, never blocking
    it) and writes them in batches."""

    def __init__(
        self,
        db: Database,
        source: str,
        *,
        batch: int = 5000,
        interval_s: float = 0.25,
        warn_backlog: int = 200_000,
        high_water: int | None = None,
        stall_s: float = 10.0,
    ) -> None:
        self.db = db
        self.source = source
        self.batch = batch
        self.interval_s = interval_s
        self.warn_backlog = warn_backlog
        # Backpressure (see the module docstring): `wait_for_room` holds the producer while
        # more than `high_water` items are held, for at most `stall_s` at a time.
        self.high_water = high_water if high_water is not None else 2 * batch
        self.stall_s = stall_s
        self._events: list[dict[str, Any]] = []
        self._records: list[CallRecord] = []
        self._kick = asyncio.Event()
        self._lock = asyncio.Lock()
        self._flushed = asyncio.Event()  # set after every flush attempt (room may have come)
        self._running = False  # run() is flushing in the background
        self._waiters = 0  # producers waiting in wait_for_room
        self._writing = 0  # items in the batch being written
        self.stored_events = 0
        self.stored_records = 0
        self.failed_flushes = 0
        self.peak_backlog = 0  # most items held at once (buffered + being written)
        self.waits = 0  # times wait_for_room held the producer
        self.wait_s = 0.0
        self.stalls = 0  # times it gave up after stall_s (database down/slow)
        self.overflowing = False  # buffering beyond high_water since the last stall
        self._warned = False

    # Subscribers: called on the loop by the listener / tracker.

    def on_raw(self, name: str, headers: Mapping[str, str], received_at: float) -> None:
        encoded = json.dumps(headers, ensure_ascii=False, separators=(",", ":"))
        key = event_key(name, encoded, headers)
        self._events.append(
            {
                "source": self.source,
                "received_at": received_at,
                "name": name,
                "headers": encoded,
                "event_key": key,
                "stamped_at": stamped_at(headers, received_at, key is not None),
            }
        )
        if len(self._events) >= self.batch:
            self._kick.set()

    def on_record(self, record: CallRecord) -> None:
        self._records.append(record)
        self._kick.set()

    @property
    def backlog(self) -> int:
        """Items buffered, not yet taken by a flush."""
        return len(self._events) + len(self._records)

    @property
    def held(self) -> int:
        """Items in memory not yet stored: the backlog and the batch being written."""
        return len(self._events) + len(self._records) + self._writing

    async def wait_for_room(self) -> None:
        """The listener's throttle (`listener.throttle(store.wait_for_room)`): returns at once
        while at most `high_water` items are held (buffered or being written); otherwise kicks
        a flush and waits until that is back under the mark. Gives up after `stall_s` (database
        down or far too slow): from then on it returns at once and the backlog grows in memory
        (CRITICAL log) until a flush succeeds again."""
        if self.held <= self.high_water or self.overflowing:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.stall_s
        self.waits += 1
        self._waiters += 1
        try:
            while self.held > self.high_water:
                self.peak_backlog = max(self.peak_backlog, self.held)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self.stalls += 1
                    self.overflowing = True
                    log.critical(
                        "call storage stalled for %.1f s (%d failed flushes): no longer holding "
                        "the AMI listener back; buffering beyond %d items in memory (backlog %d) "
                        "until the database takes writes again",
                        self.stall_s,
                        self.failed_flushes,
                        self.high_water,
                        self.backlog,
                    )
                    return
                self._flushed.clear()
                if self._running:
                    self._kick.set()
                    try:
                        async with asyncio.timeout(remaining):
                            await self._flushed.wait()
                    except TimeoutError:
                        pass
                else:  # no run() task: write a batch here (whole, even if cancelled)
                    if not await asyncio.shield(self.flush(self.batch)):
                        await asyncio.sleep(min(self.interval_s, max(0.0, remaining)))
        finally:
            self._waiters -= 1
            self.wait_s += loop.time() - started

    async def run(self) -> None:
        """Flush, a batch per transaction, until cancelled; flushes what is left when
        cancelled. A failed flush is retried after `interval_s` (not on every kick)."""
        self._running = True
        loop = asyncio.get_running_loop()
        months_checked = -PARTITIONS_EVERY_S
        try:
            while True:
                if loop.time() - months_checked >= PARTITIONS_EVERY_S:
                    months_checked = loop.time()
                    await self._ensure_partitions()
                # Straight on while a whole batch is waiting or a producer waits for room.
                if self.backlog < self.batch and not (self._waiters and self.backlog):
                    # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives
                    # together with a kick, and run() would never stop.
                    try:
                        async with asyncio.timeout(self.interval_s):
                            await self._kick.wait()
                    except TimeoutError:
                        pass
                self._kick.clear()
                # A stop arriving mid-write must not abort the transaction half-way.
                if not await asyncio.shield(self.flush(self.batch)):
                    await asyncio.sleep(self.interval_s)
        finally:
            self._running = False
            await self.flush()

    async def _ensure_partitions(self) -> None:
        """PostgreSQL: this month's and the next months' partitions of ami_events exist
        before their events come (calls.partitions; a no-op on SQLite). Checked at the start
        and daily, so a leader running for months never fills the default partition."""
        try:
            await partitions.ensure_months(self.db)
        except Exception as exc:  # noqa: BLE001 - the default partition takes them meanwhile
            log.warning("ami_events partitions not checked: %s", exc)

    async def close(self) -> None:
        await self.flush()

    async def flush(self, limit: int | None = None) -> bool:
        """Write what is buffered (at most `limit` events and `limit` records, oldest first)
        in one transaction. False (and the batch kept for the next try) when the database
        refused it."""
        async with self._lock:
            events, records = self._events, self._records
            if not events and not records:
                return True
            if limit is not None and (len(events) > limit or len(records) > limit):
                events, self._events = events[:limit], events[limit:]
                records, self._records = records[:limit], records[limit:]
            else:
                self._events, self._records = [], []
            self._writing = len(events) + len(records)
            self.peak_backlog = max(self.peak_backlog, self.held)
            try:
                async with self.db.write() as s:
                    if events:
                        await s.execute(_insert_events(s), events)
                    if records:
                        fresh = await _not_stored_yet(s, records)
                        await self._upsert(s, records)
                        await _update_callbacks(s, fresh)
            except BaseException as exc:  # keep the batch, retry on the next flush
                self._events = events + self._events
                self._records = records + self._records
                if not isinstance(exc, Exception):
                    raise
                self.failed_flushes += 1
                log.error(
                    "storing %d AMI events and %d call records failed (kept for retry): %s",
                    len(events),
                    len(records),
                    exc,
                )
                if self.backlog > self.warn_backlog and not self._warned:
                    self._warned = True
                    log.critical("call storage backlog of %d items in memory", self.backlog)
                return False
            finally:
                self._writing = 0
                self._flushed.set()
            self._warned = False
            if self.overflowing:
                self.overflowing = False
                log.warning(
                    "call storage writes again (backlog %d): holding the AMI listener "
                    "back again when above %d",
                    self.backlog,
                    self.high_water,
                )
            self.stored_events += len(events)
            self.stored_records += len(records)
            return True

    async def _upsert(self, s: AsyncSession, records: Sequence[CallRecord]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for r in records:  # a later record of the same call supersedes an earlier one
            latest[r.uniqueid] = record_values(r, self.source)
        values = list(latest.values())
        stmt = upsert(
            s,
            CallRow,
            index_elements=["uniqueid"],
            set_excluded=[c for c in values[0] if c != "uniqueid"],
        )
        await s.execute(stmt, values)


async def _not_stored_yet(s: AsyncSession, records: Sequence[CallRecord]) -> list[CallRecord]:
    """The records whose call is not stored with that outcome already: a record stored again
    (a standby replaying history, a restart folding stored events) changes no call-back."""
    rows = await s.execute(
        select(CallRow.uniqueid, CallRow.outcome).where(
            CallRow.uniqueid.in_({r.uniqueid for r in records})
        )
    )
    stored = {uid: outcome for uid, outcome in rows}
    return [r for r in records if stored.get(r.uniqueid) != r.outcome]


async def _update_callbacks(s: AsyncSession, records: Sequence[CallRecord]) -> None:
    """Keep the open callbacks in step with the calls just finished (same transaction)."""
    if not records:
        return
    callers = {r.caller for r in records}
    rows = (
        (
            await s.execute(
                select(MissedCallback).where(
                    MissedCallback.status == "open", MissedCallback.caller.in_(callers)
                )
            )
        )
        .scalars()
        .all()
    )
    open_rows = {row.caller: row for row in rows}
    for record in records:
        row = open_rows.get(record.caller)
        before = _missed_of(row)
        after = missed_after(before, record)
        if after == before:
            continue
        if row is None:
            assert after is not None
            row = MissedCallback(
                caller=after.caller,
                status="open",
                missed_count=after.count,
                first_uniqueid=after.first_uniqueid,
                last_uniqueid=after.last_uniqueid,
                first_missed_ts=after.first_ts,
                last_missed_ts=after.last_ts,
                first_missed_at=at_utc(after.first_ts),
                longest_wait_s=after.longest_wait_s,
                reason=after.reason,
                attempts=0,
                version=1,
            )
            s.add(row)
            open_rows[record.caller] = row
        elif after is None:  # the caller got through: nobody needs to call back
            row.status, row.outcome = "closed", "called_in"
            row.closed_by, row.closed_at = (
                record.uniqueid,
                at_utc(record.connect_ts or record.enter_ts),
            )
            row.version += 1
            del open_rows[record.caller]
        else:
            row.missed_count, row.last_uniqueid = after.count, after.last_uniqueid
            row.last_missed_ts, row.longest_wait_s = after.last_ts, after.longest_wait_s
            row.version += 1
    await s.flush()


def _missed_of(row: MissedCallback | None) -> Missed | None:
    if row is None:
        return None
    return Missed(
        row.caller,
        row.missed_count,
        row.first_uniqueid,
        row.last_uniqueid,
        row.first_missed_ts,
        row.last_missed_ts,
        row.longest_wait_s,
        row.reason or "abandoned",
    )
