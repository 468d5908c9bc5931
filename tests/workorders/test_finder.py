"""Finding any ticket (工单查询) and the whole ticket on one page, for every role: what each
role may find and see, in Chinese and local time. Tickets are made through the real service
with the service's clock; pages are read through logged-in sessions of the real app."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.tickets import TicketType
from hotline.localtime import SHANGHAI
from hotline.models import AuditEntry
from tests.conftest import login

from .conftest import AGENT, RSJ, wages_ticket

NOISE = "来电人反映二七区一处建筑工地夜间施工噪音扰民，要求城管部门查处。"


def numbers_in(html: str) -> list[str]:
    table = re.search(r'data-testid="search-results".*?</table>', html, re.S)
    return re.findall(r'href="/tickets/(\d{8}-\d{4})"', table.group(0)) if table else []


@pytest.fixture
async def made(service: Any, clock: Any, accounts: Any) -> dict[str, str]:
    """Four tickets by agent1: wages to ZZ-RSJ the day before (local), then on the 23rd wages
    to ZZ-RSJ, a 举报 (confidential) to ZZ-RSJ and noise not dispatched."""
    clock.now = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.timezone.utc)  # the 22nd, local
    out = {"earlier": (await service.create(AGENT, wages_ticket())).ticket.number}
    clock.now = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.timezone.utc)  # 07:30 on the 23rd
    out["wages"] = (await service.create(AGENT, wages_ticket())).ticket.number
    out["report"] = (
        await service.create(
            AGENT,
            wages_ticket(
                type=TicketType.REPORT,
                caller_phone="13700009876",
                caller_name="李四",
                content="举报金水区某工厂夜间偷排污水",
            ),
        )
    ).ticket.number
    out["noise"] = (
        await service.create(
            AGENT,
            wages_ticket(
                content=NOISE,
                category="城市管理",
                district="二七区",
                unit_code=None,
                caller_phone="13900001111",
            ),
        )
    ).ticket.number
    clock.now = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.timezone.utc)
    return out


async def search(client: Any, query: str, status: int = 200) -> str:
    resp = await client.get("/tickets?" + query)
    html = await resp.text()
    assert resp.status == status, html
    return html


async def test_an_agent_finds_tickets_by_number_phone_name_words_and_filters(wo_client, made):
    await login(wo_client, "agent1")
    page = await search(wo_client, "")
    assert numbers_in(page) == [] and "工单查询" in page  # nothing listed before asking
    assert numbers_in(await search(wo_client, f"q={made['noise']}")) == [made["noise"]]
    assert numbers_in(await search(wo_client, "q=139-0000-1111")) == [made["noise"]]
    assert numbers_in(await search(wo_client, "q=李四")) == [made["report"]]
    assert numbers_in(await search(wo_client, "q=施工噪音")) == [made["noise"]]
    assert numbers_in(await search(wo_client, "q=%25")) == []  # LIKE wildcards are literal
    newest_first = [made["noise"], made["report"], made["wages"], made["earlier"]]
    assert numbers_in(await search(wo_client, "mine=1")) == newest_first
    assert numbers_in(await search(wo_client, "unit=ZZ-RSJ&from=2026-11-23&to=2026-11-23")) == [
        made["report"],
        made["wages"],
    ]
    assert numbers_in(await search(wo_client, "to=2026-11-22")) == [made["earlier"]]
    assert numbers_in(await search(wo_client, "status=created&district=二七区")) == [made["noise"]]
    assert numbers_in(await search(wo_client, "category=城市管理&status=closed")) == []
    html = await search(wo_client, "q=施工噪音")
    row = re.search(r"<tr class=\"\">(.*?)</tr>", html, re.S).group(1)
    assert "2026-11-23 07:30" in row and "二七区" in row and "已受理" in row


async def test_bad_search_input_is_a_chinese_message_not_a_500(wo_client, made):
    await login(wo_client, "agent1")
    html = await search(wo_client, "from=2026-11-30&to=2026-11-01", 400)
    assert "起始日期晚于结束日期" in html
    assert "须为日期" in await search(wo_client, "from=30.11.2026", 400)
    assert "工单状态参数无效" in await search(wo_client, "status=bogus", 400)
    assert "参数 offset" in await search(wo_client, "q=x&offset=-1", 400)


async def test_a_unit_finds_only_its_tickets_and_never_a_confidential_caller(wo_client, made):
    await login(wo_client, "rsj")
    assert sorted(numbers_in(await search(wo_client, "q=金水区"))) == sorted(
        [made["wages"], made["report"], made["earlier"]]
    )
    # The whistle-blower's number and name find nothing for the unit (they do for an agent).
    assert numbers_in(await search(wo_client, "q=13700009876")) == []
    assert numbers_in(await search(wo_client, "q=李四")) == []
    assert numbers_in(await search(wo_client, "phone=13700009876")) == []
    assert numbers_in(await search(wo_client, f"q={made['noise']}")) == []  # not its unit
    html = await search(wo_client, f"q={made['report']}")
    assert numbers_in(html) == [made["report"]]
    assert "13700009876" not in html and "李四" not in html and "137****9876" in html


async def test_the_ticket_page_shows_the_whole_ticket_in_chinese_and_local_time(wo_client, made):
    await login(wo_client, "agent1")
    resp = await wo_client.get(f"/tickets/{made['wages']}")
    html = await resp.text()
    assert resp.status == 200, html
    assert "人力资源和社会保障局" in re.search(r'data-testid="ticket-unit">(.*?)</dd>', html).group(
        1
    )
    assert "2026-11-23 07:30" in html and "2026-11-22 23:30" not in html  # local, not UTC
    events = re.search(r'data-testid="ticket-events".*?</table>', html, re.S).group(0)
    assert "受理" in events and "派单" in events and "已派单" in events
    assert "承办单位：" in events and "\\u" not in events and "{" not in events
    due = re.search(r'data-testid="ticket-due">(.*?)</dd>', html, re.S).group(1)
    assert re.search(r"剩余 \d+ 个工作日", due)
    followups = re.search(r'data-testid="ticket-followups".*?</table>', html, re.S).group(0)
    assert "催办" in followups and "督办" in followups and "待发出" in followups
    # An undispatched ticket offers the agent a dispatch form with unit names.
    html = await (await wo_client.get(f"/tickets/{made['noise']}")).text()
    actions = re.search(r'data-testid="ticket-actions">(.*?)</div>', html, re.S).group(1)
    assert "派单" in actions and "城市管理局" in actions
    missing = await wo_client.get("/tickets/20991231-0001")
    assert missing.status == 404 and "工单 20991231-0001 不存在" in await missing.text()


async def test_a_unit_opens_its_ticket_masked_and_not_another_units(wo_client, made):
    await login(wo_client, "gjj")
    assert (await wo_client.get(f"/tickets/{made['wages']}")).status == 404
    await login(wo_client, "rsj")
    html = await (await wo_client.get(f"/tickets/{made['report']}")).text()
    caller = re.search(r'data-testid="ticket-caller">(.*?)</dd>', html, re.S).group(1)
    assert "137****9876" in caller and "李四" not in html and "（保密）" in caller
    assert f'href="/unit/tickets/{made["report"]}"' in html  # its actions live on the portal


async def test_roles_that_handle_no_tickets_are_refused(wo_client, made):
    await login(wo_client, "editor")
    assert (await wo_client.get("/tickets?q=x")).status == 403
    assert (await wo_client.get(f"/tickets/{made['wages']}")).status == 403


async def test_the_api_list_takes_the_same_search(wo_client, made, db):
    from hotline.accounts import issue_token

    agent = {"Authorization": "Bearer " + await issue_token(db, "test", "agent1", "t")}
    unit = {"Authorization": "Bearer " + await issue_token(db, "test", "rsj", "t")}
    found = await (await wo_client.get("/api/v1/tickets?q=施工噪音", headers=agent)).json()
    assert [t["number"] for t in found["tickets"]] == [made["noise"]]
    found = await (await wo_client.get("/api/v1/tickets?q=李四", headers=unit)).json()
    assert found["tickets"] == []
    resp = await wo_client.get("/api/v1/tickets?from=2026-12-01&to=2026-11-01", headers=agent)
    assert (
        resp.status == 400 and (await resp.json())["error"]["message_zh"] == "起始日期晚于结束日期"
    )


async def test_the_audit_log_reads_in_chinese_and_local_time(wo_client, made, db):
    await login(wo_client, "boss")
    html = await (await wo_client.get("/audit")).text()
    details = re.findall(r'data-testid="audit-detail">(.*?)</td>', html, re.S)
    assert any("category：城市管理" in d and "district：二七区" in d for d in details)
    assert "\\u" not in html and "UTC" not in html
    async with db.read() as s:
        newest = await s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    local = newest.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert f"<td>{local}</td>" in html


async def test_the_navigation_counts_what_waits_for_each_role(wo_client, made, service, db):
    from hotline.accounts import issue_token

    async def counts(user: str) -> dict[str, int]:
        token = await issue_token(db, "test", user, "t")
        resp = await wo_client.get(
            "/api/v1/nav/counts", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 200
        return (await resp.json())["counts"]

    # rsj: three dispatched tickets open, nothing unread yet; one answered: the agents owe
    # its caller a call back.
    assert await counts("rsj") == {"/unit/tickets": 0, "/unit": 3}
    assert await counts("agent1") == {"/tickets/callbacks": 0, "/calls/missed": 0}
    await service.sign(RSJ, made["wages"])
    await service.reply(RSJ, made["wages"], "已督促公司支付")
    assert await counts("rsj") == {"/unit/tickets": 0, "/unit": 2}
    assert await counts("agent1") == {"/tickets/callbacks": 1, "/calls/missed": 0}
    boss = await counts("boss")
    token = await issue_token(db, "test", "boss", "t")
    overdue = await (
        await wo_client.get(
            "/api/v1/tickets?overdue=1", headers={"Authorization": f"Bearer {token}"}
        )
    ).json()
    assert boss == {"/tickets/review": 0, "/tickets?overdue=1": len(overdue["tickets"])}
    assert await counts("editor") == {}
    await login(wo_client, "agent1")
    html = await (await wo_client.get("/desk")).text()
    assert '<script src="/static/nav.js" defer></script>' in html
