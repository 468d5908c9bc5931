"""The unit portal on a phone (390x844) in real headless Chromium: the unit's home lists its open
tickets as cards, the overdue one first and marked, the first card on the first screen, and no
page is wider than the phone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import PASSWORD

from .conftest import AGENT, wages_ticket

PHONE = {"width": 390, "height": 844}


async def test_a_unit_handler_works_from_a_phone(
    wo_client: Any, service: Any, clock: Any, browser: Any, tmp_path: Any
) -> None:
    from playwright.async_api import expect

    clock.now = dt.datetime(2026, 10, 9, 2, 0, tzinfo=dt.timezone.utc)  # long overdue by now
    late = (await service.create(AGENT, wages_ticket())).ticket.number
    clock.now = dt.datetime.now(dt.timezone.utc)
    fresh = (
        await service.create(AGENT, wages_ticket(content="公司未缴社保，要求查处"))
    ).ticket.number

    base = str(wo_client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "rsj")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/unit")

    cards = page.locator("[data-testid=uq-list] li")
    await expect(cards).to_have_count(2, timeout=10000)
    first = cards.first
    await expect(first.locator("a")).to_have_text(late)
    assert "late" in (await first.get_attribute("class"))
    await expect(first).to_contain_text("已超期")
    await expect(cards.nth(1).locator("a")).to_have_text(fresh)
    await page.screenshot(path=str(tmp_path / "unit-phone.png"))
    box = await first.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"], box
    for path in ("/unit", "/unit/tickets", f"/unit/tickets/{late}", f"/tickets?q={late}"):
        await page.goto(base + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    assert errors == []
    await context.close()
