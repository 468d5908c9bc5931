"""Knowledge-base use cases: article editing with version history, the per-process live search
index, answers, flags and gaps.

Every writing use case runs in one transaction (`Database.write()`), bumps the KB revision
counter first (which serialises KB writers on both databases) and records which articles it
touched in `kb_changes` at that revision; each process's `LiveIndex` polls the change log and
reloads those articles, so publishing, editing or retiring reaches every process's search.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import difflib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline import audit, localtime
from hotline.auth import Principal
from hotline.config import Policy
from hotline.db import Database, upsert, utcnow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import Role
from knowledge_base.models import (
    ARTICLE_STATUSES,
    FLAG_KINDS,
    STATUS_LABELS_ZH,
    Answer,
    Article,
    ArticleVersion,
    Change,
    Flag,
    Gap,
    Revision,
)
from knowledge_base.search import ArticleDoc, Hit, SearchIndex
from knowledge_base.synonyms import Synonyms, default_synonyms
from knowledge_base.text import RAW_QUERY_LIMIT, normalize

log = logging.getLogger("hotline.kb")

# Roles that see drafts, version history, flags and gaps. Everyone else (agents, unit
# handlers) reads published and retired articles only.
EDITORS = (Role.KB_EDITOR, Role.ADMIN)
OVERSEERS = (Role.KB_EDITOR, Role.ADMIN, Role.MANAGER)

CONTENT_FIELDS = ("title", "questions", "answer", "category", "unit", "basis", "time_limit",
                  "materials", "fee", "contact", "keywords", "policy_changed_at", "updated_at")
FIELD_LABELS_ZH = {
    "title": "标题", "questions": "常见问法", "answer": "答复口径", "category": "分类",
    "unit": "办理单位", "basis": "办理依据", "time_limit": "办理时限", "materials": "申请材料",
    "fee": "收费标准", "contact": "咨询电话", "keywords": "关键词",
    "policy_changed_at": "政策变更时间", "updated_at": "内容更新时间", "status": "状态",
}
# Single-line text fields and their maximum lengths; answer and basis may hold line breaks.
_LINE_FIELDS = {"title": 200, "category": 50, "unit": 200, "time_limit": 200, "fee": 200,
                "contact": 200}
_BLOCK_FIELDS = {"answer": 20_000, "basis": 2_000}
_REQUIRED = ("title", "answer", "category")
# list field -> (max items, max characters per item)
_LIST_FIELDS = {"questions": (50, 500), "materials": (100, 500), "keywords": (50, 50)}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_AUTO_ID_RE = re.compile(r"^KB-(\d+)$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOTE_MAX = 2_000


def _named(field: str) -> str:
    """The field as the editor's form names it, for Chinese error texts."""
    return FIELD_LABELS_ZH.get(field) or {"note": "备注", "id": "编号"}.get(field, field)
GAP_QUERY_MAX = 200
ANSWER_QUERY_MAX = 500
MIN_QUERY_CHARS = 2
# Past this many changed articles in one poll, the index is rebuilt off the event loop
# instead of updated article by article (an upsert costs a few ms of CPU on the loop).
REBUILD_THRESHOLD = 200


# ---------------------------------------------------------------------- time helpers


