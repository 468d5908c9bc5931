"""The demo's IVR (`hotline demo`): the FastAGI server on a free local port and simulated
callers that ring it now and then, so the dashboard shows survey scores per agent and the
FastAGI counters move without a PBX. Callers only press 0 (a person) in the menu, never
leaving call-back requests, so the missed-call list holds only the replayed PBX's calls."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import socket
import time
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote

from hotline.config import Settings
from ivr.agi.client import SimulatedChannel, environment, run_channel

log = logging.getLogger(__name__)

# The member names of the recorded capture's queue (hotline.demo's agents).
DEMO_AGENTS = ("坐席1", "坐席2", "坐席3")
# Most citizens are satisfied; some do not answer.
SCORES = ("1", "1", "1", "2", "2", "3", "")


def embedded_ivr(
    settings: Settings,
    every: float = 20.0,
) -> tuple[Settings, Callable[[Any], AsyncIterator[None]]]:
    """Settings with the IVR on a free local port, and the cleanup context of its callers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    ivr = dataclasses.replace(settings.ivr, host="127.0.0.1", port=port, enabled=True)

    async def callers_ctx(app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(_callers(port, every), name="ivr-demo-callers")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return settings.replace(ivr=ivr), callers_ctx


async def _callers(port: int, every: float) -> None:
    n = 0
    while True:
        n += 1
        uniqueid = f"{int(time.time())}.{900000 + n}"
        agent = random.choice(DEMO_AGENTS)
        try:
            await run_channel(
                SimulatedChannel(["0"]), environment(uniqueid, dnid="12345"), "127.0.0.1", port
            )
            await run_channel(
                SimulatedChannel([random.choice(SCORES)]),
                environment(uniqueid, script=f"survey?agent={quote(agent, safe='')}&queue=hotline"),
                "127.0.0.1",
                port,
            )
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("demo IVR caller: %s", exc)
        await asyncio.sleep(every)
