"""Knowledge base over HTTP: the JSON API under /api/v1/kb, the editor and gap pages, the
agent desk's search (a template included in desk.html, script in static/kb.js), and the
per-process live search index with its change poller (`setup`)."""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from hotline.web.keys import SERVICES
from knowledge_base import wiring
from knowledge_base.web import api, learning, pages, vocabulary
from knowledge_base.web.common import HERE, LIVE_INDEX

__all__ = ["LIVE_INDEX", "setup"]


# ---------------------------------------------------------------------- setup


def setup(app: web.Application) -> None:
    app.router.add_routes(api.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(learning.routes)
    app.router.add_routes(vocabulary.routes)
    app.router.add_static("/kb/static", HERE / "static")
    app.cleanup_ctx.append(_live_index_ctx)


async def _live_index_ctx(app: web.Application) -> AsyncIterator[None]:
    # After the app's services context, whose web worker loaded the index (kb.wiring).
    app[LIVE_INDEX] = app[SERVICES][wiring.LIVE_INDEX]
    yield