def parse_time(value: Any, field: str) -> dt.datetime | None:
    """ISO 8601 date or date-time; without an offset it is Beijing time (the hotline's clock)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 date-time string", field=field,
                           zh=f"{_named(field)}须为日期时间")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} is not an ISO 8601 date-time: {value[:40]!r}",
                           field=field, zh=f"{_named(field)}不是有效的日期时间") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=localtime.SHANGHAI)
    if not 1990 <= moment.year <= 2100:
        raise InvalidInput(f"{field} is out of range", field=field,
                           zh=f"{_named(field)}超出范围（1990-2100 年）")
    return moment.astimezone(dt.timezone.utc)


def local_iso(moment: dt.datetime | None) -> str | None:
    return localtime.iso(moment)


# ---------------------------------------------------------------------- article content


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """Validated 办事指南 content, as an editor or an import row supplies it."""

    title: str
    answer: str
    category: str
    questions: tuple[str, ...] = ()
    unit: str | None = None
    basis: str | None = None
    time_limit: str | None = None
    materials: tuple[str, ...] = ()
    fee: str | None = None
    contact: str | None = None
    keywords: tuple[str, ...] = ()
    policy_changed_at: dt.datetime | None = None


INPUT_FIELDS = tuple(f.name for f in dataclasses.fields(ArticleInput))


def _check_chars(value: str, field: str) -> None:
    if _CONTROL_RE.search(value):
        raise InvalidInput(f"{field} contains control characters", field=field,
                           zh=f"{_named(field)}含有控制字符")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} contains invalid characters", field=field,
                           zh=f"{_named(field)}含有无效字符") from None


def _text(raw: Mapping[str, Any], field: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field,
                           zh=f"{_named(field)}须为文本")
    _check_chars(value, field)
    if field in _LINE_FIELDS:
        value, limit = " ".join(value.split()), _LINE_FIELDS[field]
    else:
        value, limit = value.replace("\r\n", "\n").strip(), _BLOCK_FIELDS[field]
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field,
                           zh=f"{_named(field)}不能超过 {limit} 个字")
    return value or None


def _list(raw: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = raw.get(field)
    if value is None:
        return ()
    max_items, max_len = _LIST_FIELDS[field]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{field} must be a list of strings", field=field,
                           zh=f"{_named(field)}须为文本列表")
    out: list[str] = []
    for item in value:
        _check_chars(item, field)
        item = " ".join(item.split())
        if len(item) > max_len:
            raise InvalidInput(f"an item of {field} is longer than {max_len} characters",
                               field=field, zh=f"{_named(field)}每项不能超过 {max_len} 个字")
        if item and item not in out:
            out.append(item)
    if len(out) > max_items:
        raise InvalidInput(f"{field} has more than {max_items} items", field=field,
                           zh=f"{_named(field)}不能超过 {max_items} 项")
    return tuple(out)


def parse_input(raw: Mapping[str, Any]) -> ArticleInput:
    """Article content from a JSON-like mapping; InvalidInput names the first bad field."""
    values: dict[str, Any] = {}
    for field in (*_LINE_FIELDS, *_BLOCK_FIELDS):
        values[field] = _text(raw, field)
    for field in _REQUIRED:
        if not values[field]:
            raise InvalidInput(f"{field} is required", field=field, zh=f"请填写{_named(field)}")
    for field in _LIST_FIELDS:
        values[field] = _list(raw, field)
    values["policy_changed_at"] = parse_time(raw.get("policy_changed_at"), "policy_changed_at")
    return ArticleInput(**values)


def check_article_id(article_id: Any) -> str:
    if not isinstance(article_id, str) or not _ID_RE.match(article_id):
        raise InvalidInput("id must be 1-32 letters, digits, '-', '_' or '.' (like KB-0001)",
                           field="id", zh="编号须为 1-32 个字母、数字、“-”“_”或“.”（如 KB-0001）")
    return article_id


def _content_of(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in CONTENT_FIELDS}


def same_content(article: Article, new: ArticleInput) -> bool:
    return all(_norm_value(getattr(article, f)) == _norm_value(getattr(new, f))
               for f in INPUT_FIELDS)


def _norm_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def apply_content(article: Article, new: ArticleInput) -> None:
    for f in INPUT_FIELDS:
        value = getattr(new, f)
        setattr(article, f, list(value) if isinstance(value, tuple) else value)


def doc_of(article: Article | ArticleVersion) -> ArticleDoc:
    return ArticleDoc(id=article.article_id if isinstance(article, ArticleVersion) else article.id,
                      title=article.title, questions=tuple(article.questions or ()),
                      answer=article.answer, category=article.category,
                      keywords=tuple(article.keywords or ()))


# ---------------------------------------------------------------------- update deadline


@dataclass(frozen=True, slots=True)
class UpdateDeadline:
    """The seed's rule: a guide is updated within `workdays` working days of a policy change.

    state: "on_time" / "late" once the change went live (or the article was retired);
    "pending" / "overdue" before; "unknown" when the calendar lacks the year."""

    due_at: dt.datetime | None
    state: str


def update_deadline(article: Article, workdays: int, now: dt.datetime | None = None
                    ) -> UpdateDeadline | None:
    if article.policy_changed_at is None:
        return None
    from sla.calendar import CalendarYearMissing, WorkCalendar

    try:
        due = WorkCalendar.default().add_workdays(article.policy_changed_at, workdays)
    except CalendarYearMissing as exc:
        log.warning("article %s: no update deadline: %s", article.id, exc)
        return UpdateDeadline(None, "unknown")
    done = article.policy_published_at
    if done is not None:
        return UpdateDeadline(due, "late" if done > due else "on_time")
    return UpdateDeadline(due, "overdue" if (now or utcnow()) > due else "pending")


# ---------------------------------------------------------------------- writing helpers


async def bump_revision(session: AsyncSession) -> int:
    """Next KB revision. Taken first in every KB write: the counter row's lock (PostgreSQL) or
    the write lock (SQLite) makes KB writers commit in revision order."""
    table = Revision.__table__
    stmt = upsert(session, table, {"id": 1, "revision": 1}, index_elements=[table.c.id],
                  set_={"revision": table.c.revision + 1})
    return (await session.execute(stmt.returning(table.c.revision))).scalar_one()


def snapshot(article: Article, action: str, author: str, at: dt.datetime,
              note: str | None) -> ArticleVersion:
    return ArticleVersion(article_id=article.id, version=article.version, status=article.status,
                          action=action, author=author, at=at, published_at=article.published_at,
                          note=note, **_content_of(article))


def track_policy(article: Article, previous_policy: dt.datetime | None, responded: bool,
               now: dt.datetime) -> None:
    """Track when the latest policy change reached the public guide (or retired it)."""
    if article.policy_changed_at != previous_policy:
        article.policy_published_at = None
    if responded and article.policy_changed_at is not None and article.policy_published_at is None:
        article.policy_published_at = now


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    _check_chars(note, "note")
    note = note.strip()
    if len(note) > _NOTE_MAX:
        raise InvalidInput(f"note is longer than {_NOTE_MAX} characters", field="note",
                           zh=f"备注不能超过 {_NOTE_MAX} 个字")
    return note or None


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


async def create_article(db: Database, actor: str, content: ArticleInput,
                         article_id: str | None = None, note: str | None = None) -> Article:
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        if article_id is None:
            article_id = await _next_id(s)
        else:
            check_article_id(article_id)
            if await s.get(Article, article_id) is not None:
                raise Conflict(f"article {article_id} already exists",
                               zh=f"知识条目 {article_id} 已存在")
        now = utcnow()
        article = Article(id=article_id, status="draft", version=1, created_at=now,
                          created_by=actor, changed_at=now, changed_by=actor, updated_at=now)
        apply_content(article, content)
        track_policy(article, None, False, now)
        s.add(article)
        s.add(snapshot(article, "create", actor, now, note))
        s.add(Change(revision=revision, article_id=article_id, at=now))
        audit.record(s, actor, "kb.create", "kb_article", article_id, {"version": 1}, note)
    return article


async def update_article(db: Database, actor: str, article_id: str, content: ArticleInput,
                         base_version: int, note: str | None = None) -> tuple[Article, bool]:
    """A new version with the given content. Editing a published article publishes the edit.
    Refused (409) when someone else saved a version after `base_version`. Returns
    (article, changed); identical content writes nothing."""
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        article = await _article_for_write(s, article_id)
        if article.version != base_version:
            raise Conflict(f"article {article_id} was changed by {article.changed_by} after "
                           f"version {base_version} (now version {article.version}); reload "
                           "it and apply your edit again", current_version=article.version,
                           zh=f"知识条目 {article_id} 在第 {base_version} 版之后已被 "
                              f"{article.changed_by} 修改（现为第 {article.version} 版），"
                              "请刷新后重新修改")
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
        audit.record(s, actor, "kb.edit", "kb_article", article_id,
                     {"version": article.version, "status": article.status}, note)
    return article, True


async def _set_status(db: Database, actor: str, article_id: str, status: str,
                      note: str | None) -> Article:
    action = {"published": "publish", "retired": "retire"}[status]
    note = _note(note)
    async with db.write() as s:
        revision = await bump_revision(s)
        article = await _article_for_write(s, article_id)
        if article.status == status:
            raise Conflict(f"article {article_id} is already {status}",
                           zh=f"知识条目 {article_id} 已是“{STATUS_LABELS_ZH[status]}”状态")
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
        audit.record(s, actor, f"kb.{action}", "kb_article", article_id,
                     {"version": article.version}, note)
    return article


async def publish_article(db: Database, actor: str, article_id: str,
                          note: str | None = None) -> Article:
    return await _set_status(db, actor, article_id, "published", note)


async def retire_article(db: Database, actor: str, article_id: str,
                         note: str | None = None) -> Article:
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


async def list_articles(db: Database, who: Principal, flt: ArticleFilter,
                        update_workdays: int = Policy().kb_update_workdays,
                        now: dt.datetime | None = None) -> tuple[list[Article], int]:
    """(page of articles ordered by id, total matching); `update_state` is judged at `now`
    (the caller's clock reading, so that a page shows the states it filtered on)."""
    if flt.status is not None and flt.status not in ARTICLE_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ARTICLE_STATUSES)}", field="status",
                           zh="状态须为草稿、已发布或已停用")
    query: Select[Any] = select(Article)
    if who.role not in OVERSEERS:
        query = query.where(Article.status != "draft")
    if flt.status:
        query = query.where(Article.status == flt.status)
    if flt.category:
        query = query.where(Article.category == flt.category)
    if flt.text:
        needle = flt.text.strip()
        query = query.where(Article.title.contains(needle, autoescape=True)
                            | Article.id.contains(needle, autoescape=True))
    if flt.update_state:
        query = query.where(Article.policy_changed_at.is_not(None))
    async with db.read() as s:
        if flt.update_state:
            now = now or utcnow()
            rows = [a for a in await s.scalars(query.order_by(Article.id))
                    if (d := update_deadline(a, update_workdays, now)) and
                    d.state == flt.update_state]
            return rows[flt.offset:flt.offset + flt.limit], len(rows)
        total = await s.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(await s.scalars(query.order_by(Article.id).limit(flt.limit)
                                    .offset(flt.offset)))
    return rows, int(total or 0)


