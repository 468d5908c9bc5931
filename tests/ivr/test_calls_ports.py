"""What the calls feature answers the IVR: a call-back request lands in the missed-call list
agents work (SQLite and PostgreSQL), and the expected wait read from the live queue state."""

from __future__ import annotations

import datetime as dt

from calls import missed
from calls.agents import DEVICE_INUSE, DEVICE_NOT_INUSE, LiveState, Member, Waiting
from calls.ivr_ports import CallbackList, expected_wait
from hotline import bootstrap
from hotline.config import Settings
from hotline.db import Database
from hotline.ports import CALLBACK_REQUESTS, QUEUE_WAIT
from ivr.agi.client import SimulatedChannel, environment, run_channel
from ivr.agi.server import FastAgiServer
from ivr.wiring import IVR

NIGHT = dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.timezone.utc)  # 22:30 in Shanghai


async def test_a_night_call_back_request_joins_the_missed_call_list(
    settings: Settings, db: Database
) -> None:
    services = await bootstrap.build(settings, db=db, clock=lambda: NIGHT)
    assert isinstance(services[CALLBACK_REQUESTS], CallbackList)
    server = FastAgiServer(services[IVR], "127.0.0.1", 0)
    await server.start()
    try:
        for uniqueid in ("1796284796.1", "1796284796.2", "1796284796.2"):
            await run_channel(
                SimulatedChannel(["1"]),
                environment(uniqueid, dnid="12345", callerid="13912345678"),
                "127.0.0.1",
                server.bound_port,
            )
    finally:
        await server.stop()
    rows = await missed.list_callbacks(db)
    assert [(r.caller, r.status, r.missed_count) for r in rows] == [("13912345678", "open", 2)]
    assert rows[0].first_missed_at == NIGHT
    # no live queue state in a process without the ami worker: the wait is unknown
    assert services[QUEUE_WAIT].estimated_wait("hotline") is None


def _member(name: str, status: int, **kw: object) -> Member:
    return Member(f"Local/{name}@agents/n", name, frozenset({"hotline"}), status, **kw)  # type: ignore[arg-type]


def test_expected_wait_from_the_live_state() -> None:
    free, busy = _member("8001", DEVICE_NOT_INUSE), _member("8002", DEVICE_INUSE, talking_to="x")
    waiting = {
        f"w{n}": Waiting(f"w{n}", "hotline", "139", 1000.0 + 10 * n, n + 1) for n in range(3)
    }
    assert expected_wait(LiveState(), "hotline", 1100.0) is None  # nobody staffed
    assert expected_wait(LiveState({free.interface: free}), "hotline", 1100.0) == 0.0
    state = LiveState({free.interface: free, busy.interface: busy}, waiting)
    assert expected_wait(state, "hotline", 1100.0) == 100.0  # oldest waiter
    paused = _member("8003", DEVICE_NOT_INUSE, paused=True)
    assert expected_wait(LiveState({paused.interface: paused}), "hotline", 1100.0) is None
    assert expected_wait(state, "other", 1100.0) is None  # not its members
