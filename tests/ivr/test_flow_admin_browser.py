"""The admins' flow page (/admin/ivr) in real headless Chromium at 1366x768: the admin reaches
it from the navigation, reads the running flow, submits a flow with a mistake and reads its
line in Chinese (the running version unchanged), submits a valid one and sees the new version
running; agents, managers and unit handlers are refused."""

from __future__ import annotations

from typing import Any

from ivr.flows import packaged_flow_text
from tests.conftest import PASSWORD

WIDTH, HEIGHT = 1366, 768


async def open_as(browser: Any, base: str, username: str, then: str = "") -> tuple[Any, list[str]]:
    """A page logged in as `username`, on its home page or on `then` (the login form's next
    page: an agent's desk is not opened, its event stream is not left half-open)."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": WIDTH, "height": HEIGHT})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(base + "/login" + (f"?next={then}" if then else ""))
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page, problems


async def fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide"


async def test_the_admin_replaces_the_flow(client: Any, accounts: Any, browser: Any) -> None:
    from playwright.async_api import expect

    base = str(client.make_url("")).rstrip("/")
    page, problems = await open_as(browser, base, "root")
    await page.click("nav >> text=语音导航")
    await page.wait_for_url("**/admin/ivr")
    await expect(page.locator("[data-testid=flow-version]")).to_have_text("当前运行版本 1")
    entries = page.locator("[data-testid=flow-entries] tbody tr")
    await expect(entries).to_have_count(5)
    await expect(entries.nth(1)).to_contain_text("12315")
    await expect(entries.nth(1)).to_contain_text("市场监管")
    await expect(page.locator("[data-testid=flow-hours]")).to_contain_text("08:00-20:00")
    await expect(page.locator("[data-testid=flow-menu]")).to_have_count(3)
    await fits(page)

    # A mistake: an entry names a menu that does not exist.
    text = packaged_flow_text().replace("\nversion = 1\n", "\nversion = 2\n")
    bad = text.replace('menu = "legacy"', 'menu = "old"', 1)
    line = next(i for i, s in enumerate(bad.split("\n"), 1) if 'menu = "old"' in s)
    await page.fill("[data-testid=flow-text]", bad)
    await page.click("[data-testid=flow-form] button[type=submit]")
    await expect(page.locator("[data-testid=flow-error-message]")).to_have_text(
        f"第 {line} 行：菜单 old 未定义"
    )
    await expect(page.locator("[data-testid=flow-error-line]")).to_contain_text('menu = "old"')
    await expect(page.locator("[data-testid=flow-error]")).to_contain_text("版本 1 保持不变")
    await expect(page.locator("[data-testid=flow-version]")).to_have_text("当前运行版本 1")
    assert 'menu = "old"' in await page.locator("[data-testid=flow-text]").input_value()
    await fits(page)

    # Corrected: version 2 runs, with the changed category.
    good = text.replace('category = "市场监管"', 'category = "市场监管投诉"')
    await page.fill("[data-testid=flow-text]", good)
    await page.click("[data-testid=flow-form] button[type=submit]")
    await expect(page.locator("[data-testid=flow-saved]")).to_have_text("已保存并启用版本 2")
    await expect(page.locator("[data-testid=flow-version]")).to_have_text("当前运行版本 2")
    await expect(entries.nth(1)).to_contain_text("市场监管投诉")
    await expect(page.locator("[data-testid=flow-history] tbody tr")).to_have_count(1)
    await fits(page)

    # A third version, then back to 2: its page shows what differs, 恢复 runs it as 4.
    third = good.replace("\nversion = 2\n", "\nversion = 3\n").replace("09:00-17:00", "09:00-18:00")
    await page.fill("[data-testid=flow-text]", third)
    await page.click("[data-testid=flow-form] button[type=submit]")
    await expect(page.locator("[data-testid=flow-saved]")).to_have_text("已保存并启用版本 3")
    await page.click("[data-testid=flow-history] >> text=版本 2")
    await page.wait_for_url("**/admin/ivr/versions/2")
    diff = page.locator("[data-testid=flow-diff]")
    await expect(diff.locator(".diff-del")).to_contain_text(["-version = 3", "09:00-18:00"])
    await expect(diff.locator(".diff-add")).to_contain_text(["+version = 2", "09:00-17:00"])
    await fits(page)
    await page.click("[data-testid=flow-restore] button")
    await expect(page.locator("[data-testid=flow-saved]")).to_have_text("已保存并启用版本 4")
    await expect(page.locator("[data-testid=flow-hours]")).to_contain_text("09:00-17:00")
    await expect(page.locator("[data-testid=flow-history] tbody tr")).to_have_count(3)
    # The refused flow's page is answered with 400, which Chromium reports on the console.
    refused = [p for p in problems if "status of 400" in p]
    assert len(refused) == 1 and [p for p in problems if p not in refused] == []


async def test_other_roles_are_refused(client: Any, accounts: Any, browser: Any) -> None:
    base = str(client.make_url("")).rstrip("/")
    for user in ("agent1", "boss", "rsj"):
        page, _ = await open_as(browser, base, user, then="/admin/ivr")
        assert page.url.endswith("/admin/ivr")
        response = await page.reload()
        assert response.status == 403, user
        assert "语音导航" not in await page.locator("nav").inner_text()
        await page.context.close()
