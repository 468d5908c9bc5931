"""The unit ranking's stored rollup (承办单位考核, reports/unitrollup.py): what each assignment of
a work order counts towards its unit's month, and the sums per unit and month, so that a
month's ranking reads a few rows per unit instead of every ticket and its history.

All four tables are derived: `hotline report rebuild-units` (or deleting the state row) makes
them again from the tickets. Triggers written by migration 0019 fill the queue: every ticket
event and every change of a ticket's type, urgency or deadlines enqueues the ticket's number
in the changing transaction; a change of a unit's term or of the holiday calendar deletes the
state row (the deadlines of earlier assignments are worked out again from them), which makes
the next read rebuild everything.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime


class UnitRollupState(Base):
    """One row (id 1) while the rollup is built: `fingerprint` names the settings the facts
    were derived with (time zone, deadline policy, rule version); `ready` is false while a
    rebuild is between its two transactions. No row: nothing is stored, the triggers queue
    nothing, the next read rebuilds."""

    __tablename__ = "report_unit_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    ready: Mapped[bool] = mapped_column(Boolean)


class UnitRollupQueue(Base):
    """Work orders changed since the rollup last read them (a number may be queued many times).
    Rows are deleted by id once folded, so a change committed meanwhile stays queued."""

    __tablename__ = "report_ticket_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(String(20))


class UnitAssignmentFacts(Base):
    """One assignment (派单, 改派, 重办) as it counts for its unit: the counts that no longer
    depend on the time of asking, and the deadlines after which an undecided one is judged
    (reports.accountability.AssignmentFacts)."""

    __tablename__ = "report_unit_assignments"
    __table_args__ = (
        Index("ix_report_unit_assignments_at", "at"),
        Index("ix_report_unit_assignments_ack", "month", "ack_pending", "unit"),
        Index("ix_report_unit_assignments_due", "month", "due_pending", "unit"),
    )

    ticket: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    month: Mapped[str] = mapped_column(String(7))  # local, "2026-11"
    signed: Mapped[int] = mapped_column(Integer)
    signed_on_time: Mapped[int] = mapped_column(Integer)
    ack_pending: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replied: Mapped[int] = mapped_column(Integer)
    replied_on_time: Mapped[int] = mapped_column(Integer)
    due_pending: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    returned: Mapped[int] = mapped_column(Integer)
    extended: Mapped[int] = mapped_column(Integer)
    callbacks: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)


class UnitMonth(Base):
    """The sums of the fixed counts of a unit's assignments made in a local month."""

    __tablename__ = "report_unit_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    assigned: Mapped[int] = mapped_column(Integer)
    signed: Mapped[int] = mapped_column(Integer)
    signed_on_time: Mapped[int] = mapped_column(Integer)
    replied: Mapped[int] = mapped_column(Integer)
    replied_on_time: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    extended: Mapped[int] = mapped_column(Integer)
    callbacks: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)


class CallDay(Base):
    """One local day's call history, by hour, for one view (dimension and filters), folded once
    (reports.daycache) and kept, so that a process that starts reads a month's history from
    about thirty rows instead of folding its calls again. Derived: a row is used only while its
    `fingerprint` (time zone and the policy the fold counted with) matches and no call of its
    day was stored after `folded_at`; anything else is folded again and the row replaced."""

    __tablename__ = "report_call_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    queue: Mapped[str] = mapped_column(String(100), primary_key=True)  # "" = every queue
    agent: Mapped[str] = mapped_column(String(100), primary_key=True)  # "" = every agent
    fingerprint: Mapped[str] = mapped_column(String(64))
    folded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)  # reports.daystore.encode
