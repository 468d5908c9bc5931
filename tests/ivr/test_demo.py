"""The demo's IVR: simulated callers ring the product's FastAGI server and their scores land
in the survey table the dashboard reads; they never leave call-back requests."""

from __future__ import annotations

from typing import Any

from calls import missed
from hotline.config import Settings
from hotline.db import Database
from ivr.demo import DEMO_AGENTS, embedded_ivr
from ivr.wiring import AGI_SERVER
from tests.conftest import wait_until


async def test_demo_callers(aiohttp_client: Any, settings: Settings, db: Database) -> None:
    from hotline.web.app import create_app
    from hotline.web.keys import SERVICES

    settings, callers = embedded_ivr(settings, every=0.01)
    assert settings.ivr.enabled and settings.ivr.host == "127.0.0.1"
    app = create_app(settings, database=db)
    app.cleanup_ctx.append(callers)
    await aiohttp_client(app)
    server = app[SERVICES][AGI_SERVER]
    await wait_until(lambda: server.counters.completed >= 6, what="six IVR sessions")
    async with db.read() as s:
        from sqlalchemy import select

        from ivr.models import SurveyRow

        rows = list(await s.scalars(select(SurveyRow)))
    assert rows and {r.agent for r in rows} <= set(DEMO_AGENTS)
    assert all(r.score in (1, 2, 3, None) for r in rows)
    assert await missed.list_callbacks(db) == []
    assert server.counters.handler_errors == 0 and server.counters.protocol_errors == 0
