"""Knowledge base over HTTP: the JSON API under /api/v1/kb, the editor and gap pages, the
agent desk's search (a template included in desk.html, script in static/kb.js), and the
per-process live search index with its change poller (`setup`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, TypeVar

from aiohttp import web

from hotline.auth import ALL_STAFF, Principal, allow
from hotline.db import Database, utcnow
from hotline.errors import Conflict, DomainError, InvalidInput, NotFound
from hotline.localtime import fmt
from hotline.models import Role
from hotline.web.api import ok
from hotline.web.keys import DB, SERVICES, SETTINGS, principal
from hotline.web.pages import page
from hotline.web.validation import (
    body,
    form_error,
    json_body,
    path_int,
    query_int,
    query_text,
)
from knowledge_base import importer, service, wiring
from knowledge_base.models import (
    ARTICLE_STATUSES,
    FLAG_KIND_LABELS_ZH,
    FLAG_KINDS,
    STATUS_LABELS_ZH,
    Answer,
    Article,
    ArticleVersion,
    Gap,
)
from knowledge_base.search import Hit
from knowledge_base.service import FIELD_LABELS_ZH, LiveIndex, local_iso
from knowledge_base.text import RAW_QUERY_LIMIT

log = logging.getLogger("hotline.kb")

LIVE_INDEX = web.AppKey("kb_live_index", LiveIndex)
HERE = Path(__file__).parent

SEARCHERS = (Role.AGENT, Role.KB_EDITOR, Role.MANAGER, Role.ADMIN)
EDITORS = service.EDITORS
OVERSEERS = service.OVERSEERS
UPDATE_STATES = ("on_time", "late", "pending", "overdue", "unknown")
UPDATE_STATE_LABELS_ZH = {"on_time": "按时更新", "late": "超时更新", "pending": "待更新",
                          "overdue": "已超时未更新", "unknown": "无法判断（缺少日历）"}

routes = web.RouteTableDef()
T = TypeVar("T")


# ---------------------------------------------------------------------- setup


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static("/kb/static", HERE / "static")
    app.cleanup_ctx.append(_live_index_ctx)


async def _live_index_ctx(app: web.Application) -> AsyncIterator[None]:
    # After the app's services context, whose web worker loaded the index (kb.wiring).
    app[LIVE_INDEX] = app[SERVICES][wiring.LIVE_INDEX]
    yield


async def _synced(request: web.Request) -> None:
    """Apply this process's own write at once (other processes pick it up by polling)."""
    try:
        await request.app[LIVE_INDEX].sync(request.app[DB])
    except Exception:
        log.exception("knowledge base: applying a change to the index failed; the poller "
                      "will retry")


def _workdays(request: web.Request) -> int:
    return request.app[SETTINGS].policy.kb_update_workdays


def _article_id(request: web.Request) -> str:
    article_id = request.match_info["article_id"]
    try:
        return service.check_article_id(article_id)
    except InvalidInput:
        raise NotFound(f"article {article_id[:40]} does not exist",
                       zh=f"知识条目 {article_id[:40]} 不存在") from None


def _int_id(request: web.Request, name: str, what: str) -> int:
    return path_int(request, name, what)


async def _optional_body(request: web.Request, cls: type[T]) -> T:
    if not request.body_exists:
        return cls()
    return await json_body(request, cls)


# ---------------------------------------------------------------------- serialisation


