"""Stored IVR results: the citizen's own score of a call (由群众对服务质量进行打分)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow


class SurveyRow(Base):
    """One post-call survey, keyed by the caller channel's Uniqueid: the same Uniqueid as the
    queue call in `calls` (Queue's `c` option keeps the caller on that channel after the
    agent hangs up). `score` 1 满意, 2 基本满意, 3 不满意; NULL: no answer (silence, invalid
    keys, or a hang-up before scoring)."""

    __tablename__ = "ivr_surveys"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(120), default="")  # Queue's MEMBERNAME
    queue: Mapped[str] = mapped_column(String(80), default="")
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("score IS NULL OR score IN (1, 2, 3)", name="ck_ivr_surveys_score"),
        Index("ix_ivr_surveys_agent_at", "agent", "at"),
        Index("ix_ivr_surveys_at", "at"),
    )


class FlowVersionRow(Base):
    """A flow version an admin saved on /admin/ivr, as text (ivr.flows parses it). The
    newest valid version runs on every instance (ivr.flowstore); rows are never changed, so
    the history of what ran stays."""

    __tablename__ = "ivr_flows"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RouteRow(Base):
    """Where the IVR sent a call into the queue, keyed by the caller channel's Uniqueid (the
    queue call's `uniqueid` in `calls`): the entry number dialled and the category tag (the
    entry's preset category or the menu choice, the IVR_CATEGORY channel variable), for the
    agent's screen pop."""

    __tablename__ = "ivr_routes"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(80), default="")
    queue: Mapped[str] = mapped_column(String(80), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_ivr_routes_at", "at"),)
