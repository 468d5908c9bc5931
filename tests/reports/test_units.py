"""承办单位考核: rates and scores of units from tickets taken through the real TicketService
(sign on time and late, return and redispatch, extension, replies, call backs, an overdue
ticket), the ranking page, its CSV and JSON, and who may see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from dispatch.tickets import Resolution, Satisfaction
from dispatch.wiring import TICKETS
from hotline.bootstrap import Services
from hotline.config import ConfigError, load_settings
from hotline.localtime import SHANGHAI
from reports.periods import month_of
from reports.wiring import REPORTS
from tests.conftest import login
from tests.workorders.conftest import AGENT, GJJ, MANAGER, RSJ, Clock, wages_ticket

NOVEMBER = month_of(2026, 11, SHANGHAI)


async def november_story(services: Services, clock: Clock) -> dict[str, str]:
    """Monday 2026-11-23 10:00: three tickets to 人社局 (RSJ), one to 公积金 (GJJ)."""
    tickets = services[TICKETS]
    t = {
        name: (await tickets.create(AGENT, wages_ticket(**extra))).ticket.number
        for name, extra in (
            ("t1", {}),
            ("t2", {}),
            ("t3", {}),
            ("t4", {"unit_code": "ZZ-GJJ", "category": None}),
        )
    }
    clock.advance(hours=1)  # 11:00, within the 2 office hours
    await tickets.sign(RSJ, t["t1"])
    await tickets.sign(GJJ, t["t4"])
    await tickets.return_ticket(RSJ, t["t3"], "不属于本单位职责")
    await tickets.redispatch(MANAGER, t["t3"], "ZZ-GJJ")
    await tickets.sign(GJJ, t["t3"])
    clock.advance(hours=2)  # 13:00: past 12:00, the acknowledgement deadline
    view = await tickets.sign(RSJ, t["t2"])
    first_due = view.ticket.due
    await tickets.request_extension(RSJ, t["t2"], first_due + dt.timedelta(days=7), "需现场核查")
    await tickets.approve_extension(MANAGER, t["t2"])
    await tickets.reply(RSJ, t["t1"], "已督促用人单位支付工资")
    await tickets.reply(GJJ, t["t4"], "已答复")
    await tickets.callback(AGENT, t["t1"], Resolution.RESOLVED, Satisfaction.SATISFIED)
    await tickets.callback(AGENT, t["t4"], Resolution.UNRESOLVED, Satisfaction.UNSATISFIED)
    clock.now = first_due + dt.timedelta(hours=2)  # late on the first deadline, not the second
    await tickets.reply(RSJ, t["t2"], "已核查并处理")
    await tickets.callback(AGENT, t["t2"], Resolution.PARTLY, Satisfaction.BASIC)
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=dt.timezone.utc)  # t3 long overdue at GJJ
    return t


async def test_unit_rates_and_ranking_from_real_tickets(services: Services, clock: Clock):
    await november_story(services, clock)
    report = await services[REPORTS].units(NOVEMBER)
    rows = {r.unit: r for r in report.rows}
    assert [r.unit for r in report.rows] == ["ZZ-RSJ", "ZZ-GJJ"]
    rsj, gjj = rows["ZZ-RSJ"], rows["ZZ-GJJ"]
    assert rsj.tally.assigned == 3 and gjj.tally.assigned == 2
    # 签收: t1 on time, t2 late; t3 returned before signing is judged by 退单率 alone.
    assert rsj.rates["signed"] == pytest.approx(1 / 2)
    assert rsj.rates["returned"] == pytest.approx(1 / 3)
    assert rsj.rates["extended"] == pytest.approx(1 / 3)
    assert rsj.rates["on_time"] == 1.0  # t2 replied within its extended deadline
    assert rsj.rates["resolved"] == pytest.approx(1 / 2)
    assert rsj.rates["satisfied"] == 1.0  # 满意 and 基本满意
    assert gjj.rates["signed"] == 1.0  # the redispatched t3 was signed at once
    assert gjj.rates["on_time"] == pytest.approx(1 / 2)  # t3 overdue, never replied
    assert gjj.tally.overdue_open == 1
    assert gjj.rates["returned"] == 0.0 and gjj.rates["extended"] == 0.0
    assert gjj.rates["resolved"] == 0.0 and gjj.rates["satisfied"] == 0.0
    # Default weights .15 .30 .10 .05 .20 .20, 退单率/延期率 as 1 - rate.
    assert rsj.score == pytest.approx(
        100 * (0.15 * 0.5 + 0.3 + 0.1 * 2 / 3 + 0.05 * 2 / 3 + 0.2 * 0.5 + 0.2), abs=0.01
    )
    assert gjj.score == pytest.approx(45.0)
    assert rsj.name != "ZZ-RSJ"  # the directory's name


async def test_records_carry_the_deadlines_in_force_at_each_step(services: Services, clock: Clock):
    from hotline.ports import TICKET_RECORDS
    from tests.workorders.conftest import MONDAY_10H

    t = await november_story(services, clock)
    records = {
        r.number: r
        for r in await services[TICKET_RECORDS].assigned_between(NOVEMBER.start, NOVEMBER.end)
    }
    steps = {s.action: s for s in records[t["t3"]].steps}
    # The first assignment (to RSJ, returned) is worked out again as the service did:
    # 2 office hours from Monday 10:00; the current one (GJJ) is the row's.
    assert steps["dispatch"].unit == "ZZ-RSJ" and steps["redispatch"].unit == "ZZ-GJJ"
    assert steps["dispatch"].acknowledge_due == MONDAY_10H + dt.timedelta(hours=2)
    view = await services[TICKETS].get(MANAGER, t["t3"])
    assert steps["redispatch"].due == view.ticket.due
    assert steps["redispatch"].acknowledge_due == view.ticket.acknowledge_due
    # t1 went to RSJ at the same moment and kept its deadline: t3's first one was the same.
    t1 = (await services[TICKETS].get(MANAGER, t["t1"])).ticket
    assert (
        steps["dispatch"].due == t1.due and steps["dispatch"].acknowledge_due == t1.acknowledge_due
    )
    # An extension approved moves the deadline of the steps after it.
    t2 = {s.action: s for s in records[t["t2"]].steps}
    assert t2["approve_extension"].due > t2["sign"].due


async def test_open_tickets_by_status_and_age(services: Services, clock: Clock):
    await november_story(services, clock)  # on 20 Dec only t3 is open: signed at GJJ, late
    rows = await services[REPORTS].open_tickets()
    assert [(r.status_label, r.by_age, r.total, r.overdue) for r in rows] == [
        ("办理中", [0, 0, 0, 0, 1], 1, 1),
        ("合计", [0, 0, 0, 0, 1], 1, 1),
    ]
    await services[TICKETS].create(AGENT, wages_ticket(unit_code=None))
    rows = await services[REPORTS].open_tickets()
    assert [(r.status_label, r.by_age) for r in rows][:2] == [
        ("已受理", [1, 0, 0, 0, 0]),
        ("办理中", [0, 0, 0, 0, 1]),
    ]


async def test_weights_come_from_the_policy(services: Services, clock: Clock):
    await november_story(services, clock)
    weights = dict(
        score_weight_signed=0.0,
        score_weight_on_time=1.0,
        score_weight_returned=0.0,
        score_weight_extended=0.0,
        score_weight_resolved=0.0,
        score_weight_satisfied=0.0,
    )
    services.settings = services.settings.replace(
        policy=services.settings.policy.__class__(**weights)
    )
    report = await services[REPORTS].units(NOVEMBER)
    assert {r.unit: r.score for r in report.rows} == {"ZZ-RSJ": 100.0, "ZZ-GJJ": 50.0}


async def test_a_month_without_tickets_is_an_empty_ranking(services: Services, clock: Clock):
    await november_story(services, clock)
    assert (await services[REPORTS].units(month_of(2026, 10, SHANGHAI))).rows == []


def test_score_weights_are_validated(tmp_path: Any):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[policy]\nscore_weight_on_time = 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="add up to 1"):
        load_settings(cfg, environ={})
    cfg.write_text(
        "[policy]\nscore_weight_on_time = 0.45\nscore_weight_signed = -0.15\n"
        "score_weight_satisfied = 0.5\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_settings(cfg, environ={})
    cfg.write_text(
        "[policy]\nscore_weight_on_time = 0.4\nscore_weight_extended = 0.0\n"
        "score_weight_signed = 0.1\n",
        encoding="utf-8",
    )
    assert load_settings(cfg, environ={}).policy.score_weights["on_time"] == 0.4


async def test_ranking_page_csv_and_json_for_managers_only(app_client: Any, db: Any, settings: Any):
    from hotline.bootstrap import build

    clock = Clock()
    built = await build(settings, db=db, clock=clock)
    try:
        await november_story(built, clock)
    finally:
        await built.close()
    await login(app_client, "boss")
    page = await app_client.get("/reports/units?month=2026-11")
    html = await page.text()
    assert page.status == 200, html
    assert "承办单位考核 · 2026年11月" in html and "签收率" in html and "50.0%" in html
    assert "77.5" in html and "45.0" in html
    assert "在办工单" in html and "其中超期" in html
    got = await app_client.get("/reports/units.csv?month=2026-11")
    assert got.status == 200 and got.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO((await got.read()).decode("utf-8-sig"))))
    assert rows[0][:4] == ["名次", "单位编码", "承办单位", "派单数"]
    assert rows[1][1] == "ZZ-RSJ" and rows[1][4] == "0.5" and rows[2][1] == "ZZ-GJJ"
    api = await (await app_client.get("/api/v1/reports/units?month=2026-11")).json()
    assert [u["unit"] for u in api["units"]] == ["ZZ-RSJ", "ZZ-GJJ"]
    assert api["units"][0]["rates"]["signed"] == 0.5
    for bad, text in (
        ("2026-13", "月份须在 1 到 12 之间"),
        ("abc", "月份格式"),
        ("1999-01", "年份须在"),
    ):
        resp = await app_client.get(f"/reports/units?month={bad}")
        assert resp.status == 400 and text in await resp.text()
        resp = await app_client.get(f"/api/v1/reports/units?month={bad}")
        assert resp.status == 400 and text in (await resp.json())["error"]["message_zh"]


@pytest.mark.parametrize("user", ["agent1", "rsj"])
async def test_agents_and_units_are_refused(app_client: Any, user: str):
    await login(app_client, user)
    for path in ("/reports/units", "/reports/units.csv", "/api/v1/reports/units"):
        assert (await app_client.get(path)).status == 403
