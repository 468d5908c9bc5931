"""The screen pop in real headless Chromium: agent1 (queue member 坐席1) has the desk open when
the PBX connects a call to them; the desk shows the caller and earlier calls, marks the call,
and an answer given from the knowledge base is recorded against that call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.db import Database
from knowledge_base import service as kb
from knowledge_base.importer import load_sample_articles
from calls.center import CallEvent
from calls.web import CENTER
from tests.conftest import browser_login, wait_until

from .conftest import expected, start_pbx


async def _last_connected(center: Any, watch: Any) -> str:
    """Once the PBX has gone quiet: the last call connected to the agent `watch` follows."""
    await wait_until(lambda: not center.connected, what="the listener to see the PBX go")
    connects = []
    while not watch.empty():
        pop = watch.get_nowait()
        if isinstance(pop, CallEvent) and pop.kind == "connect":
            connects.append(pop.uniqueid)
    center.pops.unsubscribe(watch)
    return connects[-1]


async def test_desk_pops_the_call_and_answers_are_recorded_against_it(
    app_client: Any, db: Database, browser: Any, busy_dir: Path, pbx_port: int
) -> None:
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
    last = await _last_connected(center, watch)
    await expect(page.locator("[data-testid=call-pop]")).to_have_attribute(
        "data-current-call-id", last
    )
    caller = (await page.locator("[data-testid=call-caller]").inner_text()).strip()
    answered_by_agent = {
        c["caller"] for c in expected(busy_dir)["calls"].values() if c.get("agent") == "坐席1"
    }
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
    assert (
        await page.locator("[data-testid=call-pop]").get_attribute("data-current-call-id")
        == call_id
    )

    [answer] = await kb.list_answers(db)
    assert answer.call_id == call_id


async def test_a_ticket_recorded_on_the_desk_leaves_the_next_pop_arriving(
    app_client: Any, db: Database, browser: Any, busy_dir: Path, pbx_port: int
) -> None:
    """The 受理单 on the desk is filled from the popped call and submitted without leaving the
    page, so the agent's next call still pops while (and after) the ticket is recorded."""
    from playwright.async_api import expect
    from sqlalchemy import select

    from dispatch.models import Ticket

    from ivr.routes import RouteStore

    routes = RouteStore(db)  # every call came in on the merged 12315 line (its category)
    for uniqueid in expected(busy_dir)["calls"]:
        await routes.record(uniqueid, "12315", "市场监管", "hotline")
    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    pop = page.locator("[data-testid=call-pop]")
    server = await start_pbx(busy_dir, pbx_port, speed=10)
    try:
        await expect(page.locator("[data-testid=call-state]")).to_have_text("通话中", timeout=30000)
        first = await pop.get_attribute("data-current-call-id")
        await expect(page.locator("#new-ticket input[name=call_id]")).to_have_value(first)
        await expect(page.locator("[data-testid=call-ivr]")).to_have_text("市场监管")
        await expect(page.locator("[data-testid=tf-category]")).to_have_value("市场监管")
        await page.locator("[data-testid=tf-content]").fill(
            "来电人咨询社保卡补办需要带哪些材料，要求答复。"
        )
        await page.locator("[data-testid=tf-submit]").click()
        await expect(page.locator("[data-testid=tf-result]")).to_contain_text(
            "已受理", timeout=10000
        )
        assert page.url == base + "/desk"
        # The next call connected to 坐席1 pops on the same page.
        await expect(pop).not_to_have_attribute("data-current-call-id", first, timeout=60000)
    finally:
        await server.close()
    async with db.read() as s:
        stored = list(await s.scalars(select(Ticket.call_id)))
    assert stored == [first]


async def test_the_agent_sets_the_queue_state_and_saves_the_summary_on_the_desk(
    app_client: Any, db: Database, browser: Any, busy_dir: Path, pbx_port: int
) -> None:
    """示忙 with a reason, 话后整理 and 示闲 are shown once the PBX reports them; the 小结 of the
    popped call is saved with Alt+M and comes back with the call."""
    from playwright.async_api import expect

    from calls import summaries

    base = str(app_client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    await page.set_viewport_size({"width": 1366, "height": 768})
    center = app_client.app[CENTER]
    watch = center.pops.subscribe("坐席1")
    server = await start_pbx(busy_dir, pbx_port, speed=20)
    try:
        await expect(page.locator("[data-testid=call-state]")).to_have_text("通话中", timeout=30000)
        now = page.locator("[data-testid=qs-now]")
        await page.locator("[data-testid=qs-reason]").select_option("培训")
        await page.click("[data-testid=qs-busy]")
        await expect(now).to_contain_text("示忙（培训）", timeout=10000)
        await page.click("[data-testid=qs-wrapup]")
        await expect(now).to_contain_text("话后整理", timeout=10000)
        await page.click("[data-testid=qs-available]")
        await expect(now).to_contain_text("示闲", timeout=10000)
        await expect(now).to_have_attribute("data-state", "available")
        for control in ("qs-busy", "qs-reason", "call-summary"):  # on the first screen
            box = await page.locator(f"[data-testid={control}]").bounding_box()
            assert box and box["y"] + box["height"] <= 768, control
    finally:
        await server.close()
    call_id = await _last_connected(center, watch)
    await expect(page.locator("[data-testid=call-pop]")).to_have_attribute(
        "data-current-call-id", call_id
    )
    await page.locator("[data-testid=call-summary]").fill("咨询社保卡补办，已按知识库答复")
    await page.keyboard.press("Alt+m")
    await expect(page.locator("[data-testid=call-summary-status]")).to_contain_text("已保存")
    assert await summaries.of_calls(db, [call_id]) == {call_id: "咨询社保卡补办，已按知识库答复"}
