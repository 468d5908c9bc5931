"""The screen pop in real headless Chromium: agent1 (queue member 坐席1) has the desk open when
the PBX connects a call to them; the desk shows the caller and earlier calls, marks the call,
and an answer given from the knowledge base is recorded against that call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.db import Database
from knowledge_base import service as kb
from knowledge_base.importer import load_sample_articles
from hotline.telephony.http import CENTER
from tests.conftest import browser_login, wait_until

from .conftest import expected, start_pbx


async def test_desk_pops_the_call_and_answers_are_recorded_against_it(
        app_client: Any, db: Database, browser: Any, busy_dir: Path, pbx_port: int) -> None:
    from playwright.async_api import expect

    await load_sample_articles(db)
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    assert page.url == base + "/desk"
    state = page.locator("[data-testid=call-state]")
    await expect(state).to_have_text("等待来电")

    center = app_client.app[CENTER]
    # What the desk must end up showing: the last call connected to 坐席1 before the PBX stops.
    watch = center.pops.subscribe("坐席1")
    server = await start_pbx(busy_dir, pbx_port, speed=20)
    try:
        await expect(state).to_have_text("通话中", timeout=30000)
    finally:
        # The PBX goes quiet: no later call replaces this one on the desk while we look.
        await server.close()
    await wait_until(lambda: not center.connected, what="the listener to see the PBX go")
    connects = []
    while not watch.empty():
        pop = watch.get_nowait()
        if pop.kind == "connect":
            connects.append(pop.uniqueid)
    center.pops.unsubscribe(watch)
    await expect(page.locator("[data-testid=call-pop]")).to_have_attribute(
        "data-current-call-id", connects[-1])
    caller = (await page.locator("[data-testid=call-caller]").inner_text()).strip()
    answered_by_agent = {c["caller"] for c in expected(busy_dir)["calls"].values()
                         if c.get("agent") == "坐席1"}
    assert caller in answered_by_agent
    call_id = await page.locator("[data-testid=call-pop]").get_attribute("data-current-call-id")
    assert call_id and call_id in expected(busy_dir)["calls"]
    await expect(page.locator("[data-testid=call-history] tr")).to_have_count(1)
    link = await page.locator("[data-testid=call-new-ticket]").get_attribute("href")
    assert f"call_id={call_id}" in link and f"phone={caller}" in link

    await page.locator("[data-testid=kb-q]").fill("社保卡丢了怎么办")
    await page.locator("[data-testid=kb-hit]").first.click()
    await page.click("[data-testid=kb-use]")
    await expect(page.locator("[data-testid=kb-use-status]")).to_contain_text("已记录")
    assert await page.locator("[data-testid=call-pop]").get_attribute(
        "data-current-call-id") == call_id

    [answer] = await kb.list_answers(db)
    assert answer.call_id == call_id
