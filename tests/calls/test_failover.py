"""One AMI leader per PBX with fail-over (issue 16): two instances as separate processes on one
PostgreSQL database follow a replayed capture; the leader is SIGKILLed mid-capture, the
standby takes over, and the stored calls equal expected.json. SQLite: one process, always the
leader."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from calls import records
from calls.ami.replay import Capture, ReplayServer
from hotline.db import Database

from .conftest import AMI_SECRET, AMI_USER, free_port
from .instances import Instance, create_database, drop_database, write_queue_log
from .test_captures import assert_matches

PG_URL = __import__("os").environ.get("HOTLINE_TEST_DATABASE_URL", "")


async def test_sqlite_instance_leads_every_source_and_says_so(
    caplog: pytest.LogCaptureFixture,
    aiohttp_client: Any,
    settings: Any,
    db: Database,
    pbx_port: int,
) -> None:
    if not db.is_sqlite:
        pytest.skip("the SQLite answer; PostgreSQL instances are tested as processes below")
    from dataclasses import replace

    from hotline.web.app import create_app

    caplog.set_level("INFO", logger="calls.wiring")
    ami = replace(settings.ami, host="127.0.0.1", port=pbx_port, enabled=True)
    app_client = await aiohttp_client(create_app(settings.replace(ami=ami), database=db))
    body = await (await app_client.get("/healthz")).json()
    assert body["ami"] == {f"127.0.0.1:{pbx_port}": {"role": "leader", "connected": False}}
    assert any(
        "leader of every source" in r.getMessage() and "no fail-over" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.skipif(not PG_URL, reason="fail-over needs PostgreSQL (HOTLINE_TEST_DATABASE_URL)")
async def test_standby_takes_over_from_a_killed_leader_and_stores_every_call_once(
    busy_dir: Path, tmp_path: Path
) -> None:
    url = await create_database(PG_URL)
    server = ReplayServer(
        Capture.load(busy_dir), speed=20, username=AMI_USER, secret=AMI_SECRET, static_members=True
    )
    _, port = await server.start("127.0.0.1", free_port())
    queue_log = tmp_path / "queue_log"
    writer = asyncio.create_task(write_queue_log(busy_dir / "queue_log", queue_log, server))
    a = Instance("a", tmp_path, url, port, free_port(), queue_log, AMI_USER, AMI_SECRET)
    b = Instance("b", tmp_path, url, port, free_port(), queue_log, AMI_USER, AMI_SECRET)
    db = Database.from_url(url)
    try:
        a.start()
        await a.wait_role("leader")
        b.start()
        await b.wait_role("standby")
        async with asyncio.timeout(60):  # mid-capture
            while server.position < server.total // 2:
                await asyncio.sleep(0.05)
        a.kill()
        killed = time.monotonic()
        await b.wait_role("leader", timeout_s=5)
        assert time.monotonic() - killed < 5
        await asyncio.wait_for(server.finished.wait(), 120)
        want = len(Capture.load(busy_dir).frames)
        assert server.position == want
        expected_calls = __import__("json").loads((busy_dir / "expected.json").read_text())["calls"]
        async with asyncio.timeout(30):  # the new leader stores the rest
            while True:
                stored = await records.load_records(db)
                if len(stored) >= len(expected_calls) and all(
                    r.outcome != "unknown" for r in stored
                ):
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # nothing more may come: no call twice
        assert_matches(busy_dir, await records.load_records(db))
        health = await b.health()
        assert health is not None and health["ami"]["pbx1"] == {"role": "leader", "connected": True}
    finally:
        a.kill()
        b.stop()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await server.close()
        await db.dispose()
        await drop_database(PG_URL, url)


@pytest.mark.skipif(not PG_URL, reason="advisory locks are PostgreSQL's")
async def test_a_leader_that_loses_its_session_stands_down_and_the_standby_takes_over(
    db: Database, busy_dir: Path
) -> None:
    """The leader's database session is ended under it (pg_terminate_backend, as a network cut
    or a server restart would): it stops following the PBX, the standby takes over in 5 s."""
    from sqlalchemy import text

    from calls.ami.listener import AmiListener, ListenerOptions
    from calls.center import CallCenter
    from calls.leader import LEADER, STANDBY, AdvisoryLock, SourceLeader
    from hotline.config import Policy

    server = ReplayServer(Capture.load(busy_dir), speed=5, loop=True, static_members=True)
    _, port = await server.start("127.0.0.1", 0)

    def center() -> CallCenter:
        listener = AmiListener("127.0.0.1", port, "u", "p", ListenerOptions(backoff_initial_s=0.1))
        return CallCenter(db, listener, Policy(), "pbx1")

    first_lock = AdvisoryLock(db, "pbx1")
    first = SourceLeader("pbx1", center, first_lock, poll_s=0.2)
    second = SourceLeader("pbx1", center, AdvisoryLock(db, "pbx1"), poll_s=0.2)
    try:
        await first.start()
        await second.start()
        assert (first.role, second.role) == (LEADER, STANDBY)
        await first.center.listener.wait_connected(10)  # type: ignore[union-attr]
        async with db.write() as s:
            await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_lock.pid})
        cut = time.monotonic()
        async with asyncio.timeout(5):
            while second.role != LEADER or not second.connected:
                await asyncio.sleep(0.05)
        assert time.monotonic() - cut < 5
        async with asyncio.timeout(5):
            while first.role != STANDBY:
                await asyncio.sleep(0.05)
        assert first.center is None
    finally:
        await first.stop()
        await second.stop()
        await server.close()