def article_json(a: Article, who: Principal, workdays: int,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    record = importer.export_record(a)
    deadline = service.update_deadline(a, workdays, now)
    record.update({
        "version": a.version, "status_label": STATUS_LABELS_ZH[a.status],
        "published_at": local_iso(a.published_at), "created_at": local_iso(a.created_at),
        "changed_at": local_iso(a.changed_at),
        "policy_changed_at": local_iso(a.policy_changed_at),
        "policy_published_at": local_iso(a.policy_published_at),
        "update_due_at": local_iso(deadline.due_at) if deadline else None,
        "update_state": deadline.state if deadline else None,
    })
    if who.role in OVERSEERS:
        record.update({"created_by": a.created_by, "changed_by": a.changed_by})
    return record


def version_json(v: ArticleVersion, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"version": v.version, "action": v.action, "status": v.status,
                           "author": v.author, "at": local_iso(v.at), "note": v.note,
                           "title": v.title}
    if full:
        out.update({f: local_iso(getattr(v, f)) if isinstance(getattr(v, f), dt.datetime)
                    else getattr(v, f) for f in service.CONTENT_FIELDS})
        out["published_at"] = local_iso(v.published_at)
    return out


def hit_json(hit: Hit, live: LiveIndex) -> dict[str, Any]:
    meta = live.meta.get(hit.id)
    return {"id": hit.id, "score": hit.score, "title": hit.title,
            "category": meta.category if meta else None,
            "version": meta.version if meta else None,
            "snippet": [{"text": text, "hit": flag} for text, flag in hit.snippet]}


def flag_json(v: service.FlagView) -> dict[str, Any]:
    f = v.flag
    return {"id": f.id, "article_id": f.article_id, "article_title": v.article_title,
            "version": f.version, "kind": f.kind, "note": f.note, "status": f.status,
            "reporter": v.reporter, "created_at": local_iso(f.created_at),
            "resolved_by": v.resolver, "resolved_at": local_iso(f.resolved_at),
            "resolution": f.resolution}


def gap_json(g: Gap) -> dict[str, Any]:
    return {"id": g.id, "query": g.query, "sample": g.sample, "count": g.count,
            "no_result_count": g.no_result_count, "rejected_count": g.rejected_count,
            "first_seen": local_iso(g.first_seen), "last_seen": local_iso(g.last_seen),
            "resolved_at": local_iso(g.resolved_at), "resolved_by": g.resolved_by,
            "resolution_article_id": g.resolution_article_id,
            "resolution_note": g.resolution_note}


def answer_json(a: Answer) -> dict[str, Any]:
    return {"id": a.id, "article_id": a.article_id, "version": a.version,
            "agent_id": a.agent_id, "call_id": a.call_id, "query": a.query,
            "at": local_iso(a.at)}


# ---------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchBody:
    q: str = field(metadata={"max_len": 20_000, "scrub": True})
    limit: int = 5
    category: str | None = field(default=None, metadata={"max_len": 50})
    record: bool = True


NOTICE_TOO_SHORT = {"code": "too_short", "message": "请至少输入2个汉字或拼音字母"}


async def _search(request: web.Request, q: str, limit: int, category: str | None,
                  record: bool) -> web.Response:
    if not 1 <= limit <= 50:
        raise InvalidInput("limit must be between 1 and 50", field="limit",
                           zh="条数须在 1 到 50 之间")
    live = request.app[LIVE_INDEX]
    body: dict[str, Any] = {"q": service.clean_query(q, RAW_QUERY_LIMIT),
                            "truncated": len(q) > RAW_QUERY_LIMIT,
                            "hits": [], "notice": None, "gap_recorded": False}
    if not service.searchable(q):
        body["notice"] = NOTICE_TOO_SHORT
        return ok(body)
    hits = live.search(q, limit=limit, category=category or None)
    body["hits"] = [hit_json(h, live) for h in hits]
    if not hits and record:
        body["gap_recorded"] = await service.record_gap(request.app[DB], q, "no_result") is not None
    return ok(body)


@routes.get("/api/v1/kb/search")
@allow(*SEARCHERS)
async def api_search(request: web.Request) -> web.Response:
    if "q" not in request.query:
        raise InvalidInput("q is required", field="q", zh="请输入要查询的内容")
    category = request.query.get("category") or None
    if category is not None and len(category) > 50:
        raise InvalidInput("category is longer than 50 characters", field="category",
                           zh="分类不能超过 50 个字")
    return await _search(request, request.query["q"], query_int(request, "limit", 5, 1, 50),
                         category, request.query.get("record", "1") not in ("0", "false"))


@routes.post("/api/v1/kb/search")
@allow(*SEARCHERS)
@body(SearchBody)
async def api_search_post(request: web.Request) -> web.Response:
    """The same search for long text (a pasted complaint does not fit in a URL)."""
    body = await json_body(request, SearchBody)
    return await _search(request, body.q, body.limit, body.category, body.record)


@routes.get("/api/v1/kb/categories")
@allow(*ALL_STAFF)
async def api_categories(request: web.Request) -> web.Response:
    return ok({"categories": [{"name": c, "count": n}
                              for c, n in request.app[LIVE_INDEX].categories()]})


# ---------------------------------------------------------------------- articles


@dataclass(frozen=True, kw_only=True)
class ArticleBody:
    title: str = field(metadata={"max_len": 200})
    answer: str = field(metadata={"max_len": 20_000})
    category: str = field(metadata={"max_len": 50})
    questions: list[str] = field(default_factory=list)
    unit: str | None = None
    basis: str | None = None
    time_limit: str | None = None
    materials: list[str] = field(default_factory=list)
    fee: str | None = None
    contact: str | None = None
    keywords: list[str] = field(default_factory=list)
    policy_changed_at: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = None

    def content(self) -> service.ArticleInput:
        values = dataclasses.asdict(self)
        values.pop("note")
        return service.parse_input({k: v for k, v in values.items()
                                    if k in service.INPUT_FIELDS})


@dataclass(frozen=True, kw_only=True)
class CreateBody(ArticleBody):
    id: str | None = field(default=None, metadata={"max_len": 32})


@dataclass(frozen=True, kw_only=True)
class UpdateBody(ArticleBody):
    base_version: int


@dataclass(frozen=True)
class NoteBody:
    note: str | None = None


@routes.get("/api/v1/kb/articles")
@allow(*ALL_STAFF)
async def api_articles(request: web.Request) -> web.Response:
    who = principal(request)
    update = request.query.get("update") or None
    if update is not None and update not in UPDATE_STATES:
        raise InvalidInput(f"update must be one of {', '.join(UPDATE_STATES)}", field="update",
                           zh="更新状态参数无效")
    flt = service.ArticleFilter(
        status=query_text(request, "status"),
        category=(query_text(request, "category") or "")[:50] or None,
        text=(query_text(request, "text") or "")[:100] or None, update_state=update,
        limit=query_int(request, "limit", 100, 1, 1000),
        offset=query_int(request, "offset", 0, 0, 10**9))
    now = utcnow()  # one reading: the states shown are the states filtered on
    rows, total = await service.list_articles(request.app[DB], who, flt, _workdays(request), now)
    return ok({"total": total, "articles": [article_json(a, who, _workdays(request), now)
                                            for a in rows]})


@routes.post("/api/v1/kb/articles")
@allow(*EDITORS)
@body(CreateBody)
async def api_create(request: web.Request) -> web.Response:
    body = await json_body(request, CreateBody)
    who = principal(request)
    article = await service.create_article(request.app[DB], who.username, body.content(),
                                           body.id, body.note)
    await _synced(request)
    return ok(article_json(article, who, _workdays(request)), status=201)


@routes.get("/api/v1/kb/articles/{article_id}")
@allow(*ALL_STAFF)
async def api_article(request: web.Request) -> web.Response:
    who = principal(request)
    article = await service.get_article(request.app[DB], who, _article_id(request))
    return ok(article_json(article, who, _workdays(request)))


@routes.put("/api/v1/kb/articles/{article_id}")
@allow(*EDITORS)
@body(UpdateBody)
async def api_update(request: web.Request) -> web.Response:
    body = await json_body(request, UpdateBody)
    who = principal(request)
    article, changed = await service.update_article(
        request.app[DB], who.username, _article_id(request), body.content(), body.base_version,
        body.note)
    if changed:
        await _synced(request)
    return ok({**article_json(article, who, _workdays(request)), "changed": changed})


@routes.post("/api/v1/kb/articles/{article_id}/publish")
@allow(*EDITORS)
@body(NoteBody, required=False)
async def api_publish(request: web.Request) -> web.Response:
    body = await _optional_body(request, NoteBody)
    who = principal(request)
    article = await service.publish_article(request.app[DB], who.username, _article_id(request),
                                            body.note)
    await _synced(request)
    return ok(article_json(article, who, _workdays(request)))


@routes.post("/api/v1/kb/articles/{article_id}/retire")
@allow(*EDITORS)
@body(NoteBody, required=False)
async def api_retire(request: web.Request) -> web.Response:
    body = await _optional_body(request, NoteBody)
    who = principal(request)
    article = await service.retire_article(request.app[DB], who.username, _article_id(request),
                                           body.note)
    await _synced(request)
    return ok(article_json(article, who, _workdays(request)))


@routes.get("/api/v1/kb/articles/{article_id}/versions")
@allow(*OVERSEERS)
async def api_versions(request: web.Request) -> web.Response:
    rows = await service.list_versions(request.app[DB], _article_id(request))
    return ok({"versions": [version_json(v) for v in rows]})


@routes.get("/api/v1/kb/articles/{article_id}/versions/{version}")
@allow(*OVERSEERS)
async def api_version(request: web.Request) -> web.Response:
    version = _int_id(request, "version", "version")
    row = await service.get_version(request.app[DB], _article_id(request), version)
    return ok(version_json(row, full=True))


async def _diff_range(request: web.Request, article_id: str) -> tuple[int, int]:
    db = request.app[DB]
    who = principal(request)
    current = (await service.get_article(db, who, article_id)).version
    new = query_int(request, "to", current, 1, 10**9)
    old = query_int(request, "from", max(new - 1, 1), 1, 10**9)
    return old, new


@routes.get("/api/v1/kb/articles/{article_id}/diff")
@allow(*OVERSEERS)
async def api_diff(request: web.Request) -> web.Response:
    article_id = _article_id(request)
    old, new = await _diff_range(request, article_id)
    diff = await service.diff_versions(request.app[DB], article_id, old, new)
    return ok({"article_id": article_id, "from": old, "to": new, "unified": diff.unified,
               "fields": [{"field": f.field, "label": f.label, "list": f.is_list,
                           "pieces": [{"op": op, "text": t} for op, t in f.pieces]}
                          for f in diff.fields]})


# ---------------------------------------------------------------------- answers, flags, gaps


@dataclass(frozen=True)
class AnswerBody:
    version: int | None = None
    call_id: str | None = field(default=None, metadata={"max_len": 64})
    query: str | None = field(default=None, metadata={"max_len": 20_000, "scrub": True})


@routes.post("/api/v1/kb/articles/{article_id}/answers")
@allow(Role.AGENT)
@body(AnswerBody, required=False)
async def api_answer(request: web.Request) -> web.Response:
    body = await _optional_body(request, AnswerBody)
    row = await service.record_answer(request.app[DB], principal(request), _article_id(request),
                                      body.version, body.call_id, body.query)
    return ok(answer_json(row), status=201)


@routes.get("/api/v1/kb/answers")
@allow(*OVERSEERS)
async def api_answers(request: web.Request) -> web.Response:
    rows = await service.list_answers(
        request.app[DB], article_id=query_text(request, "article_id"),
        call_id=query_text(request, "call_id"),
        limit=query_int(request, "limit", 100, 1, 1000))
    return ok({"answers": [answer_json(a) for a in rows]})


@routes.get("/api/v1/kb/answers/counts")
@allow(*OVERSEERS)
async def api_answer_counts(request: web.Request) -> web.Response:
    since = service.parse_time(request.query.get("since"), "since")
    until = service.parse_time(request.query.get("until"), "until")
    rows = await service.answer_counts(request.app[DB], since, until,
                                       query_int(request, "limit", 50, 1, 1000))
    return ok({"since": local_iso(since), "until": local_iso(until),
               "counts": [{"article_id": r.article_id, "title": r.title, "count": r.count}
                          for r in rows]})


@dataclass(frozen=True)
class FlagBody:
    kind: str = field(metadata={"max_len": 16})
    note: str = field(metadata={"max_len": 2000})
    version: int | None = None


@routes.post("/api/v1/kb/articles/{article_id}/flags")
@allow(*ALL_STAFF)
@body(FlagBody)
async def api_flag(request: web.Request) -> web.Response:
    body = await json_body(request, FlagBody)
    flag = await service.flag_article(request.app[DB], principal(request), _article_id(request),
                                      body.kind, body.note, body.version)
    return ok({"id": flag.id, "article_id": flag.article_id, "version": flag.version,
               "kind": flag.kind, "status": flag.status}, status=201)


@routes.get("/api/v1/kb/flags")
@allow(*OVERSEERS)
async def api_flags(request: web.Request) -> web.Response:
    status = request.query.get("status", "open")
    if status not in ("open", "resolved", "all"):
        raise InvalidInput("status must be open, resolved or all", field="status",
                           zh="状态参数无效")
    rows = await service.list_flags(request.app[DB], None if status == "all" else status,
                                    query_text(request, "article_id"),
                                    query_int(request, "limit", 200, 1, 1000))
    return ok({"flags": [flag_json(v) for v in rows]})


@dataclass(frozen=True)
class ResolveFlagBody:
    resolution: str | None = field(default=None, metadata={"max_len": 2000})


@routes.post("/api/v1/kb/flags/{flag_id}/resolve")
@allow(*EDITORS)
@body(ResolveFlagBody, required=False)
async def api_resolve_flag(request: web.Request) -> web.Response:
    body = await _optional_body(request, ResolveFlagBody)
    flag = await service.resolve_flag(request.app[DB], principal(request),
                                      _int_id(request, "flag_id", "flag"), body.resolution)
    return ok({"id": flag.id, "status": flag.status, "resolution": flag.resolution})


@dataclass(frozen=True)
class GapBody:
    query: str = field(metadata={"max_len": 20_000, "scrub": True})


@routes.post("/api/v1/kb/gaps")
@allow(*SEARCHERS)
@body(GapBody)
async def api_report_gap(request: web.Request) -> web.Response:
    """The agent rejected what the search showed (没有找到)."""
    body = await json_body(request, GapBody)
    if not service.searchable(body.query):
        raise InvalidInput("query must have at least 2 characters to search for", field="query",
                           zh="查询内容至少需要 2 个字")
    gap = await service.record_gap(request.app[DB], body.query, "rejected")
    assert gap is not None
    return ok(gap_json(gap), status=201)


@routes.get("/api/v1/kb/gaps")
@allow(*OVERSEERS)
async def api_gaps(request: web.Request) -> web.Response:
    rows = await service.list_gaps(
        request.app[DB], include_resolved=request.query.get("include_resolved") in ("1", "true"),
        limit=query_int(request, "limit", 50, 1, 1000),
        since=service.parse_time(request.query.get("since"), "since"))
    return ok({"gaps": [gap_json(g) for g in rows]})


@dataclass(frozen=True)
class ResolveGapBody:
    article_id: str | None = field(default=None, metadata={"max_len": 32})
    note: str | None = field(default=None, metadata={"max_len": 2000})


@routes.post("/api/v1/kb/gaps/{gap_id}/resolve")
@allow(*EDITORS)
@body(ResolveGapBody, required=False)
async def api_resolve_gap(request: web.Request) -> web.Response:
    body = await _optional_body(request, ResolveGapBody)
    gap = await service.resolve_gap(request.app[DB], principal(request).username,
                                    _int_id(request, "gap_id", "gap"), body.article_id, body.note)
    return ok(gap_json(gap))


# ---------------------------------------------------------------------- import / export


@routes.get("/api/v1/kb/export")
@allow(*EDITORS)
async def api_export(request: web.Request) -> web.Response:
    status = request.query.get("status", "all")
    if status != "all" and status not in ARTICLE_STATUSES:
        raise InvalidInput("status must be all, draft, published or retired", field="status",
                           zh="状态参数无效")
    statuses = ARTICLE_STATUSES if status == "all" else (status,)
    lines = await importer.export_lines(request.app[DB], statuses)
    return web.Response(text="".join(line + "\n" for line in lines),
                        content_type="application/x-ndjson", charset="utf-8")


@routes.post("/api/v1/kb/import")
@allow(*EDITORS)
@body(media_type="application/x-ndjson",
      description="articles as JSON Lines, one article per line (the export format)")
async def api_import(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not valid UTF-8", zh="文件不是有效的 UTF-8 文本") from None
    result = await importer.import_articles(
        request.app[DB], principal(request).username, text,
        partial=request.query.get("partial") in ("1", "true"))
    await _synced(request)
    return ok({"created": len(result.created), "updated": len(result.updated),
               "unchanged": result.unchanged,
               "skipped": [{"line": e.line, "message": e.message} for e in result.skipped]})


# ---------------------------------------------------------------------- pages


def _form_to_raw(form: Any) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name, ""))

    def lines(name: str) -> list[str]:
        return [x.strip() for x in text(name).splitlines() if x.strip()]

    keywords = [k for part in lines("keywords") for k in
                part.replace("，", ",").replace("、", ",").split(",") if k.strip()]
    return {"title": text("title"), "answer": text("answer"), "category": text("category"),
            "unit": text("unit"), "basis": text("basis"), "time_limit": text("time_limit"),
            "fee": text("fee"), "contact": text("contact"), "questions": lines("questions"),
            "materials": lines("materials"), "keywords": keywords,
            "policy_changed_at": text("policy_changed_at").strip() or None}


