"""What the call-tracking routes share (calls.web, calls.desk_web): the center this instance
runs now, and a call record as JSON."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from calls import wiring
from calls.calls import CallRecord
from calls.center import CallCenter
from hotline import localtime
from hotline.web.keys import SERVICES


def center_of(request: web.Request) -> CallCenter | None:
    """The center this instance runs now: the leader of a source (calls.leader) changes as
    instances take over."""
    return request.app[SERVICES].get(wiring.CENTER)


def record_json(r: CallRecord) -> dict[str, Any]:
    return {
        "uniqueid": r.uniqueid,
        "queue": r.queue,
        "caller": r.caller,
        "dialled": r.dialled,
        "outcome": r.outcome,
        "enter_at": localtime.ts_iso(r.enter_ts),
        "end_at": localtime.ts_iso(r.end_ts),
        "connect_at": localtime.ts_iso(r.connect_ts),
        "agent": r.agent,
        "hold_s": r.hold_s,
        "ring_s": r.ring_s,
        "wait_s": r.wait_s,
        "talk_s": r.talk_s,
        "ended_by": r.ended_by,
        "exit_reason": r.exit_reason,
        "in_progress": r.in_progress,
    }
