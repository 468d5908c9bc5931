"""The call state machine on plain lists of typed events (no I/O)."""

from __future__ import annotations

from hotline.telephony import calls
from hotline.telephony import events as ev
from hotline.telephony.calls import CallState, apply, fold, snapshot

Q = "hotline"
UID = "1700000000.1"


def join(ts: float = 100.2, uid: str = UID, caller: str = "13800000000") -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin(ts, Q, uid, "1700000000.0", "PJSIP/trunk-1", caller, "", "12345", 1, 1)


def called(ts: float, member: str = "坐席1", leg: str = "L1", uid: str = UID) -> ev.AgentCalled:
    return ev.AgentCalled(ts, Q, uid, member, f"PJSIP/{member}", leg)


def rna(ts: float, member: str = "坐席1", leg: str = "L1", ms: int = 15000) -> ev.AgentRingNoAnswer:
    return ev.AgentRingNoAnswer(ts, Q, UID, member, f"PJSIP/{member}", leg, ms)


def connect(ts: float, hold: int, ring: int, member: str = "坐席1", leg: str = "L1",
            uid: str = UID) -> ev.AgentConnect:
    return ev.AgentConnect(ts, Q, uid, member, f"PJSIP/{member}", leg, ring, hold, "13800000000")


def complete(ts: float, hold: int, talk: int, reason: str = "agent", member: str = "坐席1",
             uid: str = UID) -> ev.AgentComplete:
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
    return ev.Newchannel(ts, UID, "1700000000.0", "PJSIP/trunk-1", "13800000000", "from-trunk", "12345")


def test_answered_call_with_a_ring_no_answer_first() -> None:
    state, records = fold([newchannel(), join(), called(101.0, "坐席2", "L0"),
                           rna(116.0, "坐席2", "L0"), called(117.0), leave(120.5),
                           connect(120.5, hold=20, ring=3), complete(150.9, 20, 30, "caller"),
                           hangup(151.0)])
    assert not state.calls
    [r] = records
    assert r.summary() == {"caller": "13800000000", "outcome": "answered", "enter": 100,
                           "agent": "坐席1", "hold_s": 20, "ring_s": 3, "talk_s": 30,
                           "ended_by": "caller"}
    assert r.dialled == "12345"
    assert r.connect_ts == 120.5 and r.end_ts == 150.9
    assert [(a.member_name, a.outcome, a.ring_ms) for a in r.attempts] == [
        ("坐席2", "no_answer", 15000), ("坐席1", "answered", 3000)]


def test_caller_hangup_is_an_abandon() -> None:
    # Order as Asterisk sends it: HangupRequest, QueueCallerAbandon, QueueCallerLeave, Hangup.
    _, records = fold([join(), called(101.0), hangup_request(130.0), abandon(130.0, 29),
                       leave(130.0), hangup(130.1)])
    [r] = records
    assert r.summary() == {"caller": "13800000000", "outcome": "abandoned", "enter": 100, "wait_s": 29}
    assert r.attempts[0].outcome == "canceled"


def test_soft_hangup_request_is_an_abandon_too() -> None:
    _, [r] = fold([join(), hangup_request(110.0, soft=True), abandon(110.0, 9), leave(110.0)])
    assert r.outcome == "abandoned"


def test_abandon_without_hangup_request_is_a_queue_timeout() -> None:
    # Queue timeout / empty queue: QueueCallerAbandon too, but the channel was not hung up.
    state, records = fold([join(), abandon(160.0, 60), leave(160.0)])
    [r] = records
    assert r.outcome == "timed_out" and r.exit_reason == "timeout" and r.wait_s == 60
    assert r.summary() == {"caller": "13800000000", "outcome": "timed_out", "enter": 100, "wait_s": 60}


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
    _, [r] = fold([join(), called(101.0), rna(116.0), leave(116.0),
                   connect(116.0, hold=15, ring=15), complete(130.0, 15, 14)])
    assert [a.outcome for a in r.attempts] == ["no_answer", "answered"]
    assert r.outcome == "answered" and r.hold_s == 15


def test_completion_without_channel_fields_is_matched_by_member() -> None:
    # The caller's channel can be gone first: AgentComplete then has no Uniqueid.
    _, records = fold([join(), called(101.0), leave(105.0), connect(105.0, 5, 4),
                       hangup(140.0), complete(140.0, 5, 35, uid="")])
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
    bridged = ev.CoreShowChannel(0.0, "y", "B", "B", "PJSIP/b", "", "from-trunk", "12345", "Queue", "br-1")
    channel_d = ev.CoreShowChannel(0.0, "y", "D", "D", "PJSIP/d", "", "from-trunk", "12345", "Queue", "")
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
    state, _ = fold([join(ts=100.0, uid="A"), join(ts=205.0, uid="B"),
                     connect(206.0, 1, 1, uid="B")])
    state = apply(state, ev.Resync(207.0, (), (), (), channels_ts=204.0))
    assert [r.uniqueid for r in state.finished] == ["A"]
    assert state.calls["B"].phase == calls.CONNECTED