async def categories(db: Database) -> list[tuple[str, int]]:
    """Categories of published articles with their counts."""
    async with db.read() as s:
        rows = await s.execute(select(Article.category, func.count()).where(
            Article.status == "published").group_by(Article.category).order_by(Article.category))
        return [(c, n) for c, n in rows]


async def list_versions(db: Database, article_id: str) -> list[ArticleVersion]:
    async with db.read() as s:
        if await s.get(Article, article_id) is None:
            raise NotFound(f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在")
        return list(await s.scalars(select(ArticleVersion).where(
            ArticleVersion.article_id == article_id).order_by(ArticleVersion.version.desc())))


async def get_version(db: Database, article_id: str, version: int) -> ArticleVersion:
    async with db.read() as s:
        row = await s.get(ArticleVersion, (article_id, version))
    if row is None:
        raise NotFound(f"article {article_id} has no version {version}",
                       zh=f"知识条目 {article_id} 没有第 {version} 版")
    return row


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    label: str
    # ("equal" | "delete" | "insert", text) pieces; list fields are one piece per item.
    pieces: tuple[tuple[str, str], ...]
    is_list: bool


@dataclass(frozen=True, slots=True)
class VersionDiff:
    article_id: str
    old: ArticleVersion
    new: ArticleVersion
    fields: tuple[FieldDiff, ...]  # changed fields only
    unified: str


def _diff_text(a: str, b: str) -> tuple[tuple[str, str], ...]:
    # Character level: Chinese has no spaces, so a word diff would be a whole-line diff.
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("equal", a[i1:i2]))
        else:
            if i2 > i1:
                pieces.append(("delete", a[i1:i2]))
            if j2 > j1:
                pieces.append(("insert", b[j1:j2]))
    return tuple(pieces)


