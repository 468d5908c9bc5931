"""The agent's own queue state and after-call summary, in the running app following a replayed
PBX (both databases): 示闲 / 示忙 with a reason / 话后整理 go to the PBX as AMI QueuePause, and the
desk shows the state only once the PBX's QueueMemberPause events report it; the 小结 is saved
with a call the agent answered, by that agent only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from sqlalchemy import select

from calls.agents import PAUSE_REASONS, WRAP_UP_REASON
from calls.ami.listener import AmiListener
from calls.models import AmiEventRow
from calls.web import CENTER
from hotline.db import Database
from tests.conftest import PASSWORD, login, sse_events

from .conftest import expected

INTERFACE = "Local/8001@agents/n"  # agent1's queue member, 坐席1 in the captures


async def _next_state(events: AsyncIterator[tuple[str, dict]]) -> dict:
    while True:
        kind, data = await asyncio.wait_for(events.__anext__(), 20)
        if kind == "state":
            return data


async def test_the_agent_sets_busy_wrap_up_and_available_and_sees_what_the_pbx_reports(
    followed: Any, db: Database
) -> None:
    csrf = await login(followed, "agent1")
    headers = {"X-CSRF-Token": csrf}
    now = await (await followed.get("/api/v1/calls/me/state")).json()
    assert now["enabled"] and now["known"] and now["reasons"] == list(PAUSE_REASONS)
    assert now["paused"] is False

    resp = await followed.get("/api/v1/calls/pops")
    events = sse_events(resp)
    try:
        first = await _next_state(events)  # the state as the stream opens
        assert first["known"] and first["state"] == now["state"]

        answer = await followed.post(
            "/api/v1/calls/me/state", json={"state": "busy", "reason": "用餐"}, headers=headers
        )
        assert answer.status == 202, await answer.text()
        seen = await _next_state(events)
        assert (seen["paused"], seen["pause_reason"], seen["wrap_up"]) == (True, "用餐", False)
        got = await (await followed.get("/api/v1/calls/me/state")).json()
        assert (got["paused"], got["pause_reason"]) == (True, "用餐")

        answer = await followed.post(
            "/api/v1/calls/me/state", json={"state": "wrap_up"}, headers=headers
        )
        assert answer.status == 202
        seen = await _next_state(events)
        assert (seen["paused"], seen["pause_reason"], seen["wrap_up"]) == (
            True,
            WRAP_UP_REASON,
            True,
        )

        answer = await followed.post(
            "/api/v1/calls/me/state", json={"state": "available"}, headers=headers
        )
        assert answer.status == 202
        seen = await _next_state(events)
        assert seen["paused"] is False and seen["pause_reason"] == ""
    finally:
        resp.close()

    # The PBX's events are kept with the others: the pauses are in the raw event log.
    center = followed.server.app[CENTER]
    assert await center.store.flush()
    async with db.read() as s:
        names = (
            await s.execute(
                select(AmiEventRow.headers)
                .where(AmiEventRow.name == "QueueMemberPause")
                .order_by(AmiEventRow.id)
            )
        ).scalars()
        reasons = [h for h in names if INTERFACE in h]
    assert len(reasons) == 3 and "用餐" in reasons[0]


async def test_bad_requests_are_refused_in_chinese(followed: Any, db: Database) -> None:
    csrf = await login(followed, "agent1")
    headers = {"X-CSRF-Token": csrf}
    for wrong in (
        {"state": "sleeping"},
        {"state": "busy"},  # a busy state needs its reason
        {"state": "busy", "reason": "随便"},
        {"state": "busy", "reason": "用餐\r\nAction: Originate"},
        {"state": 1},
        {},
    ):
        resp = await followed.post("/api/v1/calls/me/state", json=wrong, headers=headers)
        assert resp.status == 400, wrong
        assert (await resp.json())["error"]["message_zh"]

    # An interface the PBX has in no queue: the PBX's refusal, as a conflict in Chinese.
    from hotline.models import User

    async with db.write() as s:
        user = (await s.execute(select(User).where(User.username == "agent1"))).scalar_one()
        user.agent_interface = "PJSIP/9999"
    resp = await followed.post(
        "/api/v1/calls/me/state", json={"state": "busy", "reason": "会议"}, headers=headers
    )
    assert resp.status == 409
    assert "不在任何队列" in (await resp.json())["error"]["message_zh"]

    await login(followed, "boss")
    assert (await followed.get("/api/v1/calls/me/state")).status == 403


async def test_a_line_break_never_reaches_the_pbx() -> None:
    from hotline.config import AmiSettings

    listener = AmiListener.from_settings(AmiSettings(host="127.0.0.1", port=1))
    with pytest.raises(ValueError):
        await listener.queue_pause(INTERFACE, True, "用餐\r\nAction: Originate")


async def test_the_answering_agent_saves_the_summary_of_a_call(
    followed: Any, db: Database, busy_dir: Path
) -> None:
    from hotline.accounts import NewUser, create_user
    from hotline.models import Role

    calls = expected(busy_dir)["calls"]
    mine = next(u for u, c in calls.items() if c.get("agent") == "坐席1")
    theirs = next(u for u, c in calls.items() if c.get("agent") == "坐席2")
    await create_user(
        db,
        "test",
        NewUser(
            username="agent2",
            display_name="agent2",
            role=Role.AGENT,
            password=PASSWORD,
            agent_interface="Local/8002@agents/n",
            agent_member_name="坐席2",
        ),
    )
    csrf = await login(followed, "agent1")
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/v1/calls/{mine}/summary"
    resp = await followed.put(
        url, json={"text": "  咨询社保转移，已按知识库答复  "}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["text"] == "咨询社保转移，已按知识库答复"
    resp = await followed.put(url, json={"text": "咨询社保转移；需再来电"}, headers=headers)
    assert resp.status == 200

    for uniqueid, body, status in (
        (theirs, {"text": "不是我的来电"}, 403),
        ("1700000000.999999", {"text": "没有这通来电"}, 404),
        (mine, {"text": "   "}, 400),
        (mine, {"text": "长" * 2001}, 400),
    ):
        resp = await followed.put(f"/api/v1/calls/{uniqueid}/summary", json=body, headers=headers)
        assert resp.status == status, (uniqueid, await resp.text())
        assert (await resp.json())["error"]["message_zh"]

    csrf2 = await login(followed, "agent2")
    resp = await followed.put(url, json={"text": "改别人的小结"}, headers={"X-CSRF-Token": csrf2})
    assert resp.status == 403  # 坐席2 did not answer it

    from calls import summaries

    assert await summaries.of_calls(db, [mine, theirs]) == {mine: "咨询社保转移；需再来电"}


async def test_the_live_board_stream_shows_a_change_as_it_happens(followed: Any) -> None:
    """The managers' board is pushed as the PBX's events change it: an agent's pause shows
    on the stream without waiting for a poll."""
    from calls import web as calls_web

    csrf = await login(followed, "agent1")
    resp = await followed.get("/api/v1/calls/live/stream")
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(resp)
    try:
        kind, board = await asyncio.wait_for(events.__anext__(), 10)
        assert kind == "board" and board["connected"]
        assert next(a for a in board["agents"] if a["name"] == "坐席1")["state"] != "paused"
        answer = await followed.post(
            "/api/v1/calls/me/state",
            json={"state": "busy", "reason": "小休"},
            headers={"X-CSRF-Token": csrf},
        )
        assert answer.status == 202
        # Without an event the next board comes after BOARD_MAX_S; the pause brings it sooner.
        while True:
            kind, board = await asyncio.wait_for(events.__anext__(), calls_web.BOARD_MAX_S * 5)
            mine = next(a for a in board["agents"] if a["name"] == "坐席1")
            if mine["state"] == "paused":
                break
        assert mine["pause_reason"] == "小休"
    finally:
        resp.close()
    await login(followed, "rsj")
    assert (await followed.get("/api/v1/calls/live/stream")).status == 403