def _form_of(article: Article | None) -> dict[str, str]:
    if article is None:
        return {}
    values = {f: getattr(article, f) or "" for f in ("title", "answer", "category", "unit",
                                                     "basis", "time_limit", "fee", "contact")}
    values.update({f: "\n".join(getattr(article, f)) for f in ("questions", "materials")})
    values["keywords"] = "、".join(article.keywords)
    values["policy_changed_at"] = fmt(article.policy_changed_at, "%Y-%m-%dT%H:%M")
    return values


def _page_context(request: web.Request) -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS_ZH, "flag_labels": FLAG_KIND_LABELS_ZH,
            "update_labels": UPDATE_STATE_LABELS_ZH, "field_labels": FIELD_LABELS_ZH,
            "workdays": _workdays(request)}


@routes.get("/kb/editor")
@allow(*EDITORS)
async def editor_home(request: web.Request) -> web.Response:
    db = request.app[DB]
    who = principal(request)
    q = request.query
    update = q.get("update") or None
    flt = service.ArticleFilter(
        status=q.get("status") if q.get("status") in ARTICLE_STATUSES else None,
        category=(query_text(request, "category") or "")[:50] or None,
        text=(query_text(request, "text") or "")[:100] or None,
        update_state=update if update in UPDATE_STATES else None,
        limit=100, offset=query_int(request, "offset", 0, 0, 10**9))
    now = utcnow()  # one reading: the states shown are the states filtered on
    rows, total = await service.list_articles(db, who, flt, _workdays(request), now)
    deadlines = {a.id: service.update_deadline(a, _workdays(request), now) for a in rows}
    flags = await service.list_flags(db, "open", limit=50)
    open_flags: dict[str, int] = {}
    for v in flags:
        open_flags[v.flag.article_id] = open_flags.get(v.flag.article_id, 0) + 1
    attention = []
    for state in ("overdue", "late", "pending"):
        found, _ = await service.list_articles(
            db, who, service.ArticleFilter(update_state=state, limit=20), _workdays(request), now)
        attention.extend((a, service.update_deadline(a, _workdays(request), now)) for a in found)
    return await page(request, "kb/editor.html", articles=rows, total=total, filters=flt,
                      deadlines=deadlines, flags=flags, open_flags=open_flags,
                      attention=attention, gaps=await service.list_gaps(db, limit=10),
                      categories=await service.categories(db), statuses=ARTICLE_STATUSES,
                      update_states=UPDATE_STATES, **_page_context(request))