def _diff_list(a: Sequence[str], b: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.extend(("equal", x) for x in a[i1:i2])
        else:
            pieces.extend(("delete", x) for x in a[i1:i2])
            pieces.extend(("insert", x) for x in b[j1:j2])
    return tuple(pieces)


def _field_lines(v: ArticleVersion) -> list[str]:
    lines = [f"status: {v.status}"]
    for f in CONTENT_FIELDS:
        value = getattr(v, f)
        if isinstance(value, list):
            lines.extend(f"{f}[]: {x}" for x in value)
        elif isinstance(value, dt.datetime):
            lines.append(f"{f}: {local_iso(value)}")
        elif value is not None:
            lines.extend(f"{f}: {line}" for line in str(value).split("\n"))
    return lines


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return local_iso(value) or ""
    return str(value)


async def diff_versions(db: Database, article_id: str, old: int, new: int) -> VersionDiff:
    a = await get_version(db, article_id, old)
    b = await get_version(db, article_id, new)
    fields: list[FieldDiff] = []
    for f in ("status", *CONTENT_FIELDS):
        va, vb = getattr(a, f), getattr(b, f)
        if va == vb:
            continue
        if isinstance(va, list) or isinstance(vb, list):
            fields.append(FieldDiff(f, FIELD_LABELS_ZH[f], _diff_list(va or [], vb or []), True))
        elif isinstance(va, dt.datetime) or isinstance(vb, dt.datetime) or f == "status":
            pieces = (("delete", _display(va)), ("insert", _display(vb)))
            fields.append(FieldDiff(f, FIELD_LABELS_ZH[f],
                                    tuple(p for p in pieces if p[1]), False))
        else:
            fields.append(FieldDiff(f, FIELD_LABELS_ZH[f],
                                    _diff_text(_display(va), _display(vb)), False))
    unified = "\n".join(difflib.unified_diff(
        _field_lines(a), _field_lines(b), f"{article_id} v{old}", f"{article_id} v{new}",
        lineterm=""))
    return VersionDiff(article_id, a, b, tuple(fields), unified)


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
        raise Conflict(f"article {article_id} is {article.status}; it cannot answer a call",
                       zh=f"知识条目 {article_id} 为“{STATUS_LABELS_ZH.get(article.status)}”状态，"
                          "不能用于答复")
    if version is None:
        return article.version
    if await s.get(ArticleVersion, (article_id, version)) is None:
        raise NotFound(f"article {article_id} has no version {version}",
                       zh=f"知识条目 {article_id} 没有第 {version} 版")
    return version


async def record_answer(db: Database, who: Principal, article_id: str, version: int | None,
                        call_id: str | None, query: str | None) -> Answer:
    """The agent answered the current call with this article (用此答复)."""
    if call_id is not None:
        call_id = clean_query(call_id, 64) or None
    async with db.write() as s:
        version = await _published_version(s, article_id, version)
        row = Answer(article_id=article_id, version=version, agent_id=who.user_id,
                     call_id=call_id, query=clean_query(query or "", ANSWER_QUERY_MAX) or None,
                     at=utcnow())
        s.add(row)
    return row


@dataclass(frozen=True, slots=True)
class AnswerCount:
    article_id: str
    title: str | None
    count: int


async def answer_counts(db: Database, since: dt.datetime | None = None,
                        until: dt.datetime | None = None, limit: int = 50) -> list[AnswerCount]:
    """How often each article answered calls in [since, until): for dashboards."""
    query = select(Answer.article_id, func.count().label("n")).group_by(Answer.article_id)
    if since is not None:
        query = query.where(Answer.at >= since)
    if until is not None:
        query = query.where(Answer.at < until)
    query = query.order_by(func.count().desc(), Answer.article_id).limit(limit)
    async with db.read() as s:
        rows = list(await s.execute(query))
        titles = dict((await s.execute(select(Article.id, Article.title).where(
            Article.id.in_([r[0] for r in rows])))).all()) if rows else {}
    return [AnswerCount(a, titles.get(a), n) for a, n in rows]


async def list_answers(db: Database, *, article_id: str | None = None,
                       call_id: str | None = None, limit: int = 100) -> list[Answer]:
    query = select(Answer).order_by(Answer.id.desc()).limit(limit)
    if article_id:
        query = query.where(Answer.article_id == article_id)
    if call_id:
        query = query.where(Answer.call_id == call_id)
    async with db.read() as s:
        return list(await s.scalars(query))


async def flag_article(db: Database, who: Principal, article_id: str, kind: str,
                       note: str, version: int | None = None) -> Flag:
    if kind not in FLAG_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(FLAG_KINDS)}", field="kind",
                           zh="请选择问题类型")
    text = _note(note)
    if not text:
        raise InvalidInput("note is required: say what is wrong or outdated", field="note",
                           zh="请说明哪里有误或已过时")
    async with db.write() as s:
        article = await s.get(Article, article_id)
        if article is None or not can_see(who, article):
            raise NotFound(f"article {article_id} does not exist", zh=f"知识条目 {article_id} 不存在")
        if version is None:
            version = article.version
        elif await s.get(ArticleVersion, (article_id, version)) is None:
            raise NotFound(f"article {article_id} has no version {version}",
                       zh=f"知识条目 {article_id} 没有第 {version} 版")
        flag = Flag(article_id=article_id, version=version, kind=kind, note=text, status="open",
                    reporter_id=who.user_id, created_at=utcnow())
        s.add(flag)
    return flag


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    article_title: str
    reporter: str
    resolver: str | None


