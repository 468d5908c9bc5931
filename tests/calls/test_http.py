"""Call tracking in the running app, on both databases: the listener started by the app
follows a replayed PBX over TCP; managers read the live board and metrics, an agent's desk gets
the screen pop by Server-Sent Events, agents work the missed-call list."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any


from hotline.db import Database
from calls import store as call_store
from calls.ami.offline import track_capture
from calls.ami.replay import Capture
from calls.tracker import CallTracker
from tests.conftest import login, sse_events, wait_until

from .conftest import expected, owed_callbacks, start_pbx


async def test_metrics_of_the_followed_pbx_equal_asterisks_own(
    followed: Any, busy_dir: Path
) -> None:
    await login(followed, "boss")
    body = await (await followed.get("/api/v1/calls/metrics?bucket=15min")).json()
    want = expected(busy_dir)
    day = body["rolling_24h"]
    for key in (
        "offered",
        "answered",
        "abandoned",
        "timed_out",
        "answered_within_sl",
        "abandoned_within_sl",
        "connect_rate",
        "service_level",
        "service_level2",
        "sl_of_offered",
        "asa_s",
        "ring_no_answer",
    ):
        assert day[key] == want[key], key
    assert {
        n: {k: a[k] for k in ("answered", "ring_no_answer", "talk_s", "completed")}
        for n, a in day["agents"].items()
    } == want["agents"]
    assert sum(b["offered"] for b in body["buckets"]) <= day["offered"]
    assert body["targets"]["connect_rate"] == 0.8
    # Too few calls in the alarm window or rates above target: alarms only when below.
    for alarm in body["alarms"]:
        assert alarm["value"] < alarm["target"]

    calls = (await (await followed.get("/api/v1/calls?limit=500")).json())["calls"]
    finished = {c["uniqueid"] for c in calls if not c["in_progress"]}
    assert finished == set(want["calls"])


async def test_live_board_lists_agents_and_is_for_staff_only(followed: Any) -> None:
    await login(followed, "boss")
    board = await (await followed.get("/api/v1/calls/live")).json()
    assert board["enabled"] and board["connected"]
    assert {a["name"] for a in board["agents"]} == {"坐席1", "坐席2", "坐席3"}
    assert all(
        a["state"] in ("available", "ringing", "talking", "wrap_up", "paused", "unavailable")
        for a in board["agents"]
    )
    page = await (await followed.get("/dashboard")).text()
    assert 'id="live-board"' in page and "/calls/static/board.js" in page
    await login(followed, "rsj")
    assert (await followed.get("/api/v1/calls/live")).status == 403
    assert (await followed.get("/api/v1/calls/metrics")).status == 403


async def test_prometheus_shows_call_tracking_health(followed: Any) -> None:
    await login(followed, "boss")
    text = await (await followed.get("/metrics")).text()
    assert "hotline_ami_connected 1.0" in text
    assert re.search(r"^hotline_ami_events_total ([0-9.e+]+)$", text, re.M)
    events = float(re.search(r"^hotline_ami_events_total ([0-9.e+]+)$", text, re.M).group(1))
    assert events > 1000
    assert "hotline_call_store_backlog 0.0" in text


async def test_bucket_must_be_known(followed: Any) -> None:
    await login(followed, "boss")
    resp = await followed.get("/api/v1/calls/metrics?bucket=week")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_input"


async def test_screen_pop_reaches_the_answering_agents_desk_with_earlier_calls(
    app_client: Any, db: Database, busy_dir: Path, pbx_port: int
) -> None:
    # Yesterday the same citizens called: the same capture a day earlier, stored.
    capture = Capture.load(busy_dir)
    yesterday = capture.starting_at(next(t for t in capture.timestamps if t) - 86400)
    earlier = call_store.CallStore(db, "yesterday")
    await track_capture(
        yesterday, tracker=CallTracker(on_record=earlier.on_record), raw=earlier.on_raw
    )
    assert await earlier.flush()

    await login(app_client, "agent1")  # queue member 坐席1
    answered_by_agent = {
        c["caller"] for c in expected(busy_dir)["calls"].values() if c.get("agent") == "坐席1"
    }
    # Each of them has a work order from before: the pop asks work orders through the
    # caller-history port (hotline.ports), not by importing them.
    from dispatch.service import NewTicket, TicketService
    from dispatch.tickets import TicketType
    from tests.workorders.conftest import AGENT

    tickets = TicketService(db)
    numbers = {
        caller: (
            await tickets.create(
                AGENT,
                NewTicket(
                    content=f"{caller} 来电反映小区路灯不亮",
                    type=TicketType.COMPLAINT,
                    caller_phone=caller,
                ),
            )
        ).ticket.number
        for caller in answered_by_agent
    }
    # The IVR handed every call over from the merged 12315 line (ivr.routes, by Uniqueid).
    from ivr.routes import RouteStore

    routes = RouteStore(db)
    for uniqueid in expected(busy_dir)["calls"]:
        await routes.record(uniqueid, "12315", "市场监管", "hotline")
    resp = await app_client.get("/api/v1/calls/pops")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(resp)
    kind, status = await asyncio.wait_for(events.__anext__(), 10)
    assert kind == "status" and status["enabled"] is True

    server = await start_pbx(busy_dir, pbx_port, speed=20)
    try:
        while True:
            kind, pop = await asyncio.wait_for(events.__anext__(), 60)
            if kind == "call" and pop["type"] == "connect":
                break
        assert pop["agent"] == "坐席1"
        assert (pop["ivr_entry"], pop["ivr_category"]) == ("12315", "市场监管")
        assert pop["caller"] in answered_by_agent
        assert pop["dialled"]
        assert pop["earlier_calls"], "yesterday's call of this caller is shown"
        assert all(c["caller"] == pop["caller"] for c in pop["earlier_calls"])
        assert all(c["uniqueid"] != pop["uniqueid"] for c in pop["earlier_calls"])
        assert [(t["number"], t["status_label"]) for t in pop["tickets"]] == [
            (numbers[pop["caller"]], "已受理")
        ]
    finally:
        resp.close()
        await server.close()


async def test_pops_need_an_agent_with_a_queue_member(app_client: Any) -> None:
    await login(app_client, "boss")
    assert (await app_client.get("/api/v1/calls/pops")).status == 403


async def test_agents_work_the_missed_call_list(followed: Any, busy_dir: Path) -> None:
    csrf = await login(followed, "agent1")
    listed = (await (await followed.get("/api/v1/calls/missed")).json())["missed"]
    owed = owed_callbacks(busy_dir)
    assert {m["caller"]: m["missed_count"] for m in listed} == owed
    first, second = listed[0], listed[1]
    headers = {"X-CSRF-Token": csrf}

    # Not answering: stays open until the third try, then unreachable.
    for attempt in (1, 2, 3):
        resp = await followed.post(
            f"/api/v1/calls/missed/{first['id']}/attempts",
            json={"outcome": "no_answer"},
            headers=headers,
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["attempts"] == attempt
    assert body["status"] == "closed" and body["outcome"] == "unreachable"

    resp = await followed.post(
        f"/api/v1/calls/missed/{second['id']}/attempts",
        json={"outcome": "reached", "note": "已解答", "version": second["version"] + 5},
        headers=headers,
    )
    assert resp.status == 409
    resp = await followed.post(
        f"/api/v1/calls/missed/{second['id']}/attempts",
        json={"outcome": "reached", "note": "已解答", "version": second["version"]},
        headers=headers,
    )
    assert (await resp.json())["outcome"] == "reached"
    resp = await followed.post(
        f"/api/v1/calls/missed/{second['id']}/attempts",
        json={"outcome": "reached"},
        headers=headers,
    )
    assert resp.status == 409  # already closed

    for bad, status in (
        ({"outcome": "maybe"}, 400),
        ({"note": "x"}, 400),
        ({"outcome": "reached", "extra": 1}, 400),
    ):
        resp = await followed.post(
            f"/api/v1/calls/missed/{listed[2]['id']}/attempts", json=bad, headers=headers
        )
        assert resp.status == status, bad
    resp = await followed.post(
        "/api/v1/calls/missed/999999/attempts", json={"outcome": "reached"}, headers=headers
    )
    assert resp.status == 404

    still = (await (await followed.get("/api/v1/calls/missed")).json())["missed"]
    assert {m["caller"] for m in still} == set(owed) - {first["caller"], second["caller"]}
    closed = (await (await followed.get("/api/v1/calls/missed?status=closed")).json())["missed"]
    assert {(m["caller"], m["closed_by"]) for m in closed} >= {
        (first["caller"], "agent1"),
        (second["caller"], "agent1"),
    }


async def test_missed_call_page_records_a_callback(followed: Any) -> None:
    await login(followed, "agent1")
    page = await followed.get("/calls/missed")
    html = await page.text()
    assert page.status == 200 and "未接来电回拨" in html
    # No result is preselected: the agent must say what happened (a default closed items).
    assert re.search(r'<select name="outcome" required[^>]*>\s*<option value="" selected>', html)
    listed = (await (await followed.get("/api/v1/calls/missed")).json())["missed"]
    target = listed[-1]
    token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    resp = await followed.post(
        f"/calls/missed/{target['id']}",
        data={
            "_csrf": token,
            "outcome": "invalid_number",
            "note": "空号",
            "version": target["version"],
        },
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    after = await (await followed.get(resp.headers["Location"])).text()
    assert f"已记录 {target['caller']} 的回拨结果" in after
    resp = await followed.post(
        f"/calls/missed/{target['id']}",
        data={"_csrf": token, "outcome": "reached", "version": target["version"]},
    )
    assert resp.status == 409 and "已" in await resp.text()
    resp = await followed.post("/calls/missed/999999", data={"_csrf": token, "outcome": "reached"})
    assert resp.status == 404


async def test_unit_handlers_and_editors_cannot_see_calls(followed: Any) -> None:
    for who in ("rsj", "editor"):
        await login(followed, who)
        for url in ("/api/v1/calls", "/api/v1/calls/missed", "/calls/missed"):
            assert (await followed.get(url)).status == 403, (who, url)


async def test_a_closed_desk_ends_its_screen_pop_stream_quietly(
    app_client: Any, monkeypatch
) -> None:
    """The browser closes the desk; the next ping finds the transport closing. That is the end
    of the stream, not a 500 with a traceback (the autouse fixture fails the test on one)."""
    from calls import desk_web
    from calls import wiring
    from hotline.web.keys import SERVICES

    monkeypatch.setattr(desk_web, "SSE_PING_S", 0.05)
    await login(app_client, "agent1")
    hub = app_client.app[SERVICES][wiring.DESK_RELAY].hub  # the desks' streams read it
    cookies = app_client.session.cookie_jar.filter_cookies(app_client.make_url("/"))
    cookie = "; ".join(f"{k}={v.value}" for k, v in cookies.items())
    # A browser tab, as the kernel sees it: one TCP connection that is reset when it closes.
    reader, writer = await asyncio.open_connection(app_client.host, app_client.port)
    writer.write(
        f"GET /api/v1/calls/pops HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"event: status"), 10)
    assert b" 200 " in head.split(b"\r\n", 1)[0]
    assert any(hub._subscribers.values())
    writer.transport.abort()
    await wait_until(
        lambda: not any(hub._subscribers.values()),
        what="the stream to notice the closed desk and unsubscribe",
    )
