"""The agent desk in real headless Chromium at 1366x768: the call, the knowledge base and the
受理单 side by side on one screen, and a ticket recorded from the desk without leaving it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatch.models import Ticket
from hotline.db import Database
from tests.conftest import PASSWORD

SCREEN = {"width": 1366, "height": 768}


async def on_screen(page: Any, selector: str) -> None:
    box = await page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, selector
    assert box["x"] + box["width"] <= SCREEN["width"], f"{selector} is cut on the right: {box}"
    assert box["y"] + box["height"] <= SCREEN["height"], f"{selector} is below the fold: {box}"


async def test_the_desk_fits_the_screen_and_records_a_ticket_without_leaving(
    wo_client: Any, db: Database, browser: Any, tmp_path: Any
) -> None:
    from playwright.async_api import expect

    base = str(wo_client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="zh-CN", viewport=SCREEN)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "agent1")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/desk")

    for selector in (
        "[data-testid=call-pop] h2",
        "[data-testid=kb-q]",
        "[data-testid=tf-content]",
        "[data-testid=tf-unit]",
        "[data-testid=tf-submit]",
    ):
        await on_screen(page, selector)
    # The unit pick list names units, filled from the directory.
    await expect(
        page.locator("[data-testid=tf-unit] option", has_text="郑州市人力资源和社会保障局")
    ).to_have_count(1)

    await page.locator("[data-testid=tf-phone]").fill("13812345678")
    await page.locator("[data-testid=tf-category]").select_option("劳动就业")
    await page.locator("[data-testid=tf-district]").select_option("金水区")
    await page.locator("[data-testid=tf-content]").fill(
        "来电人反映金水区某公司拖欠三个月工资，要求劳动监察部门督促支付。"
    )
    # As the agent types, the suggested units appear by name; one click picks one.
    suggestion = page.locator("#tf-suggestions button", has_text="人力资源和社会保障局").first
    await expect(suggestion).to_be_visible(timeout=10000)
    await suggestion.click()
    await page.locator("[data-testid=tf-content]").press("Control+Enter")
    result = page.locator("[data-testid=tf-result]")
    await expect(result).to_contain_text("已受理并派至", timeout=10000)
    assert page.url == base + "/desk"  # still on the desk: the next screen pop can arrive
    number = (await result.locator("a").inner_text()).removeprefix("工单 ").strip()
    async with db.read() as s:
        t = await s.scalar(select(Ticket).where(Ticket.number == number))
    assert t is not None and t.status == "dispatched" and t.main_unit_code.startswith("ZZ-RSJ")
    # The form is ready for the next caller: emptied, with a new key.
    await expect(page.locator("[data-testid=tf-content]")).to_have_value("")
    await page.screenshot(path=str(tmp_path / "desk.png"))
    assert errors == []
    await context.close()


async def test_an_answer_from_the_knowledge_base_is_one_click_from_a_closed_ticket(
    wo_client: Any, db: Database, browser: Any
) -> None:
    from playwright.async_api import expect

    from knowledge_base.importer import load_sample_articles

    await load_sample_articles(db)
    base = str(wo_client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="zh-CN", viewport=SCREEN)
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "agent1")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/desk")

    # The keyboard, as the panels say: Alt+S to the search box, Alt+U 用此答复.
    await page.keyboard.press("Alt+s")
    await expect(page.locator("[data-testid=kb-q]")).to_be_focused()
    await page.keyboard.type("社保卡丢了怎么办")
    await page.locator("[data-testid=kb-hit]").first.click()
    await expect(page.locator("[data-testid=kb-article]")).to_be_visible()
    await page.keyboard.press("Alt+u")
    await expect(page.locator("[data-testid=kb-use-status]")).to_contain_text("已记录")
    spot = page.locator("[data-testid=tf-spot-button]")
    await expect(spot).to_be_visible()
    await spot.click()
    result = page.locator("[data-testid=tf-result]")
    await expect(result).to_contain_text("已记为当场解答", timeout=10000)
    number = (await result.locator("a").inner_text()).removeprefix("工单 ").strip()
    async with db.read() as s:
        t = await s.scalar(select(Ticket).where(Ticket.number == number))
    assert t is not None and t.status == "closed" and t.kb_article_id
    assert "社保卡丢了怎么办" in t.content and t.main_unit_code is None
    await context.close()