async def list_flags(db: Database, status: str | None = "open", article_id: str | None = None,
                     limit: int = 200) -> list[FlagView]:
    from hotline.models import User

    query = (select(Flag, Article.title).join(Article, Article.id == Flag.article_id)
             .order_by(Flag.id.desc()).limit(limit))
    if status:
        query = query.where(Flag.status == status)
    if article_id:
        query = query.where(Flag.article_id == article_id)
    async with db.read() as s:
        rows = list(await s.execute(query))
        user_ids = {f.reporter_id for f, _ in rows} | {f.resolved_by_id for f, _ in rows
                                                       if f.resolved_by_id}
        names = dict((await s.execute(select(User.id, User.username).where(
            User.id.in_(user_ids)))).all()) if user_ids else {}
    return [FlagView(f, title, names.get(f.reporter_id, "?"),
                     names.get(f.resolved_by_id) if f.resolved_by_id else None)
            for f, title in rows]


async def resolve_flag(db: Database, who: Principal, flag_id: int, resolution: str | None) -> Flag:
    text = _note(resolution)
    async with db.write() as s:
        flag = await s.get(Flag, flag_id)
        if flag is None:
            raise NotFound(f"flag {flag_id} does not exist", zh=f"问题反馈 {flag_id} 不存在")
        if flag.status != "open":
            raise Conflict(f"flag {flag_id} is already resolved",
                           zh=f"问题反馈 {flag_id} 已处理")
        flag.status = "resolved"
        flag.resolved_by_id = who.user_id
        flag.resolved_at = utcnow()
        flag.resolution = text
        audit.record(s, who.username, "kb.flag_resolve", "kb_flag", flag_id,
                     {"article_id": flag.article_id}, text)
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
        first = {"query": key, "sample": sample, "count": 1, "no_result_count": no_result,
                 "rejected_count": rejected, "first_seen": now, "last_seen": now}
        again = {"count": table.c.count + 1,
                 "no_result_count": table.c.no_result_count + no_result,
                 "rejected_count": table.c.rejected_count + rejected,
                 "last_seen": now, "sample": sample, "resolved_at": None}
        await s.execute(upsert(s, table, first, index_elements=[table.c.query], set_=again))
        gap = (await s.scalars(select(Gap).where(Gap.query == key))).one()
    return gap


