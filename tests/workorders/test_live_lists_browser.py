"""Lists that change while open update without a reload (Chromium): the navigation's badges and
the unit's queue follow /api/v1/nav/stream, which tells the page when what waits changes —
whichever instance made the change, since the counts are read from the database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotline.web import api
from tests.conftest import browser_login, login, sse_events

from .conftest import AGENT, wages_ticket


@pytest.fixture(autouse=True)
def quick_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "NAV_STREAM_CHECK_S", 0.2)


async def test_the_stream_tells_a_unit_of_a_new_ticket(wo_client: Any, service: Any) -> None:
    await login(wo_client, "rsj")
    resp = await wo_client.get("/api/v1/nav/stream")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(resp)
    try:
        kind, first = await asyncio.wait_for(events.__anext__(), 10)
        assert kind == "counts"
        before = first["counts"].get("/unit", 0)
        await service.create(AGENT, wages_ticket())  # dispatched to ZZ-RSJ
        kind, then = await asyncio.wait_for(events.__anext__(), 10)
        assert kind == "counts" and then["counts"]["/unit"] == before + 1
    finally:
        resp.close()

    # Logout ends a stream that is open: it was the session's, and that session is gone.
    csrf = await login(wo_client, "rsj")
    resp = await wo_client.get("/api/v1/nav/stream")
    events = sse_events(resp)
    try:
        kind, _ = await asyncio.wait_for(events.__anext__(), 10)
        assert kind == "counts"
        out = await wo_client.post("/logout", data={"_csrf": csrf}, allow_redirects=False)
        assert out.status in (302, 303)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(events.__anext__(), 10)
    finally:
        resp.close()
    wo_client.session.cookie_jar.clear()
    assert (await wo_client.get("/api/v1/nav/stream", allow_redirects=False)).status in (
        302,
        303,
        401,
    )


async def test_a_new_ticket_appears_in_the_open_unit_queue_and_badge(
    wo_client: Any, service: Any, browser: Any
) -> None:
    from playwright.async_api import expect

    base = str(wo_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "rsj")
    await page.goto(base + "/unit")
    cards = page.locator("[data-testid=uq-list] li")
    await expect(page.locator("[data-testid=uq-status]")).to_have_text("暂无待办工单")
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await expect(cards).to_have_count(1, timeout=10000)
    await expect(cards.first).to_contain_text(number)
    await expect(page.locator("nav a[href='/unit'] .badge")).to_have_text("1")


async def test_a_new_missed_caller_appears_on_the_open_call_back_list(
    wo_client: Any, db: Any, browser: Any
) -> None:
    """A caller the IVR promised a call back (or who gave up in the queue) shows up on the
    agents' 未接回拨 page while it is open, with the badge."""
    from playwright.async_api import expect

    from calls.ivr_ports import CallbackList

    base = str(wo_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    await page.goto(base + "/calls/missed")
    rows = page.locator("[data-testid=missed-open] tbody tr[data-caller]")
    await expect(rows).to_have_count(0)
    await CallbackList(db).request_callback("13800138000", uniqueid="1764800000.1", reason="night")
    await expect(rows).to_have_count(1, timeout=10000)
    await expect(rows.first).to_contain_text("13800138000")
    await expect(page.locator("nav a[href='/calls/missed'] .badge")).to_have_text("1")


async def test_a_caller_missed_before_the_stream_opens_still_shows(
    wo_client: Any, db: Any, browser: Any
) -> None:
    """The page is built, then its stream opens: a caller added in between is in the stream's
    first counts, and the open list must read itself again for them (it once waited for a
    second change that might never come)."""
    from playwright.async_api import Route, expect

    from calls.ivr_ports import CallbackList

    base = str(wo_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await page.route("**/api/v1/nav/stream", hold)
    await page.goto(base + "/calls/missed")
    rows = page.locator("[data-testid=missed-open] tbody tr[data-caller]")
    await expect(rows).to_have_count(0)
    await CallbackList(db).request_callback("13800138001", uniqueid="1764800000.2", reason="night")
    held.set()
    await expect(rows).to_have_count(1, timeout=10000)
    await expect(rows.first).to_contain_text("13800138001")
