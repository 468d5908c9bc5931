"""The knowledge base JSON API under /api/v1/kb: search, articles with their versions and
diffs, answers, flags, gaps, import and export."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline.auth import ALL_STAFF, allow
from hotline.db import utcnow
from hotline.errors import InvalidInput
from hotline.models import Role
from hotline.web.api import ok
from hotline.web.keys import DB, principal
from hotline.web.validation import body, bounded_body, json_body, query_int, query_text
from knowledge_base import importer, service
from knowledge_base.learning import learn_from_answer
from knowledge_base.models import ARTICLE_STATUSES
from knowledge_base.service import local_iso
from knowledge_base.text import RAW_QUERY_LIMIT
from knowledge_base.web.common import (
    EDITORS,
    LIVE_INDEX,
    OVERSEERS,
    SEARCHERS,
    UPDATE_STATES,
    _article_id,
    _diff_range,
    _int_id,
    _optional_body,
    _synced,
    _workdays,
)
from knowledge_base.web.schemas import (
    AnswerBody,
    CreateBody,
    FlagBody,
    GapBody,
    NoteBody,
    ResolveFlagBody,
    ResolveGapBody,
    SearchBody,
    UpdateBody,
)
from knowledge_base.web.serialize import (
    answer_json,
    article_json,
    flag_json,
    gap_json,
    hit_json,
    version_json,
)

routes = web.RouteTableDef()


# ---------------------------------------------------------------------- search


NOTICE_TOO_SHORT = {"code": "too_short", "message": "请至少输入2个汉字或拼音字母"}
# Nothing answers the question: the agent takes it down as a ticket instead.
NOTICE_NO_ANSWER = {"code": "no_answer", "message": "没有找到可直接答复的文章"}
# Hits of a settled search that count as having reached the agent (per-article usage).
REACHED_DEPTH = 3


async def _search(
    request: web.Request, q: str, limit: int, category: str | None, record: bool
) -> web.Response:
    if not 1 <= limit <= 50:
        raise InvalidInput(
            "limit must be between 1 and 50", field="limit", zh="条数须在 1 到 50 之间"
        )
    live = request.app[LIVE_INDEX]
    body: dict[str, Any] = {
        "q": service.clean_query(q, RAW_QUERY_LIMIT),
        "truncated": len(q) > RAW_QUERY_LIMIT,
        "hits": [],
        "notice": None,
        "gap_recorded": False,
    }
    if not service.searchable(q):
        body["notice"] = NOTICE_TOO_SHORT
        return ok(body)
    hits = live.search(q, limit=limit, category=category or None)
    body["hits"] = [hit_json(h, live) for h in hits]
    if not hits:
        body["notice"] = NOTICE_NO_ANSWER
    elif record:
        # A settled search: the articles the agent was shown count as reached.
        live.note_reached(h.id for h in hits[:REACHED_DEPTH])
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
        raise InvalidInput(
            "category is longer than 50 characters", field="category", zh="分类不能超过 50 个字"
        )
    return await _search(
        request,
        request.query["q"],
        query_int(request, "limit", 5, 1, 50),
        category,
        request.query.get("record", "1") not in ("0", "false"),
    )


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
    return ok(
        {"categories": [{"name": c, "count": n} for c, n in request.app[LIVE_INDEX].categories()]}
    )


# ---------------------------------------------------------------------- articles


@routes.get("/api/v1/kb/articles")
@allow(*ALL_STAFF)
async def api_articles(request: web.Request) -> web.Response:
    who = principal(request)
    update = request.query.get("update") or None
    if update is not None and update not in UPDATE_STATES:
        raise InvalidInput(
            f"update must be one of {', '.join(UPDATE_STATES)}",
            field="update",
            zh="更新状态参数无效",
        )
    flt = service.ArticleFilter(
        status=query_text(request, "status"),
        category=(query_text(request, "category") or "")[:50] or None,
        text=(query_text(request, "text") or "")[:100] or None,
        update_state=update,
        limit=query_int(request, "limit", 100, 1, 1000),
        offset=query_int(request, "offset", 0, 0, 10**9),
    )
    now = utcnow()  # one reading: the states shown are the states filtered on
    rows, total = await service.list_articles(request.app[DB], who, flt, _workdays(request), now)
    return ok(
        {"total": total, "articles": [article_json(a, who, _workdays(request), now) for a in rows]}
    )


@routes.post("/api/v1/kb/articles")
@allow(*EDITORS)
@body(CreateBody)
async def api_create(request: web.Request) -> web.Response:
    body = await json_body(request, CreateBody)
    who = principal(request)
    article = await service.create_article(
        request.app[DB], who.username, body.content(), body.id, body.note
    )
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
        request.app[DB],
        who.username,
        _article_id(request),
        body.content(),
        body.base_version,
        body.note,
    )
    if changed:
        await _synced(request)
    return ok({**article_json(article, who, _workdays(request)), "changed": changed})


@routes.post("/api/v1/kb/articles/{article_id}/publish")
@allow(*EDITORS)
@body(NoteBody, required=False)
async def api_publish(request: web.Request) -> web.Response:
    body = await _optional_body(request, NoteBody)
    who = principal(request)
    article = await service.publish_article(
        request.app[DB], who.username, _article_id(request), body.note
    )
    await _synced(request)
    return ok(article_json(article, who, _workdays(request)))


@routes.post("/api/v1/kb/articles/{article_id}/retire")
@allow(*EDITORS)
@body(NoteBody, required=False)
async def api_retire(request: web.Request) -> web.Response:
    body = await _optional_body(request, NoteBody)
    who = principal(request)
    article = await service.retire_article(
        request.app[DB], who.username, _article_id(request), body.note
    )
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


@routes.get("/api/v1/kb/articles/{article_id}/diff")
@allow(*OVERSEERS)
async def api_diff(request: web.Request) -> web.Response:
    article_id = _article_id(request)
    old, new = await _diff_range(request, article_id)
    diff = await service.diff_versions(request.app[DB], article_id, old, new)
    return ok(
        {
            "article_id": article_id,
            "from": old,
            "to": new,
            "unified": diff.unified,
            "fields": [
                {
                    "field": f.field,
                    "label": f.label,
                    "list": f.is_list,
                    "pieces": [{"op": op, "text": t} for op, t in f.pieces],
                }
                for f in diff.fields
            ],
        }
    )


# ---------------------------------------------------------------------- answers, flags, gaps


@routes.post("/api/v1/kb/articles/{article_id}/answers")
@allow(Role.AGENT)
@body(AnswerBody, required=False)
async def api_answer(request: web.Request) -> web.Response:
    body = await _optional_body(request, AnswerBody)
    row = await service.record_answer(
        request.app[DB],
        principal(request),
        _article_id(request),
        body.version,
        body.call_id,
        body.query,
    )
    # A phrasing used often enough becomes searchable (knowledge_base.learning).
    if await learn_from_answer(request.app[DB], row.article_id, row.query):
        await _synced(request)
    return ok(answer_json(row), status=201)


@routes.get("/api/v1/kb/answers")
@allow(*OVERSEERS)
async def api_answers(request: web.Request) -> web.Response:
    rows = await service.list_answers(
        request.app[DB],
        article_id=query_text(request, "article_id"),
        call_id=query_text(request, "call_id"),
        limit=query_int(request, "limit", 100, 1, 1000),
    )
    return ok({"answers": [answer_json(a) for a in rows]})


@routes.get("/api/v1/kb/answers/counts")
@allow(*OVERSEERS)
async def api_answer_counts(request: web.Request) -> web.Response:
    since = service.parse_time(request.query.get("since"), "since")
    until = service.parse_time(request.query.get("until"), "until")
    rows = await service.answer_counts(
        request.app[DB], since, until, query_int(request, "limit", 50, 1, 1000)
    )
    return ok(
        {
            "since": local_iso(since),
            "until": local_iso(until),
            "counts": [
                {"article_id": r.article_id, "title": r.title, "count": r.count} for r in rows
            ],
        }
    )


@routes.post("/api/v1/kb/articles/{article_id}/flags")
@allow(*ALL_STAFF)
@body(FlagBody)
async def api_flag(request: web.Request) -> web.Response:
    body = await json_body(request, FlagBody)
    flag = await service.flag_article(
        request.app[DB],
        principal(request),
        _article_id(request),
        body.kind,
        body.note,
        body.version,
    )
    return ok(
        {
            "id": flag.id,
            "article_id": flag.article_id,
            "version": flag.version,
            "kind": flag.kind,
            "status": flag.status,
        },
        status=201,
    )


@routes.get("/api/v1/kb/flags")
@allow(*OVERSEERS)
async def api_flags(request: web.Request) -> web.Response:
    status = request.query.get("status", "open")
    if status not in ("open", "resolved", "all"):
        raise InvalidInput(
            "status must be open, resolved or all", field="status", zh="状态参数无效"
        )
    rows = await service.list_flags(
        request.app[DB],
        None if status == "all" else status,
        query_text(request, "article_id"),
        query_int(request, "limit", 200, 1, 1000),
    )
    return ok({"flags": [flag_json(v) for v in rows]})


@routes.post("/api/v1/kb/flags/{flag_id}/resolve")
@allow(*EDITORS)
@body(ResolveFlagBody, required=False)
async def api_resolve_flag(request: web.Request) -> web.Response:
    body = await _optional_body(request, ResolveFlagBody)
    flag = await service.resolve_flag(
        request.app[DB], principal(request), _int_id(request, "flag_id", "flag"), body.resolution
    )
    return ok({"id": flag.id, "status": flag.status, "resolution": flag.resolution})


@routes.post("/api/v1/kb/gaps")
@allow(*SEARCHERS)
@body(GapBody)
async def api_report_gap(request: web.Request) -> web.Response:
    """The agent rejected what the search showed (没有找到)."""
    body = await json_body(request, GapBody)
    if not service.searchable(body.query):
        raise InvalidInput(
            "query must have at least 2 characters to search for",
            field="query",
            zh="查询内容至少需要 2 个字",
        )
    gap = await service.record_gap(request.app[DB], body.query, "rejected")
    assert gap is not None
    return ok(gap_json(gap), status=201)


@routes.get("/api/v1/kb/gaps")
@allow(*OVERSEERS)
async def api_gaps(request: web.Request) -> web.Response:
    rows = await service.list_gaps(
        request.app[DB],
        include_resolved=request.query.get("include_resolved") in ("1", "true"),
        limit=query_int(request, "limit", 50, 1, 1000),
        since=service.parse_time(request.query.get("since"), "since"),
    )
    return ok({"gaps": [gap_json(g) for g in rows]})


@routes.post("/api/v1/kb/gaps/{gap_id}/resolve")
@allow(*EDITORS)
@body(ResolveGapBody, required=False)
async def api_resolve_gap(request: web.Request) -> web.Response:
    body = await _optional_body(request, ResolveGapBody)
    gap = await service.resolve_gap(
        request.app[DB],
        principal(request).username,
        _int_id(request, "gap_id", "gap"),
        body.article_id,
        body.note,
    )
    return ok(gap_json(gap))


# ---------------------------------------------------------------------- import / export


@routes.get("/api/v1/kb/export")
@allow(*EDITORS)
async def api_export(request: web.Request) -> web.Response:
    status = request.query.get("status", "all")
    if status != "all" and status not in ARTICLE_STATUSES:
        raise InvalidInput(
            "status must be all, draft, published or retired", field="status", zh="状态参数无效"
        )
    statuses = ARTICLE_STATUSES if status == "all" else (status,)
    lines = await importer.export_lines(request.app[DB], statuses)
    return web.Response(
        text="".join(line + "\n" for line in lines),
        content_type="application/x-ndjson",
        charset="utf-8",
    )


@routes.post("/api/v1/kb/import")
@allow(*EDITORS)
@body(
    media_type="application/x-ndjson",
    description="articles as JSON Lines, one article per line (the export format)",
)
async def api_import(request: web.Request) -> web.Response:
    raw = await bounded_body(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not valid UTF-8", zh="文件不是有效的 UTF-8 文本") from None
    result = await importer.import_articles(
        request.app[DB],
        principal(request).username,
        text,
        partial=request.query.get("partial") in ("1", "true"),
    )
    await _synced(request)
    return ok(
        {
            "created": len(result.created),
            "updated": len(result.updated),
            "unchanged": result.unchanged,
            "skipped": [{"line": e.line, "message": e.message} for e in result.skipped],
        }
    )
