"""Article editing with version history, and reading articles and their versions.

Every writing use case runs in one transaction (`Database.write()`), bumps the KB revision
counter first (which serialises KB writers on both databases) and records which articles it
touched in `kb_changes` at that revision."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline import audit
from hotline.auth import Principal
from hotline.db import Database, upsert, utcnow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.policy import Policy
from knowledge_base.content import (
    _AUTO_ID_RE,
    OVERSEERS,
    ArticleInput,
    _content_of,
    _note,
    apply_content,
    check_article_id,
    same_content,
)
from knowledge_base.models import (
    ARTICLE_STATUSES,
    STATUS_LABELS_ZH,
    Article,
    ArticleVersion,
    Change,
    Revision,
)
from knowledge_base.policy import track_policy, update_deadline


# ---------------------------------------------------------------------- writing helpers


async def bump_revision(session: AsyncSession) -> int:
    """Next KB revision. Taken first in every KB write: the counter row's lock (PostgreSQL) or
    the write lock (SQLite) makes KB writers commit in revision order."""
    table = Revision.__table__
    stmt = upsert(
        session,
        table,
        {"id": 1, "revision": 1},
        index_elements=[table.c.id],
        set_={"revision": table.c.revision + 1},
    )
    revision: int = (await session.execute(stmt.returning(table.c.revision))).scalar_one()
    return revision


def snapshot(
    article: Article, action: str, author: str, at: dt.datetime, note: str | None
) -> ArticleVersion:
    return ArticleVersion(
        article_id=article.id,
        version=article.version,
        status=article.status,
        action=action,
        author=author,
        at=at,
        published_at=article.published_at,
        note=note,
        **_content_of(article),
    )


async def _next_id(session: AsyncSession) -> str:
    ids = await session.scalars(select(Article.id).where(Article.id.like("KB-%")))
    numbers = [int(m.group(1)) for i in ids if (m := _AUTO_ID_RE.match(i))]
    return f"KB-{max(numbers, default=0) + 1:04d}"


async def _article_for_write(session: AsyncSession, article_id: str) -> Article:
    article = await session.get(Article, article_id)
    if article is None:
        raise NotFound(f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在")
    return article


# ---------------------------------------------------------------------- editing use cases


async def create_article(
    db: Database,
    actor: str,
    content: ArticleInput,
    article_id: str | None = None,
    note: str | None = None,
) -> Article:
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        if article_id is None:
            article_id = await _next_id(s)
        else:
            check_article_id(article_id)
            if await s.get(Article, article_id) is not None:
                raise Conflict(
                    f"article {article_id} already exists", zh=f"知识条目 {article_id} 已存在"
                )
        now = utcnow()
        article = Article(
            id=article_id,
            status="draft",
            version=1,
            created_at=now,
            created_by=actor,
            changed_at=now,
            changed_by=actor,
            updated_at=now,
        )
        apply_content(article, content)
        track_policy(article, None, False, now)
        s.add(article)
        s.add(snapshot(article, "create", actor, now, note))
        s.add(Change(revision=revision, article_id=article_id, at=now))
        audit.record(s, actor, "kb.create", "kb_article", article_id, {"version": 1}, note)
    return article


async def update_article(
    db: Database,
    actor: str,
    article_id: str,
    content: ArticleInput,
    base_version: int,
    note: str | None = None,
) -> tuple[Article, bool]:
    """A new version with the given content. Editing a published article publishes the edit.
    Refused (409) when someone else saved a version after `base_version`. Returns
    (article, changed); identical content writes nothing."""
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        article = await _article_for_write(s, article_id)
        if article.version != base_version:
            raise Conflict(
                f"article {article_id} was changed by {article.changed_by} after "
                f"version {base_version} (now version {article.version}); reload "
                "it and apply your edit again",
                current_version=article.version,
                zh=f"知识条目 {article_id} 在第 {base_version} 版之后已被 "
                f"{article.changed_by} 修改（现为第 {article.version} 版），"
                "请刷新后重新修改",
            )
        if same_content(article, content):
            return article, False
        now = utcnow()
        previous_policy = article.policy_changed_at
        apply_content(article, content)
        article.version += 1
        article.updated_at = article.changed_at = now
        article.changed_by = actor
        live = article.status == "published"
        if live:
            article.published_at = now
        track_policy(article, previous_policy, live, now)
        s.add(snapshot(article, "edit", actor, now, note))
        s.add(Change(revision=revision, article_id=article_id, at=now))
        audit.record(
            s,
            actor,
            "kb.edit",
            "kb_article",
            article_id,
            {"version": article.version, "status": article.status},
            note,
        )
    return article, True


async def _set_status(
    db: Database, actor: str, article_id: str, status: str, note: str | None
) -> Article:
    action = {"published": "publish", "retired": "retire"}[status]
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        article = await _article_for_write(s, article_id)
        if article.status == status:
            raise Conflict(
                f"article {article_id} is already {status}",
                zh=f"知识条目 {article_id} 已是“{STATUS_LABELS_ZH[status]}”状态",
            )
        now = utcnow()
        article.status = status
        article.version += 1
        article.changed_at = now
        article.changed_by = actor
        if status == "published":
            article.published_at = now
        track_policy(article, article.policy_changed_at, True, now)
        s.add(snapshot(article, action, actor, now, note))
        s.add(Change(revision=revision, article_id=article_id, at=now))
        audit.record(
            s, actor, f"kb.{action}", "kb_article", article_id, {"version": article.version}, note
        )
    return article


async def publish_article(
    db: Database, actor: str, article_id: str, note: str | None = None
) -> Article:
    return await _set_status(db, actor, article_id, "published", note)


async def retire_article(
    db: Database, actor: str, article_id: str, note: str | None = None
) -> Article:
    """Retired articles leave search but stay readable, with their whole history."""
    return await _set_status(db, actor, article_id, "retired", note)


# ---------------------------------------------------------------------- reading


def can_see(who: Principal, article: Article) -> bool:
    return who.role in OVERSEERS or article.status != "draft"


async def get_article(db: Database, who: Principal, article_id: str) -> Article:
    async with db.read() as s:
        article = await s.get(Article, article_id)
    if article is None or not can_see(who, article):
        raise NotFound(f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在")
    return article


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    status: str | None = None
    category: str | None = None
    text: str | None = None  # substring of id or title
    update_state: str | None = None  # on_time / late / pending / overdue / unknown
    limit: int = 100
    offset: int = 0


async def list_articles(
    db: Database,
    who: Principal,
    flt: ArticleFilter,
    update_workdays: int = Policy().kb_update_workdays,
    now: dt.datetime | None = None,
) -> tuple[list[Article], int]:
    """(page of articles ordered by id, total matching); `update_state` is judged at `now`
    (the caller's clock reading, so that a page shows the states it filtered on)."""
    if flt.status is not None and flt.status not in ARTICLE_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(ARTICLE_STATUSES)}",
            field="status",
            zh="状态须为草稿、已发布或已停用",
        )
    query: Select[Any] = select(Article)
    if who.role not in OVERSEERS:
        query = query.where(Article.status != "draft")
    if flt.status:
        query = query.where(Article.status == flt.status)
    if flt.category:
        query = query.where(Article.category == flt.category)
    if flt.text:
        needle = flt.text.strip()
        query = query.where(
            Article.title.contains(needle, autoescape=True)
            | Article.id.contains(needle, autoescape=True)
        )
    if flt.update_state:
        query = query.where(Article.policy_changed_at.is_not(None))
    async with db.read() as s:
        if flt.update_state:
            now = now or utcnow()
            rows = [
                a
                for a in await s.scalars(query.order_by(Article.id))
                if (d := update_deadline(a, update_workdays, now)) and d.state == flt.update_state
            ]
            return rows[flt.offset : flt.offset + flt.limit], len(rows)
        total = await s.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(await s.scalars(query.order_by(Article.id).limit(flt.limit).offset(flt.offset)))
    return rows, int(total or 0)


async def categories(db: Database) -> list[tuple[str, int]]:
    """Categories of published articles with their counts."""
    async with db.read() as s:
        rows = await s.execute(
            select(Article.category, func.count())
            .where(Article.status == "published")
            .group_by(Article.category)
            .order_by(Article.category)
        )
        return [(c, n) for c, n in rows]


async def list_versions(db: Database, article_id: str) -> list[ArticleVersion]:
    async with db.read() as s:
        if await s.get(Article, article_id) is None:
            raise NotFound(
                f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在"
            )
        return list(
            await s.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(ArticleVersion.version.desc())
            )
        )


async def get_version(db: Database, article_id: str, version: int) -> ArticleVersion:
    async with db.read() as s:
        row = await s.get(ArticleVersion, (article_id, version))
    if row is None:
        raise NotFound(
            f"article {article_id} has no version {version}",
            zh=f"知识条目 {article_id} 没有第 {version} 版",
        )
    return row