async def _article_page(request: web.Request, article: Article | None, *, status: int = 200,
                        error: str | None = None, form: dict[str, str] | None = None,
                        saved: str | None = None) -> web.Response:
    db = request.app[DB]
    versions = await service.list_versions(db, article.id) if article else []
    flags = await service.list_flags(db, None, article.id, limit=100) if article else []
    deadline = service.update_deadline(article, _workdays(request)) if article else None
    return await page(request, "kb/article_form.html", status=status, article=article,
                      form=form if form is not None else _form_of(article), error=error,
                      saved=saved, versions=versions, flags=flags, deadline=deadline,
                      categories=await service.categories(db), flag_kinds=FLAG_KINDS,
                      **_page_context(request))


@routes.get("/kb/editor/new")
@allow(*EDITORS)
async def editor_new(request: web.Request) -> web.Response:
    return await _article_page(request, None)


@routes.post("/kb/editor/new")
@allow(*EDITORS)
async def editor_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    raw = _form_to_raw(form)
    article_id = str(form.get("id", "")).strip() or None
    try:
        article = await service.create_article(request.app[DB], principal(request).username,
                                               service.parse_input(raw), article_id,
                                               str(form.get("note", "")) or None)
    except DomainError as exc:
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        status, message = form_error(exc)
        return await _article_page(request, None, status=status, error=message, form=values)
    await _synced(request)
    raise web.HTTPSeeOther(f"/kb/editor/{article.id}?saved=created")


