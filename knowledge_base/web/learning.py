"""What the agents teach the knowledge base, for editors: phrasings to accept, gaps grouped by
meaning, per-article usage (API under /api/v1/kb, page /kb/learning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hotline.auth import allow
from hotline.errors import DomainError
from hotline.web.api import ok
from hotline.web.keys import DB, principal
from hotline.web.pages import page
from hotline.web.validation import body, form_error, json_body, query_int
from knowledge_base import learning, service
from knowledge_base.learning import GapGroup, Phrasing, Usage, WeekShare
from knowledge_base.service import local_iso
from knowledge_base.web.common import EDITORS, OVERSEERS, _article_id, _synced
from knowledge_base.web.serialize import gap_json

routes = web.RouteTableDef()


@dataclass(frozen=True)
class PhrasingBody:
    phrasing: str = field(metadata={"max_len": 500, "scrub": True})


def phrasing_json(p: Phrasing) -> dict[str, Any]:
    return {
        "article_id": p.article_id,
        "title": p.title,
        "phrasing": p.phrasing,
        "uses": p.uses,
        "agents": p.agents,
        "last_at": local_iso(p.last_at),
    }


def usage_json(u: Usage) -> dict[str, Any]:
    return {
        "article_id": u.article_id,
        "title": u.title,
        "reached": u.reached,
        "reached_week": u.reached_week,
        "answers": u.answers,
        "answers_week": u.answers_week,
        "flags": u.flags,
        "open_flags": u.open_flags,
    }


def week_json(w: WeekShare) -> dict[str, Any]:
    return {
        "week_of": w.monday.isoformat(),
        "answered": w.answered,
        "unanswered": w.unanswered,
        "share": w.share,
    }


def group_json(g: GapGroup) -> dict[str, Any]:
    return {"count": g.count, "sample": g.sample, "gaps": [gap_json(x) for x in g.gaps]}


@routes.get("/api/v1/kb/phrasings")
@allow(*OVERSEERS)
async def api_phrasings(request: web.Request) -> web.Response:
    """Queries agents answered calls with that are not yet phrasings of the article."""
    rows = await learning.phrasing_suggestions(
        request.app[DB],
        min_uses=query_int(request, "min_uses", 1, 1, 10**6),
        limit=query_int(request, "limit", 50, 1, 1000),
    )
    return ok(
        {
            "auto_accept_uses": learning.AUTO_ACCEPT_USES,
            "phrasings": [phrasing_json(p) for p in rows],
        }
    )


@routes.post("/api/v1/kb/articles/{article_id}/phrasings")
@allow(*EDITORS)
@body(PhrasingBody)
async def api_accept_phrasing(request: web.Request) -> web.Response:
    """Accept a phrasing: it becomes a keyword of the article (a new version)."""
    data = await json_body(request, PhrasingBody)
    article, changed = await learning.accept_phrasing(
        request.app[DB], principal(request).username, _article_id(request), data.phrasing
    )
    if changed:
        await _synced(request)
    return ok(
        {
            "id": article.id,
            "version": article.version,
            "keywords": article.keywords,
            "changed": changed,
        }
    )


@routes.get("/api/v1/kb/usage")
@allow(*OVERSEERS)
async def api_usage(request: web.Request) -> web.Response:
    db = request.app[DB]
    rows = await learning.article_usage(db, limit=query_int(request, "limit", 100, 1, 10_000))
    weeks = await learning.weekly_share(db, weeks=query_int(request, "weeks", 8, 1, 104))
    return ok({"articles": [usage_json(u) for u in rows], "weeks": [week_json(w) for w in weeks]})


@routes.get("/api/v1/kb/gaps/groups")
@allow(*OVERSEERS)
async def api_gap_groups(request: web.Request) -> web.Response:
    gaps = await service.list_gaps(request.app[DB], limit=query_int(request, "limit", 200, 1, 1000))
    return ok({"groups": [group_json(g) for g in learning.group_gaps(gaps)]})


async def _learning_page(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    db = request.app[DB]
    return await page(
        request,
        "kb/learning.html",
        status=status,
        error=error,
        phrasings=await learning.phrasing_suggestions(db, limit=50),
        usage=await learning.article_usage(db, limit=50),
        weeks=await learning.weekly_share(db, weeks=8),
        groups=learning.group_gaps(await service.list_gaps(db, limit=200))[:30],
        auto_accept_uses=learning.AUTO_ACCEPT_USES,
        can_accept=principal(request).role in EDITORS,
        saved=request.query.get("saved"),
    )


@routes.get("/kb/learning")
@allow(*OVERSEERS)
async def learning_page(request: web.Request) -> web.Response:
    return await _learning_page(request)


@routes.post("/kb/learning/{article_id}/phrasings")
@allow(*EDITORS)
async def learning_accept(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        _, changed = await learning.accept_phrasing(
            request.app[DB],
            principal(request).username,
            _article_id(request),
            str(form.get("phrasing", "")),
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _learning_page(request, status=status, error=message)
    if changed:
        await _synced(request)
    raise web.HTTPSeeOther("/kb/learning?saved=accepted")
