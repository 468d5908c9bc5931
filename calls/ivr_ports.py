"""What the calls feature answers the IVR (hotline.ports): call-back requests join the
missed-call list agents work, and a queue's expected wait read from the live state."""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from sqlalchemy import select

from calls.agents import AVAILABLE, PAUSED, UNAVAILABLE, LiveState, member_state
from calls.center import CallCenter
from calls.models import MissedCallback
from hotline.db import Database, utcnow


class CallbackList:
    """hotline.ports.CallbackRequests: a caller who asked the IVR for a call back (night or
    holiday mode, or a long wait) gets the same open entry as a caller who gave up in the
    queue: one open row per number, its count raised when one is already open. A later call
    from that number that gets through settles it, as for any missed call (calls.store)."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def request_callback(self, phone: str, *, uniqueid: str, reason: str) -> None:
        now = self.clock()
        ts = now.timestamp()
        async with self.db.write() as s:
            row = await s.scalar(
                select(MissedCallback)
                .where(MissedCallback.status == "open", MissedCallback.caller == phone)
                .with_for_update()
            )
            if row is None:
                s.add(
                    MissedCallback(
                        caller=phone,
                        status="open",
                        missed_count=1,
                        first_uniqueid=uniqueid,
                        last_uniqueid=uniqueid,
                        first_missed_ts=ts,
                        last_missed_ts=ts,
                        first_missed_at=now,
                        longest_wait_s=0,
                        attempts=0,
                        reason=f"ivr:{reason}"[:32],
                        version=1,
                    )
                )
            elif row.last_uniqueid != uniqueid:
                row.missed_count += 1
                row.last_uniqueid, row.last_missed_ts = uniqueid, max(row.last_missed_ts, ts)
                row.version += 1


def expected_wait(live: LiveState, queue: str, now: float) -> float | None:
    """Seconds a caller joining `queue` now may wait: 0 with an agent free for every caller
    already waiting; else the wait of the longest-waiting caller there (the queue is moving
    no faster than that); None when no agent of that queue is logged in (the caller waits
    for nobody)."""
    staffed = [
        m
        for m in live.members.values()
        if (queue in m.queues or not m.queues) and member_state(m, now) not in (PAUSED, UNAVAILABLE)
    ]
    if not staffed:
        return None
    waiting = [w for w in live.waiting.values() if w.queue == queue]
    free = sum(1 for m in staffed if member_state(m, now) == AVAILABLE)
    if free > len(waiting):
        return 0.0
    return max((now - w.enter_ts for w in waiting), default=0.0)


class LiveQueueWait:
    """hotline.ports.QueueWait over the call center this process runs (the ami worker);
    None when it runs none."""

    def __init__(
        self, center: Callable[[], CallCenter | None], clock: Callable[[], float] = time.time
    ) -> None:
        self.center = center
        self.clock = clock

    def estimated_wait(self, queue: str) -> float | None:
        center = self.center()
        if center is None:
            return None
        return expected_wait(center.tracker.live, queue, self.clock())