@routes.get("/kb/editor/{article_id}")
@allow(*EDITORS)
async def editor_article(request: web.Request) -> web.Response:
    article = await service.get_article(request.app[DB], principal(request),
                                        _article_id(request))
    return await _article_page(request, article, saved=request.query.get("saved"))


@routes.post("/kb/editor/{article_id}")
@allow(*EDITORS)
async def editor_save(request: web.Request) -> web.StreamResponse:
    db = request.app[DB]
    who = principal(request)
    article_id = _article_id(request)
    form = await request.post()
    try:
        base = int(str(form.get("base_version", "")))
    except ValueError:
        base = -1
    try:
        _, changed = await service.update_article(
            db, who.username, article_id, service.parse_input(_form_to_raw(form)), base,
            str(form.get("note", "")) or None)
    except (InvalidInput, Conflict) as exc:
        article = await service.get_article(db, who, article_id)
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        if isinstance(exc, Conflict):
            # Keep the editor's text; saving again replaces the other editor's version.
            values.pop("base_version", None)
        status, message = form_error(exc)
        return await _article_page(request, article, status=status, error=message, form=values)
    if changed:
        await _synced(request)
    raise web.HTTPSeeOther(f"/kb/editor/{article_id}?saved={'saved' if changed else 'same'}")


