"""What the desk tells the knowledge base: queries as typed, answers (用此答复), flags on
wrong or outdated articles, and gaps (queries nothing answered)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline import audit
from hotline.auth import Principal
from hotline.db import Database, upsert, utcnow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.localtime import SHANGHAI
from knowledge_base.articles import can_see
from knowledge_base.content import _CONTROL_RE, _note
from knowledge_base.models import (
    FLAG_KINDS,
    STATUS_LABELS_ZH,
    Answer,
    Article,
    ArticleVersion,
    DailyUse,
    Flag,
    Gap,
)
from knowledge_base.text import RAW_QUERY_LIMIT, normalize

GAP_QUERY_MAX = 200
ANSWER_QUERY_MAX = 500
MIN_QUERY_CHARS = 2


# ---------------------------------------------------------------------- queries as typed


def clean_query(text: str, limit: int) -> str:
    """Printable text safe for both databases: no control characters (PostgreSQL refuses
    NUL), no lone surrogates, at most `limit` characters."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(_CONTROL_RE.sub(" ", text).split())[:limit]


def normalize_query(text: str) -> str:
    """The key gaps are counted under: normalised (traditional → simplified, case, width,
    punctuation), spaces collapsed."""
    return " ".join(normalize(clean_query(text, RAW_QUERY_LIMIT)).split())[:GAP_QUERY_MAX]


def searchable(text: str) -> bool:
    return len(normalize_query(text).replace(" ", "")) >= MIN_QUERY_CHARS


# ---------------------------------------------------------------------- answers, flags, gaps


