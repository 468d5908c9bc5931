"""A service restart in the middle of live traffic: the new process carries on from the stored
raw events and the PBX's resync; every call is recorded once, as Asterisk counted it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.config import Policy
from hotline.db import Database
from calls import records
from calls.ami.listener import AmiListener, ListenerOptions
from calls.ami.replay import Capture, ReplayServer
from calls.center import CallCenter

from .test_captures import assert_matches

FAST = ListenerOptions(backoff_initial_s=0.5, backoff_max_s=1.0)


def center(db: Database, port: int) -> CallCenter:
    return CallCenter(db, AmiListener("127.0.0.1", port, "u", "p", FAST), Policy(), "pbx:5038")


@pytest.mark.parametrize("restart_at", [700, 1500, 2600])
async def test_restart_mid_traffic_loses_and_doubles_nothing(
    db: Database, busy_dir: Path, restart_at: int
) -> None:
    # The PBX keeps running while the service restarts: the stream goes on where it stopped.
    server = ReplayServer(Capture.load(busy_dir), speed=0, drop_at=[restart_at])
    _, port = await server.start("127.0.0.1", 0)
    first = center(db, port)
    await first.start()
    try:
        # The drop: once the listener has read all that was sent, stop the service before it
        # reconnects (backoff >= 0.4 s). (Events in flight when a process dies are lost to it;
        # the resync covers those, tested with outages elsewhere.)
        async with asyncio.timeout(30):
            while not (
                first.listener.stats.events == restart_at and not first.listener.connected.is_set()
            ):
                await asyncio.sleep(0.005)
    finally:
        await first.stop()
    assert server.position == restart_at

    second = center(db, port)
    await second.start()
    try:
        await asyncio.wait_for(server.finished.wait(), 60)
        await second.listener.wait_connected(10)
        await second.listener.sync()
    finally:
        await second.stop()
        await server.close()

    stored = await records.load_records(db)
    in_progress = [r for r in second.tracker.all_records() if r.in_progress]
    assert_matches(busy_dir, stored + in_progress)
