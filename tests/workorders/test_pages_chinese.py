"""What people read on the pages is Chinese, in local time (Asia/Shanghai): domain errors show
their Chinese text, the JSON API carries it as `message_zh` beside the English `message`, and
a ticket created late in the UTC evening shows the next day's date."""

from __future__ import annotations

import datetime as dt
import re

from hotline.accounts import issue_token
from hotline.localtime import fmt, zone
from tests.conftest import login

from .conftest import AGENT, wages_ticket
from .test_api import CONTENT, ticket_body
from .test_pages import create, version_of

ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


def alert(html: str) -> str:
    found = ALERT.search(html)
    assert found, html
    return found.group(1)


async def test_new_ticket_form_with_an_unknown_district_says_so_in_chinese(wo_client):
    csrf = await login(wo_client, "agent1")
    resp = await wo_client.post(
        "/tickets/new",
        data={
            "_csrf": csrf,
            "caller_phone": "13812345678",
            "type": "投诉",
            "category": "劳动就业",
            "district": "管城区",
            "content": CONTENT,
        },
    )
    assert resp.status == 400
    html = await resp.text()
    assert alert(html) == "没有“管城区”这个区县，请从列表中选择"
    assert "unknown district" not in html
    assert CONTENT in html and 'value="13812345678"' in html  # kept for correcting
    assert ">金水区</option>" in html and ">管城区</option>" not in html  # a pick list


async def test_unit_portal_conflict_is_chinese(wo_client, db):
    number = await create(wo_client, db)
    csrf = await login(wo_client, "rsj")
    version = version_of(await (await wo_client.get(f"/unit/tickets/{number}")).text())
    signed = await wo_client.post(
        f"/unit/tickets/{number}/sign",
        data={"_csrf": csrf, "version": version},
        allow_redirects=False,
    )
    assert signed.status == 303
    # The same form again: the version it was rendered with is stale now.
    again = await wo_client.post(
        f"/unit/tickets/{number}/sign", data={"_csrf": csrf, "version": version}
    )
    assert again.status == 409
    html = await again.text()
    assert alert(html) == f"工单 {number} 已被他人修改，请刷新页面后再操作"
    assert "changed meanwhile" not in html and "reload" not in html
    # Without a version the state decides: a signed ticket cannot be signed again.
    twice = await wo_client.post(f"/unit/tickets/{number}/sign", data={"_csrf": csrf})
    assert twice.status == 409
    assert alert(await twice.text()) == "工单当前状态为“办理中”，不能签收；请刷新页面查看最新状态"


async def test_json_errors_carry_the_chinese_text_beside_the_english(wo_client, db):
    token = await issue_token(db, "test", "agent1", "zh")
    auth = {"Authorization": f"Bearer {token}"}
    resp = await wo_client.post(
        "/api/v1/tickets", json=ticket_body(district="管城区"), headers=auth
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["message"] == "unknown district '管城区'"
    assert error["message_zh"] == "没有“管城区”这个区县，请从列表中选择"
    # An error without a Chinese text of its own: the generic one of its status.
    resp = await wo_client.get("/api/v1/nothing-here", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"]["message_zh"] == "页面不存在"


async def test_ticket_times_on_the_pages_are_local(wo_client, db, service, clock):
    # 23:30 UTC on Monday 2026-11-23 is 07:30 on Tuesday in Zhengzhou.
    clock.now = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.timezone.utc)
    created = await service.create(AGENT, wages_ticket())
    number = created.ticket.number
    assert number.startswith("20261124-")  # the number's date is local too

    await login(wo_client, "rsj")
    html = await (await wo_client.get(f"/unit/tickets/{number}")).text()
    events = re.search(r"<table.*?</table>", html[html.index("办理记录") :], re.S).group(0)
    assert "2026-11-24 07:30" in events and "2026-11-23 23:30" not in html
    ticket = created.ticket
    for moment in (ticket.acknowledge_due, ticket.due):
        assert fmt(moment, tz=zone("Asia/Shanghai")) in html


def test_fmt_is_local_wall_clock():
    moment = dt.datetime(2026, 12, 31, 16, 5, tzinfo=dt.timezone.utc)
    assert fmt(moment) == "2027-01-01 00:05"
    assert fmt(moment, "%m-%d %H:%M:%S") == "01-01 00:05:00"
    assert fmt(None) == ""


async def test_audit_page_shows_local_time(wo_client, db):
    from hotline import audit

    async with db.write() as s:
        entry = audit.record(s, "boss", "test.local_time", "ticket", "20261124-0001")
        entry.at = dt.datetime(2026, 11, 23, 23, 30, 5, tzinfo=dt.timezone.utc)
    await login(wo_client, "boss")
    html = await (await wo_client.get("/audit")).text()
    row = re.search(r"<tr><td>([^<]*)</td><td>boss</td><td>test.local_time</td>", html)
    assert row and row.group(1) == "2026-11-24 07:30:05"


async def test_validation_errors_name_the_field_in_chinese(wo_client, db):
    token = await issue_token(db, "test", "agent1", "zh")
    auth = {"Authorization": f"Bearer {token}"}
    resp = await wo_client.post("/api/v1/tickets", json=ticket_body(content=42), headers=auth)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["message"] == "content must be a string"
    assert error["message_zh"] == "字段 content 须为文本"
    resp = await wo_client.get("/api/v1/tickets?limit=many", headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"]["message_zh"] == "参数 limit 须为整数"
