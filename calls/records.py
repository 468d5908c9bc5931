"""Call records in the database: a record as a `calls` row and back, and the reads of stored
records (by entry time; a caller's earlier calls for the screen pop)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, select

from calls.calls import CallRecord, RingAttempt
from calls.models import CallRow
from hotline.db import Database

UTC = dt.timezone.utc


def at_utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, UTC)


# --- record <-> row ---------------------------------------------------------------------------

_ROW_FIELDS = (
    "uniqueid",
    "linkedid",
    "queue",
    "caller",
    "dialled",
    "outcome",
    "enter_ts",
    "end_ts",
    "connect_ts",
    "agent",
    "hold_s",
    "ring_s",
    "wait_s",
    "talk_s",
    "ended_by",
    "exit_reason",
    "resynced",
)


def record_values(record: CallRecord, source: str) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in _ROW_FIELDS}
    values.update(
        source=source,
        enter_at=at_utc(record.enter_ts),
        attempts=[asdict(a) for a in record.attempts],
        stored_at=dt.datetime.now(UTC),
    )
    return values


def record_of(row: CallRow | Row[Any]) -> CallRecord:
    """The record of a `calls` row, as an ORM object or as the row of a column select."""
    return CallRecord(
        **{name: getattr(row, name) for name in _ROW_FIELDS},
        attempts=tuple(RingAttempt(**a) for a in row.attempts or ()),
    )


async def load_records(
    db: Database,
    source: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[CallRecord]:
    """Stored call records, by queue entry time."""
    query = select(CallRow)
    if source is not None:
        query = query.where(CallRow.source == source)
    if since is not None:
        query = query.where(CallRow.enter_at >= since)
    if until is not None:
        query = query.where(CallRow.enter_at < until)
    async with db.read() as s:
        rows = (await s.execute(query.order_by(CallRow.enter_ts))).scalars().all()
    return [record_of(r) for r in rows]


async def stored_records(db: Database, hours: int = 48) -> list[CallRecord]:
    """Recent records from the database (when this process does not follow a PBX itself)."""
    since = dt.datetime.now(UTC) - dt.timedelta(hours=hours)
    return await load_records(db, since=since)


# --- caller history (screen pop) ---------------------------------------------------------------


async def earlier_calls(
    db: Database, caller: str, exclude: str = "", limit: int = 10
) -> list[CallRecord]:
    """The caller's earlier queue calls, newest first."""
    if not caller:
        return []
    async with db.read() as s:
        rows = (
            (
                await s.execute(
                    select(CallRow)
                    .where(CallRow.caller == caller, CallRow.uniqueid != exclude)
                    .order_by(CallRow.enter_ts.desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return [record_of(r) for r in rows]
