"""The knowledge base pages: the editor (article list, form, history and diff, flags), the
gap list, and the read-only article page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline.auth import ALL_STAFF, allow
from hotline.db import utcnow
from hotline.errors import Conflict, DomainError, InvalidInput
from hotline.localtime import fmt
from hotline.web.keys import DB, principal
from hotline.web.pages import page
from hotline.web.validation import form_error, query_int, query_text
from knowledge_base import service
from knowledge_base.models import (
    ARTICLE_STATUSES,
    FLAG_KIND_LABELS_ZH,
    FLAG_KINDS,
    STATUS_LABELS_ZH,
    Article,
)
from knowledge_base.service import FIELD_LABELS_ZH
from knowledge_base.web.common import (
    EDITORS,
    OVERSEERS,
    UPDATE_STATE_LABELS_ZH,
    UPDATE_STATES,
    _article_id,
    _diff_range,
    _int_id,
    _synced,
    _workdays,
)

routes = web.RouteTableDef()


def _form_to_raw(form: Any) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name, ""))

    def lines(name: str) -> list[str]:
        return [x.strip() for x in text(name).splitlines() if x.strip()]

    keywords = [
        k
        for part in lines("keywords")
        for k in part.replace("，", ",").replace("、", ",").split(",")
        if k.strip()
    ]
    return {
        "title": text("title"),
        "answer": text("answer"),
        "category": text("category"),
        "unit": text("unit"),
        "basis": text("basis"),
        "time_limit": text("time_limit"),
        "fee": text("fee"),
        "contact": text("contact"),
        "questions": lines("questions"),
        "materials": lines("materials"),
        "keywords": keywords,
        "policy_changed_at": text("policy_changed_at").strip() or None,
    }


def _form_of(article: Article | None) -> dict[str, str]:
    if article is None:
        return {}
    values = {
        f: getattr(article, f) or ""
        for f in ("title", "answer", "category", "unit", "basis", "time_limit", "fee", "contact")
    }
    values.update({f: "\n".join(getattr(article, f)) for f in ("questions", "materials")})
    values["keywords"] = "、".join(article.keywords)
    values["policy_changed_at"] = fmt(article.policy_changed_at, "%Y-%m-%dT%H:%M")
    return values


def _page_context(request: web.Request) -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS_ZH,
        "flag_labels": FLAG_KIND_LABELS_ZH,
        "update_labels": UPDATE_STATE_LABELS_ZH,
        "field_labels": FIELD_LABELS_ZH,
        "workdays": _workdays(request),
    }


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
        limit=100,
        offset=query_int(request, "offset", 0, 0, 10**9),
    )
    now = utcnow()  # one reading: the states shown are the states filtered on
    rows, total = await service.list_articles(db, who, flt, _workdays(request), now)
    deadlines = {a.id: service.update_deadline(a, _workdays(request), now) for a in rows}
    flags = await service.list_flags(db, "open", limit=50)
    open_flags: dict[str, int] = {}
    for v in flags:
        open_flags[v.flag.article_id] = open_flags.get(v.flag.article_id, 0) + 1
    attention: list[tuple[Article, service.UpdateDeadline | None]] = []
    for state in ("overdue", "late", "pending"):
        found, _ = await service.list_articles(
            db, who, service.ArticleFilter(update_state=state, limit=20), _workdays(request), now
        )
        attention.extend((a, service.update_deadline(a, _workdays(request), now)) for a in found)
    return await page(
        request,
        "kb/editor.html",
        articles=rows,
        total=total,
        filters=flt,
        deadlines=deadlines,
        flags=flags,
        open_flags=open_flags,
        attention=attention,
        gaps=await service.list_gaps(db, limit=10),
        categories=await service.categories(db),
        statuses=ARTICLE_STATUSES,
        update_states=UPDATE_STATES,
        **_page_context(request),
    )


async def _article_page(
    request: web.Request,
    article: Article | None,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    saved: str | None = None,
) -> web.Response:
    db = request.app[DB]
    versions = await service.list_versions(db, article.id) if article else []
    flags = await service.list_flags(db, None, article.id, limit=100) if article else []
    deadline = service.update_deadline(article, _workdays(request)) if article else None
    return await page(
        request,
        "kb/article_form.html",
        status=status,
        article=article,
        form=form if form is not None else _form_of(article),
        error=error,
        saved=saved,
        versions=versions,
        flags=flags,
        deadline=deadline,
        categories=await service.categories(db),
        flag_kinds=FLAG_KINDS,
        **_page_context(request),
    )


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
        article = await service.create_article(
            request.app[DB],
            principal(request).username,
            service.parse_input(raw),
            article_id,
            str(form.get("note", "")) or None,
        )
    except DomainError as exc:
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        status, message = form_error(exc)
        return await _article_page(request, None, status=status, error=message, form=values)
    await _synced(request)
    raise web.HTTPSeeOther(f"/kb/editor/{article.id}?saved=created")


@routes.get("/kb/editor/{article_id}")
@allow(*EDITORS)
async def editor_article(request: web.Request) -> web.Response:
    article = await service.get_article(request.app[DB], principal(request), _article_id(request))
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
            db,
            who.username,
            article_id,
            service.parse_input(_form_to_raw(form)),
            base,
            str(form.get("note", "")) or None,
        )
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
    flag = await service.resolve_flag(
        request.app[DB],
        principal(request),
        _int_id(request, "flag_id", "flag"),
        str(form.get("resolution", "")) or None,
    )
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(f"/kb/editor/{flag.article_id}" if back == "article" else "/kb/editor")


@routes.get("/kb/gaps")
@allow(*OVERSEERS)
async def gaps_page(request: web.Request) -> web.Response:
    show_all = request.query.get("all") == "1"
    gaps = await service.list_gaps(request.app[DB], include_resolved=show_all, limit=200)
    return await page(
        request,
        "kb/gaps.html",
        gaps=gaps,
        show_all=show_all,
        can_resolve=principal(request).role in EDITORS,
        **_page_context(request),
    )


@routes.post("/kb/gaps/{gap_id}/resolve")
@allow(*EDITORS)
async def gaps_resolve(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await service.resolve_gap(
        request.app[DB],
        principal(request).username,
        _int_id(request, "gap_id", "gap"),
        str(form.get("article_id", "")).strip() or None,
        str(form.get("note", "")) or None,
    )
    raise web.HTTPSeeOther("/kb/gaps")


@routes.get("/kb/articles/{article_id}")
@allow(*ALL_STAFF)
async def article_page(request: web.Request) -> web.Response:
    who = principal(request)
    article = await service.get_article(request.app[DB], who, _article_id(request))
    return await page(
        request,
        "kb/article.html",
        article=article,
        deadline=service.update_deadline(article, _workdays(request)),
        **_page_context(request),
    )