async def list_gaps(db: Database, *, include_resolved: bool = False, limit: int = 50,
                    since: dt.datetime | None = None) -> list[Gap]:
    """Most frequent unanswered queries first."""
    query = select(Gap).order_by(Gap.count.desc(), Gap.last_seen.desc()).limit(limit)
    if not include_resolved:
        query = query.where(Gap.resolved_at.is_(None))
    if since is not None:
        query = query.where(Gap.last_seen >= since)
    async with db.read() as s:
        return list(await s.scalars(query))


async def resolve_gap(db: Database, actor: str, gap_id: int, article_id: str | None,
                      note: str | None) -> Gap:
    text = _note(note)
    async with db.write() as s:
        gap = await s.get(Gap, gap_id)
        if gap is None:
            raise NotFound(f"gap {gap_id} does not exist", zh=f"知识缺口 {gap_id} 不存在")
        if article_id and await s.get(Article, article_id) is None:
            raise InvalidInput(f"article {article_id} does not exist", field="article_id",
                               zh=f"知识条目 {article_id} 不存在")
        gap.resolved_at = utcnow()
        gap.resolved_by = actor
        gap.resolution_article_id = article_id or None
        gap.resolution_note = text
        audit.record(s, actor, "kb.gap_resolve", "kb_gap", gap_id,
                     {"query": gap.query, "article_id": article_id}, text)
    return gap


