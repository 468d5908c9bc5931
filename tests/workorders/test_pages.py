"""Unit portal pages: ticket list (overdue first), detail with the masked caller, and the
sign / extension / reply / return forms, through a logged-in browser session."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import update

from dispatch.models import Followup
from hotline.accounts import issue_token
from dispatch.followups import FollowupPump
from tests.conftest import login

from .test_api import ticket_body


async def create(client: Any, db: Any, **changes: Any) -> str:
    token = await issue_token(db, "test", "agent1", "pages")
    resp = await client.post(
        "/api/v1/tickets", json=ticket_body(**changes), headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 201
    return (await resp.json())["ticket"]["number"]


def version_of(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


async def test_unit_portal_list_detail_and_actions(wo_client, db):
    number = await create(wo_client, db, type="举报")
    other = await create(wo_client, db, unit_code="ZZ-GJJ")
    csrf = await login(wo_client, "rsj")
    page = await wo_client.get("/unit/tickets")
    html = await page.text()
    assert page.status == 200 and number in html and other not in html
    assert "工单办理" in re.search(r'<nav aria-label="主导航">(.*?)</nav>', html, re.S).group(1)

    detail = await wo_client.get(f"/unit/tickets/{number}")
    html = await detail.text()
    assert "138****5678" in html and "13812345678" not in html and "张三" not in html
    assert "签收" in html and "拖欠" in html
    version = version_of(html)

    signed = await wo_client.post(
        f"/unit/tickets/{number}/sign",
        data={"_csrf": csrf, "version": version},
        allow_redirects=False,
    )
    assert signed.status == 303 and signed.headers["Location"].endswith("?done=sign")
    again = await wo_client.post(
        f"/unit/tickets/{number}/sign", data={"_csrf": csrf, "version": version}
    )
    assert again.status == 409 and 'role="alert"' in await again.text()

    html = await (await wo_client.get(f"/unit/tickets/{number}?done=sign")).text()
    assert "已签收" in html and "提交答复" in html and "申请延期" in html
    version = version_of(html)
    bad = await wo_client.post(
        f"/unit/tickets/{number}/extension",
        data={"_csrf": csrf, "version": version, "requested_due": "2020-01-01", "reason": "核查"},
    )
    assert bad.status == 400
    ext = await wo_client.post(
        f"/unit/tickets/{number}/extension",
        data={
            "_csrf": csrf,
            "version": version,
            "requested_due": "2099-06-30",
            "reason": "需现场核查",
        },
        allow_redirects=False,
    )
    assert ext.status == 303
    html = await (await wo_client.get(f"/unit/tickets/{number}")).text()
    assert "2099-06-30" in html and "待审核" in html
    replied = await wo_client.post(
        f"/unit/tickets/{number}/reply",
        data={"_csrf": csrf, "version": version_of(html), "text": "已核实并处理"},
        allow_redirects=False,
    )
    assert replied.status == 303
    html = await (await wo_client.get(f"/unit/tickets/{number}")).text()
    assert "已核实并处理" in html and "提交答复" not in html
    assert number not in await (await wo_client.get("/unit/tickets")).text()
    assert number in await (await wo_client.get("/unit/tickets?all=1")).text()


async def test_unit_pages_hide_other_units_and_refuse_other_roles(wo_client, db):
    other = await create(wo_client, db, unit_code="ZZ-GJJ")
    csrf = await login(wo_client, "rsj")
    assert (await wo_client.get(f"/unit/tickets/{other}")).status == 404
    resp = await wo_client.post(
        f"/unit/tickets/{other}/return", data={"_csrf": csrf, "reason": "x"}
    )
    assert resp.status == 404
    await login(wo_client, "agent1")
    assert (await wo_client.get("/unit/tickets")).status == 403


async def test_return_from_the_page_needs_a_reason(wo_client, db):
    number = await create(wo_client, db)
    csrf = await login(wo_client, "rsj")
    resp = await wo_client.post(
        f"/unit/tickets/{number}/return", data={"_csrf": csrf, "reason": " "}
    )
    assert resp.status == 400 and "reason" in await resp.text()
    resp = await wo_client.post(
        f"/unit/tickets/{number}/return",
        data={"_csrf": csrf, "reason": "属于公积金中心职责"},
        allow_redirects=False,
    )
    assert resp.status == 303
    html = await (await wo_client.get(f"/unit/tickets/{number}")).text()
    assert "属于公积金中心职责" in html and "已退单" in html


async def test_reminders_show_on_the_unit_page_until_read(wo_client, db):
    number = await create(wo_client, db)
    async with db.write() as s:  # the acknowledgement deadline has passed
        await s.execute(
            update(Followup)
            .where(Followup.kind == "ack_overdue")
            .values(due_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
        )
    assert await FollowupPump(db).run_once() == 1
    csrf = await login(wo_client, "rsj")
    html = await (await wo_client.get("/unit/tickets")).text()
    notices = re.search(r'id="notifications".*?</section>', html, re.S).group(0)
    assert "签收时限" in notices and number in notices
    note_id = re.search(r"/unit/notifications/(\d+)/read", notices).group(1)
    resp = await wo_client.post(
        f"/unit/notifications/{note_id}/read", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    assert 'id="notifications"' not in await (await wo_client.get("/unit/tickets")).text()
