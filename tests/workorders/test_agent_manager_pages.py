"""Agent pages (新建工单 with dispatch, 回访) and the manager's 工单审核 page, through logged-in
browser sessions; the units act through the API."""

from __future__ import annotations

import re
from typing import Any

from hotline.accounts import issue_token
from tests.conftest import login

from .test_api import CONTENT


def version_in(html: str, number: str) -> str:
    return re.search(rf'action="/tickets/{number}/[^"]+">\s*<input type="hidden" name="_csrf" '
                     rf'value="[^"]*"><input type="hidden" name="version" value="(\d+)"',
                     html).group(1)


async def as_unit(client: Any, db: Any, user: str, number: str, action: str,
                  body: dict[str, Any] | None = None) -> None:
    token = await issue_token(db, "test", user, "pages")
    resp = await client.post(f"/api/v1/tickets/{number}/{action}", json=body or {},
                             headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()


async def new_by_form(client: Any, csrf: str, **changes: Any) -> tuple[str, str]:
    form = {"_csrf": csrf, "caller_phone": "13812345678", "caller_name": "张三", "type": "投诉",
            "category": "劳动就业", "district": "金水区", "address": "金水路1号",
            "content": CONTENT, "call_id": "1700000000.42"}
    form.update(changes)
    resp = await client.post("/tickets/new", data=form)
    html = await resp.text()
    assert resp.status == 201, html
    number = re.search(r"确认派单：工单 (\d{8}-\d{4,6})", html).group(1)
    return number, html


async def dispatch_by_form(client: Any, csrf: str, number: str, html: str, unit: str) -> None:
    resp = await client.post(f"/tickets/{number}/dispatch",
                             data={"_csrf": csrf, "version": version_in(html, number),
                                   "unit_code": unit}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == f"/tickets/new?dispatched={number}"


async def test_agent_creates_dispatches_and_calls_back_manager_redispatches(wo_client, db):
    csrf = await login(wo_client, "agent1")
    form = await wo_client.get("/tickets/new?call_id=1700000000.99&phone=13900001111")
    html = await form.text()
    assert form.status == 200 and 'value="1700000000.99"' in html and 'value="13900001111"' in html
    assert "新建工单" in re.search(r'<nav aria-label="主导航">(.*?)</nav>', html, re.S).group(1)

    bad = await wo_client.post("/tickets/new", data={"_csrf": csrf, "type": "投诉", "content": ""})
    assert bad.status == 400 and 'role="alert"' in await bad.text()

    number, html = await new_by_form(wo_client, csrf, urgent="1")
    assert "建议承办单位" in html
    await dispatch_by_form(wo_client, csrf, number, html, "ZZ-RSJ")
    assert f"工单 {number} 已派单" in await (await wo_client.get(f"/tickets/new?dispatched={number}")).text()
    again = await wo_client.post(f"/tickets/{number}/dispatch",
                                 data={"_csrf": csrf, "version": version_in(html, number),
                                       "unit_code": "ZZ-RSJ"})
    # The form still carries the version it was rendered with: the ticket moved on since.
    assert again.status == 409 and 'role="alert"' in await again.text()

    await as_unit(wo_client, db, "rsj", number, "sign")
    await as_unit(wo_client, db, "rsj", number, "reply", {"text": "已督促公司支付工资"})

    html = await (await wo_client.get("/tickets/callbacks")).text()
    assert number in html and "已督促公司支付工资" in html
    resp = await wo_client.post(f"/tickets/{number}/callback",
                                data={"_csrf": csrf, "version": version_in(html, number),
                                      "resolution": "未解决", "satisfaction": "不满意",
                                      "note": "工资仍未到账"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/tickets/callbacks?done={number}"
    html = await (await wo_client.get(resp.headers["Location"])).text()
    assert f"工单 {number} 已回访" in html and f"/tickets/{number}/callback" not in html

    returned, html = await new_by_form(wo_client, csrf)
    await dispatch_by_form(wo_client, csrf, returned, html, "ZZ-GJJ")
    await as_unit(wo_client, db, "gjj", returned, "return", {"reason": "不属于公积金中心职责"})
    assert (await wo_client.get("/tickets/review")).status == 403

    wo_client.session.cookie_jar.clear()
    csrf = await login(wo_client, "boss")
    html = await (await wo_client.get("/tickets/review")).text()
    assert returned in html and "不属于公积金中心职责" in html and number in html
    resp = await wo_client.post(f"/tickets/{returned}/review/redispatch",
                                data={"_csrf": csrf, "version": version_in(html, returned),
                                      "unit_code": "ZZ-RSJ", "note": "劳动监察职责"},
                                allow_redirects=False)
    assert resp.status == 303
    html = await (await wo_client.get(resp.headers["Location"])).text()
    assert "已改派" in html and f"/tickets/{returned}/review/" not in html
    resp = await wo_client.post(f"/tickets/{number}/review/close",
                                data={"_csrf": csrf, "version": version_in(html, number)},
                                allow_redirects=False)
    assert resp.status == 303
    html = await (await wo_client.get("/tickets/review")).text()
    assert f"/tickets/{number}/review/" not in html
    assert (await wo_client.get("/tickets/new")).status == 403
