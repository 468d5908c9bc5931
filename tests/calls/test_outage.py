"""The recorded outage end to end (issue 16): the service stops as the outage window opens,
the PBX goes on unheard for the window, a new process starts; what is stored then equals
Asterisk's queue_log, and every caller who did not get through is owed a call back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from calls import records
from calls.ami.listener import AmiListener, ListenerOptions
from calls.ami.replay import Capture, ReplayServer
from calls.calls import UNKNOWN
from calls.center import CallCenter
from calls.models import MissedCallback
from calls.queuelog import QueueLogFile
from hotline.config import Policy
from hotline.db import Database

from .conftest import outage_dirs
from .test_captures import QueueLogAsWritten, assert_matches, outage_replay, queue_log_truth

FAST = ListenerOptions(backoff_initial_s=0.5, backoff_max_s=1.0)


def owed(truth: dict) -> dict[str, str]:
    """Caller -> outcome of their first miss, for callers who never got through afterwards."""
    out: dict[str, str] = {}
    for call in sorted(truth["calls"].values(), key=lambda c: c["enter"]):
        if call["outcome"] in ("abandoned", "timed_out"):
            out.setdefault(call["caller"], call["outcome"])
        elif call["outcome"] == "answered":
            out.pop(call["caller"], None)
    return out


async def run_outage(
    db: Database, folder: Path, queue_log: bool, resume_delay_s: float = 0.0
) -> tuple[CallCenter, ReplayServer]:
    """At full speed; without `resume_delay_s` the stream goes on right after the new login,
    so the rest of the run races the resync's lists (harder than a real PBX)."""
    options = outage_replay(folder)
    server = ReplayServer(
        Capture.load(folder),
        speed=0,
        drop_at=options["drop_at"],
        skip_on_drop=options["skip_on_drop"],
        resume_delay_s=resume_delay_s,
    )
    _, port = await server.start("127.0.0.1", 0)

    def center(log: QueueLogFile | None, options: ListenerOptions = FAST) -> CallCenter:
        listener = AmiListener("127.0.0.1", port, "u", "p", options)
        return CallCenter(db, listener, Policy(), "pbx:5038", log)

    # The service that dies with the outage never reconnects (a slow machine could otherwise
    # let it log in again before it is stopped).
    first = center(None, ListenerOptions(backoff_initial_s=60, backoff_max_s=60))
    await first.start()
    try:
        async with asyncio.timeout(30):  # stopped once it has read all up to the window
            while not (
                first.listener.stats.events == options["drop_at"][0]
                and not first.listener.connected.is_set()
            ):
                await asyncio.sleep(0.005)
    finally:
        await first.stop()
    second = center(QueueLogAsWritten(folder / "queue_log", server) if queue_log else None)
    await second.start()
    try:
        await asyncio.wait_for(server.finished.wait(), 60)
        await second.listener.wait_connected(10)
        await second.listener.sync()
    finally:
        await second.stop()
        await server.close()
    return second, server


@pytest.mark.parametrize("outage_dir", outage_dirs(), ids=lambda p: p.name)
async def test_restart_after_the_outage_stores_what_queue_log_says(
    db: Database, outage_dir: Path
) -> None:
    second, _ = await run_outage(db, outage_dir, queue_log=True)
    truth = queue_log_truth(outage_dir)
    stored = await records.load_records(db)
    in_progress = [r for r in second.tracker.all_records() if r.in_progress]
    assert_matches(outage_dir, stored + in_progress, queue_log_truth(outage_dir))
    async with db.read() as s:
        rows = (
            (await s.execute(select(MissedCallback).where(MissedCallback.status == "open")))
            .scalars()
            .all()
        )
    assert {r.caller: r.reason for r in rows} == owed(truth)


@pytest.mark.parametrize("outage_dir", outage_dirs(), ids=lambda p: p.name)
async def test_without_queue_log_every_caller_not_answered_is_owed_a_call_back(
    db: Database, outage_dir: Path
) -> None:
    # A PBX sends few events in the instant after a login: the resync lists the callers who
    # joined in the gap while they still wait.
    await run_outage(db, outage_dir, queue_log=False, resume_delay_s=0.2)
    truth = queue_log_truth(outage_dir)
    stored = {r.uniqueid: r for r in await records.load_records(db)}
    unknown = {uid for uid, r in stored.items() if r.outcome == UNKNOWN}
    assert unknown, "the outage leaves calls whose end nobody saw"
    async with db.read() as s:
        rows = {
            r.caller: r
            for r in (
                await s.execute(select(MissedCallback).where(MissedCallback.status == "open"))
            ).scalars()
        }
    # Everyone owed by the truth has an entry, and each unknown call's caller was owed.
    assert set(owed(truth)) <= set(rows)
    for uid in unknown:
        caller = stored[uid].caller
        assert truth["calls"][uid]["outcome"] != "answered"
        assert caller in rows
    assert "outage" in {r.reason for r in rows.values()}
