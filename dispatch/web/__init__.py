"""Work orders over HTTP: the JSON API under /api/v1 (`api`), the unit portal and the agent and
manager pages (`pages`), and `setup(app)`, which also runs the follow-up pump for the life of
the app.

Request bodies live in `schemas`, JSON shapes in `serialize`, the app keys and limits shared by
API and pages in `common` (re-exported here).
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from dispatch import wiring
from dispatch.web import api, catalogue_page, finder, pages
from dispatch.web.common import (
    PROGRESS_ADDRESS_MAX_FAILURES,
    PROGRESS_MAX_FAILURES,
    PROGRESS_THROTTLE,
    PROGRESS_WINDOW_SECONDS,
    TICKETS,
)
from hotline.auth import PairThrottle
from hotline.web.keys import SERVICES

__all__ = [
    "PROGRESS_ADDRESS_MAX_FAILURES",
    "PROGRESS_MAX_FAILURES",
    "PROGRESS_THROTTLE",
    "PROGRESS_WINDOW_SECONDS",
    "TICKETS",
    "setup",
]


# --- wiring ---------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    app.router.add_routes(api.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(finder.routes)
    app.router.add_routes(catalogue_page.routes)
    app.router.add_static("/dispatch/static", Path(__file__).resolve().parents[1] / "static")
    app[PROGRESS_THROTTLE] = PairThrottle(
        PROGRESS_MAX_FAILURES, PROGRESS_WINDOW_SECONDS, PROGRESS_ADDRESS_MAX_FAILURES
    )

    async def work_orders(app: web.Application) -> AsyncIterator[None]:
        # After the app's services context (hotline.bootstrap).
        app[TICKETS] = app[SERVICES][wiring.TICKETS]
        yield

    app.cleanup_ctx.append(work_orders)
