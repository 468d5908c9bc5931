"""The search vocabulary in a page, for editors (/kb/vocabulary): synonym groups, concepts and
spoken forms, saved with line-exact Chinese errors; every process re-indexes with them."""

from __future__ import annotations

from aiohttp import web

from hotline.auth import allow
from hotline.errors import DomainError
from hotline.web.keys import DB, principal
from hotline.web.pages import page
from hotline.web.validation import form_error, form_version
from knowledge_base import vocabulary
from knowledge_base.models import VOCABULARY_NAMES
from knowledge_base.web.common import EDITORS, _synced

routes = web.RouteTableDef()


async def _page(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    edited: dict[str, str] | None = None,
) -> web.Response:
    lists = await vocabulary.lists(request.app[DB])
    return await page(
        request,
        "kb/vocabulary.html",
        status=status,
        error=error,
        done=done,
        lists=[lists[name] for name in VOCABULARY_NAMES],
        labels=vocabulary.LABELS,
        edited=edited or {},
    )


@routes.get("/kb/vocabulary")
@allow(*EDITORS)
async def vocabulary_page(request: web.Request) -> web.Response:
    saved = request.query.get("saved", "")
    return await _page(
        request,
        done=f"已保存{vocabulary.LABELS[saved]}，检索已按新词表重建"
        if saved in vocabulary.LABELS
        else None,
    )


@routes.post("/kb/vocabulary/{name}")
@allow(*EDITORS)
async def vocabulary_save(request: web.Request) -> web.StreamResponse:
    name, form = request.match_info["name"], await request.post()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    try:
        await vocabulary.save(
            request.app[DB], principal(request).username, name, text, form_version(form) or 0
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _page(request, status=status, error=message, edited={name: text})
    await _synced(request)
    raise web.HTTPSeeOther(f"/kb/vocabulary?saved={name}")
