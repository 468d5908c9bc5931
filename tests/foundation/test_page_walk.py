"""Every page of every role, walked in real headless Chromium as that role: each link of its
navigation and the pages a ticket leads to. A page fails on a console error, any 4xx/5xx
answer to the page or its subrequests, a time shown in ISO/UTC form, or an error message
with no Chinese in it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dispatch.service import TicketService
from tests.conftest import ACCOUNTS, PASSWORD
from tests.workorders.conftest import AGENT, wages_ticket

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\bUTC\b")
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def app(aiohttp_client: Any, settings: Any, db: Any, accounts: Any) -> Any:
    from hotline.web.app import create_app

    return await aiohttp_client(create_app(settings, database=db))


async def walk(browser: Any, base: str, username: str, extra: list[str]) -> list[str]:
    problems: list[str] = []
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    # A request cut short because the walk moved on (net::ERR_ABORTED) is not the server's
    # failure; any other failed request is.
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"failed {r.url}: {r.failure}")
            if "ERR_ABORTED" not in (r.failure or "")
            else None
        ),
    )
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    links = await page.locator("nav[aria-label=主导航] a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    for path in [page.url.removeprefix(base)] + links + extra:
        await page.goto(base + path)
        await page.wait_for_load_state("networkidle")
        text = await page.locator("main").inner_text()
        if ISO_TIME.search(text):
            problems.append(f"{path}: a time not in local form: {ISO_TIME.search(text).group(0)}")
        for error in await page.locator(".error, [role=alert]").all_inner_texts():
            if error.strip() and not HAN.search(error):
                problems.append(f"{path}: an error with no Chinese: {error!r}")
    await context.close()
    return problems


@pytest.mark.parametrize("who", sorted(ACCOUNTS))
async def test_every_page_of_every_role_reads_clean(
    app: Any, db: Any, browser: Any, who: str
) -> None:
    number = (await TicketService(db).create(AGENT, wages_ticket())).ticket.number
    extra = {
        "agent": [f"/tickets/{number}", f"/tickets?q={number}", "/tickets/new"],
        "unit": [f"/unit/tickets/{number}", f"/tickets/{number}"],
        "manager": [f"/tickets/{number}", "/tickets?overdue=1"],
    }.get(who, [])
    base = str(app.make_url("")).rstrip("/")
    assert await walk(browser, base, ACCOUNTS[who].username, extra) == []
