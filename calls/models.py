"""Stored call tracking: the raw AMI events as received, one record per queue call, and the
missed-call callback list (未接来电回拨).

Times of calls are PBX epoch seconds as double precision (`*_ts`), exactly as Asterisk's
`Timestamp` gives them (microseconds), so that records recomputed from the raw events compare
equal; `enter_at` repeats the queue entry as a UTC datetime for range queries and pages.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Mapping

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


STAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def stamped_at(headers: Mapping[str, str], received_at: float, keyed: bool) -> float:
    """An event's partition time: its Timestamp; for a list item without one (no key),
    when it was received; 0 for a Timestamp that is not a number (the DEFAULT partition).
    Migration 0024 computes the same in SQL for the rows stored before it."""
    if not keyed:
        return received_at
    stamp = headers.get("Timestamp", "")
    return float(stamp) if STAMP.fullmatch(stamp) else 0.0


def _stamped_default(context: Any) -> float:
    row = context.get_current_parameters()
    headers = json.loads(row["headers"])
    return stamped_at(headers, row["received_at"], row.get("event_key") is not None)


class AmiEventRow(Base):
    """Every tracked AMI event as received (append-only): metrics can be recomputed from it."""

    __tablename__ = "ami_events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))  # the PBX: host:port
    received_at: Mapped[float] = mapped_column(Double)  # PBX time the event was parsed with
    name: Mapped[str] = mapped_column(String(64))
    headers: Mapped[str] = mapped_column(Text)  # the frame's headers as JSON
    # The event's identity (calls.store.event_key): the same event received again — a
    # standby taking over and replaying history that overlaps what was stored — is not
    # stored twice. NULL for list items without a Timestamp (a resync's own snapshot).
    event_key: Mapped[str | None] = mapped_column(String(32))
    # The event's own time (stamped_at(): its Timestamp, a function of the event alone, unlike
    # received_at), the key PostgreSQL partitions the table on by month (migration 0024);
    # computed on insert when not given.
    stamped_at: Mapped[float] = mapped_column(Double, default=_stamped_default)

    __table_args__ = (
        Index("ix_ami_events_source_id", "source", "id"),
        Index("ix_ami_events_source_received_at", "source", "received_at"),
        # A partitioned table's unique index must hold its partition key; as stamped_at is a
        # function of the event (same key, same stamp), it refuses exactly the rows UNIQUE
        # (source, event_key) refused (migration 0024).
        Index("ux_ami_events_source_key", "source", "event_key", "stamped_at", unique=True),
    )


class AmiEventArchive(Base):
    """A verified export of raw AMI events to a file (calls/archive.py): the only rows of
    ami_events that may be deleted are those one of these covers (its id range, its PBX-time
    range); the append-only trigger checks it (migration 0023)."""

    __tablename__ = "ami_event_archives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file: Mapped[str] = mapped_column(String(200))  # the file's name in the archive folder
    month: Mapped[str] = mapped_column(String(7))  # local month, YYYY-MM
    first_id: Mapped[int] = mapped_column(EventId)
    last_id: Mapped[int] = mapped_column(EventId)
    from_ts: Mapped[float] = mapped_column(Double)  # PBX time, inclusive
    to_ts: Mapped[float] = mapped_column(Double)  # PBX time, exclusive
    events: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallRow(Base):
    """One queue call (the caller channel's Uniqueid, queue_log's callid)."""

    __tablename__ = "calls"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    linkedid: Mapped[str] = mapped_column(String(64), default="")
    # Indexed: the reports list every queue of the stored calls (hotline.db.distinct_values).
    queue: Mapped[str] = mapped_column(String(80), index=True)
    caller: Mapped[str] = mapped_column(String(64), index=True)
    dialled: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    enter_ts: Mapped[float] = mapped_column(Double)
    enter_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    end_ts: Mapped[float | None] = mapped_column(Double)
    connect_ts: Mapped[float | None] = mapped_column(Double)
    agent: Mapped[str | None] = mapped_column(String(100), index=True)
    hold_s: Mapped[int | None] = mapped_column(Integer)
    ring_s: Mapped[int | None] = mapped_column(Integer)
    wait_s: Mapped[int | None] = mapped_column(Integer)
    talk_s: Mapped[int | None] = mapped_column(Integer)
    ended_by: Mapped[str | None] = mapped_column(String(16))
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resynced: Mapped[bool] = mapped_column(Boolean, default=False)
    # Indexed: the dashboard reads the calls stored since its last look (calls/rollup.py).
    stored_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )


CALLBACK_STATUSES = ("open", "closed")
# How a callback was closed (or, for no_answer, how an attempt went).
CALLBACK_OUTCOMES = {
    "reached": "已回拨接通",
    "no_answer": "回拨未接听",
    "invalid_number": "空号/错号",
    "unreachable": "多次回拨未接通",
    "called_in": "市民再次来电已接通",
}


# Why an entry was opened, as the missed-call page says it (IVR requests: "ivr:<reason>").
CALLBACK_REASONS = {
    "abandoned": "放弃排队",
    "timed_out": "超时离队",
    "outage": "系统中断期间未接通",
    "ivr": "语音导航预约回拨",
}


def reason_text(reason: str | None) -> str:
    if not reason:
        return ""
    return CALLBACK_REASONS.get(reason.split(":", 1)[0], reason)


class MissedCallback(Base):
    """A caller who did not get through (abandoned or left the queue) and has not been reached
    since: one open row per caller number, however many times they tried."""

    __tablename__ = "call_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    missed_count: Mapped[int] = mapped_column(Integer, default=1)
    first_uniqueid: Mapped[str] = mapped_column(String(64))
    last_uniqueid: Mapped[str] = mapped_column(String(64))
    first_missed_ts: Mapped[float] = mapped_column(Double)
    last_missed_ts: Mapped[float] = mapped_column(Double)
    first_missed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    longest_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    # Why the entry was opened (calls.callbacks.REASONS, or the IVR's call-back request
    # reason); NULL for entries stored before it was recorded.
    reason: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(16))
    closed_by: Mapped[str | None] = mapped_column(String(64))  # username, or a call's uniqueid
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("status = 'open' OR outcome IS NOT NULL", name="closed_has_outcome"),
    )


class CallbackAttempt(Base):
    """One callback an agent made, and how it went (append-only history)."""

    __tablename__ = "call_callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("call_callbacks.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    agent: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallSummary(Base):
    """The agent's after-call summary (小结) of one answered call: what the citizen wanted and
    what was said. Kept apart from `calls`, which are derived from the raw events and may be
    recomputed; one per call, written by the agent who answered it."""

    __tablename__ = "call_summaries"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LiveBoard(Base):
    """The live board (callers waiting, agents' states) of one PBX as its leading instance
    sees it, rewritten about every second while it changes: the other instances serve it from
    here (their managers' dashboards), and its age says whether the leader is alive."""

    __tablename__ = "live_boards"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # the board as JSON (calls.center.CallCenter.board)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # From when (raw events' received_at) the stored raw events rebuild every call then in
    # progress (the oldest one's queue entry, or the time then): where a new leader starts.
    restore_from: Mapped[float | None] = mapped_column(Double)
