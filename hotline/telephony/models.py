"""Call tracking tables: raw AMI events (kept, so records and metrics can be recomputed),
one record per queue call, and the missed-call callback list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AmiEvent(Base):
    """Append-only: every AMI event the call machines consumed, as Asterisk sent it."""

    __tablename__ = "ami_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    pbx_ts: Mapped[float | None] = mapped_column(Float, index=True)  # the event's Timestamp
    name: Mapped[str] = mapped_column(String(40))
    uniqueid: Mapped[str | None] = mapped_column(String(64), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)


class CallRow(Base):
    """One queue call, keyed by the caller channel's Uniqueid (queue_log's callid)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_caller_enter", "caller", "enter_at"),)

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(80))
    caller: Mapped[str] = mapped_column(String(40))
    dialled: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    enter_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    enter_ts: Mapped[float] = mapped_column(Float)
    connect_ts: Mapped[float | None] = mapped_column(Float)
    end_ts: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(100), index=True)  # queue member name
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hold_s: Mapped[int | None] = mapped_column(Integer)
    ring_s: Mapped[int | None] = mapped_column(Integer)
    wait_s: Mapped[int | None] = mapped_column(Integer)
    talk_s: Mapped[int | None] = mapped_column(Integer)
    ended_by: Mapped[str | None] = mapped_column(String(16))
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resynced: Mapped[bool] = mapped_column(Boolean, default=False)


class MissedCallback(Base):
    """A caller who abandoned and has not got through since: an agent calls them back."""

    __tablename__ = "missed_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(ForeignKey("calls.uniqueid"), unique=True)
    caller: Mapped[str] = mapped_column(String(40), index=True)
    abandoned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    wait_s: Mapped[int | None] = mapped_column(Integer)
    # pending -> done (an agent called back) | reached_later (the caller got through by himself)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))  # reached | no_answer | wrong_number | busy
    note: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
