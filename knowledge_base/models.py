"""Knowledge-base tables: articles (办事指南) with full version history, the change log every
process polls to keep its in-memory search index current, and what agents do with articles
(answered with, flags) and without them (gaps: queries nobody could answer)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow

ARTICLE_STATUSES = ("draft", "published", "retired")
STATUS_LABELS_ZH = {"draft": "草稿", "published": "已发布", "retired": "已停用"}
# What produced a version: every change of content or status is a new version.
VERSION_ACTIONS = ("create", "edit", "publish", "retire", "import")
FLAG_KINDS = ("wrong", "outdated", "other")
FLAG_KIND_LABELS_ZH = {"wrong": "内容错误", "outdated": "内容过时", "other": "其他问题"}
FLAG_STATUSES = ("open", "resolved")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ArticleContent:
    """The 办事指南 fields, shared by the live article and each of its versions."""

    title: Mapped[str] = mapped_column(String(200))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(200))  # 办理单位
    basis: Mapped[str | None] = mapped_column(Text)  # 办理依据
    time_limit: Mapped[str | None] = mapped_column(String(200))  # 办理时限
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)  # 申请材料
    fee: Mapped[str | None] = mapped_column(String(200))  # 收费标准
    contact: Mapped[str | None] = mapped_column(String(200))  # 咨询电话
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When the policy behind the guide changed (entered by the editor); the seed requires the
    # guide to be published within `policy.kb_update_workdays` working days of it.
    policy_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the content itself was last updated (the `updated_at` of the exchange format).
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Article(ArticleContent, Base):
    """The current state of an article: its newest version's content and its status."""

    __tablename__ = "kb_articles"
    __table_args__ = (
        CheckConstraint(_in("status", ARTICLE_STATUSES), name="status_known"),
        Index("ix_kb_articles_status_category", "status", "category"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer)
    # When the current content went live (publish, or an edit of a published article).
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the latest policy change first reached the public guide (a published version
    # carrying it, or retirement); None while still pending.
    policy_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(64))


class ArticleVersion(ArticleContent, Base):
    """Append-only history: one row per change, content and status as they were after it."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (
        CheckConstraint(_in("status", ARTICLE_STATUSES), name="status_known"),
        CheckConstraint(_in("action", VERSION_ACTIONS), name="action_known"),
    )

    article_id: Mapped[str] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(64))  # username, or "cli" / "demo"
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class Revision(Base):
    """One row (id 1): the knowledge base's revision counter. Every writing use case bumps it
    first, which serialises KB writers (row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so
    revisions become visible in commit order and a poller never skips one."""

    __tablename__ = "kb_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(Integer)


class Change(Base):
    """Articles whose searchable state may have changed at `revision` (one revision per
    transaction, one row per article); each process polls for revisions above the last one it
    applied and reloads those articles."""

    __tablename__ = "kb_changes"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Answer(Base):
    """An agent answered a call with this article version (用此答复)."""

    __tablename__ = "kb_answers"
    __table_args__ = (Index("ix_kb_answers_article", "article_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"))
    version: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The call's Asterisk Uniqueid when the desk knows the current call.
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    query: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Flag(Base):
    """An agent's report that an article is wrong or outdated; editors resolve it."""

    __tablename__ = "kb_flags"
    __table_args__ = (
        CheckConstraint(_in("kind", FLAG_KINDS), name="kind_known"),
        CheckConstraint(_in("status", FLAG_STATUSES), name="status_known"),
        Index("ix_kb_flags_status_article", "status", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class Gap(Base):
    """A query the knowledge base could not answer: no result, or the agent rejected what it
    showed (没有找到). Keyed by the normalised query; a resolved gap reopens when it recurs."""

    __tablename__ = "kb_gaps"
    __table_args__ = (Index("ix_kb_gaps_open_count", "resolved_at", "count"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(String(200), unique=True)  # normalised
    sample: Mapped[str] = mapped_column(String(500))  # the latest query as typed
    count: Mapped[int] = mapped_column(Integer, default=0)
    no_result_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution_article_id: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class DailyUse(Base):
    """What the desk did with the knowledge base, per local day (Asia/Shanghai). Per article:
    settled searches that showed it among the first hits (`reached`). Per day, under article_id
    "": settled searches nothing answered (`no_result`) and 没有找到 (`rejected`). With the
    answers (kb_answers) they give the editors' usage figures and the weekly share of questions
    answered on the spot."""

    __tablename__ = "kb_daily_use"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reached: Mapped[int] = mapped_column(Integer, default=0)
    no_result: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)


VOCABULARY_NAMES = ("synonyms", "concepts", "spoken")


class Vocabulary(Base):
    """A search vocabulary list as an editor saved it (synonyms, concepts, spoken forms), in
    place of the one shipped in knowledge_base/data (knowledge_base.vocabulary)."""

    __tablename__ = "kb_vocabulary"
    __table_args__ = (CheckConstraint(_in("name", VOCABULARY_NAMES), name="name_known"),)

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
