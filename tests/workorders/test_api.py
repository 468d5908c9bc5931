"""The work-order API through the real app: roles, unit isolation, masking, bad input,
conflicts, the public progress lookup — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from dispatch.models import Followup, Ticket
from hotline.accounts import NewUser, create_user, issue_token
from hotline.models import Role
from dispatch.followups import FollowupPump
from tests.conftest import PASSWORD, login

CONTENT = (
    "来电人反映在金水区某公司工作半年，公司拖欠三个月工资共计一万二千元，"
    "多次讨要未果，要求劳动监察部门督促支付。"
)


@pytest.fixture
async def tokens(db, accounts) -> dict[str, dict[str, str]]:
    """Bearer headers per sample user: several users at once on one client, no CSRF."""
    out = {}
    for acc in accounts.values():
        token = await issue_token(db, "test", acc.username, "tests")
        out[acc.username] = {"Authorization": f"Bearer {token}"}
    return out


async def call(
    client: Any,
    method: str,
    path: str,
    who: dict[str, str] | None,
    body: Any = None,
    status: int = 200,
) -> Any:
    resp = await client.request(method, path, headers=who or {}, json=body)
    data = await resp.json()
    assert resp.status == status, data
    return data


def ticket_body(**changes: Any) -> dict[str, Any]:
    body = {
        "content": CONTENT,
        "type": "投诉",
        "category": "劳动就业",
        "district": "金水区",
        "caller_name": "张三",
        "caller_phone": "13812345678",
        "unit_code": "ZZ-RSJ",
        "call_id": "1700000000.42",
    }
    body.update(changes)
    return body


async def new_ticket(client, tokens, **changes) -> dict[str, Any]:
    data = await call(
        client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(**changes), 201
    )
    return data["ticket"]


async def test_agent_asks_advice_then_creates_a_ticket(wo_client, tokens):
    text = {"text": CONTENT, "district": "金水区", "category": "劳动就业"}
    advice = await call(wo_client, "POST", "/api/v1/tickets/advice", tokens["agent1"], text)
    assert advice["suggestions"][0]["unit_code"] in ("ZZ-RSJ", "ZZ-RSJ-JC")
    assert advice["suggestions"][0]["reasons"] and advice["similar"] == []
    data = await call(wo_client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(), 201)
    t = data["ticket"]
    assert list(data) == ["ticket"]  # the advice is asked for before, not computed again
    assert t["status"] == "dispatched" and t["main_unit"] == "ZZ-RSJ"
    assert t["status_label"] == "已派单" and t["number"].endswith("-0001")
    assert t["due"] and t["acknowledge_due"] and t["created_by"] == "agent1"
    again = await call(wo_client, "POST", "/api/v1/tickets/advice?limit=1", tokens["agent1"], text)
    assert [c["number"] for c in again["similar"]] == [t["number"]]
    assert len(again["suggestions"]) == 1
    await call(wo_client, "POST", "/api/v1/tickets/advice", tokens["rsj"], text, 403)
    detail = await call(wo_client, "GET", f"/api/v1/tickets/{t['number']}", tokens["agent1"])
    assert [e["action"] for e in detail["events"]] == ["create", "dispatch"]


async def test_suggest_unit_and_similar_endpoints(wo_client, tokens):
    await new_ticket(wo_client, tokens)
    found = await call(
        wo_client,
        "POST",
        "/api/v1/tickets/suggest-unit",
        tokens["agent1"],
        {"text": "公积金贷款额度怎么算", "district": None, "category": None},
    )
    assert found["suggestions"][0]["unit_code"] == "ZZ-GJJ"
    similar = await call(
        wo_client,
        "POST",
        "/api/v1/tickets/similar",
        tokens["agent1"],
        {"text": "公司拖欠我三个月工资，要求劳动监察督促", "district": "金水区"},
    )
    assert len(similar["similar"]) == 1


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"content": "长" * 10_000}, "content"),
        ({"content": ""}, "content"),
        ({"unit_code": "ZZ-NOPE"}, "unit_code"),
        ({"category": "不存在"}, "category"),
        ({"district": "火星区"}, "district"),
        ({"due": "2020-01-01"}, "due"),
        ({"due": "tomorrow"}, "due"),
        ({"type": "闲聊"}, "type"),
        ({"urgency": "asap"}, "urgency"),
        ({"unknown": 1}, None),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(wo_client, tokens, changes, field):
    data = await call(
        wo_client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(**changes), 400
    )
    assert data["error"]["code"] == "invalid_input" and data["error"]["message"]
    if field:
        assert (
            field in data["error"]["message"]
            or data["error"].get("details", {}).get("field") == field
        )
    listed = await call(wo_client, "GET", "/api/v1/tickets", tokens["boss"])
    assert listed["tickets"] == []


async def test_wrong_roles_are_403_and_anonymous_401(wo_client, tokens):
    t = await new_ticket(wo_client, tokens)
    n = t["number"]
    await call(wo_client, "POST", "/api/v1/tickets", tokens["rsj"], ticket_body(), 403)
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/sign", tokens["agent1"], {}, 403)
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/redispatch",
        tokens["rsj"],
        {"unit_code": "ZZ-GJJ"},
        403,
    )
    await call(wo_client, "GET", f"/api/v1/tickets/{n}", tokens["editor"], None, 403)
    await call(
        wo_client,
        "POST",
        "/api/v1/dispatch/catalogue",
        tokens["agent1"],
        {"category": "劳动就业", "unit_code": "ZZ-RSJ"},
        403,
    )
    await call(wo_client, "GET", f"/api/v1/tickets/{n}", None, None, 401)


async def test_a_unit_gets_404_for_another_units_ticket_as_for_an_unknown_one(wo_client, tokens):
    t = await new_ticket(wo_client, tokens)
    other = await call(wo_client, "GET", f"/api/v1/tickets/{t['number']}", tokens["gjj"], None, 404)
    unknown = await call(
        wo_client, "GET", "/api/v1/tickets/20261123-9999", tokens["gjj"], None, 404
    )
    assert other["error"]["code"] == unknown["error"]["code"] == "not_found"
    await call(wo_client, "POST", f"/api/v1/tickets/{t['number']}/sign", tokens["gjj"], {}, 404)
    assert (await call(wo_client, "GET", "/api/v1/tickets", tokens["gjj"]))["tickets"] == []


async def test_confidential_caller_is_masked_for_the_unit(wo_client, tokens):
    t = await new_ticket(wo_client, tokens, type="举报", confidential=False)
    assert t["confidential"] is True and t["caller_phone"] == "13812345678"
    seen = await call(wo_client, "GET", f"/api/v1/tickets/{t['number']}", tokens["rsj"])
    assert seen["caller_phone"] == "138****5678" and seen["caller_name"] == "（保密）"
    assert seen["call_id"] is None and "1700000000.42" not in str(seen)
    assert "13812345678" not in str(seen) and "张三" not in str(seen)
    listed = await call(wo_client, "GET", "/api/v1/tickets", tokens["rsj"])
    assert listed["tickets"][0]["caller_phone"] == "138****5678"
    plain = await new_ticket(wo_client, tokens, confidential=True, type="求助")
    seen = await call(wo_client, "GET", f"/api/v1/tickets/{plain['number']}", tokens["rsj"])
    assert seen["caller_phone"] == "138****5678"


async def test_unit_cannot_search_by_a_confidential_callers_phone(wo_client, tokens):
    """A unit sees 138****5678; guessing the hidden digits through ?phone= must find nothing,
    exactly as a wrong guess does, while a non-confidential caller stays findable."""
    secret = (await new_ticket(wo_client, tokens, type="举报"))["number"]
    plain = (await new_ticket(wo_client, tokens, caller_phone="13900001111"))["number"]

    async def numbers(who: str, phone: str) -> list[str]:
        data = await call(wo_client, "GET", f"/api/v1/tickets?phone={phone}", tokens[who])
        return [t["number"] for t in data["tickets"]]

    right, wrong = await numbers("rsj", "13812345678"), await numbers("rsj", "13812340000")
    assert right == wrong == []
    assert await numbers("rsj", "13900001111") == [plain]
    # Staff who may see the number still find the whistle-blower's ticket by it.
    assert await numbers("agent1", "13812345678") == [secret]
    assert await numbers("boss", "13812345678") == [secret]


async def test_unit_portal_flow_sign_extension_reply(wo_client, tokens):
    n = (await new_ticket(wo_client, tokens))["number"]
    mine = await call(wo_client, "GET", "/api/v1/tickets", tokens["rsj"])
    assert [t["number"] for t in mine["tickets"]] == [n]
    signed = await call(wo_client, "POST", f"/api/v1/tickets/{n}/sign", tokens["rsj"])
    assert signed["status"] == "signed" and signed["signed_at"]
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/sign", tokens["rsj"], {}, 409)
    ext = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/extension",
        tokens["rsj"],
        {"requested_due": "2099-12-31", "reason": "需协调多个部门"},
    )
    assert ext["extension"]["requested_due"].startswith("2099-12-31T23:59:59")
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/extension",
        tokens["rsj"],
        {"requested_due": "2020-01-01", "reason": "过去的日期"},
        400,
    )
    review = await call(wo_client, "GET", "/api/v1/tickets/review", tokens["boss"])
    assert [t["number"] for t in review["extensions"]] == [n]
    approved = await call(
        wo_client, "POST", f"/api/v1/tickets/{n}/extension/approve", tokens["boss"]
    )
    assert approved["due"].startswith("2099-12-31") and approved["extension"] is None
    await call(
        wo_client, "POST", f"/api/v1/tickets/{n}/reply", tokens["rsj"], {"text": "长" * 5001}, 400
    )
    replied = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/reply",
        tokens["rsj"],
        {"text": "已责令公司支付工资"},
    )
    assert replied["status"] == "replied"
    due = await call(wo_client, "GET", "/api/v1/tickets/callbacks", tokens["agent1"])
    assert [t["number"] for t in due["tickets"]] == [n]
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/callback",
        tokens["agent1"],
        {"resolution": "满意", "satisfaction": "满意"},
        400,
    )
    done = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/callback",
        tokens["agent1"],
        {"resolution": "解决", "satisfaction": "满意"},
    )
    assert done["status"] == "closed" and done["satisfaction"] == "满意"


async def test_return_review_and_redispatch(wo_client, tokens):
    n = (await new_ticket(wo_client, tokens))["number"]
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/return", tokens["rsj"], {"reason": ""}, 400)
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/return",
        tokens["rsj"],
        {"reason": "属于公积金中心职责"},
    )
    review = await call(wo_client, "GET", "/api/v1/tickets/review", tokens["boss"])
    assert [t["return_reason"] for t in review["returned"]] == ["属于公积金中心职责"]
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/redispatch",
        tokens["boss"],
        {"unit_code": "ZZ-RSJ"},
        400,
    )
    moved = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/redispatch",
        tokens["boss"],
        {"unit_code": "ZZ-GJJ", "note": "改派"},
    )
    assert moved["main_unit"] == "ZZ-GJJ"
    await call(wo_client, "GET", f"/api/v1/tickets/{n}", tokens["rsj"], None, 404)
    await call(wo_client, "GET", f"/api/v1/tickets/{n}", tokens["gjj"])


async def test_merge_reopen_and_phone_history(wo_client, tokens):
    master = (await new_ticket(wo_client, tokens))["number"]
    dup = (await new_ticket(wo_client, tokens, caller_phone="13900001111"))["number"]
    merged = await call(
        wo_client, "POST", f"/api/v1/tickets/{dup}/merge", tokens["boss"], {"master": master}
    )
    assert merged["status"] == "merged"
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{dup}/merge",
        tokens["boss"],
        {"master": "20200101-0001"},
        404,
    )
    history = await call(wo_client, "GET", "/api/v1/tickets?phone=139-0000-1111", tokens["agent1"])
    assert [t["number"] for t in history["tickets"]] == [dup]
    await call(wo_client, "POST", f"/api/v1/tickets/{master}/sign", tokens["rsj"])
    await call(
        wo_client, "POST", f"/api/v1/tickets/{master}/reply", tokens["rsj"], {"text": "已处理"}
    )
    for n in (master, dup):
        await call(
            wo_client,
            "POST",
            f"/api/v1/tickets/{n}/callback",
            tokens["agent1"],
            {"resolution": "未解决", "satisfaction": "不满意"},
        )
    review = await call(wo_client, "GET", "/api/v1/tickets/review", tokens["boss"])
    assert sorted(t["number"] for t in review["unsatisfied"]) == sorted([master, dup])
    reopened = await call(
        wo_client, "POST", f"/api/v1/tickets/{master}/reopen", tokens["boss"], {"note": "重办"}
    )
    assert reopened["status"] == "dispatched" and reopened["reopen_count"] == 1
    closed = await call(wo_client, "POST", f"/api/v1/tickets/{dup}/close", tokens["boss"])
    assert closed["status"] == "closed"


async def test_two_people_signing_at_once_one_wins(wo_client, tokens, accounts, db):
    await create_user(db, "test", NewUser("rsj2", "rsj2", Role.UNIT_HANDLER, PASSWORD, "ZZ-RSJ"))
    second = {"Authorization": f"Bearer {await issue_token(db, 'test', 'rsj2', 't')}"}
    n = (await new_ticket(wo_client, tokens))["number"]
    responses = await asyncio.gather(
        wo_client.post(f"/api/v1/tickets/{n}/sign", headers=tokens["rsj"]),
        wo_client.post(f"/api/v1/tickets/{n}/sign", headers=second),
    )
    assert sorted(r.status for r in responses) == [200, 409]
    detail = await call(wo_client, "GET", f"/api/v1/tickets/{n}", tokens["boss"])
    assert [e["action"] for e in detail["events"]].count("sign") == 1


async def test_stale_version_is_409(wo_client, tokens):
    t = await new_ticket(wo_client, tokens)
    data = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{t['number']}/sign",
        tokens["rsj"],
        {"version": t["version"] + 5},
        409,
    )
    assert data["error"]["code"] == "conflict"


async def test_session_users_need_the_csrf_token(wo_client, tokens):
    n = (await new_ticket(wo_client, tokens))["number"]
    csrf = await login(wo_client, "rsj")
    refused = await wo_client.post(f"/api/v1/tickets/{n}/sign", json={})
    assert refused.status == 403
    ok = await wo_client.post(f"/api/v1/tickets/{n}/sign", json={}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200


async def test_public_progress_lookup(wo_client, tokens):
    n = (await new_ticket(wo_client, tokens))["number"]
    data = await call(wo_client, "GET", f"/api/v1/tickets/progress/{n}?phone_last4=5678", None)
    assert set(data) == {
        "number",
        "status",
        "status_label",
        "created_at",
        "due",
        "replied_at",
        "closed_at",
    }
    assert data["status"] == "dispatched"
    assert "138" not in str(data) and "张三" not in str(data) and "工资" not in str(data)
    await call(wo_client, "GET", f"/api/v1/tickets/progress/{n}", None, None, 400)
    await call(wo_client, "GET", f"/api/v1/tickets/progress/{n}?phone_last4=0000", None, None, 404)
    await call(
        wo_client, "GET", "/api/v1/tickets/progress/20261123-9999?phone_last4=5678", None, None, 404
    )


async def test_progress_lookup_is_throttled(wo_client, tokens):
    n = (await new_ticket(wo_client, tokens))["number"]
    for guess in range(10):
        await call(
            wo_client,
            "GET",
            f"/api/v1/tickets/progress/{n}?phone_last4={guess:04d}",
            None,
            None,
            404,
        )
    resp = await wo_client.get(f"/api/v1/tickets/progress/{n}?phone_last4=5678")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0


async def test_dispatch_an_undispatched_ticket_over_http(wo_client, tokens):
    t = await new_ticket(wo_client, tokens, unit_code=None)
    assert t["status"] == "created" and t["main_unit"] is None
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{t['number']}/dispatch",
        tokens["rsj"],
        {"unit_code": "ZZ-RSJ"},
        403,
    )
    await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{t['number']}/dispatch",
        tokens["agent1"],
        {"unit_code": "ZZ-NOPE"},
        400,
    )
    done = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{t['number']}/dispatch",
        tokens["agent1"],
        {
            "unit_code": "ZZ-RSJ",
            "assisting_units": ["ZZ-GJJ"],
            "note": "请核查",
            "version": t["version"],
        },
    )
    assert done["status"] == "dispatched" and done["main_unit"] == "ZZ-RSJ"
    assert done["assisting_units"] == ["ZZ-GJJ"] and done["due"] and done["acknowledge_due"]
    assert done["version"] == t["version"] + 1
    mine = await call(wo_client, "GET", "/api/v1/tickets", tokens["rsj"])
    assert [x["number"] for x in mine["tickets"]] == [t["number"]]
    again = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{t['number']}/dispatch",
        tokens["agent1"],
        {"unit_code": "ZZ-GJJ"},
        409,
    )
    assert again["error"]["code"] == "conflict"


async def test_similar_tickets_of_a_ticket_over_http(wo_client, tokens):
    first = await new_ticket(wo_client, tokens)
    second = await new_ticket(wo_client, tokens, caller_phone="13900002222")
    other = await new_ticket(
        wo_client,
        tokens,
        content="小区路灯坏了一个月没人修，晚上出行不安全。",
        category="城市管理",
        unit_code=None,
    )
    found = await call(
        wo_client, "GET", f"/api/v1/tickets/{second['number']}/similar", tokens["agent1"]
    )
    numbers = [c["number"] for c in found["similar"]]
    assert numbers == [first["number"]]
    assert second["number"] not in numbers and other["number"] not in numbers
    await call(
        wo_client, "GET", f"/api/v1/tickets/{second['number']}/similar", tokens["rsj"], None, 403
    )
    await call(
        wo_client, "GET", "/api/v1/tickets/20261123-9999/similar", tokens["agent1"], None, 404
    )


async def test_manager_refuses_an_extension_over_http(wo_client, tokens):
    t = await new_ticket(wo_client, tokens)
    n = t["number"]
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/sign", tokens["rsj"], {})
    asked = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/extension",
        tokens["rsj"],
        {"requested_due": "2026-12-31T18:00:00+08:00", "reason": "需现场勘查"},
    )
    assert asked["extension"]["reason"] == "需现场勘查" and asked["due"] == t["due"]
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/extension/refuse", tokens["rsj"], {}, 403)
    refused = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/extension/refuse",
        tokens["boss"],
        {"note": "按原时限办理"},
    )
    assert refused["extension"] is None and refused["due"] == t["due"]
    assert refused["status"] == "signed"
    again = await call(
        wo_client, "POST", f"/api/v1/tickets/{n}/extension/refuse", tokens["boss"], {}, 409
    )
    assert again["error"]["message_zh"] == "没有待审核的延期申请"
    events = (await call(wo_client, "GET", f"/api/v1/tickets/{n}", tokens["boss"]))["events"]
    assert [e["action"] for e in events][-2:] == ["request_extension", "refuse_extension"]
    assert events[-1]["note"] == "按原时限办理"


async def test_manager_sends_a_returned_ticket_back_over_http(wo_client, tokens):
    t = await new_ticket(wo_client, tokens)
    n = t["number"]
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/send-back", tokens["boss"], {}, 409)
    returned = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/return",
        tokens["rsj"],
        {"reason": "不属于本单位职责"},
    )
    assert returned["status"] == "returned" and returned["return_reason"] == "不属于本单位职责"
    await call(wo_client, "POST", f"/api/v1/tickets/{n}/send-back", tokens["agent1"], {}, 403)
    back = await call(
        wo_client,
        "POST",
        f"/api/v1/tickets/{n}/send-back",
        tokens["boss"],
        {"note": "经核实属劳动监察职责", "version": returned["version"]},
    )
    assert back["status"] == "dispatched" and back["main_unit"] == "ZZ-RSJ"
    assert back["return_reason"] is None and back["due"] == t["due"]
    mine = await call(wo_client, "GET", "/api/v1/tickets", tokens["rsj"])
    assert [x["number"] for x in mine["tickets"]] == [n]


async def test_guessing_at_a_ticket_never_locks_out_its_owner(aiohttp_client, settings, db, tokens):
    from hotline.web.app import create_app

    # Behind a trusted reverse proxy, so the test can speak from two client addresses.
    client = await aiohttp_client(
        create_app(settings.replace(trusted_proxies="127.0.0.1"), database=db)
    )
    n = (await new_ticket(client, tokens))["number"]
    attacker, owner = {"X-Forwarded-For": "198.51.100.66"}, {"X-Forwarded-For": "198.51.100.1"}
    for guess in range(10):
        resp = await client.get(
            f"/api/v1/tickets/progress/{n}?phone_last4={guess:04d}", headers=attacker
        )
        assert resp.status == 404
    resp = await client.get(f"/api/v1/tickets/progress/{n}?phone_last4=5678", headers=attacker)
    assert resp.status == 429
    resp = await client.get(f"/api/v1/tickets/progress/{n}?phone_last4=5678", headers=owner)
    assert resp.status == 200 and (await resp.json())["number"] == n


async def test_catalogue_api(wo_client, tokens):
    rule = await call(
        wo_client,
        "POST",
        "/api/v1/dispatch/catalogue",
        tokens["boss"],
        {"category": "住房公积金", "district": "金水区", "unit_code": "JS-GOV"},
        201,
    )
    await call(
        wo_client,
        "POST",
        "/api/v1/dispatch/catalogue",
        tokens["boss"],
        {"category": "住房公积金", "district": "金水区", "unit_code": "ZZ-GJJ"},
        409,
    )
    await call(
        wo_client,
        "POST",
        "/api/v1/dispatch/catalogue",
        tokens["boss"],
        {"category": "住房公积金", "unit_code": "ZZ-NOPE"},
        400,
    )
    listed = await call(wo_client, "GET", "/api/v1/dispatch/catalogue", tokens["agent1"])
    assert [r["id"] for r in listed["rules"]] == [rule["id"]]
    found = await call(
        wo_client,
        "POST",
        "/api/v1/tickets/suggest-unit",
        tokens["agent1"],
        {"text": "公积金贷款额度怎么算", "district": "金水区", "category": "住房公积金"},
    )
    assert found["suggestions"][0]["unit_code"] == "JS-GOV"
    await call(wo_client, "DELETE", f"/api/v1/dispatch/catalogue/{rule['id']}", tokens["boss"])
    await call(
        wo_client, "DELETE", f"/api/v1/dispatch/catalogue/{rule['id']}", tokens["boss"], None, 404
    )


async def test_overdue_list_and_notifications(wo_client, tokens, db):
    t = await new_ticket(wo_client, tokens, due="2099-01-01")
    late = await new_ticket(wo_client, tokens)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    async with db.write() as s:  # as if created long ago
        await s.execute(update(Ticket).where(Ticket.number == late["number"]).values(due=past))
        await s.execute(update(Followup).values(due_at=past))
    overdue = await call(wo_client, "GET", "/api/v1/tickets/overdue", tokens["boss"])
    assert [x["number"] for x in overdue["tickets"]] == [late["number"]]
    assert overdue["tickets"][0]["overdue"] is True
    mine = await call(wo_client, "GET", "/api/v1/tickets", tokens["rsj"])
    assert [x["number"] for x in mine["tickets"]] == [late["number"], t["number"]]
    await FollowupPump(db).run_once()
    notes = await call(wo_client, "GET", "/api/v1/notifications?unread=1", tokens["rsj"])
    assert len(notes["notifications"]) == 6
    first = notes["notifications"][0]
    await call(wo_client, "POST", f"/api/v1/notifications/{first['id']}/read", tokens["rsj"])
    await call(
        wo_client, "POST", f"/api/v1/notifications/{first['id']}/read", tokens["gjj"], None, 404
    )
    assert (
        len(
            (await call(wo_client, "GET", "/api/v1/notifications?unread=1", tokens["rsj"]))[
                "notifications"
            ]
        )
        == 5
    )
    assert (await call(wo_client, "GET", "/api/v1/notifications", tokens["gjj"]))[
        "notifications"
    ] == []


async def test_an_idempotency_key_sent_again_answers_the_first_ticket(wo_client, tokens):
    agent = {**tokens["agent1"], "Idempotency-Key": "desk-7f3a:1"}
    first = await wo_client.post("/api/v1/tickets", json=ticket_body(), headers=agent)
    again = await wo_client.post(
        "/api/v1/tickets", json=ticket_body(content="不同的内容"), headers=agent
    )
    assert first.status == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["ticket"]["number"] == (await first.json())["ticket"]["number"]
    # Keys are per person: another agent's request with the same key is a request of its own.
    other = await call(
        wo_client,
        "POST",
        "/api/v1/tickets",
        {**tokens["boss"], "Idempotency-Key": "desk-7f3a:1"},
        ticket_body(),
        201,
    )
    assert other["ticket"]["number"] != (await first.json())["ticket"]["number"]
    bad = await call(
        wo_client,
        "POST",
        "/api/v1/tickets",
        {**tokens["agent1"], "Idempotency-Key": "空格 不行"},
        ticket_body(),
        400,
    )
    assert bad["error"]["message_zh"] == "重复提交校验码无效，请刷新页面后再提交"


async def test_the_same_key_sent_many_times_at_once_makes_one_ticket(wo_client, tokens, db):
    import asyncio

    agent = {**tokens["agent1"], "Idempotency-Key": "double-click"}
    answers = await asyncio.gather(
        *(wo_client.post("/api/v1/tickets", json=ticket_body(), headers=agent) for _ in range(6))
    )
    assert sorted(a.status for a in answers) == [200] * 5 + [201]
    assert len({(await a.json())["ticket"]["number"] for a in answers}) == 1
    found = await call(wo_client, "GET", "/api/v1/tickets?mine=1", tokens["agent1"])
    assert len(found["tickets"]) == 1
