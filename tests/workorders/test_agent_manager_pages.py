"""Agent pages (新建工单: created and dispatched in one step, or dispatched later from the ticket's
page; 回访) and the manager's 工单审核 page, through logged-in browser sessions; the units act
through the API."""

from __future__ import annotations

import re
from typing import Any

from hotline.accounts import issue_token
from tests.conftest import login

from .test_api import CONTENT


def version_in(html: str, number: str) -> str:
    return re.search(
        rf'action="/tickets/{number}/[^"]+"[^>]*>\s*<input type="hidden" name="_csrf" '
        rf'value="[^"]*"><input type="hidden" name="version" value="(\d+)"',
        html,
    ).group(1)


async def as_unit(
    client: Any, db: Any, user: str, number: str, action: str, body: dict[str, Any] | None = None
) -> None:
    token = await issue_token(db, "test", user, "pages")
    resp = await client.post(
        f"/api/v1/tickets/{number}/{action}",
        json=body or {},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 200, await resp.text()


async def new_by_form(client: Any, csrf: str, **changes: Any) -> tuple[str, str]:
    """Submits the 受理单; returns the new ticket's number and its page."""
    form = {
        "_csrf": csrf,
        "caller_phone": "13812345678",
        "caller_name": "张三",
        "type": "投诉",
        "category": "劳动就业",
        "district": "金水区",
        "address": "金水路1号",
        "content": CONTENT,
        "call_id": "1700000000.42",
    }
    form.update(changes)
    resp = await client.post("/tickets/new", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    number = re.fullmatch(
        r"/tickets/(\d{8}-\d{4,6})\?done=created", resp.headers["Location"]
    ).group(1)
    html = await (await client.get(resp.headers["Location"])).text()
    return number, html


async def dispatch_by_form(client: Any, csrf: str, number: str, html: str, unit: str) -> None:
    resp = await client.post(
        f"/tickets/{number}/dispatch",
        data={"_csrf": csrf, "version": version_in(html, number), "unit_code": unit},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == f"/tickets/{number}?done=dispatched"


async def test_agent_creates_dispatches_and_calls_back_manager_redispatches(wo_client, db):
    csrf = await login(wo_client, "agent1")
    form = await wo_client.get("/tickets/new?call_id=1700000000.99&phone=13900001111")
    html = await form.text()
    assert form.status == 200 and 'value="1700000000.99"' in html and 'value="13900001111"' in html
    assert "新建工单" in re.search(r'<nav aria-label="主导航">(.*?)</nav>', html, re.S).group(1)

    bad = await wo_client.post("/tickets/new", data={"_csrf": csrf, "type": "投诉", "content": ""})
    assert bad.status == 400 and 'role="alert"' in await bad.text()

    number, html = await new_by_form(wo_client, csrf, urgent="1")
    assert "工单已受理，请选择承办单位派单" in html
    suggested = re.search(r'data-testid="ticket-suggestions">(.*?)</div>', html, re.S).group(1)
    assert "派至 郑州市人力资源和社会保障局" in suggested  # names, not codes
    await dispatch_by_form(wo_client, csrf, number, html, "ZZ-RSJ")
    done = await (await wo_client.get(f"/tickets/{number}?done=dispatched")).text()
    assert "工单已派单，承办单位：郑州市人力资源和社会保障局" in done
    again = await wo_client.post(
        f"/tickets/{number}/dispatch",
        data={"_csrf": csrf, "version": version_in(html, number), "unit_code": "ZZ-RSJ"},
    )
    # The form still carries the version it was rendered with: the ticket moved on since.
    assert again.status == 409 and "已被他人修改" in await again.text()

    await as_unit(wo_client, db, "rsj", number, "sign")
    await as_unit(wo_client, db, "rsj", number, "reply", {"text": "已督促公司支付工资"})

    html = await (await wo_client.get("/tickets/callbacks")).text()
    assert number in html and "已督促公司支付工资" in html
    resp = await wo_client.post(
        f"/tickets/{number}/callback",
        data={
            "_csrf": csrf,
            "version": version_in(html, number),
            "resolution": "未解决",
            "satisfaction": "不满意",
            "note": "工资仍未到账",
        },
        allow_redirects=False,
    )
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
    # 改派: no unit preselected, units by name.
    assert '<option value="" selected>请选择承办单位</option>' in html
    assert ">郑州市人力资源和社会保障局（ZZ-RSJ）</option>" in html
    resp = await wo_client.post(
        f"/tickets/{returned}/review/redispatch",
        data={
            "_csrf": csrf,
            "version": version_in(html, returned),
            "unit_code": "ZZ-RSJ",
            "note": "劳动监察职责",
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    html = await (await wo_client.get(resp.headers["Location"])).text()
    assert "已改派" in html and f"/tickets/{returned}/review/" not in html
    resp = await wo_client.post(
        f"/tickets/{number}/review/close",
        data={"_csrf": csrf, "version": version_in(html, number)},
        allow_redirects=False,
    )
    assert resp.status == 303
    html = await (await wo_client.get("/tickets/review")).text()
    assert f"/tickets/{number}/review/" not in html
    assert (await wo_client.get("/tickets/new")).status == 403


async def test_the_form_creates_and_dispatches_in_one_step_once_however_often_sent(wo_client, db):
    csrf = await login(wo_client, "agent1")
    form = await (await wo_client.get("/tickets/new")).text()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', form).group(1)
    assert ">郑州市人力资源和社会保障局</option>" in form and ">金水区</option>" in form
    number, html = await new_by_form(wo_client, csrf, unit_code="ZZ-RSJ", idempotency_key=key)
    assert "工单已受理，承办单位：郑州市人力资源和社会保障局" in html and "已派单" in html
    # The same form sent again (a reload, a double click): the same ticket, not a second one.
    again, _ = await new_by_form(wo_client, csrf, unit_code="ZZ-RSJ", idempotency_key=key)
    other, _ = await new_by_form(
        wo_client, csrf, unit_code="ZZ-RSJ", idempotency_key=key.replace(key[0], "x", 1)
    )
    assert again == number and other != number
    bad = await wo_client.post(
        "/tickets/new",
        data={
            "_csrf": csrf,
            "type": "投诉",
            "content": CONTENT,
            "unit_code": "ZZ-NOPE",
            "idempotency_key": "k1",
        },
    )
    html = await bad.text()
    assert bad.status == 400 and "承办单位 ZZ-NOPE 不存在或已停用" in html
    assert 'name="idempotency_key" value="k1"' in html  # kept: nothing was created
    token = await issue_token(db, "test", "agent1", "pages")
    found = await (
        await wo_client.get("/api/v1/tickets?mine=1", headers={"Authorization": f"Bearer {token}"})
    ).json()
    assert sorted(t["number"] for t in found["tickets"]) == sorted([number, other])


async def test_a_manager_keeps_the_dispatch_catalogue_in_a_page(wo_client, db):
    csrf = await login(wo_client, "boss")
    page = await (await wo_client.get("/dispatch/catalogue")).text()
    assert "暂无规则" in page and ">郑州住房公积金管理中心</option>" in page
    bad = await wo_client.post(
        "/dispatch/catalogue", data={"_csrf": csrf, "category": "住房公积金"}
    )
    assert bad.status == 400 and "请选择诉求类别和承办单位" in await bad.text()
    added = await wo_client.post(
        "/dispatch/catalogue",
        allow_redirects=False,
        data={
            "_csrf": csrf,
            "category": "住房公积金",
            "district": "金水区",
            "unit_code": "ZZ-GJJ",
            "note": "金水区的公积金业务由中心直接办理",
        },
    )
    assert added.status == 303
    page = await (await wo_client.get(added.headers["Location"])).text()
    rules = re.search(r'data-testid="catalogue-rules">(.*?)</table>', page, re.S).group(1)
    assert "已添加派单规则" in page and "郑州住房公积金管理中心" in rules and "金水区" in rules
    again = await wo_client.post(
        "/dispatch/catalogue",
        data={"_csrf": csrf, "category": "住房公积金", "district": "金水区", "unit_code": "ZZ-GJJ"},
    )
    assert again.status == 409 and 'role="alert"' in await again.text()
    rule_id = re.search(r'action="/dispatch/catalogue/(\d+)/delete"', page).group(1)
    gone = await wo_client.post(
        f"/dispatch/catalogue/{rule_id}/delete", data={"_csrf": csrf}, allow_redirects=False
    )
    assert gone.status == 303
    assert "暂无规则" in await (await wo_client.get("/dispatch/catalogue")).text()
    await login(wo_client, "agent1")
    assert (await wo_client.get("/dispatch/catalogue")).status == 403
