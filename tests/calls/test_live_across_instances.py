"""Live state on every instance (issue 16): two instances as processes on one PostgreSQL
database, one leading the replayed PBX; an agent whose desk is open on the standby gets the
screen pop and the queue state change, through the desk relay (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from calls.ami.replay import Capture, ReplayServer
from hotline.db import Database
from tests.conftest import PASSWORD, sse_events

from .conftest import AMI_SECRET, AMI_USER, expected, free_port
from .instances import Instance, create_database, drop_database

PG_URL = __import__("os").environ.get("HOTLINE_TEST_DATABASE_URL", "")


async def _agent(url: str) -> None:
    from hotline.accounts import NewUser, create_user
    from hotline.models import Role

    db = Database.from_url(url)
    try:
        await create_user(
            db,
            "test",
            NewUser(username="boss", display_name="值班长", role=Role.MANAGER, password=PASSWORD),
        )
        await create_user(
            db,
            "test",
            NewUser(
                username="agent1",
                display_name="坐席一",
                role=Role.AGENT,
                password=PASSWORD,
                agent_interface="Local/8001@agents/n",
                agent_member_name="坐席1",
            ),
        )
    finally:
        await db.dispose()


async def _login(http: aiohttp.ClientSession, base: str, username: str = "agent1") -> str:
    page = await (await http.get(base + "/login")).text()
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    resp = await http.post(
        base + "/login",
        data={"username": username, "password": PASSWORD, "_csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status in (302, 303), await resp.text()
    home = await (await http.get(base + "/")).text()
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', home).group(1)


@pytest.mark.skipif(not PG_URL, reason="several instances need PostgreSQL")
async def test_a_desk_on_the_standby_gets_its_pops_and_queue_state(
    busy_dir: Path, tmp_path: Path
) -> None:
    url = await create_database(PG_URL)
    await _agent(url)
    server = ReplayServer(
        Capture.load(busy_dir), speed=20, username=AMI_USER, secret=AMI_SECRET, static_members=True
    )
    _, port = await server.start("127.0.0.1", free_port())
    server_hold = asyncio.Event()  # the capture starts once the desk on the standby listens
    a = Instance("a", tmp_path, url, port, free_port(), None, AMI_USER, AMI_SECRET)
    b = Instance("b", tmp_path, url, port, free_port(), None, AMI_USER, AMI_SECRET)
    answered = {
        c["caller"] for c in expected(busy_dir)["calls"].values() if c.get("agent") == "坐席1"
    }
    try:
        original_stream = server._stream

        async def held_stream(writer: Any) -> None:
            await server_hold.wait()
            await original_stream(writer)

        server._stream = held_stream  # type: ignore[method-assign]
        a.start()
        await a.wait_role("leader")
        b.start()
        await b.wait_role("standby")
        base = f"http://127.0.0.1:{b.port}"
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of an IP address host
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120), cookie_jar=jar
        ) as http:
            csrf = await _login(http, base)
            resp = await http.get(base + "/api/v1/calls/pops")
            assert resp.status == 200
            events = sse_events(resp)
            kind, status = await asyncio.wait_for(events.__anext__(), 10)
            assert kind == "status" and status["enabled"] is True
            server_hold.set()
            pops = []
            while len(pops) < 2:
                kind, data = await asyncio.wait_for(events.__anext__(), 60)
                if kind == "call" and data["type"] == "connect":
                    pops.append(data)
            assert all(p["agent"] == "坐席1" and p["caller"] in answered for p in pops)
            assert len({p["uniqueid"] for p in pops}) == 2

            # The agent on the standby pauses: the request is relayed to the leader, whose
            # PBX pauses the member; the desk on the standby sees it from the PBX's events.
            answer = await http.post(
                base + "/api/v1/calls/me/state",
                json={"state": "busy", "reason": "会议"},
                headers={"X-CSRF-Token": csrf},
            )
            assert answer.status == 202, await answer.text()
            assert (await answer.json())["via"] == "relayed"
            while True:
                kind, data = await asyncio.wait_for(events.__anext__(), 10)
                if kind == "state" and data.get("paused"):
                    break
            assert data["pause_reason"] == "会议"
            resp.close()

        # A manager on the standby sees the leader's live board (written each second).
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await _login(http, base, "boss")
            board = await (await http.get(base + "/api/v1/calls/live")).json()
            assert board["enabled"] and board["connected"], board
            assert {a["name"] for a in board["agents"]} == {"坐席1", "坐席2", "坐席3"}
            assert board["age_s"] < 5
    finally:
        a.stop()
        b.stop()
        await server.close()
        await drop_database(PG_URL, url)


def test_relayed_payloads_round_trip_and_strangers_are_refused() -> None:
    from calls.center import AgentState, CallEvent
    from calls.relay import PauseRequest, decode, encode

    for event in (
        CallEvent(
            "connect", "坐席1", "Local/8001@agents/n", "1.1", "138", "hotline", "12345", 3, 2
        ),
        AgentState("坐席1", "Local/8001@agents/n", "talking", True, "会议", 1.5),
        PauseRequest("坐席1", "Local/8001@agents/n", False, ""),
    ):
        payload = encode(event)
        assert len(payload.encode()) < 8000  # PostgreSQL's NOTIFY payload limit
        assert decode(payload) == event
    for stranger in ("[]", '{"k": "drop"}', '{"k": "call", "x": 1}', "null"):
        with pytest.raises(ValueError):
            decode(stranger)


async def test_a_stored_board_ages_and_goes_stale_without_its_leader(db: Database) -> None:
    import datetime as dt

    from calls import boards

    at = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.timezone.utc)
    assert await boards.read(db, at) is None
    board = {
        "enabled": True,
        "connected": True,
        "pbx_time": "2026-12-04T10:00:00+08:00",
        "waiting": [
            {"uniqueid": "1.1", "queue": "hotline", "caller": "138", "position": 1, "wait_s": 10}
        ],
        "agents": [{"name": "坐席1", "state": "talking", "seconds_in_state": 30}],
    }
    await boards.write(db, "pbx1", board, at)
    later = await boards.read(db, at + dt.timedelta(seconds=3))
    assert later["connected"] and later["waiting"][0]["wait_s"] == 13
    assert later["agents"][0]["seconds_in_state"] == 33
    gone = await boards.read(db, at + dt.timedelta(seconds=boards.STALE_S + 1))
    assert gone["connected"] is False  # its leader stopped writing: not live
    await boards.write(db, "pbx1", dict(board, connected=False), at + dt.timedelta(seconds=9))
    assert (await boards.read(db, at + dt.timedelta(seconds=9)))["connected"] is False