# ---------------------------------------------------------------------- live search index


@dataclass(frozen=True, slots=True)
class Meta:
    version: int
    category: str


class LiveIndex:
    """This process's search index over published articles.

    `load` builds it from the database; `sync` applies the changes recorded since (an
    article whose current state is published is upserted, anything else removed). Both are
    idempotent: a change applied twice gives the same index."""

    def __init__(self, synonyms: Synonyms | None = None) -> None:
        self._synonyms = synonyms
        self.index: SearchIndex | None = None
        self.meta: dict[str, Meta] = {}
        self.revision = 0
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.index is not None

    async def _rebuild(self, db: Database) -> None:
        async with db.read() as s:
            # The revision is read before the articles: a change committed in between is
            # applied again by the next sync, which is harmless.
            revision = await s.scalar(select(func.max(Change.revision))) or 0
            rows = list(await s.scalars(select(Article).where(Article.status == "published")))
        docs = [doc_of(a) for a in rows]
        synonyms = self._synonyms

        def build() -> SearchIndex:
            return SearchIndex.build(docs, synonyms or default_synonyms())

        # Building costs a few ms per article of pure Python: off the event loop.
        self.index = await asyncio.to_thread(build)
        self.meta = {a.id: Meta(a.version, a.category) for a in rows}
        self.revision = revision
        log.info("knowledge base: search index of %d published articles at revision %d",
                 len(rows), revision)

    async def load(self, db: Database) -> None:
        async with self._lock:
            await self._rebuild(db)

    async def sync(self, db: Database) -> int:
        """Apply changes committed since the last sync; returns how many articles changed."""
        async with self._lock:
            if self.index is None:
                await self._rebuild(db)
                return len(self.meta)
            async with db.read() as s:
                rows = list(await s.execute(
                    select(Change.revision, Change.article_id)
                    .where(Change.revision > self.revision).order_by(Change.revision)))
                if not rows:
                    return 0
                ids = {a for _, a in rows}
                if len(ids) > REBUILD_THRESHOLD:
                    articles = None
                else:
                    articles = {a.id: a for a in await s.scalars(
                        select(Article).where(Article.id.in_(ids)))}
            if articles is None:
                await self._rebuild(db)
                return len(ids)
            for article_id in sorted(ids):
                article = articles.get(article_id)
                if article is not None and article.status == "published":
                    self.index.upsert(doc_of(article))
                    self.meta[article_id] = Meta(article.version, article.category)
                else:
                    self.index.remove(article_id)
                    self.meta.pop(article_id, None)
            self.revision = max(r for r, _ in rows)
            log.info("knowledge base: applied changes to %d article(s), now at revision %d",
                     len(ids), self.revision)
            return len(ids)

    def search(self, query: str, limit: int = 5, category: str | None = None) -> list[Hit]:
        if self.index is None:
            raise Conflict("the knowledge base index is still loading; try again in a moment",
                           zh="知识库索引正在加载，请稍后再试")
        return self.index.search(clean_query(query, RAW_QUERY_LIMIT), limit=limit,
                                 category=category)

    def categories(self) -> list[tuple[str, int]]:
        return sorted(Counter(m.category for m in self.meta.values()).items())


async def published_docs(db: Database) -> list[ArticleDoc]:
    async with db.read() as s:
        return [doc_of(a) for a in await s.scalars(
            select(Article).where(Article.status == "published").order_by(Article.id))]


async def build_index(db: Database, synonyms: Synonyms | None = None) -> SearchIndex:
    """A one-off index over the published articles (the batch CLI commands)."""
    docs = await published_docs(db)
    return await asyncio.to_thread(SearchIndex.build, docs, synonyms or default_synonyms())
