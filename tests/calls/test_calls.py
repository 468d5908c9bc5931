"""The call state machine on plain lists of typed events (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from calls import calls
from calls.ami import events as ev
from calls.ami import parse as ami_parse
from calls.calls import CallState, apply, fold, snapshot
from calls.ami.replay import Capture

from . import frames
from .conftest import capture_dirs, expected

Q = "hotline"
UID = "1700000000.1"


def join(ts: float = 100.2, uid: str = UID, caller: str = "13800000000") -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin(
        ts, Q, uid, "1700000000.0", "PJSIP/trunk-1", caller, "", "12345", 1, 1
    )


def called(ts: float, member: str = "坐席1", leg: str = "L1", uid: str = UID) -> ev.AgentCalled:
    return ev.AgentCalled(ts, Q, uid, member, f"PJSIP/{member}", leg)


def rna(ts: float, member: str = "坐席1", leg: str = "L1", ms: int = 15000) -> ev.AgentRingNoAnswer:
    return ev.AgentRingNoAnswer(ts, Q, UID, member, f"PJSIP/{member}", leg, ms)


def connect(
    ts: float, hold: int, ring: int, member: str = "坐席1", leg: str = "L1", uid: str = UID
) -> ev.AgentConnect:
    return ev.AgentConnect(ts, Q, uid, member, f"PJSIP/{member}", leg, ring, hold, "13800000000")


def complete(
    ts: float, hold: int, talk: int, reason: str = "agent", member: str = "坐席1", uid: str = UID
) -> ev.AgentComplete:
    return ev.AgentComplete(ts, Q, uid, member, f"PJSIP/{member}", "L1", hold, talk, reason, "")


def leave(ts: float, uid: str = UID) -> ev.QueueCallerLeave:
    return ev.QueueCallerLeave(ts, Q, uid, "PJSIP/trunk-1", 1, 0)


def abandon(ts: float, hold: int) -> ev.QueueCallerAbandon:
    return ev.QueueCallerAbandon(ts, Q, UID, "PJSIP/trunk-1", 1, 1, hold)


def hangup_request(ts: float, soft: bool = False) -> ev.HangupRequest:
    return ev.HangupRequest(ts, UID, "PJSIP/trunk-1", soft)


def hangup(ts: float, uid: str = UID) -> ev.Hangup:
    return ev.Hangup(ts, uid, "PJSIP/trunk-1", 16)


def newchannel(ts: float = 99.0) -> ev.Newchannel:
    return ev.Newchannel(
        ts, UID, "1700000000.0", "PJSIP/trunk-1", "13800000000", "from-trunk", "12345"
    )


def test_answered_call_with_a_ring_no_answer_first() -> None:
    state, records = fold(
        [
            newchannel(),
            join(),
            called(101.0, "坐席2", "L0"),
            rna(116.0, "坐席2", "L0"),
            called(117.0),
            leave(120.5),
            connect(120.5, hold=20, ring=3),
            complete(150.9, 20, 30, "caller"),
            hangup(151.0),
        ]
    )
    assert not state.calls
    [r] = records
    assert r.summary() == {
        "caller": "13800000000",
        "outcome": "answered",
        "enter": 100,
        "agent": "坐席1",
        "hold_s": 20,
        "ring_s": 3,
        "talk_s": 30,
        "ended_by": "caller",
    }
    assert r.dialled == "12345"
    assert r.connect_ts == 120.5 and r.end_ts == 150.9
    assert [(a.member_name, a.outcome, a.ring_ms) for a in r.attempts] == [
        ("坐席2", "no_answer", 15000),
        ("坐席1", "answered", 3000),
    ]


def test_caller_hangup_is_an_abandon() -> None:
    # Order as Asterisk sends it: HangupRequest, QueueCallerAbandon, QueueCallerLeave, Hangup.
    _, records = fold(
        [
            join(),
            called(101.0),
            hangup_request(130.0),
            abandon(130.0, 29),
            leave(130.0),
            hangup(130.1),
        ]
    )
    [r] = records
    assert r.summary() == {
        "caller": "13800000000",
        "outcome": "abandoned",
        "enter": 100,
        "wait_s": 29,
    }
    assert r.attempts[0].outcome == "canceled"


def test_soft_hangup_request_is_an_abandon_too() -> None:
    _, [r] = fold([join(), hangup_request(110.0, soft=True), abandon(110.0, 9), leave(110.0)])
    assert r.outcome == "abandoned"


def test_abandon_without_hangup_request_is_a_queue_timeout() -> None:
    # Queue timeout / empty queue: QueueCallerAbandon too, but the channel was not hung up.
    state, records = fold([join(), abandon(160.0, 60), leave(160.0)])
    [r] = records
    assert r.outcome == "timed_out" and r.exit_reason == "timeout" and r.wait_s == 60
    assert r.summary() == {
        "caller": "13800000000",
        "outcome": "timed_out",
        "enter": 100,
        "wait_s": 60,
    }


def test_leave_without_connect_is_an_exit_with_a_key() -> None:
    state = CallState()
    for e in [join(), leave(110.7)]:
        state = apply(state, e)
    assert not state.finished and UID in state.calls  # AgentConnect could still follow
    state = apply(state, hangup(140.0))
    [r] = state.finished
    assert r.outcome == "timed_out" and r.exit_reason == "key" and r.wait_s == 10


def test_member_answering_as_its_ring_timeout_fires() -> None:
    # Asterisk then reports AgentRingNoAnswer and AgentConnect for the same leg.
    _, [r] = fold(
        [
            join(),
            called(101.0),
            rna(116.0),
            leave(116.0),
            connect(116.0, hold=15, ring=15),
            complete(130.0, 15, 14),
        ]
    )
    assert [a.outcome for a in r.attempts] == ["no_answer", "answered"]
    assert r.outcome == "answered" and r.hold_s == 15


def test_completion_without_channel_fields_is_matched_by_member() -> None:
    # The caller's channel can be gone first: AgentComplete then has no Uniqueid.
    _, records = fold(
        [
            join(),
            called(101.0),
            leave(105.0),
            connect(105.0, 5, 4),
            hangup(140.0),
            complete(140.0, 5, 35, uid=""),
        ]
    )
    [r] = records
    assert (r.outcome, r.talk_s, r.ended_by, r.agent) == ("answered", 35, "agent", "坐席1")


def test_transfer_is_answered_and_ended_by_transfer() -> None:
    _, [r] = fold([join(), leave(105.0), connect(105.0, 5, 1), complete(200.0, 5, 95, "transfer")])
    assert r.outcome == "answered" and r.ended_by == "transfer"


def test_replayed_events_do_not_double_count() -> None:
    events = [join(), called(101.0), leave(105.0), connect(105.0, 5, 4)]
    state, _ = fold(events + events)
    assert len(state.calls) == 1
    assert [a.outcome for a in state.calls[UID].attempts] == ["answered"]


def test_resync_adds_callers_already_waiting_and_settles_the_rest() -> None:
    state, _ = fold([join(uid="A"), join(uid="B"), join(uid="C")])
    entry = ev.QueueEntry(0.0, "x", Q, 1, "D", "PJSIP/d", "13900000000", "", 30)
    entry_a = ev.QueueEntry(0.0, "x", Q, 2, "A", "PJSIP/a", "13800000000", "", 100)
    bridged = ev.CoreShowChannel(
        0.0, "y", "B", "B", "PJSIP/b", "", "from-trunk", "12345", "Queue", "br-1"
    )
    channel_d = ev.CoreShowChannel(
        0.0, "y", "D", "D", "PJSIP/d", "", "from-trunk", "12345", "Queue", ""
    )
    state = apply(state, ev.Resync(200.0, (entry, entry_a), (), (bridged, channel_d)))
    # C's channel is gone: it ended while we were away, outcome unknown.
    assert [(r.uniqueid, r.outcome) for r in state.finished] == [("C", "unknown")]
    assert state.calls["A"].phase == calls.WAITING and not state.calls["A"].resynced
    assert state.calls["B"].phase == calls.CONNECTED
    d = state.calls["D"]
    assert d.resynced and d.enter_ts == 170.0 and d.dialled == "12345"
    # Its AgentConnect later gives the exact entry second from Asterisk's HoldTime.
    state = apply(state, connect(215.4, hold=45, ring=2, uid="D"))
    assert state.calls["D"].enter_ts == 170.0 and state.calls["D"].hold_s == 45


def test_snapshot_shows_calls_in_progress() -> None:
    state, records = fold([join(uid="A"), join(uid="B"), connect(110.0, 10, 2, uid="B")])
    assert not records
    snap = {r.uniqueid: r for r in snapshot(state)}
    assert snap["A"].outcome == "waiting" and snap["A"].in_progress
    assert snap["B"].outcome == "answered" and snap["B"].talk_s is None


def test_unknown_events_leave_the_state_alone() -> None:
    state = CallState()
    assert apply(state, object()) is state


def test_resync_does_not_judge_calls_younger_than_the_channel_list() -> None:
    # CoreShowChannels is answered before QueueStatus; a call that joined and was connected in
    # between is in neither list, yet very much alive.
    state, _ = fold(
        [join(ts=100.0, uid="A"), join(ts=205.0, uid="B"), connect(206.0, 1, 1, uid="B")]
    )
    state = apply(state, ev.Resync(207.0, (), (), (), channels_ts=204.0))
    assert [r.uniqueid for r in state.finished] == ["A"]
    assert state.calls["B"].phase == calls.CONNECTED


# --- whole records: every field a finished call carries ---------------------------------------

LINKED = "1700000000.0"


def record(outcome: str, end_ts: float, **fields: object) -> calls.CallRecord:
    """The record of the call UID as `join()` started it."""
    values: dict[str, object] = dict(
        uniqueid=UID,
        linkedid=LINKED,
        queue=Q,
        caller="13800000000",
        dialled="12345",
        outcome=outcome,
        enter_ts=100.2,
        end_ts=end_ts,
    )
    values.update(fields)
    return calls.CallRecord(**values)  # type: ignore[arg-type]


def attempt(
    member: str, leg: str, start: float, end: float | None, outcome: str, ring_ms: int | None = None
) -> calls.RingAttempt:
    return calls.RingAttempt(member, f"PJSIP/{member}", leg, start, end, outcome, ring_ms)


def test_answered_record_in_full() -> None:
    _, [r] = fold(
        [
            newchannel(),
            join(),
            called(101.0, "坐席2", "L0"),
            rna(116.0, "坐席2", "L0"),
            called(117.0),
            leave(120.5),
            connect(120.5, hold=20, ring=3),
            complete(150.9, 20, 30, "caller"),
            hangup(151.0),
        ]
    )
    assert r == record(
        "answered",
        150.9,
        connect_ts=120.5,
        agent="坐席1",
        hold_s=20,
        ring_s=3,
        wait_s=20,
        talk_s=30,
        ended_by="caller",
        attempts=(
            attempt("坐席2", "L0", 101.0, 116.0, "no_answer", 15000),
            attempt("坐席1", "L1", 117.0, 120.5, "answered", 3000),
        ),
    )


def test_ringall_answer_cancels_the_other_members_ringing() -> None:
    _, [r] = fold(
        [
            join(),
            called(101.0, "坐席2", "L0"),
            called(101.0),
            leave(104.0),
            connect(104.0, hold=4, ring=3),
            complete(130.0, 4, 26),
        ]
    )
    assert r.attempts == (
        attempt("坐席2", "L0", 101.0, 104.0, "canceled"),
        attempt("坐席1", "L1", 101.0, 104.0, "answered", 3000),
    )


def test_abandoned_record_in_full() -> None:
    _, [r] = fold(
        [
            join(),
            called(101.0),
            hangup_request(130.0),
            abandon(130.0, 29),
            leave(130.0),
            hangup(130.1),
        ]
    )
    assert r == record(
        "abandoned", 130.0, wait_s=29, attempts=(attempt("坐席1", "L1", 101.0, 130.0, "canceled"),)
    )


def test_queue_timeout_record_in_full() -> None:
    _, [r] = fold([join(), called(101.0), rna(116.0), abandon(160.0, 60), leave(160.4)])
    assert r == record(
        "timed_out",
        160.4,
        wait_s=60,
        exit_reason="timeout",
        attempts=(attempt("坐席1", "L1", 101.0, 116.0, "no_answer", 15000),),
    )


def test_exit_with_a_key_ends_when_the_caller_left_the_queue() -> None:
    _, [r] = fold([join(), leave(110.7), hangup(140.0)])
    assert r == record("timed_out", 110.7, wait_s=10, exit_reason="key")


def test_ring_no_answer_whose_agent_called_was_missed() -> None:
    state, _ = fold([join(), rna(116.0, ms=15000)])
    assert state.calls[UID].attempts == (attempt("坐席1", "L1", 101.0, 116.0, "no_answer", 15000),)
    # The same event again changes nothing.
    assert apply(state, rna(116.0, ms=15000)).calls == state.calls


def test_events_for_calls_not_in_the_queue_are_ignored() -> None:
    state, _ = fold([join()])
    for e in [
        called(101.0, uid="other"),
        rna(116.0, leg="L9").__class__(116.0, Q, "other", "坐席1", "PJSIP/坐席1", "L9", 15000),
        leave(120.0, uid="other"),
        hangup_request(121.0).__class__(121.0, "other", "x", False),
        abandon(122.0, 1).__class__(122.0, Q, "other", "x", 1, 1, 1),
        ev.AgentDump(123.0, Q, "other", "坐席1", "PJSIP/坐席1"),
        complete(124.0, 1, 1, uid=""),
    ]:
        after = apply(state, e)
        assert after.calls == state.calls and not after.finished, e


def test_a_second_agent_called_for_a_caller_already_bridged_is_ignored() -> None:
    state, _ = fold([join(), called(101.0), leave(103.0), connect(103.0, 3, 2)])
    after = apply(state, called(104.0, "坐席2", "L2"))
    assert after.calls[UID].attempts == state.calls[UID].attempts


def test_a_record_is_reported_by_exactly_one_apply() -> None:
    # The tracker stores `finished` after each event: an ignored event must not repeat it.
    state = CallState()
    for e in [newchannel(), join(), hangup_request(110.0), abandon(110.0, 9), leave(110.0)]:
        state = apply(state, e)
    assert [r.outcome for r in state.finished] == ["abandoned"]
    for e in [object(), hangup(110.1), leave(110.2), join(ts=300.0, uid="B")]:
        state = apply(state, e)
        assert state.finished == (), e
    # The dialled number of the next call's channel is still known after all that.
    state = apply(
        state,
        ev.Newchannel(299.0, "C", "C0", "PJSIP/trunk-2", "13900000000", "from-trunk", "96123"),
    )
    state = apply(state, ev.Hangup(299.5, "Z", "PJSIP/x", 16))  # some other channel goes
    state = apply(
        state,
        ev.QueueCallerJoin(300.0, Q, "C", "C0", "PJSIP/trunk-2", "13900000000", "", "s", 2, 2),
    )
    assert state.calls["C"].dialled == "96123"


def test_dialled_number_falls_back_to_the_join_extension() -> None:
    state, _ = fold([join()])
    assert state.calls[UID].dialled == "12345"
    assert state.calls[UID] == calls.Call(
        UID, LINKED, "PJSIP/trunk-1", Q, "13800000000", "12345", 100.2
    )


# --- joining again --------------------------------------------------------------------------------


def test_a_replayed_join_keeps_what_was_seen_of_the_call() -> None:
    state, _ = fold([join(), called(101.0)])
    again = apply(state, join(ts=100.2))
    assert again.calls == state.calls and not again.finished


def test_join_after_exit_with_a_key_ends_the_first_visit() -> None:
    # The same channel back in Queue() (e.g. the IVR sent it back): a new queue call.
    state, [r] = fold([join(), leave(110.7), join(ts=120.0)])
    assert r == record("timed_out", 110.7, wait_s=10, exit_reason="key")
    assert state.calls[UID].enter_ts == 120.0 and state.calls[UID].phase == calls.WAITING


def test_join_after_an_abandon_whose_leave_was_lost_ends_the_first_visit() -> None:
    state, [r] = fold([join(), abandon(160.0, 60), join(ts=200.0)])
    assert r == record("timed_out", 200.0, wait_s=60, exit_reason="timeout")
    assert state.calls[UID].enter_ts == 200.0


def test_join_into_another_queue_starts_a_call_there() -> None:
    state, _ = fold(
        [
            join(),
            ev.QueueCallerJoin(
                150.0, "complaints", UID, LINKED, "PJSIP/trunk-1", "13800000000", "", "12345", 1, 1
            ),
        ]
    )
    assert (state.calls[UID].queue, state.calls[UID].enter_ts) == ("complaints", 150.0)


def test_join_gives_the_exact_entry_of_a_caller_first_seen_in_queue_status() -> None:
    entry = ev.QueueEntry(0.0, "x", Q, 1, UID, "PJSIP/trunk-1", "13800000000", "", 30)
    state = apply(CallState(), ev.Resync(200.0, (entry,), (), ()))
    assert state.calls[UID].enter_ts == 170.0 and state.calls[UID].resynced
    state = apply(state, join(ts=171.4))
    assert state.calls[UID] == calls.Call(
        UID, LINKED, "PJSIP/trunk-1", Q, "13800000000", "", 171.4, resynced=False
    )
    assert not state.finished


# --- connect and complete when earlier events were missed -----------------------------------------


def test_connect_of_a_call_whose_join_was_missed() -> None:
    state, _ = fold([newchannel(), connect(120.5, hold=20, ring=3)])
    assert state.calls[UID] == calls.Call(
        UID,
        "",
        "",
        Q,
        "13800000000",
        "12345",
        100.0,
        phase=calls.CONNECTED,
        attempts=(attempt("坐席1", "L1", 117.5, 120.5, "answered", 3000),),
        agent="坐席1",
        connect_ts=120.5,
        hold_s=20,
        ring_s=3,
        resynced=True,
    )


def test_completion_alone_tells_who_answered_when_and_for_how_long() -> None:
    done = ev.AgentComplete(
        150.9, Q, UID, "坐席1", "PJSIP/坐席1", "L1", 20, 30, "caller", "13800000000"
    )
    _, [r] = fold([newchannel(), done])
    # Entered 20 s before the answer, answered 30 s before the end (whole seconds, as queue_log).
    assert r == record(
        "answered",
        150.9,
        linkedid="",
        enter_ts=100.0,
        connect_ts=120.9,
        agent="坐席1",
        hold_s=20,
        wait_s=20,
        talk_s=30,
        ended_by="caller",
        resynced=True,
    )


def test_completion_of_a_call_whose_connect_was_missed() -> None:
    _, [r] = fold([join(), called(101.0), leave(110.0), complete(150.0, hold=10, talk=40)])
    assert r == record(
        "answered",
        150.0,
        connect_ts=110.0,
        agent="坐席1",
        hold_s=10,
        wait_s=10,
        talk_s=40,
        ended_by="agent",
        resynced=True,
        attempts=(attempt("坐席1", "L1", 101.0, 150.0, "canceled"),),
    )


def test_completion_without_a_reason_has_no_ended_by() -> None:
    _, [r] = fold([join(), leave(105.0), connect(105.0, 5, 4), complete(140.0, 5, 35, reason="")])
    assert r.ended_by is None and r.talk_s == 35


def test_completion_without_channel_fields_picks_the_call_whose_caller_hung_up() -> None:
    # Two calls bridged to one member (ringinuse off makes it rare, not impossible).
    state, _ = fold(
        [
            join(uid="A"),
            leave(101.0, uid="A"),
            connect(101.0, 1, 1, uid="A"),
            join(uid="B"),
            leave(102.0, uid="B"),
            connect(102.0, 2, 1, uid="B"),
            hangup(130.0, uid="B"),
        ]
    )
    state = apply(state, complete(130.0, 2, 28, uid=""))
    assert [(r.uniqueid, r.talk_s) for r in state.finished] == [("B", 28)]
    state = apply(state, complete(140.0, 1, 39, uid=""))  # neither hung up first: the earliest
    assert [r.uniqueid for r in state.finished] == ["A"]
    other_queue = ev.AgentComplete(
        141.0, "complaints", "", "坐席1", "PJSIP/坐席1", "L1", 1, 1, "agent", ""
    )
    state, _ = fold([join(uid="C"), leave(101.0, uid="C"), connect(101.0, 1, 1, uid="C")])
    assert not apply(state, other_queue).finished


def test_a_member_answering_again_ends_its_previous_call_whose_completion_was_lost() -> None:
    state, _ = fold(
        [
            join(uid="A"),
            leave(101.0, uid="A"),
            connect(101.0, 1, 1, uid="A"),
            hangup(131.5, uid="A"),  # caller A gone
            join(uid="K"),
            leave(101.0, uid="K"),
            connect(101.0, 1, 1, member="坐席2", leg="L2", uid="K"),
            hangup(120.0, uid="K"),  # 坐席2's caller
            join(ts=140.0, uid="B"),
            leave(141.0, uid="B"),
        ]
    )
    state = apply(state, connect(141.0, 1, 1, uid="B", leg="L3"))
    [a] = state.finished
    assert (a.uniqueid, a.outcome, a.end_ts, a.talk_s, a.ended_by) == (
        "A",
        "answered",
        131.5,
        30,
        None,
    )
    assert set(state.calls) == {"K", "B"} and state.calls["B"].phase == calls.CONNECTED


def test_a_member_answering_again_leaves_a_call_whose_caller_is_still_there() -> None:
    state, _ = fold(
        [
            join(uid="A"),
            leave(101.0, uid="A"),
            connect(101.0, 1, 1, uid="A"),
            join(ts=140.0, uid="B"),
            leave(141.0, uid="B"),
        ]
    )
    state = apply(state, connect(141.0, 1, 1, uid="B", leg="L3"))
    assert not state.finished and set(state.calls) == {"A", "B"}


def test_connect_of_a_queue_status_caller_corrects_the_estimated_entry() -> None:
    entry = ev.QueueEntry(0.0, "x", Q, 1, "D", "PJSIP/d", "13900000000", "", 30)
    state = apply(CallState(), ev.Resync(200.0, (entry,), (), ()))
    assert state.calls["D"].enter_ts == 170.0  # estimated from Wait
    state = apply(state, connect(215.4, hold=46, ring=2, uid="D"))
    assert state.calls["D"].enter_ts == 169.0  # Asterisk's HoldTime: exact to the second


# --- hang-ups that end calls whose own end was not seen -------------------------------------------


def test_hangup_of_a_waiting_caller_is_an_abandon() -> None:
    _, [r] = fold([join(), called(101.0), hangup(140.0)])
    assert r == record(
        "abandoned", 140.0, wait_s=39, attempts=(attempt("坐席1", "L1", 101.0, 140.0, "canceled"),)
    )


def test_hangup_after_an_abandon_whose_leave_was_lost() -> None:
    _, [r] = fold([join(), hangup_request(130.0), abandon(130.0, 29), hangup(130.1)])
    assert r == record("abandoned", 130.1, wait_s=29)


def test_hangup_of_a_bridged_caller_waits_for_the_completion() -> None:
    state, records = fold([join(), leave(105.0), connect(105.0, 5, 4), hangup(140.0)])
    assert not records and state.calls[UID].hangup_ts == 140.0
    # ...which may come without channel fields, and then names the member.
    state = apply(state, complete(140.2, 5, 35, uid=""))
    assert [r.talk_s for r in state.finished] == [35]


def test_hangup_request_while_bridged_is_not_an_abandon() -> None:
    state, _ = fold([join(), leave(105.0), connect(105.0, 5, 4), hangup_request(140.0)])
    assert not state.calls[UID].hangup_requested
    state, _ = fold([join(), hangup_request(110.0), hangup_request(110.5)])
    assert state.calls[UID].hangup_requested


def test_abandon_after_leaving_for_a_member_is_an_abandon() -> None:
    # Left the queue to be bridged, then hung up before the bridge (queue_log ABANDON).
    _, [r] = fold([join(), called(101.0), leave(110.0), hangup_request(110.5), abandon(110.5, 10)])
    assert r == record(
        "abandoned", 110.5, wait_s=10, attempts=(attempt("坐席1", "L1", 101.0, 110.5, "canceled"),)
    )


def test_abandon_after_the_bridge_or_twice_is_ignored() -> None:
    state, _ = fold([join(), leave(105.0), connect(105.0, 5, 4)])
    assert apply(state, abandon(130.0, 30)).calls == state.calls
    state, _ = fold([join(), abandon(160.0, 60)])
    assert apply(state, abandon(161.0, 61)).calls[UID].abandon_hold_s == 60


def test_abandon_of_a_queue_status_caller_gives_its_exact_entry() -> None:
    entry = ev.QueueEntry(0.0, "x", Q, 1, UID, "PJSIP/trunk-1", "13800000000", "", 30)
    state = apply(CallState(), ev.Resync(200.0, (entry,), (), ()))
    state = apply(state, abandon(215.6, 47))
    assert state.calls[UID].enter_ts == 168.0


def test_a_leave_after_the_bridge_changes_nothing() -> None:
    state, _ = fold([join(), leave(105.0), connect(105.0, 5, 4)])
    assert apply(state, leave(106.0)).calls == state.calls


# --- AgentDump: the member hung up before the bridge (real header sets, see frames.py) ------------


def test_agent_dump_puts_the_caller_back_to_waiting_and_the_next_member_answers() -> None:
    # app_queue: the member answered, hung up during the announcement (AGENTDUMP), the caller
    # is still queued and the next member is rung. queue_log: ENTERQUEUE, AGENTDUMP|坐席1,
    # CONNECT|坐席2|11|1795639925.4|3, COMPLETEAGENT|11|40.
    events = frames.parsed(
        frames.JOIN,
        frames.CALLED_1,
        frames.DUMP_1,
        frames.frame(
            "AgentCalled",
            1795639925.3,
            frames.CALLER,
            frames.member_leg(2, "00000003", "1795639925.4"),
            frames.agent(2),
        ),
        frames.frame(
            "QueueCallerLeave", 1795639929.1, frames.CALLER, Queue=Q, Position="1", Count="0"
        ),
        frames.frame(
            "AgentConnect",
            1795639929.1,
            frames.CALLER,
            frames.member_leg(2, "00000003", "1795639925.4", state="6"),
            frames.agent(2),
            HoldTime="11",
            RingTime="3",
        ),
        frames.frame(
            "AgentComplete",
            1795639969.2,
            frames.CALLER,
            frames.member_leg(2, "00000003", "1795639925.4", state="6"),
            frames.agent(2),
            HoldTime="11",
            TalkTime="40",
            Reason="agent",
        ),
    )
    state = CallState()
    for e in events[:3]:
        state = apply(state, e)
    call = state.calls[frames.CALLER_UID]
    assert (call.phase, call.agent, call.connect_ts) == (calls.WAITING, None, None)
    state, [r] = fold(events[3:], state)
    assert r.summary() == {
        "caller": "16702419103",
        "outcome": "answered",
        "enter": 1795639918,
        "agent": "坐席2",
        "hold_s": 11,
        "ring_s": 3,
        "talk_s": 40,
        "ended_by": "agent",
    }
    assert [(a.member_name, a.outcome, a.start_ts, a.end_ts, a.ring_ms) for a in r.attempts] == [
        ("坐席1", "dumped", 1795639918.28463, 1795639920.28994, None),
        ("坐席2", "answered", 1795639925.3, 1795639929.1, 3000),
    ]


def test_a_caller_who_hangs_up_after_a_dump_abandoned() -> None:
    hangup_frames = [
        frames.frame("HangupRequest", 1795639928.5, frames.CALLER, Cause="16"),
        frames.frame(
            "QueueCallerAbandon",
            1795639928.5,
            frames.CALLER,
            Queue=Q,
            Position="1",
            OriginalPosition="1",
            HoldTime="10",
        ),
        frames.frame(
            "QueueCallerLeave", 1795639928.5, frames.CALLER, Queue=Q, Position="1", Count="0"
        ),
        frames.frame("Hangup", 1795639928.6, frames.CALLER, Cause="16", **{"Cause-txt": "Normal"}),
    ]
    _, [r] = fold(frames.parsed(frames.JOIN, frames.CALLED_1, frames.DUMP_1, *hangup_frames))
    assert (r.outcome, r.wait_s, r.end_ts) == ("abandoned", 10, 1795639928.5)
    # The dumped attempt stays dumped: the caller leaving does not cancel it again.
    assert [(a.outcome, a.end_ts) for a in r.attempts] == [("dumped", 1795639920.28994)]


def test_agent_dump_touches_only_that_members_live_attempts() -> None:
    state, _ = fold(
        [
            join(),
            called(101.0, "坐席1", "L0"),
            rna(116.0, "坐席1", "L0"),
            called(117.0, "坐席1", "L1"),
            called(117.0, "坐席2", "L2"),
        ]
    )
    state = apply(state, ev.AgentDump(119.0, Q, UID, "坐席1", "PJSIP/坐席1"))
    assert state.calls[UID].attempts == (
        attempt("坐席1", "L0", 101.0, 116.0, "no_answer", 15000),
        attempt("坐席1", "L1", 117.0, 119.0, "dumped"),
        attempt("坐席2", "L2", 117.0, None, "ringing"),
    )
    assert not state.finished


def test_agent_dump_after_the_connect_undoes_the_connect() -> None:
    state, _ = fold([join(), called(101.0), leave(105.0), connect(105.0, 5, 4)])
    state = apply(state, ev.AgentDump(106.0, Q, UID, "坐席1", "PJSIP/坐席1"))
    call = state.calls[UID]
    assert (call.phase, call.agent, call.connect_ts, call.hold_s, call.ring_s) == (
        calls.WAITING,
        None,
        None,
        None,
        None,
    )
    assert call.attempts == (attempt("坐席1", "L1", 101.0, 106.0, "dumped", 4000),)
    # Left the queue before the dump: ended by a hang-up it is an exit without an answer.
    state, _ = fold([join(), leave(105.0)])
    state = apply(state, ev.AgentDump(106.0, Q, UID, "坐席1", "PJSIP/坐席1"))
    assert state.calls[UID].phase == calls.LEFT


# --- resync after a reconnect: every kind of call the listener may have been following -----------


def channel(uid: str, bridge: str = "", exten: str = "12345") -> ev.CoreShowChannel:
    return ev.CoreShowChannel(
        0.0, "y", uid, uid + "-link", "PJSIP/" + uid, "", "from-trunk", exten, "Queue", bridge
    )


def test_resync_settles_each_call_by_what_the_pbx_still_has() -> None:
    state, _ = fold(
        [
            join(uid="W1"),
            join(uid="W2"),
            join(uid="W3"),
            join(uid="G1"),
            called(101.0, uid="G1"),
            join(uid="C1"),
            leave(105.0, uid="C1"),
            connect(105.0, 5, 2, uid="C1"),
            hangup(150.5, uid="C1"),
            join(uid="C2"),
            leave(106.0, uid="C2"),
            connect(106.0, 6, 2, member="坐席2", uid="C2"),
            join(uid="C3"),
            leave(107.0, uid="C3"),
            connect(107.0, 7, 2, member="坐席3", uid="C3"),
            join(uid="L1"),
            abandon(160.0, 60).__class__(160.0, Q, "L1", "PJSIP/trunk-1", 1, 1, 60),
            join(uid="K1"),
            leave(110.0, uid="K1"),
            join(uid="K2"),
            leave(111.0, uid="K2"),
        ]
    )
    resync = ev.Resync(
        300.0,
        (ev.QueueEntry(0.0, "x", Q, 1, "W1", "PJSIP/w1", "13800000000", "", 200),),
        (),
        (
            channel("W1"),
            channel("W2", bridge="br-2"),
            channel("W3"),
            channel("C3", bridge="br-3"),
            channel("K2"),
        ),
    )
    state = apply(state, resync)
    ended = {r.uniqueid: r for r in state.finished}
    assert set(ended) == {"G1", "C1", "C2", "L1", "K1"}
    # Ended while we were away: only what was known is kept.
    assert ended["G1"] == calls.CallRecord(
        "G1",
        LINKED,
        Q,
        "13800000000",
        "12345",
        "unknown",
        100.2,
        300.0,
        attempts=(calls.RingAttempt("坐席1", "PJSIP/坐席1", "L1", 101.0, 300.0, "canceled"),),
    )
    assert ended["K1"].outcome == "unknown" and ended["K1"].end_ts == 300.0
    c1 = ended["C1"]  # its caller's Hangup was seen: the talk ended then
    assert (c1.outcome, c1.end_ts, c1.talk_s, c1.agent, c1.ended_by) == (
        "answered",
        150.5,
        45,
        "坐席1",
        None,
    )
    c2 = ended["C2"]  # nothing seen after the bridge
    assert (c2.outcome, c2.end_ts, c2.talk_s, c2.agent, c2.in_progress) == (
        "answered",
        300.0,
        None,
        "坐席2",
        False,
    )
    l1 = ended["L1"]  # the queue timed it out, its leave was lost
    assert (l1.outcome, l1.exit_reason, l1.wait_s, l1.end_ts) == ("timed_out", "timeout", 60, 300.0)
    # Still there: queued, bridged since, out of the queue but alive.
    assert set(state.calls) == {"W1", "W2", "W3", "C3", "K2"}
    assert state.calls["W1"].phase == calls.WAITING and state.calls["W1"].enter_ts == 100.2
    assert (state.calls["W2"].phase, state.calls["W2"].resynced) == (calls.CONNECTED, True)
    w3 = state.calls["W3"]
    assert (w3.phase, w3.leave_ts, w3.resynced) == (calls.LEFT, 300.0, True)
    assert state.calls["C3"].phase == calls.CONNECTED and not state.calls["C3"].resynced
    assert (state.calls["K2"].phase, state.calls["K2"].leave_ts) == (calls.LEFT, 111.0)


def test_resync_adds_callers_queued_while_we_were_away() -> None:
    state = apply(
        CallState(),
        ev.Newchannel(250.0, "N2", "N2-link", "PJSIP/n2", "13900000002", "from-trunk", "96123"),
    )
    entries = (
        ev.QueueEntry(0.0, "x", Q, 1, "N1", "PJSIP/n1", "13900000001", "", 40),
        ev.QueueEntry(0.0, "x", Q, 2, "N2", "PJSIP/n2", "13900000002", "", 25),
        ev.QueueEntry(0.0, "x", Q, 3, "N3", "PJSIP/n3", "13900000003", "", 5),
    )
    state = apply(state, ev.Resync(300.0, entries, (), (channel("N1"), channel("N2", exten="s"))))
    assert not state.finished
    assert state.calls["N1"] == calls.Call(
        "N1", "N1-link", "PJSIP/n1", Q, "13900000001", "12345", 260.0, resynced=True
    )
    # The dialled number seen in its Newchannel wins over the channel's current extension.
    assert state.calls["N2"] == calls.Call(
        "N2", "N2-link", "PJSIP/n2", Q, "13900000002", "96123", 275.0, resynced=True
    )
    assert state.calls["N3"] == calls.Call(
        "N3", "", "PJSIP/n3", Q, "13900000003", "", 295.0, resynced=True
    )
    assert state.dialled == {"N1": "12345", "N2": "96123"}


def test_snapshot_of_each_phase_is_in_progress_without_an_end() -> None:
    state, _ = fold(
        [
            join(uid="W"),
            join(uid="C"),
            leave(105.0, uid="C"),
            connect(105.0, 5, 2, uid="C"),
            join(uid="A"),
            hangup_request(120.0).__class__(120.0, "A", "x", False),
            abandon(120.0, 20).__class__(120.0, Q, "A", "x", 1, 1, 20),
            join(uid="K"),
            leave(110.7, uid="K"),
        ]
    )
    snap = {r.uniqueid: r for r in snapshot(state)}
    assert all(r.in_progress and r.end_ts is None for r in snap.values())
    w = snap["W"]
    assert (w.outcome, w.wait_s, w.agent, w.connect_ts) == ("waiting", None, None, None)
    c = snap["C"]
    assert (
        c.outcome,
        c.agent,
        c.connect_ts,
        c.hold_s,
        c.ring_s,
        c.wait_s,
        c.talk_s,
        c.ended_by,
    ) == ("answered", "坐席1", 105.0, 5, 2, 5, None, None)
    a = snap["A"]  # QueueCallerLeave still to come, the outcome is already known
    assert (a.outcome, a.wait_s) == ("abandoned", 20)
    k = snap["K"]  # out of the queue, no member connected (yet)
    assert (k.outcome, k.exit_reason, k.wait_s) == ("timed_out", "key", 10)
    assert state.calls.keys() == snap.keys()  # a snapshot ends nothing


# --- every shared capture folded offline equals Asterisk's queue_log ------------------------------


def capture_events(folder: Path) -> list[object]:
    out = []
    for raw in Capture.load(folder).frames:
        e = ami_parse.parse_event(ami_parse.parse_frame(raw))
        if e is not None:
            out.append(e)
    return out


@pytest.mark.parametrize("folder", capture_dirs(), ids=lambda p: p.name)
def test_every_capture_folded_offline_equals_its_queue_log(folder: Path) -> None:
    # expected.json is computed from queue_log alone, not from the AMI stream.
    state, records = fold(capture_events(folder))
    want = expected(folder)["calls"]
    got = {r.uniqueid: r.summary() for r in records}
    assert len(got) == len(records)  # no call recorded twice
    assert got == want
    assert not state.calls  # the capture ends with every call over
    for r in records:
        assert r.end_ts is not None and r.enter_ts <= r.end_ts and not r.in_progress
        assert r.dialled and r.queue == Q and r.linkedid
        if r.outcome == "answered":
            assert r.enter_ts <= r.connect_ts <= r.end_ts
            assert [a.outcome for a in r.attempts].count("answered") == 1
        assert all(a.outcome != "ringing" and a.end_ts is not None for a in r.attempts)


# --- what each event must keep: the other calls' dialled numbers, the state itself ----------------

OTHER_CALL_STORIES = {
    "rung, no answer, abandoned": [
        join(),
        called(101.0),
        rna(116.0),
        called(117.0, "坐席2", "L2"),
        hangup_request(130.0),
        abandon(130.0, 29),
        leave(130.0),
    ],
    "replayed join": [join(), join()],
    "join first seen in queue status": [
        ev.Resync(
            105.0,
            (ev.QueueEntry(0.0, "x", Q, 1, UID, "PJSIP/trunk-1", "13800000000", "", 5),),
            (),
            (),
        ),
        join(),
    ],
    "answered, caller hangs up first": [
        join(),
        leave(105.0),
        connect(105.0, 5, 4),
        hangup(140.0),
        complete(140.2, 5, 35, uid=""),
    ],
    "member answers again": [
        join(uid="A"),
        leave(101.0, uid="A"),
        connect(101.0, 1, 1, uid="A"),
        hangup(131.5, uid="A"),
        join(),
        leave(141.0),
        connect(141.0, 1, 1, leg="L3"),
    ],
    "waiting caller hangs up": [join(), hangup(140.0)],
    "ignored events after an ending": [
        join(),
        leave(110.7),
        hangup(140.0),
        object(),
        leave(141.0),
        hangup_request(142.0),
    ],
    "dumped": [join(), called(101.0), ev.AgentDump(103.0, Q, UID, "坐席1", "PJSIP/坐席1")],
}


@pytest.mark.parametrize("story", list(OTHER_CALL_STORIES))
def test_a_channels_dialled_number_outlives_other_calls_events(story: str) -> None:
    # Call B's trunk channel appears first; whatever happens to call A meanwhile, B's join must
    # still be recorded with the number B dialled.
    b_channel = ev.Newchannel(
        99.0, "B", "B0", "PJSIP/trunk-2", "13900000000", "from-trunk", "96123"
    )
    state, _ = fold([b_channel] + OTHER_CALL_STORIES[story])
    state = apply(
        state,
        ev.QueueCallerJoin(200.0, Q, "B", "B0", "PJSIP/trunk-2", "13900000000", "", "s", 1, 1),
    )
    assert state.calls["B"].dialled == "96123"


def test_a_repeated_agent_called_is_ignored() -> None:
    state, _ = fold([join(), called(101.0)])
    again = apply(state, called(101.0))
    assert again.calls == state.calls


def test_a_repeated_connect_is_ignored() -> None:
    state, _ = fold([join(), leave(105.0), connect(105.0, 5, 4)])
    assert apply(state, connect(105.0, 5, 4)).calls == state.calls


def test_calls_first_seen_at_their_end_have_no_dialled_number_unless_their_channel_was_seen() -> (
    None
):
    state, _ = fold([connect(120.5, hold=20, ring=3)])
    assert state.calls[UID].dialled == ""
    _, [r] = fold([complete(150.9, 20, 30)])
    assert r.dialled == ""


def test_completion_without_channel_fields_takes_the_earliest_connected_call() -> None:
    # B joined first but A was bridged first: A's completion is the one without channel fields
    # when neither caller has hung up.
    state, _ = fold(
        [
            join(uid="B"),
            join(uid="A"),
            leave(101.0, uid="A"),
            connect(101.0, 1, 1, uid="A"),
            leave(102.0, uid="B"),
            connect(102.0, 2, 1, uid="B", leg="L2"),
        ]
    )
    state = apply(state, complete(140.0, 1, 39, uid=""))
    assert [r.uniqueid for r in state.finished] == ["A"]


def test_completion_of_a_call_resync_found_bridged_names_the_member() -> None:
    state, _ = fold([join()])
    bridged = ev.CoreShowChannel(
        0.0, "y", UID, LINKED, "PJSIP/trunk-1", "", "from-trunk", "12345", "Queue", "br-1"
    )
    state = apply(state, ev.Resync(108.0, (), (), (bridged,)))
    assert state.calls[UID].phase == calls.CONNECTED and state.calls[UID].agent is None
    state = apply(state, complete(150.0, hold=5, talk=40))
    [r] = state.finished
    assert (r.agent, r.hold_s, r.connect_ts, r.talk_s, r.resynced) == ("坐席1", 5, 110.0, 40, True)


def test_abandon_after_leaving_for_a_member_ends_the_call() -> None:
    state, _ = fold([join(), leave(110.0), hangup_request(110.5), abandon(110.5, 10)])
    assert UID not in state.calls


def test_ringing_stops_when_the_caller_abandons_not_when_the_queue_says_goodbye() -> None:
    _, [r] = fold([join(), called(101.0), hangup_request(130.0), abandon(130.0, 29), leave(130.4)])
    assert (r.end_ts, r.attempts) == (130.4, (attempt("坐席1", "L1", 101.0, 130.0, "canceled"),))


def test_resync_judges_a_call_that_joined_as_the_channel_list_was_taken() -> None:
    # Only a call that entered strictly after the list was taken may be missing from it.
    state, _ = fold([join(ts=204.0, uid="A")])
    state = apply(state, ev.Resync(207.0, (), (), (), channels_ts=204.0))
    assert [(r.uniqueid, r.outcome) for r in state.finished] == [("A", "unknown")]


def test_resync_goes_on_past_a_call_younger_than_the_channel_list() -> None:
    # X re-entered the queue after the list was taken and keeps its place in the table, before
    # Y, which ended while we were away.
    state, _ = fold(
        [
            join(ts=100.0, uid="X"),
            leave(101.0, uid="X"),
            join(ts=150.0, uid="Y"),
            join(ts=210.0, uid="X"),
        ]
    )
    state = apply(state, ev.Resync(212.0, (), (), (), channels_ts=205.0))
    assert [(r.uniqueid, r.outcome) for r in state.finished] == [("Y", "unknown")]
    assert list(state.calls) == ["X"]
