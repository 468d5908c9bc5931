"""The outbox's tables: messages written in the transaction of the change that causes them,
one delivery per (message, destination), and the log of every attempt."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"


class OutboxMessage(Base):
    """One fact to tell the outside world (`event`, `data`), and optionally a text message to
    a phone. `key` orders messages (e.g. `ticket:20261204-0001`): a destination receives the
    messages of one key in id order. Ids are never reused (AUTOINCREMENT), and the writers of
    one key serialise on the row the key names (the ticket), so id order is commit order."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "ix_outbox_messages_unrouted",
            "id",
            sqlite_where=text("routed_at IS NULL"),
            postgresql_where=text("routed_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sms_to: Mapped[str | None] = mapped_column(String(32))
    sms_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    routed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxDelivery(Base):
    """A message on its way to one destination (`webhook:<name>` or `sms`): pending until a
    worker claims it (sending, with a lease), then delivered, pending again with a later
    `next_attempt_at`, or dead after the last attempt (a manager may send it again)."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "destination"),
        Index(
            "ix_outbox_deliveries_open",
            "destination",
            "key",
            "message_id",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_outbox_deliveries_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"))
    destination: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OutboxAttempt(Base):
    """The delivery log: every attempt, its answer (HTTP status) or error, and how long it took."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("outbox_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
