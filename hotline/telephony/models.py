"""Stored call tracking: the raw AMI events as received, one record per queue call, and the
missed-call callback list (未接来电回拨).

Times of calls are PBX epoch seconds as double precision (`*_ts`), exactly as Asterisk's
`Timestamp` gives them (microseconds), so that records recomputed from the raw events compare
equal; `enter_at` repeats the queue entry as a UTC datetime for range queries and pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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


class AmiEventRow(Base):
    """Every tracked AMI event as received (append-only): metrics can be recomputed from it."""

    __tablename__ = "ami_events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))          # the PBX: host:port
    received_at: Mapped[float] = mapped_column(Double)        # PBX time the event was parsed with
    name: Mapped[str] = mapped_column(String(64))
    headers: Mapped[str] = mapped_column(Text)                # the frame's headers as JSON

    __table_args__ = (Index("ix_ami_events_source_id", "source", "id"),
                      Index("ix_ami_events_source_received_at", "source", "received_at"))


class CallRow(Base):
    """One queue call (the caller channel's Uniqueid, queue_log's callid)."""

    __tablename__ = "calls"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    linkedid: Mapped[str] = mapped_column(String(64), default="")
    queue: Mapped[str] = mapped_column(String(80))
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
    # Indexed: the dashboard reads the calls stored since its last look (telephony/rollup.py).
    stored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow,
                                                   index=True)


CALLBACK_STATUSES = ("open", "closed")
# How a callback was closed (or, for no_answer, how an attempt went).
CALLBACK_OUTCOMES = {
    "reached": "已回拨接通",
    "no_answer": "回拨未接听",
    "invalid_number": "空号/错号",
    "unreachable": "多次回拨未接通",
    "called_in": "市民再次来电已接通",
}


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
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(16))
    closed_by: Mapped[str | None] = mapped_column(String(64))     # username, or a call's uniqueid
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
