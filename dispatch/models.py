"""Work orders (工单); the units they go to live in hotline.directory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base, UTCDateTime, utcnow
from hotline.directory.models import Unit  # noqa: F401  registers units, which tickets refer to

# --- work orders (工单) -------------------------------------------------------------------------
# The lifecycle rules live in dispatch/tickets.py; these tables store its state, its
# append-only history, the dispatch catalogue, the follow-ups (催办/督办) and notifications.


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_unit_status", "main_unit_code", "status"),
        # The similar-ticket search (dispatch/duplicates.py) walks the newest tickets of a
        # district or a category and filters on status and age within the index.
        Index("ix_tickets_district_recent", "district", "id", "status", "created_at"),
        Index("ix_tickets_category_recent", "category", "id", "status", "created_at"),
        # The router learns from tickets answered since its last look (dispatch/catalogue.py).
        Index("ix_tickets_replied", "replied_at", "id"),
        # A creating request submitted again names the same key (dispatch/service.py).
        Index("ux_tickets_idempotency", "created_by", "idempotency_key", unique=True),
        CheckConstraint(
            "status IN ('created', 'dispatched', 'signed', 'returned', 'replied', "
            "'called_back', 'closed', 'merged')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Read out on the phone: local date + daily sequence, e.g. 20261125-0007.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(50))
    caller_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    content: Mapped[str] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(String(50), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    main_unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    acknowledge_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    extension_requested_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    returned_by: Mapped[str | None] = mapped_column(String(32))
    return_reason: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(8))
    satisfaction: Mapped[str | None] = mapped_column(String(8))
    review_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    kb_article_id: Mapped[str | None] = mapped_column(String(64))
    master_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic check on top of the row lock: an UPDATE of a stale version fails.
    version: Mapped[int] = mapped_column(Integer, default=1)

    assists: Mapped[list["TicketAssist"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="TicketAssist.unit_code"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def assisting_units(self) -> tuple[str, ...]:
        return tuple(a.unit_code for a in self.assists)


class TicketAssist(Base):
    """协办单位: units that assist the main unit and see the ticket."""

    __tablename__ = "ticket_assists"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True, index=True)


class TicketEvent(Base):
    """The ticket's history and audit trail. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketSequence(Base):
    """Last ticket number handed out per local day; bumped by an atomic upsert."""

    __tablename__ = "ticket_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CatalogueEntry(Base):
    """派单目录 maintained by managers: requests of a category in a district (or anywhere, when
    district is NULL) go to a unit. The directory-derived default catalogue applies below it."""

    __tablename__ = "dispatch_catalogue"
    __table_args__ = (
        # One rule per (category, district) and one per category for "any district" (NULL).
        Index(
            "uq_dispatch_catalogue_district",
            "category",
            "district",
            unique=True,
            sqlite_where=text("district IS NOT NULL"),
            postgresql_where=text("district IS NOT NULL"),
        ),
        Index(
            "uq_dispatch_catalogue_anywhere",
            "category",
            unique=True,
            sqlite_where=text("district IS NULL"),
            postgresql_where=text("district IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(50))
    district: Mapped[str | None] = mapped_column(String(50))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketAttachment(Base):
    """A file a unit sent with its reply (a photo of the repaired road, a signed decision).
    Kept in the database with the reply's transaction; served only as a download."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Followup(Base):
    """A deadline the system must act on (催办, 督办, ...), written in the ticket's transaction and
    claimed by the pump (dispatch/followups.py). One row per (ticket, kind); moving a deadline
    replaces the row, so a row id fires at most once (ids are never reused: AUTOINCREMENT)."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind"),
        Index(
            "ix_followups_pending",
            "due_at",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # notified | moot | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """What a unit (or, with unit_code NULL, the hotline's managers) is told. One per follow-up."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_unit_unread", "unit_code", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
