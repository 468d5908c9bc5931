"""Accounts, API tokens and the audit log (the app shell's own tables)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow
from hotline.directory.models import Unit  # noqa: F401  registers units, which users refer to


class Role(enum.StrEnum):
    AGENT = "agent"  # 坐席: answers calls, searches the KB, creates tickets
    UNIT_HANDLER = "unit_handler"  # 承办单位经办人: bound to exactly one unit
    MANAGER = "manager"  # 管理员/班长: dashboards, dispatch review, 督办
    KB_EDITOR = "kb_editor"  # 知识库编辑
    ADMIN = "admin"  # 系统管理员: accounts, units, settings


ROLE_LABELS_ZH = {
    Role.AGENT: "坐席",
    Role.UNIT_HANDLER: "承办单位",
    Role.MANAGER: "管理人员",
    Role.KB_EDITOR: "知识库编辑",
    Role.ADMIN: "系统管理员",
}

_ROLE_VALUES = ", ".join(f"'{r.value}'" for r in Role)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLE_VALUES})", name="role_known"),
        # A unit handler is bound to exactly one unit; nobody else is bound to one.
        CheckConstraint(
            "(role = 'unit_handler' AND unit_code IS NOT NULL) OR "
            "(role <> 'unit_handler' AND unit_code IS NULL)",
            name="unit_binding",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Agents only: the Asterisk queue member interface (e.g. Local/8001@agents/n), the
    # extension, and the member name app_queue reports in events (e.g. 坐席1).
    agent_interface: Mapped[str | None] = mapped_column(String(100), unique=True)
    agent_extension: Mapped[str | None] = mapped_column(String(20))
    agent_member_name: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """Bearer tokens for integrations. Only a SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system" / "cli"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)


class UserSession(Base):
    """A browser login, checked on every request: deleting the row ends the session at once on
    every instance (logout, password change, a disabled account). The cookie carries the random
    session id; only its SHA-256 is stored, so a read of this table cannot hijack a session."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str | None] = mapped_column(String(64))


class LoginFailure(Base):
    """One failed login, kept for the throttle window. Shared by every instance, so a lock holds
    (and a manager's unlock works) whichever instance a request reaches."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_pair", "address", "username", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class CalendarYear(Base):
    """A year's official holiday schedule as an admin entered it (国务院办公厅关于<year>年部分
    节假日安排的通知): it replaces the shipped data for that year (hotline.workcalendar)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)  # ISO dates of the holiday periods
    workdays: Mapped[list[str]] = mapped_column(JSON)  # ISO dates of weekend make-up days
    note: Mapped[str | None] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
