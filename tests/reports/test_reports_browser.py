"""The manager's report pages in real headless Chromium at 1366x768: the call history of the
busy capture with its charts drawn (no script or style refused by the page's CSP), the table
one click away, another grouping, the CSV and the monthly XLSX downloaded and parsed back
against the capture's queue_log; the ranking, monthly and staffing pages; agents and unit
handlers are refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from openpyxl import load_workbook

from hotline.bootstrap import Services
from tests.calls.conftest import capture_dirs
from tests.conftest import PASSWORD
from tests.reports.test_calls import days_of, stored_capture
from tests.reports.test_units import november_story

WIDTH, HEIGHT = 1366, 768


async def open_as(browser: Any, base: str, username: str) -> tuple[Any, list[str]]:
    context = await browser.new_context(
        locale="zh-CN", accept_downloads=True, viewport={"width": WIDTH, "height": HEIGHT}
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # The browser asks for /favicon.ico by itself; every other failed load is a problem.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page, problems


async def fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide"


async def test_manager_reads_history_ranking_and_monthly(
    services: Services, clock: Any, app_client: Any, browser: Any
):
    from playwright.async_api import expect

    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    await november_story(services, clock)
    first, last = days_of(truth)
    base = str(app_client.make_url("")).rstrip("/")
    page, problems = await open_as(browser, base, "boss")

    await page.click("nav >> text=话务历史")
    await page.fill("input[name=from]", first)
    await page.fill("input[name=to]", last)
    await page.select_option("select[name=group]", "hour")
    await page.click("[data-testid=filter] button[type=submit]")
    await expect(page.locator("h1")).to_contain_text(first)
    drawn = await page.evaluate(
        "['trend', 'volume'].every(id => Chart.getChart(document.getElementById(id)))"
    )
    assert drawn
    await fits(page)
    await page.click("[data-tab=table]")
    table = page.locator("[data-testid=calls-table]")
    await expect(table).to_be_visible()
    hourly = await table.locator("tbody tr").count()
    await page.select_option("select[name=group]", "15min")
    await page.select_option("select[name=by]", "agent")
    await page.click("[data-testid=filter] button[type=submit]")
    await page.wait_for_url("**by=agent**")
    await page.click("[data-tab=table]")
    await expect(table.locator("thead")).to_contain_text("坐席先挂断")
    await expect(table.locator("thead")).to_contain_text("知识库当场解答占比")
    await fits(page)  # the widest table: every agent column
    assert await table.locator("tbody tr").count() > hourly  # one row per agent
    async with page.expect_download() as info:
        await page.click("[data-testid=csv]")
    download = await info.value
    rows = list(csv.reader(io.StringIO(open(await download.path(), encoding="utf-8-sig").read())))
    assert rows[0][:3] == ["时段", "坐席", "接听量"]
    totals = [r for r in rows if r[0] == "合计"]
    assert sum(int(r[2]) for r in totals) == len(truth.connect_hold)
    assert {r[1] for r in totals} == set(truth.agent_of.values())

    await page.click("nav >> text=单位考核")
    await page.fill("input[name=month]", "2026-11")
    await page.click(".report-filter button[type=submit]")
    ranking = page.locator("[data-testid=unit-ranking] tbody tr")
    await expect(ranking).to_have_count(2)
    await fits(page)

    await page.goto(base + "/reports/monthly?month=2026-11")
    await expect(page.locator("[data-testid=section]")).to_have_count(7)
    await fits(page)
    async with page.expect_download() as info:
        await page.click("[data-testid=xlsx]")
    download = await info.value
    assert download.suggested_filename == "monthly-2026-11.xlsx"
    wb = load_workbook(io.BytesIO(open(await download.path(), "rb").read()))
    figures = {r[0]: r[1] for r in wb["概览"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert figures["呼入量"] == len(truth.enter) and figures["接通量"] == len(truth.connect_hold)
    assert [p for p in problems if "favicon" not in p and "Failed to load resource" not in p] == []


async def test_agents_and_unit_handlers_are_refused(app_client: Any, browser: Any, accounts: Any):
    base = str(app_client.make_url("")).rstrip("/")
    for user in ("agent1", "rsj"):
        page, _ = await open_as(browser, base, user)
        for path in ("/reports/calls", "/reports/units", "/reports/monthly", "/reports/staffing"):
            response = await page.goto(base + path)
            assert response.status == 403, (user, path)
        assert "话务历史" not in await page.locator("nav").inner_text()


async def test_wallboard_shows_todays_figures_with_colours(
    services: Services, app_client: Any, browser: Any
):
    """The busy capture moved to today: 40 calls, 28 answered (70 %, red against 80 %)."""
    import dataclasses
    import time

    from calls.ami.offline import track_capture
    from calls.store import CallStore
    from playwright.async_api import expect

    from hotline.localtime import SHANGHAI
    from tests.reports.test_calls import queue_log

    folder = next(p for p in capture_dirs() if p.name == "busy")
    tracker, _ = await track_capture(folder)
    records = tracker.all_records()
    first = min(r.enter_ts for r in records)
    last = max(r.end_ts or r.enter_ts for r in records)
    now = time.time()
    midnight = (
        __import__("datetime")
        .datetime.fromtimestamp(now, SHANGHAI)
        .replace(hour=0, minute=0, second=0, microsecond=0)
        .timestamp()
    )
    # Ended a minute ago, or (just after midnight) started just after midnight.
    by = max(now - 60 - last, midnight + 1 - first)
    writer = CallStore(services.db, "pbx:5038")
    for r in records:
        writer.on_record(
            dataclasses.replace(
                r,
                enter_ts=r.enter_ts + by,
                end_ts=None if r.end_ts is None else r.end_ts + by,
                connect_ts=None if r.connect_ts is None else r.connect_ts + by,
            )
        )
    assert await writer.flush()
    truth = queue_log(folder)

    base = str(app_client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "boss")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.goto(base + "/reports/calls")
    await page.click("[data-testid=wallboard-link]")
    await expect(page.locator("[data-testid=wb-offered]")).to_have_text(str(len(truth.enter)))
    rate = len(truth.connect_hold) / len(truth.enter)
    await expect(page.locator("[data-testid=wb-connect]")).to_have_text(f"{rate * 100:.1f}%")
    box = page.locator("[data-metric=connect_rate]")
    await expect(box).to_have_class(
        "figure " + ("green" if rate >= 0.8 else "amber" if rate >= 0.75 else "red")
    )
    asa = sum(truth.connect_hold.values()) / len(truth.connect_hold)
    await expect(page.locator("[data-testid=wb-asa]")).to_have_text(f"{round(asa)} 秒")
    assert await page.evaluate("Chart.getChart(document.getElementById('trend')) !== undefined")
    size = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1920 and size[1] <= 1080


async def test_manager_reads_staffing_advice(services: Services, app_client: Any, browser: Any):
    """排班建议 a week after the busy capture: the Erlang C advice and, beside it, the patience
    observed and the abandon rates Erlang A expects and the capture shows, within 1366 px."""
    from playwright.async_api import expect

    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    first, _ = days_of(truth)
    day = (dt.date.fromisoformat(first) + dt.timedelta(weeks=1)).isoformat()
    base = str(app_client.make_url("")).rstrip("/")
    page, problems = await open_as(browser, base, "boss")
    await page.goto(base + "/reports/staffing")
    await page.fill("input[name=date]", day)
    await page.fill("input[name=weeks]", "1")
    await page.click(".report-filter button[type=submit]")
    table = page.locator("[data-testid=staffing]")
    await expect(table.locator("thead")).to_contain_text("平均耐心时长")
    headings = await table.locator("thead th").all_inner_texts()
    assert headings[-4:] == [
        "平均耐心时长",
        "预计放弃率（所需坐席）",
        "预计放弃率（历史坐席）",
        "实际放弃率",
    ]
    cells = await table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert cells[-1] == f"{len(truth.abandoned) / len(truth.enter) * 100:.1f}%"
    assert all(c.endswith("%") for c in cells[-3:]) and cells[-4].endswith("秒")
    await fits(page)
    assert [p for p in problems if "favicon" not in p] == []
