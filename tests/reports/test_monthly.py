"""月度报告: the same sections on the printable page and in the XLSX file (parsed back with
openpyxl: sheets, Chinese headings, numbers as numbers, percentages formatted), figures equal
to the call history and the unit ranking of the month, an empty month labelled as such, and
`hotline report monthly` writing the file."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from openpyxl import load_workbook

from hotline.bootstrap import Services
from hotline.cli import main
from hotline.localtime import SHANGHAI
from hotline.ports import TICKET_RECORDS
from reports.monthly import monthly_report
from reports.periods import month_of
from reports.wiring import REPORTS
from reports.xlsx import workbook_bytes
from tests.conftest import login
from tests.reports.test_calls import stored_capture
from tests.reports.test_hotspots import burst
from tests.reports.test_units import november_story
from tests.calls.conftest import capture_dirs

NOVEMBER = month_of(2026, 11, SHANGHAI)
SHEETS = [
    "概览",
    "话务按日",
    "工单按分类",
    "工单按区县",
    "工单按承办单位",
    "热点诉求",
    "承办单位考核",
]


def sheet_rows(ws: Any) -> list[list[Any]]:
    """The table under the headings, up to the blank row before the notes."""
    out = []
    for r in ws.iter_rows(min_row=3, values_only=True):
        if all(v is None for v in r):
            break
        out.append(list(r))
    return out


async def test_monthly_workbook_holds_the_months_figures(services: Services, clock: Any):
    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    await november_story(services, clock)
    reports = services[REPORTS]
    report = await monthly_report(reports, NOVEMBER)
    wb = load_workbook(io.BytesIO(workbook_bytes(report)))
    assert wb.sheetnames == SHEETS
    overview = wb["概览"]
    assert overview["A1"].value == "12345 热线月度报告 · 2026年11月 · 概览"
    assert [c.value for c in overview[2]] == ["指标", "本月", "上月", "环比"]
    figures = {r[0]: r for r in sheet_rows(overview) if r[0]}
    assert figures["呼入量"][1] == len(truth.enter) and figures["呼入量"][2] == 0
    assert figures["接通量"][1] == len(truth.connect_hold)
    connect = figures["接通率"][1]
    assert isinstance(connect, float)
    assert connect == pytest.approx(len(truth.connect_hold) / len(truth.enter), abs=1e-4)
    row = next(r for r in overview.iter_rows(min_row=3) if r[0].value == "接通率")
    assert row[1].number_format == "0.0%"
    assert figures["受理工单"][1] == 4
    # The ranking sheet equals the ranking page's figures.
    ranking = sheet_rows(wb["承办单位考核"])
    assert [r[1] for r in ranking] == ["ZZ-RSJ", "ZZ-GJJ"]
    units = await reports.units(NOVEMBER)
    assert ranking[0][4] == pytest.approx(units.rows[0].rates["signed"])
    assert ranking[1][10] == pytest.approx(45.0)
    categories = {r[0]: r[1] for r in sheet_rows(wb["工单按分类"])}
    assert categories == {"劳动就业": 3, "未分类": 1}
    # By the unit holding each now, by name: the counts equal the tickets' own records.
    names = await reports.unit_names()
    records = await services[TICKET_RECORDS].created_between(NOVEMBER.start, NOVEMBER.end)
    holders = Counter(names[r.unit] if r.unit else "未派单" for r in records)
    assert {r[0]: r[1] for r in sheet_rows(wb["工单按承办单位"])} == holders
    assert len(holders) >= 2
    daily = sheet_rows(wb["话务按日"])
    assert sum(r[1] for r in daily) == len(truth.enter)


async def test_what_rose_on_last_month(services: Services, clock: Any):
    await burst(services, clock)  # 29 days of wage complaints from 23 Nov, water in Dec
    report = await monthly_report(services[REPORTS], month_of(2026, 12, SHANGHAI))
    [rising] = [s for s in report.sections if s.title == "热点诉求"]
    assert rising.rows == [["区县", "二七区", 7, 0, None], ["诉求分类", "供水供电供气", 7, 0, None]]


async def test_an_empty_month_is_a_labelled_empty_report(services: Services):
    report = await monthly_report(services[REPORTS], month_of(2026, 10, SHANGHAI))
    wb = load_workbook(io.BytesIO(workbook_bytes(report)))
    assert wb.sheetnames == SHEETS
    assert wb["话务按日"]["A3"].value == "本月没有话务记录"
    assert wb["工单按分类"]["A3"].value == "本月没有工单"
    assert wb["承办单位考核"]["A3"].value == "本月没有派往承办单位的工单"
    assert wb["热点诉求"]["A3"].value == "本月没有比上月突增的诉求"
    figures = {r[0]: r[1] for r in sheet_rows(wb["概览"]) if r[0]}
    assert figures["呼入量"] == 0 and figures["接通率"] is None


async def test_monthly_page_and_download(services: Services, clock: Any, app_client: Any):
    await november_story(services, clock)
    await login(app_client, "boss")
    page = await app_client.get("/reports/monthly?month=2026-11")
    html = await page.text()
    assert page.status == 200, html
    assert "12345 热线月度报告 · 2026年11月" in html
    for title in SHEETS:
        assert title in html
    got = await app_client.get("/reports/monthly.xlsx?month=2026-11")
    assert got.status == 200
    wb = load_workbook(io.BytesIO(await got.read()))
    assert wb.sheetnames == SHEETS
    assert (await app_client.get("/reports/monthly?month=2026-00")).status == 400
    await login(app_client, "agent1")
    assert (await app_client.get("/reports/monthly.xlsx?month=2026-11")).status == 403


def test_hotline_report_monthly_writes_the_file(tmp_path: Any, monkeypatch: Any, capsys: Any):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    out = tmp_path / "m.xlsx"
    assert main(["report", "monthly", "--month", "2026-11", "--out", str(out)]) == 0
    assert "2026年11月" in capsys.readouterr().out
    wb = load_workbook(out)
    assert wb.sheetnames == SHEETS and wb["工单按分类"]["A3"].value == "本月没有工单"
    assert main(["report", "monthly", "--month", "2026-13", "--out", str(out)]) != 0
    assert "month" in capsys.readouterr().err
