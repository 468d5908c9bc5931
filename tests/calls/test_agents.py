"""Live state of members and waiting callers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from calls import agents
from calls.ami import events as ev

from . import frames

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
    live = agents.apply(
        live, ev.AgentConnect(6.0, Q, "C1", "坐席1", "PJSIP/8001", "L1", 4, 4, "13800000000")
    )
    assert agents.members_at(live, 7.0)[0].state == agents.TALKING
    assert agents.waiting_at(live, 7.0) == []
    live = agents.apply(
        live, ev.AgentComplete(30.0, Q, "C1", "坐席1", "PJSIP/8001", "L1", 4, 24, "agent", "")
    )
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


# --- members added and removed at run time (real header sets, see frames.py) --------------------

I4 = "Local/8004@agents/n"


def added(ts: float, **changes: str) -> ev.QueueMemberAdded:
    [e] = frames.parsed(
        frames.frame("QueueMemberAdded", ts, frames.member(4, Membership="dynamic", **changes))
    )
    assert isinstance(e, ev.QueueMemberAdded)
    return e


def removed(ts: float, queue: str = Q) -> ev.QueueMemberRemoved:
    [e] = frames.parsed(
        frames.frame("QueueMemberRemoved", ts, frames.member(4, Membership="dynamic", Queue=queue))
    )
    assert isinstance(e, ev.QueueMemberRemoved)
    return e


def test_a_member_added_at_run_time_is_on_the_board_at_once() -> None:
    live = agents.apply(agents.LiveState(), added(1795640000.5))
    assert live.members[I4] == agents.Member(
        I4, "坐席4", frozenset({Q}), agents.DEVICE_NOT_INUSE, since=1795640000.5
    )
    assert agents.members_at(live, 1795640030.5) == [
        agents.MemberView(I4, "坐席4", agents.AVAILABLE, "", "", 1795640000.5, 30.0)
    ]


def test_a_member_added_paused_or_logged_out() -> None:
    live = agents.apply(agents.LiveState(), added(10.0, Paused="1", PausedReason="培训"))
    m = live.members[I4]
    assert (m.paused, m.pause_reason) == (True, "培训")
    assert agents.members_at(live, 12.0)[0].state == agents.PAUSED
    # A reason left over without the pause is not shown.
    live = agents.apply(
        agents.LiveState(), added(10.0, Paused="0", PausedReason="培训", Status="5")
    )
    assert (live.members[I4].pause_reason, live.members[I4].device_status) == ("", 5)
    assert agents.members_at(live, 12.0)[0].state == agents.UNAVAILABLE


def test_a_member_added_to_a_second_queue_keeps_what_it_is_doing() -> None:
    live = agents.apply(agents.LiveState(), added(10.0))
    live = agents.apply(
        live, ev.QueueCallerJoin(11.0, Q, "C1", "", "t", "13800000000", "", "12345", 1, 1)
    )
    live = agents.apply(live, ev.AgentCalled(12.0, Q, "C1", "坐席4", I4, "L1"))
    live = agents.apply(live, added(13.0, Queue="complaints"))
    m = live.members[I4]
    assert (m.queues, m.ringing_for, m.caller) == (
        frozenset({Q, "complaints"}),
        "C1",
        "13800000000",
    )


def test_a_member_removed_from_its_last_queue_leaves_the_board() -> None:
    live = agents.LiveState(default_wrapup_s=3)
    for e in [
        added(10.0),
        added(11.0, Queue="complaints"),
        ev.QueueCallerJoin(12.0, Q, "C1", "", "t", "13800000000", "", "12345", 1, 1),
    ]:
        live = agents.apply(live, e)
    live = agents.apply(live, removed(20.0, queue="complaints"))
    assert live.members[I4].queues == frozenset({Q})
    live = agents.apply(live, removed(30.0))
    assert agents.members_at(live, 31.0) == [] and I4 not in live.members
    # The callers waiting and the queue's wrap-up are not the member's to take along.
    assert list(live.waiting) == ["C1"] and live.default_wrapup_s == 3
    assert agents.apply(live, removed(40.0)) is live  # unknown by now: nothing to do


# --- every event's effect on the member, field by field -----------------------------------------

I1 = "PJSIP/8001"


def member(**fields: object) -> agents.Member:
    values: dict[str, object] = dict(
        interface=I1, name="坐席1", queues=frozenset({Q}), device_status=1, since=1.0
    )
    values.update(fields)
    return agents.Member(**values)  # type: ignore[arg-type]


def join(
    ts: float, uid: str, position: int, queue: str = Q, caller: str = "13800000000"
) -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin(
        ts, queue, uid, "", "PJSIP/t", caller, "", "12345", position, position
    )


def leave(ts: float, uid: str, position: int, queue: str = Q) -> ev.QueueCallerLeave:
    return ev.QueueCallerLeave(ts, queue, uid, "PJSIP/t", position, 0)


def fold(*events: object, live: agents.LiveState | None = None) -> agents.LiveState:
    live = live or agents.LiveState()
    for e in events:
        live = agents.apply(live, e)
    return live


def test_member_status_first_seen_pause_changes_and_wrapup() -> None:
    live = fold(status(1.0))
    assert live.members[I1] == member()
    live = fold(ev.QueueMemberStatus(5.0, Q, "坐席1", I1, 2, False, "", False, 7), live=live)
    assert live.members[I1] == member(device_status=2, wrapup_s=7)  # same pause state: since kept
    live = fold(
        ev.QueueMemberStatus(6.0, "complaints", "坐席1", I1, 1, True, "午休", False, 0), live=live
    )
    assert live.members[I1] == member(
        queues=frozenset({Q, "complaints"}), paused=True, pause_reason="午休", since=6.0, wrapup_s=7
    )


def test_member_status_with_a_reason_but_no_pause_shows_no_reason() -> None:
    live = fold(status(1.0, reason="午休"))
    assert live.members[I1].pause_reason == ""


def test_pause_event_sets_reason_and_time() -> None:
    live = fold(status(1.0), ev.QueueMemberPause(2.0, "complaints", "坐席1", I1, True, "培训"))
    assert live.members[I1] == member(
        queues=frozenset({Q, "complaints"}), paused=True, pause_reason="培训", since=2.0
    )
    live = fold(ev.QueueMemberPause(3.0, Q, "坐席1", I1, False, "培训"), live=live)
    assert (live.members[I1].paused, live.members[I1].pause_reason, live.members[I1].since) == (
        False,
        "",
        3.0,
    )


def test_ringing_then_no_answer() -> None:
    live = fold(status(1.0), join(2.0, "C1", 1), ev.AgentCalled(2.5, Q, "C1", "坐席1", I1, "L1"))
    assert live.members[I1] == member(ringing_for="C1", caller="13800000000", since=2.5)
    # Another caller's ring ending is not this one's.
    assert agents.apply(live, ev.AgentRingNoAnswer(9.0, Q, "C9", "坐席1", I1, "L9", 15000)) is live
    live = fold(ev.AgentRingNoAnswer(17.5, Q, "C1", "坐席1", I1, "L1", 15000), live=live)
    assert live.members[I1] == member(since=17.5)


def test_ringing_for_a_caller_not_seen_waiting_shows_no_number() -> None:
    live = fold(ev.AgentCalled(2.5, "complaints", "C7", "坐席1", I1, "L1"))
    assert live.members[I1] == agents.Member(
        I1, "坐席1", frozenset({"complaints"}), ringing_for="C7", since=2.5
    )


def test_connect_complete_and_wrapup() -> None:
    live = fold(
        status(1.0),
        join(2.0, "C1", 1),
        join(3.0, "C2", 2),
        ev.AgentCalled(4.0, Q, "C1", "坐席1", I1, "L1"),
        ev.AgentConnect(6.0, Q, "C1", "坐席1", I1, "L1", 2, 4, "13800000000"),
        live=agents.LiveState(default_wrapup_s=3),
    )
    assert live.members[I1] == member(talking_to="C1", caller="13800000000", since=6.0)
    assert list(live.waiting) == ["C2"]
    live = fold(ev.AgentComplete(30.0, Q, "C1", "坐席1", I1, "L1", 4, 24, "agent", ""), live=live)
    assert live.members[I1] == member(since=30.0, wrapup_until=33.0)
    assert agents.member_state(live.members[I1], 32.9) == agents.WRAP_UP
    assert agents.member_state(live.members[I1], 33.0) == agents.AVAILABLE
    # The member's own wrapuptime wins over the queue's.
    live = fold(ev.QueueMemberStatus(31.0, Q, "坐席1", I1, 1, False, "", False, 10), live=live)
    live = fold(ev.AgentComplete(40.0, Q, "C2", "坐席1", I1, "L2", 4, 2, "agent", ""), live=live)
    assert live.members[I1].wrapup_until == 50.0


def test_agent_dump_ends_ringing_and_talking() -> None:
    # Parsed from a real header set: the member hung up before the bridge.
    [dump] = frames.parsed(frames.DUMP_1)
    i = "Local/8001@agents/n"
    live = fold(*frames.parsed(frames.JOIN, frames.CALLED_1))
    assert live.members[i].ringing_for == frames.CALLER_UID
    live = fold(dump, live=live)
    assert live.members[i] == agents.Member(i, "坐席1", frozenset({Q}), since=dump.ts)
    assert agents.members_at(live, dump.ts + 1)[0].state == agents.AVAILABLE
    # The caller is still waiting for the next member.
    assert [w.uniqueid for w in agents.waiting_at(live, dump.ts)] == [frames.CALLER_UID]
    talking = fold(
        status(1.0), ev.AgentConnect(6.0, Q, "C1", "坐席1", I1, "L1", 2, 4, "13800000000")
    )
    assert fold(ev.AgentDump(7.0, Q, "C1", "坐席1", I1), live=talking).members[I1] == member(
        since=7.0
    )


def test_events_without_an_interface_find_the_member_by_name() -> None:
    live = fold(status(1.0), ev.AgentCalled(2.0, Q, "C1", "坐席1", I1, "L1"))
    live = fold(ev.AgentRingNoAnswer(17.0, Q, "C1", "坐席1", "", "L1", 15000), live=live)
    assert set(live.members) == {I1} and live.members[I1].ringing_for is None
    # With an interface of its own it is another member, even under the same name.
    live = fold(ev.AgentCalled(18.0, Q, "C2", "坐席1", "PJSIP/8009", "L2"), live=live)
    assert set(live.members) == {I1, "PJSIP/8009"}
    # Unknown name and no interface: a member of its own.
    live = fold(ev.AgentDump(19.0, Q, "C3", "坐席7", ""), live=live)
    assert live.members[""] == agents.Member("", "坐席7", since=19.0)


def test_queue_status_member_not_in_a_call_ends_a_talk_whose_completion_was_lost() -> None:
    talking = fold(
        status(1.0), ev.AgentConnect(6.0, Q, "C1", "坐席1", I1, "L1", 2, 4, "13800000000")
    )
    listed = ev.QueueMember(60.0, "a", Q, "坐席1", I1, 1, False, "", False, 0)
    after = fold(ev.Resync(60.0, (), (listed,), ()), live=talking).members[I1]
    assert (after.talking_to, after.caller) == (None, "")
    assert agents.member_state(after, 60.0) == agents.AVAILABLE
    # In a call per the list: still talking. A status event says nothing about the call.
    in_call = ev.QueueMember(60.0, "a", Q, "坐席1", I1, 2, False, "", True, 0)
    assert fold(ev.Resync(60.0, (), (in_call,), ()), live=talking).members[I1].talking_to == "C1"
    status_event = ev.QueueMemberStatus(60.0, Q, "坐席1", I1, 1, False, "", False, 0)
    assert fold(status_event, live=talking).members[I1].talking_to == "C1"


# --- waiting callers ------------------------------------------------------------------------------


def test_callers_behind_move_up_when_one_leaves() -> None:
    live = fold(
        join(1.0, "A", 1),
        join(2.0, "B", 2),
        join(3.0, "C", 3),
        join(2.5, "X", 1, queue="complaints"),
        join(3.5, "Y", 2, queue="complaints"),
    )
    live = fold(leave(10.0, "A", 1), live=live)
    assert [
        (w.uniqueid, w.queue, w.caller, w.position, w.wait_s) for w in agents.waiting_at(live, 11.0)
    ] == [
        ("X", "complaints", "13800000000", 1, 8.5),
        ("Y", "complaints", "13800000000", 2, 7.5),
        ("B", Q, "13800000000", 1, 9.0),
        ("C", Q, "13800000000", 2, 8.0),
    ]
    live = fold(leave(12.0, "C", 2), live=live)  # the last one: nobody behind
    assert {w.uniqueid: w.position for w in live.waiting.values()} == {"B": 1, "X": 1, "Y": 2}


def test_a_leave_without_a_position_moves_nobody() -> None:
    live = fold(join(1.0, "A", 1), join(2.0, "B", 2), leave(10.0, "A", 0))
    assert live.waiting["B"].position == 2


def test_a_leave_stops_the_members_ringing_for_that_caller() -> None:
    live = fold(
        status(1.0),
        join(2.0, "A", 1),
        join(2.1, "B", 2),
        ev.AgentCalled(3.0, Q, "A", "坐席1", I1, "L1"),
        ev.AgentCalled(3.0, Q, "B", "坐席2", "PJSIP/8002", "L2"),
    )
    live = fold(leave(9.0, "A", 1), live=live)
    assert live.members[I1] == member(since=9.0)
    assert live.members["PJSIP/8002"].ringing_for == "B"
    assert agents.apply(live, leave(9.5, "A", 1)) is live  # already gone


def test_a_replayed_join_keeps_the_first_entry() -> None:
    live = fold(join(1.0, "A", 1), join(5.0, "A", 3))
    assert live.waiting["A"] == agents.Waiting("A", Q, "13800000000", 1.0, 1)


def test_resync_rebuilds_the_waiting_list_from_queue_status() -> None:
    live = fold(join(1.0, "A", 1), join(2.0, "B", 2), live=agents.LiveState(default_wrapup_s=3))
    entries = (
        ev.QueueEntry(50.0, "a", Q, 1, "B", "PJSIP/b", "13900000001", "", 47),
        ev.QueueEntry(50.0, "a", "complaints", 1, "D", "PJSIP/d", "13900000002", "", 20),
    )
    live = fold(ev.Resync(50.0, entries, (), ()), live=live)
    # A is gone; B keeps its exact entry time, takes the listed position; D's is estimated.
    assert live.waiting == {
        "B": agents.Waiting("B", Q, "13900000001", 2.0, 1),
        "D": agents.Waiting("D", "complaints", "13900000002", 30.0, 1),
    }
    assert live.default_wrapup_s == 3


# --- the board ----------------------------------------------------------------------------------


def test_board_lists_members_by_name_with_their_state() -> None:
    live = fold(
        ev.QueueMemberStatus(1.0, Q, "坐席3", "PJSIP/8003", 6, False, "", False, 0),
        ev.QueueMemberStatus(1.0, Q, "坐席1", I1, 1, True, "午休", False, 0),
        ev.QueueMemberStatus(2.0, Q, "坐席2", "PJSIP/8002", 4, False, "", False, 0),
    )
    assert agents.members_at(live, 0.5) == [
        agents.MemberView(I1, "坐席1", agents.PAUSED, "午休", "", 1.0, 0.0),
        agents.MemberView("PJSIP/8002", "坐席2", agents.UNAVAILABLE, "", "", 2.0, 0.0),
        agents.MemberView("PJSIP/8003", "坐席3", agents.RINGING, "", "", 1.0, 0.0),
    ]
    assert agents.waiting_at(fold(join(5.0, "A", 1)), 4.0)[0].wait_s == 0.0


def test_member_state_precedence() -> None:
    base = agents.Member(
        I1, "坐席1", device_status=agents.DEVICE_UNAVAILABLE, paused=True, wrapup_until=100.0
    )
    assert agents.member_state(base, 50.0) == agents.PAUSED
    assert agents.member_state(replace(base, paused=False), 50.0) == agents.WRAP_UP
    assert agents.member_state(replace(base, paused=False), 100.0) == agents.UNAVAILABLE
    assert agents.member_state(replace(base, ringing_for="C1"), 50.0) == agents.RINGING
    assert (
        agents.member_state(replace(base, device_status=agents.DEVICE_RINGINUSE), 50.0)
        == agents.RINGING
    )
    assert (
        agents.member_state(replace(base, ringing_for="C1", talking_to="C2"), 50.0)
        == agents.TALKING
    )
    assert (
        agents.member_state(agents.Member(I1, "坐席1", device_status=agents.DEVICE_INVALID), 0.0)
        == agents.UNAVAILABLE
    )


def test_events_the_board_does_not_follow_leave_it_alone() -> None:
    live = fold(status(1.0))
    assert agents.apply(live, ev.Hangup(2.0, "C1", "PJSIP/t", 16)) is live


TWINS = "PJSIP/8009"  # a second member under the same name as 坐席1 (another interface)


@pytest.mark.parametrize(
    "event",
    [
        ev.AgentConnect(20.0, Q, "C1", "坐席1", TWINS, "L1", 2, 4, "13800000000"),
        ev.AgentComplete(20.0, Q, "C1", "坐席1", TWINS, "L1", 4, 2, "agent", ""),
        ev.AgentRingNoAnswer(20.0, Q, "C1", "坐席1", TWINS, "L1", 15000),
        ev.QueueMemberPause(20.0, Q, "坐席1", TWINS, True, "培训"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_event_with_an_interface_changes_that_member_not_a_namesake(event: object) -> None:
    live = fold(
        status(1.0),
        ev.QueueMemberStatus(1.0, Q, "坐席1", TWINS, 1, False, "", False, 0),
        ev.AgentCalled(10.0, Q, "C1", "坐席1", TWINS, "L1"),
    )
    after = fold(event, live=live)
    assert after.members[I1] == live.members[I1]
    assert after.members[TWINS] != live.members[TWINS]


@pytest.mark.parametrize(
    "event",
    [
        ev.AgentConnect(20.0, Q, "C1", "坐席1", "", "L1", 2, 4, "13800000000"),
        ev.AgentComplete(20.0, Q, "C1", "坐席1", "", "L1", 4, 2, "agent", ""),
        ev.QueueMemberStatus(20.0, Q, "坐席1", "", 2, True, "午休", False, 0),
        ev.QueueMemberPause(20.0, Q, "坐席1", "", True, "培训"),
        ev.QueueMemberAdded(20.0, "complaints", "坐席1", "", 1, True, "培训"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_event_without_an_interface_changes_the_member_of_that_name(event: object) -> None:
    live = fold(status(1.0), ev.AgentCalled(10.0, Q, "C1", "坐席1", I1, "L1"))
    after = fold(event, live=live)
    assert set(after.members) == {I1} and after.members[I1] != live.members[I1]


@pytest.mark.parametrize(
    "event",
    [
        ev.QueueMemberStatus(20.0, Q, "张三", I1, 1, False, "", False, 0),
        ev.QueueMemberPause(20.0, Q, "张三", I1, True, "培训"),
        ev.QueueMemberAdded(20.0, "complaints", "张三", I1, 1, False, ""),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_member_renamed_in_asterisk_shows_its_new_name(event: object) -> None:
    live = fold(status(1.0), event)
    assert [v.name for v in agents.members_at(live, 21.0)] == ["张三"]


def test_connect_names_the_caller_even_when_the_ringing_was_missed() -> None:
    live = fold(status(1.0), ev.AgentConnect(6.0, Q, "C5", "坐席1", I1, "L5", 2, 4, "13911112222"))
    assert live.members[I1] == member(talking_to="C5", caller="13911112222", since=6.0)
