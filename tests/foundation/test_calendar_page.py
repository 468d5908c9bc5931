"""Next year's holiday schedule entered by an admin in a page: checked as the shipped data is,
applied at once to the deadlines the running service computes, and read by other instances."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hotline import workcalendar
from hotline.db import Database
from sla.calendar import SHANGHAI
from tests.conftest import login

SCHEDULE = {
    "year": "2027",
    "holidays": "2027-01-01\n2027-02-15 至 2027-02-19，2027-10-01~2027-10-07",
    "workdays": "2027-02-14、2027-02-20",
    "note": "国办发明电〔2026〕X号",
}


async def test_an_admin_enters_next_years_schedule(
    client: Any, accounts: Any, db: Database
) -> None:
    csrf = await login(client, "root")
    page = await (await client.get("/admin/calendar")).text()
    assert "工作日历缺少 2027 年" in page  # the shipped data stops at 2026
    from hotline.web.keys import SERVICES

    calendar = client.app[SERVICES].calendar
    assert not calendar.covers(2027)

    bad = await client.post(
        "/admin/calendar", data={"_csrf": csrf, **SCHEDULE, "workdays": "2027-03-02"}
    )  # a Tuesday
    assert bad.status == 400 and "调休上班日须为周六或周日：2027-03-02" in await bad.text()
    bad = await client.post(
        "/admin/calendar", data={"_csrf": csrf, **SCHEDULE, "holidays": "明年春节"}
    )
    assert bad.status == 400 and "不是日期或日期区间" in await bad.text()
    assert not calendar.covers(2027)

    saved = await client.post(
        "/admin/calendar", data={"_csrf": csrf, **SCHEDULE}, allow_redirects=False
    )
    assert saved.status == 303
    page = await (await client.get(saved.headers["Location"])).text()
    assert "已保存 2027 年节假日安排" in page and "工作日历缺少" not in page
    assert "国办发明电〔2026〕X号" in page
    # The running service's calendar has the year: the Spring Festival is off, the Sunday
    # before it is worked.
    assert calendar.covers(2027)
    assert not calendar.is_workday(dt.date(2027, 2, 16)) and calendar.is_workday(
        dt.date(2027, 2, 14)
    )
    start = dt.datetime(2027, 2, 12, 10, 0, tzinfo=SHANGHAI)  # a Friday
    assert calendar.add_workdays(start, 2).date() == dt.date(2027, 2, 20)  # Sun 14, Sat 20
    health = await (await client.get("/healthz")).json()
    assert health["calendar_missing_years"] == []
    # Another instance: a new process's calendar loads the entered year from the database.
    assert (await workcalendar.load(db)).is_workday(dt.date(2027, 2, 20))
    other = workcalendar.LiveCalendar.of(workcalendar.WorkCalendar.default())
    await workcalendar.refresh(db, other)
    assert other.covers(2027)


async def test_only_admins_edit_the_calendar(client: Any, accounts: Any) -> None:
    await login(client, "boss")
    assert (await client.get("/admin/calendar")).status == 403
