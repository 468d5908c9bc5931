"""Learning from the agents: what the desk's 用此答复, 没有找到 and flags tell the editors.

Phrasings. A query an agent answered a call with (用此答复) is a way callers ask for that
article. Once an editor accepts it, or once AUTO_ACCEPT_USES answers of the article were given
for it, it is added to the article's keywords (关键词) as a new version — searched like the
title and questions, recorded in the history like any edit — and every process's index picks
it up through the change log.

Gap groups. Unanswered queries (no result, 没有找到) are grouped by meaning — the key character
pairs they share once spoken forms and fillers are set aside — so an editor writes one article
for many ways of asking.

Usage. Per article: settled searches that showed it (kb_daily_use.reached), answers given with
it, each all time and over the last 7 days, and flags raised on it. Per week (Monday to Sunday,
Beijing time): the share of questions answered on the spot, answers / (answers + settled
searches nothing answered + 没有找到).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from hotline.db import Database, utcnow
from hotline.localtime import SHANGHAI
from hotline.errors import Conflict, InvalidInput, NotFound
from knowledge_base.articles import update_article
from knowledge_base.content import INPUT_FIELDS, ArticleInput
from knowledge_base.feedback import clean_query, normalize_query, searchable
from knowledge_base.models import Answer, Article, DailyUse, Flag, Gap
from knowledge_base.synonyms import Synonyms, default_synonyms
from knowledge_base.text import FILLER

# Answers of an article for one phrasing after which it becomes a keyword without an editor;
# 0 leaves every phrasing to the editors.
AUTO_ACCEPT_USES = 5
# Who the history names for a phrasing accepted by count.
AUTO_ACTOR = "auto"
# A keyword holds at most this many characters (content._LIST_FIELDS); longer queries are
# descriptions, not phrasings.
PHRASING_MAX = 50
# Answers read for suggestions, newest first.
RECENT_ANSWERS = 5000
# An unanswered query joins a group when this share of its key pairs (or of the group's, if
# fewer) occur in the group's, and at least two do.
SAME_MEANING = 0.4


@dataclass(frozen=True, slots=True)
class Phrasing:
    article_id: str
    title: str
    phrasing: str  # the latest as typed
    key: str  # normalised, what uses are counted under
    uses: int
    agents: int
    last_at: dt.datetime


def _known(article: Article) -> list[str]:
    return [
        normalize_query(t)
        for t in (article.title, *(article.questions or ()), *(article.keywords or ()))
    ]


def _is_known(key: str, known: list[str]) -> bool:
    """Whether a phrasing is already said by the article (inside its title, a question or a
    keyword)."""
    return any(key in text for text in known)


async def phrasing_suggestions(
    db: Database, *, article_id: str | None = None, min_uses: int = 1, limit: int = 50
) -> list[Phrasing]:
    """Queries published articles answered calls for that are not yet among their title,
    questions or keywords; most used first."""
    query = (
        select(Answer.article_id, Answer.query, Answer.agent_id, Answer.at)
        .where(Answer.query.is_not(None))
        .order_by(Answer.id.desc())
        .limit(RECENT_ANSWERS)
    )
    if article_id is not None:
        query = query.where(Answer.article_id == article_id)
    async with db.read() as s:
        rows = list(await s.execute(query))
        ids = {r[0] for r in rows}
        articles = (
            {
                a.id: a
                for a in await s.scalars(
                    select(Article).where(Article.id.in_(ids), Article.status == "published")
                )
            }
            if ids
            else {}
        )
    known = {a.id: _known(a) for a in articles.values()}
    groups: dict[tuple[str, str], tuple[str, int, set[int], dt.datetime]] = {}
    for aid, text, agent, at in rows:  # newest first: the first sample is the latest
        if aid not in articles or not text or not searchable(text):
            continue
        key = normalize_query(text)
        if len(key) > PHRASING_MAX or _is_known(key, known[aid]):
            continue
        sample, uses, agents, last = groups.get((aid, key), (text, 0, set(), at))
        agents.add(agent)
        groups[(aid, key)] = (sample, uses + 1, agents, last)
    out = [
        Phrasing(
            aid,
            articles[aid].title,
            clean_query(sample, PHRASING_MAX),
            key,
            uses,
            len(agents),
            last,
        )
        for (aid, key), (sample, uses, agents, last) in groups.items()
        if uses >= min_uses
    ]
    out.sort(key=lambda p: (-p.uses, -p.agents, p.article_id, p.key))
    return out[:limit]


async def accept_phrasing(
    db: Database, actor: str, article_id: str, phrasing: str
) -> tuple[Article, bool]:
    """Add a phrasing to a published article's keywords (a new version); (article, changed).
    An article edited meanwhile is read again once."""
    text = " ".join(clean_query(phrasing, 10 * PHRASING_MAX).split())
    if not searchable(text) or len(text) > PHRASING_MAX:
        raise InvalidInput(
            f"a phrasing is 2 to {PHRASING_MAX} characters",
            field="phrasing",
            zh=f"问法须为 2 到 {PHRASING_MAX} 个字",
        )
    key = normalize_query(text)
    for attempt in (1, 2):
        async with db.read() as s:
            article = await s.get(Article, article_id)
        if article is None or article.status == "draft":
            raise NotFound(
                f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在"
            )
        if article.status != "published":
            raise Conflict(
                f"article {article_id} is {article.status}",
                zh=f"知识条目 {article_id} 未发布，不能采纳问法",
            )
        if _is_known(key, _known(article)):
            return article, False
        keywords = tuple(article.keywords or ())
        if len(keywords) >= 50:
            raise Conflict(
                f"article {article_id} has 50 keywords already",
                zh=f"知识条目 {article_id} 的关键词已满 50 个，请先整理",
            )
        values = {f: getattr(article, f) for f in INPUT_FIELDS}
        values.update({f: tuple(v) for f, v in values.items() if isinstance(v, list)})
        values["keywords"] = (*keywords, text)
        try:
            return await update_article(
                db,
                actor,
                article_id,
                ArticleInput(**values),
                article.version,
                f"采纳坐席问法：{text}",
            )
        except Conflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def learn_from_answer(db: Database, article_id: str, query: str | None) -> bool:
    """After an answer: accept its query as a phrasing once AUTO_ACCEPT_USES answers of the
    article were given for it. True when the article changed."""
    if not AUTO_ACCEPT_USES or not query or not searchable(query):
        return False
    key = normalize_query(query)
    if len(key) > PHRASING_MAX:
        return False
    found = await phrasing_suggestions(
        db, article_id=article_id, min_uses=AUTO_ACCEPT_USES, limit=RECENT_ANSWERS
    )
    match = next((p for p in found if p.key == key), None)
    if match is None:
        return False
    try:
        _, changed = await accept_phrasing(db, AUTO_ACTOR, article_id, match.phrasing)
    except (Conflict, InvalidInput):
        return False  # full keywords, retired meanwhile: left to the editors
    return changed


# ---------------------------------------------------------------------- gap groups


@dataclass(frozen=True, slots=True)
class GapGroup:
    gaps: tuple[Gap, ...]  # most frequent first; the first one names the group

    @property
    def count(self) -> int:
        return sum(g.count for g in self.gaps)

    @property
    def sample(self) -> str:
        return self.gaps[0].sample


def _key_pairs(text: str, synonyms: Synonyms) -> set[str]:
    flat = synonyms.rewrite(normalize_query(text))
    pairs: set[str] = set()
    for run in flat.split():
        kept = "".join(ch if ch not in FILLER else " " for ch in run)
        for part in kept.split():
            pairs.update(part[i : i + 2] for i in range(len(part) - 1))
            if len(part) == 1:
                pairs.add(part)
    return pairs


def group_gaps(gaps: list[Gap], synonyms: Synonyms | None = None) -> list[GapGroup]:
    """Gaps grouped by meaning (see the module docstring), largest group first."""
    synonyms = synonyms or default_synonyms()
    groups: list[tuple[set[str], list[Gap]]] = []
    for gap in sorted(gaps, key=lambda g: (-g.count, g.id)):
        pairs = _key_pairs(gap.sample, synonyms)
        for union, members in groups:
            shared = len(pairs & union)
            if shared >= 2 and shared >= SAME_MEANING * min(len(pairs), len(union)):
                members.append(gap)
                union |= pairs
                break
        else:
            groups.append((set(pairs), [gap]))
    out = [GapGroup(tuple(members)) for _, members in groups]
    out.sort(key=lambda g: (-g.count, g.gaps[0].id))
    return out


# ---------------------------------------------------------------------- usage


@dataclass(frozen=True, slots=True)
class Usage:
    article_id: str
    title: str
    reached: int
    reached_week: int
    answers: int
    answers_week: int
    flags: int
    open_flags: int


async def article_usage(
    db: Database, *, limit: int = 100, now: dt.datetime | None = None
) -> list[Usage]:
    """Searches that reached each published article, answers and flags, most answered first."""
    now = now or utcnow()
    week_ago = now - dt.timedelta(days=7)
    week_day = week_ago.astimezone(SHANGHAI).date()
    async with db.read() as s:
        reached = dict(
            (
                await s.execute(
                    select(DailyUse.article_id, func.sum(DailyUse.reached))
                    .where(DailyUse.article_id != "")
                    .group_by(DailyUse.article_id)
                )
            ).all()
        )
        reached_week = dict(
            (
                await s.execute(
                    select(DailyUse.article_id, func.sum(DailyUse.reached))
                    .where(DailyUse.article_id != "", DailyUse.day > week_day)
                    .group_by(DailyUse.article_id)
                )
            ).all()
        )
        answers = dict(
            (
                await s.execute(select(Answer.article_id, func.count()).group_by(Answer.article_id))
            ).all()
        )
        recent = dict(
            (
                await s.execute(
                    select(Answer.article_id, func.count())
                    .where(Answer.at >= week_ago)
                    .group_by(Answer.article_id)
                )
            ).all()
        )
        flags = dict(
            (await s.execute(select(Flag.article_id, func.count()).group_by(Flag.article_id))).all()
        )
        open_flags = dict(
            (
                await s.execute(
                    select(Flag.article_id, func.count())
                    .where(Flag.status == "open")
                    .group_by(Flag.article_id)
                )
            ).all()
        )
        titles = dict(
            (
                await s.execute(
                    select(Article.id, Article.title).where(Article.status == "published")
                )
            ).all()
        )
    out = [
        Usage(
            aid,
            title,
            int(reached.get(aid) or 0),
            int(reached_week.get(aid) or 0),
            answers.get(aid, 0),
            recent.get(aid, 0),
            flags.get(aid, 0),
            open_flags.get(aid, 0),
        )
        for aid, title in titles.items()
    ]
    out.sort(key=lambda u: (-u.answers, -u.reached, -u.flags, u.article_id))
    return out[:limit]


@dataclass(frozen=True, slots=True)
class WeekShare:
    monday: dt.date
    answered: int  # answers given (用此答复)
    unanswered: int  # settled searches nothing answered, and 没有找到

    @property
    def share(self) -> float | None:
        asked = self.answered + self.unanswered
        return self.answered / asked if asked else None


async def weekly_share(
    db: Database, *, weeks: int = 8, now: dt.datetime | None = None
) -> list[WeekShare]:
    """The share of questions answered on the spot in each of the last `weeks` weeks (the
    current one included), newest first."""
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    out = []
    async with db.read() as s:
        for back in range(weeks):
            monday = this_monday - dt.timedelta(weeks=back)
            start = dt.datetime.combine(monday, dt.time(), SHANGHAI)
            end = start + dt.timedelta(weeks=1)
            answered = await s.scalar(
                select(func.count()).select_from(Answer).where(Answer.at >= start, Answer.at < end)
            )
            unanswered = await s.scalar(
                select(func.sum(DailyUse.no_result + DailyUse.rejected)).where(
                    DailyUse.article_id == "",
                    DailyUse.day >= monday,
                    DailyUse.day < monday + dt.timedelta(weeks=1),
                )
            )
            out.append(WeekShare(monday, int(answered or 0), int(unanswered or 0)))
    return out
