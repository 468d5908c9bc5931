"""Self-service progress through the real work orders (the dispatch feature's port provider),
over TCP, on SQLite and PostgreSQL: status and deadline only, and the web lookup's lock-out."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.wiring import TICKETS
from hotline import bootstrap
from hotline.config import Settings
from hotline.db import Database
from hotline.ports import PROGRESS_LOOKUP, ProgressLocked
from ivr.agi.client import SimulatedChannel, environment, run_channel
from ivr.agi.server import FastAgiServer
from ivr.wiring import IVR
from tests.ivr.conftest import Call
from tests.workorders.conftest import AGENT, MONDAY_10H, wages_ticket


@pytest.fixture
async def live(settings: Settings, db: Database, units: None) -> Any:
    services = await bootstrap.build(settings, db=db, clock=lambda: MONDAY_10H)
    server = FastAgiServer(services[IVR], "127.0.0.1", 0)
    await server.start()
    try:
        yield services, server
    finally:
        await server.stop()


async def _call(server: FastAgiServer, inputs: list[str], callerid: str) -> Call:
    return Call(
        await run_channel(
            SimulatedChannel(inputs),
            environment("1.1", dnid="12345", callerid=callerid),
            "127.0.0.1",
            server.bound_port,
        )
    )


async def test_progress_of_a_real_ticket(live: Any) -> None:
    services, server = live
    view = await services[TICKETS].create(AGENT, wages_ticket())
    t = view.ticket
    digits = t.number.replace("-", "")
    call = await _call(server, ["8", digits + "#"], "13812345678")  # the caller's own phone
    status_at = call.prompts.index("progress_status")
    assert call.prompts[status_at + 1] == f"status_{t.status}"
    assert call.prompts[status_at + 2] == "progress_due" and t.due is not None
    # the deadline's year is spoken digit by digit
    assert call.prompts[status_at + 3 : status_at + 7] == [f"digit_{d}" for d in str(t.due.year)]
    # no personal data: nothing but prompt files and words is played
    assert not any("张三" in c or "13812345678" in c for c in call.commands)

    other = await _call(server, ["8", digits, "5678"], "13900000000")  # from another phone
    assert other.prompts[3:5] == ["progress_ask_last4", "progress_status"]


async def test_lock_out_as_the_web_lookup(live: Any) -> None:
    services, server = live
    t = (await services[TICKETS].create(AGENT, wages_ticket())).ticket
    port = services[PROGRESS_LOOKUP]
    for _ in range(10):
        assert await port.progress(t.number, "0000", "ivr:13900000000") is None
    with pytest.raises(ProgressLocked):
        await port.progress(t.number, "5678", "ivr:13900000000")
    # another caller (another pair) is not locked out
    assert (await port.progress(t.number, "5678", "ivr:13700000000")) is not None
    call = await _call(server, ["8", t.number.replace("-", "")], "13900000000")
    assert call.prompts[-2:] == ["progress_locked", "transfer"]
    assert call.variables["IVR_ACTION"] == "queue"
