"""Live state of members and waiting callers."""

from __future__ import annotations

from hotline.telephony import agents
from hotline.telephony import events as ev

Q = "hotline"


def status(ts: float, st: int = 1, paused: bool = False, reason: str = "") -> ev.QueueMemberStatus:
    return ev.QueueMemberStatus(ts, Q, "坐席1", "PJSIP/8001", st, paused, reason, False, 0)


def test_member_goes_through_ringing_talking_wrapup_available() -> None:
    live = agents.LiveState(default_wrapup_s=3)
    events = [
        status(1.0),
        ev.QueueCallerJoin(2.0, Q, "C1", "", "PJSIP/t", "13800000000", "", "12345", 1, 1),
        ev.AgentCalled(2.1, Q, "C1", "坐席1", "PJSIP/8001", "L1"),
    ]
    for e in events:
        live = agents.apply(live, e)
    [view] = agents.members_at(live, 3.0)
    assert view.state == agents.RINGING and view.caller == "13800000000"
    [w] = agents.waiting_at(live, 5.0)
    assert w.caller == "13800000000" and w.wait_s == 3.0
    live = agents.apply(live, ev.QueueCallerLeave(6.0, Q, "C1", "PJSIP/t", 1, 0))
    live = agents.apply(live, ev.AgentConnect(6.0, Q, "C1", "坐席1", "PJSIP/8001", "L1", 4, 4,
                                              "13800000000"))
    assert agents.members_at(live, 7.0)[0].state == agents.TALKING
    assert agents.waiting_at(live, 7.0) == []
    live = agents.apply(live, ev.AgentComplete(30.0, Q, "C1", "坐席1", "PJSIP/8001", "L1", 4, 24,
                                               "agent", ""))
    assert agents.members_at(live, 31.0)[0].state == agents.WRAP_UP
    assert agents.members_at(live, 33.5)[0].state == agents.AVAILABLE


def test_pause_with_reason_and_unavailable() -> None:
    live = agents.apply(agents.LiveState(), status(1.0))
    live = agents.apply(live, ev.QueueMemberPause(2.0, Q, "坐席1", "PJSIP/8001", True, "午休"))
    view = agents.members_at(live, 62.0)[0]
    assert (view.state, view.pause_reason, view.seconds_in_state) == (agents.PAUSED, "午休", 60.0)
    live = agents.apply(live, ev.QueueMemberPause(70.0, Q, "坐席1", "PJSIP/8001", False, ""))
    live = agents.apply(live, status(71.0, st=5))
    assert agents.members_at(live, 72.0)[0].state == agents.UNAVAILABLE


def test_resync_brings_members_and_waiting_callers() -> None:
    member = ev.QueueMember(50.0, "a", Q, "坐席3", "PJSIP/8003", 1, True, "培训", False, 0)
    entry = ev.QueueEntry(50.0, "a", Q, 1, "C9", "PJSIP/t", "13900000000", "", 20)
    live = agents.apply(agents.LiveState(), ev.Resync(50.0, (entry,), (member,), ()))
    [m] = agents.members_at(live, 50.0)
    assert (m.name, m.state, m.pause_reason) == ("坐席3", agents.PAUSED, "培训")
    [w] = agents.waiting_at(live, 50.0)
    assert w.wait_s == 20.0