async def _status_action(request: web.Request, action: str) -> web.StreamResponse:
    db = request.app[DB]
    who = principal(request)
    article_id = _article_id(request)
    form = await request.post()
    note = str(form.get("note", "")) or None
    try:
        if action == "publish":
            await service.publish_article(db, who.username, article_id, note)
        else:
            await service.retire_article(db, who.username, article_id, note)
    except Conflict as exc:
        article = await service.get_article(db, who, article_id)
        status, message = form_error(exc)
        return await _article_page(request, article, status=status, error=message)
    await _synced(request)
    raise web.HTTPSeeOther(f"/kb/editor/{article_id}?saved={action}ed")


@routes.post("/kb/editor/{article_id}/publish")
@allow(*EDITORS)
async def editor_publish(request: web.Request) -> web.StreamResponse:
    return await _status_action(request, "publish")


@routes.post("/kb/editor/{article_id}/retire")
@allow(*EDITORS)
async def editor_retire(request: web.Request) -> web.StreamResponse:
    return await _status_action(request, "retire")


@routes.get("/kb/editor/{article_id}/diff")
@allow(*OVERSEERS)
async def editor_diff(request: web.Request) -> web.Response:
    article_id = _article_id(request)
    old, new = await _diff_range(request, article_id)
    diff = await service.diff_versions(request.app[DB], article_id, old, new)
    return await page(request, "kb/diff.html", diff=diff, **_page_context(request))