async def _published_version(s: AsyncSession, article_id: str, version: int | None) -> int:
    article = await s.get(Article, article_id)
    if article is None or article.status == "draft":
        raise NotFound(f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在")
    if article.status != "published":
        raise Conflict(
            f"article {article_id} is {article.status}; it cannot answer a call",
            zh=f"知识条目 {article_id} 为“{STATUS_LABELS_ZH.get(article.status)}”状态，"
            "不能用于答复",
        )
    if version is None:
        return article.version
    if await s.get(ArticleVersion, (article_id, version)) is None:
        raise NotFound(
            f"article {article_id} has no version {version}",
            zh=f"知识条目 {article_id} 没有第 {version} 版",
        )
    return version


async def record_answer(
    db: Database,
    who: Principal,
    article_id: str,
    version: int | None,
    call_id: str | None,
    query: str | None,
) -> Answer:
    """The agent answered the current call with this article (用此答复)."""
    if call_id is not None:
        call_id = clean_query(call_id, 64) or None
    async with db.write() as s:
        version = await _published_version(s, article_id, version)
        row = Answer(
            article_id=article_id,
            version=version,
            agent_id=who.user_id,
            call_id=call_id,
            query=clean_query(query or "", ANSWER_QUERY_MAX) or None,
            at=utcnow(),
        )
        s.add(row)
    return row


@dataclass(frozen=True, slots=True)
class AnswerCount:
    article_id: str
    title: str | None
    count: int


async def answer_counts(
    db: Database,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 50,
) -> list[AnswerCount]:
    """How often each article answered calls in [since, until): for dashboards."""
    query = select(Answer.article_id, func.count().label("n")).group_by(Answer.article_id)
    if since is not None:
        query = query.where(Answer.at >= since)
    if until is not None:
        query = query.where(Answer.at < until)
    query = query.order_by(func.count().desc(), Answer.article_id).limit(limit)
    async with db.read() as s:
        rows = list(await s.execute(query))
        titles = (
            dict(
                (
                    await s.execute(
                        select(Article.id, Article.title).where(
                            Article.id.in_([r[0] for r in rows])
                        )
                    )
                ).all()
            )
            if rows
            else {}
        )
    return [AnswerCount(a, titles.get(a), n) for a, n in rows]


async def list_answers(
    db: Database, *, article_id: str | None = None, call_id: str | None = None, limit: int = 100
) -> list[Answer]:
    query = select(Answer).order_by(Answer.id.desc()).limit(limit)
    if article_id:
        query = query.where(Answer.article_id == article_id)
    if call_id:
        query = query.where(Answer.call_id == call_id)
    async with db.read() as s:
        return list(await s.scalars(query))


async def flag_article(
    db: Database, who: Principal, article_id: str, kind: str, note: str, version: int | None = None
) -> Flag:
    if kind not in FLAG_KINDS:
        raise InvalidInput(
            f"kind must be one of {', '.join(FLAG_KINDS)}", field="kind", zh="请选择问题类型"
        )
    text = _note(note)
    if not text:
        raise InvalidInput(
            "note is required: say what is wrong or outdated",
            field="note",
            zh="请说明哪里有误或已过时",
        )
    async with db.write() as s:
        article = await s.get(Article, article_id)
        if article is None or not can_see(who, article):
            raise NotFound(
                f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在"
            )
        if version is None:
            version = article.version
        elif await s.get(ArticleVersion, (article_id, version)) is None:
            raise NotFound(
                f"article {article_id} has no version {version}",
                zh=f"知识条目 {article_id} 没有第 {version} 版",
            )
        flag = Flag(
            article_id=article_id,
            version=version,
            kind=kind,
            note=text,
            status="open",
            reporter_id=who.user_id,
            created_at=utcnow(),
        )
        s.add(flag)
    return flag


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    article_title: str
    reporter: str
    resolver: str | None


async def list_flags(
    db: Database, status: str | None = "open", article_id: str | None = None, limit: int = 200
) -> list[FlagView]:
    from hotline.models import User

    query = (
        select(Flag, Article.title)
        .join(Article, Article.id == Flag.article_id)
        .order_by(Flag.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Flag.status == status)
    if article_id:
        query = query.where(Flag.article_id == article_id)
    async with db.read() as s:
        rows = list(await s.execute(query))
        user_ids = {f.reporter_id for f, _ in rows} | {
            f.resolved_by_id for f, _ in rows if f.resolved_by_id
        }
        names = (
            dict(
                (await s.execute(select(User.id, User.username).where(User.id.in_(user_ids)))).all()
            )
            if user_ids
            else {}
        )
    return [
        FlagView(
            f,
            title,
            names.get(f.reporter_id, "?"),
            names.get(f.resolved_by_id) if f.resolved_by_id else None,
        )
        for f, title in rows
    ]


async def resolve_flag(db: Database, who: Principal, flag_id: int, resolution: str | None) -> Flag:
    text = _note(resolution)
    async with db.write() as s:
        flag = await s.get(Flag, flag_id)
        if flag is None:
            raise NotFound(f"flag {flag_id} does not exist", zh=f"问题反馈 {flag_id} 不存在")
        if flag.status != "open":
            raise Conflict(f"flag {flag_id} is already resolved", zh=f"问题反馈 {flag_id} 已处理")
        flag.status = "resolved"
        flag.resolved_by_id = who.user_id
        flag.resolved_at = utcnow()
        flag.resolution = text
        audit.record(
            s,
            who.username,
            "kb.flag_resolve",
            "kb_flag",
            flag_id,
            {"article_id": flag.article_id},
            text,
        )
    return flag


async def record_gap(db: Database, query: str, kind: str) -> Gap | None:
    """Count an unanswered query: kind "no_result" (search found nothing) or "rejected" (the
    agent said 没有找到). Queries too short to search are not counted."""
    if kind not in ("no_result", "rejected"):
        raise ValueError(kind)
    key = normalize_query(query)
    if len(key.replace(" ", "")) < MIN_QUERY_CHARS:
        return None
    sample = clean_query(query, 500)
    now = utcnow()
    async with db.write() as s:
        table = Gap.__table__
        no_result, rejected = int(kind == "no_result"), int(kind == "rejected")
        first = {
            "query": key,
            "sample": sample,
            "count": 1,
            "no_result_count": no_result,
            "rejected_count": rejected,
            "first_seen": now,
            "last_seen": now,
        }
        again = {
            "count": table.c.count + 1,
            "no_result_count": table.c.no_result_count + no_result,
            "rejected_count": table.c.rejected_count + rejected,
            "last_seen": now,
            "sample": sample,
            "resolved_at": None,
        }
        await s.execute(upsert(s, table, first, index_elements=[table.c.query], set_=again))
        gap = (await s.scalars(select(Gap).where(Gap.query == key))).one()
        # The day's count of unanswered questions, for the weekly share answered on the spot.
        daily = DailyUse.__table__
        await s.execute(
            upsert(
                s,
                daily,
                {
                    "day": now.astimezone(SHANGHAI).date(),
                    "article_id": "",
                    "reached": 0,
                    "no_result": no_result,
                    "rejected": rejected,
                },
                index_elements=[daily.c.day, daily.c.article_id],
                set_={
                    "no_result": daily.c.no_result + no_result,
                    "rejected": daily.c.rejected + rejected,
                },
            )
        )
    return gap


async def list_gaps(
    db: Database,
    *,
    include_resolved: bool = False,
    limit: int = 50,
    since: dt.datetime | None = None,
) -> list[Gap]:
    """Most frequent unanswered queries first."""
    query = select(Gap).order_by(Gap.count.desc(), Gap.last_seen.desc()).limit(limit)
    if not include_resolved:
        query = query.where(Gap.resolved_at.is_(None))
    if since is not None:
        query = query.where(Gap.last_seen >= since)
    async with db.read() as s:
        return list(await s.scalars(query))


async def resolve_gap(
    db: Database, actor: str, gap_id: int, article_id: str | None, note: str | None
) -> Gap:
    text = _note(note)
    async with db.write() as s:
        gap = await s.get(Gap, gap_id)
        if gap is None:
            raise NotFound(f"gap {gap_id} does not exist", zh=f"知识缺口 {gap_id} 不存在")
        if article_id and await s.get(Article, article_id) is None:
            raise InvalidInput(
                f"article {article_id} does not exist",
                field="article_id",
                zh=f"知识条目 {article_id} 不存在",
            )
        gap.resolved_at = utcnow()
        gap.resolved_by = actor
        gap.resolution_article_id = article_id or None
        gap.resolution_note = text
        audit.record(
            s,
            actor,
            "kb.gap_resolve",
            "kb_gap",
            gap_id,
            {"query": gap.query, "article_id": article_id},
            text,
        )
    return gap