@routes.post("/kb/editor/flags/{flag_id}/resolve")
@allow(*EDITORS)
async def editor_resolve_flag(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    flag = await service.resolve_flag(request.app[DB], principal(request),
                                      _int_id(request, "flag_id", "flag"),
                                      str(form.get("resolution", "")) or None)
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(f"/kb/editor/{flag.article_id}" if back == "article" else "/kb/editor")


@routes.get("/kb/gaps")
@allow(*OVERSEERS)
async def gaps_page(request: web.Request) -> web.Response:
    show_all = request.query.get("all") == "1"
    gaps = await service.list_gaps(request.app[DB], include_resolved=show_all, limit=200)
    return await page(request, "kb/gaps.html", gaps=gaps, show_all=show_all,
                      can_resolve=principal(request).role in EDITORS, **_page_context(request))


@routes.post("/kb/gaps/{gap_id}/resolve")
@allow(*EDITORS)
async def gaps_resolve(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await service.resolve_gap(request.app[DB], principal(request).username,
                              _int_id(request, "gap_id", "gap"),
                              str(form.get("article_id", "")).strip() or None,
                              str(form.get("note", "")) or None)
    raise web.HTTPSeeOther("/kb/gaps")


@routes.get("/kb/articles/{article_id}")
@allow(*ALL_STAFF)
async def article_page(request: web.Request) -> web.Response:
    who = principal(request)
    article = await service.get_article(request.app[DB], who, _article_id(request))
    return await page(request, "kb/article.html", article=article,
                      deadline=service.update_deadline(article, _workdays(request)),
                      **_page_context(request))

