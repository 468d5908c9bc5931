"""The queue-call state machine: a pure fold over typed AMI events.

    state = CallState()
    for event in events:
        state = apply(state, event)
        records.extend(state.finished)      # calls that ended with this event

One queue call is keyed by the caller channel's Uniqueid (queue_log's callid). Its life, as
Asterisk 22 app_queue reports it:

    QueueCallerJoin                                     ENTERQUEUE
      AgentCalled -> AgentRingNoAnswer (RingTime ms)    RINGNOANSWER   (repeats per attempt)
      AgentCalled -> (caller leaves while ringing)      RINGCANCELED
    answered:  QueueCallerLeave -> AgentConnect         CONNECT (HoldTime, RingTime: seconds)
               ... AgentComplete (TalkTime, Reason)     COMPLETEAGENT / COMPLETECALLER / TRANSFER
    abandoned: HangupRequest -> QueueCallerAbandon -> QueueCallerLeave -> Hangup     ABANDON
    timeout / empty queue: QueueCallerAbandon -> QueueCallerLeave (no hang-up request before;
               the channel goes on in the dialplan)      EXITWITHTIMEOUT / EXITEMPTY
    exit with a key: QueueCallerLeave alone, no AgentConnect follows          EXITWITHKEY

No I/O here: apply() only builds new frozen values.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable, Iterable

from calls.ami import events as ev

# The fold's values live in calls/values.py; imported from here as before.
from calls.values import (
    CONNECTED,
    LEAVING,
    LEFT,
    UNKNOWN,
    WAITING,
    Call,
    CallRecord,
    CallState,
    RingAttempt,
)
from sla.metrics import ABANDONED, ANSWERED, TIMED_OUT

__all__ = [
    "ABANDONED",
    "ANSWERED",
    "CONNECTED",
    "LEAVING",
    "LEFT",
    "TIMED_OUT",
    "UNKNOWN",
    "WAITING",
    "Call",
    "CallRecord",
    "CallState",
    "RingAttempt",
    "apply",
    "fold",
    "snapshot",
]


def _with(state: CallState, call: Call) -> CallState:
    calls = dict(state.calls)
    calls[call.uniqueid] = call
    return CallState(calls, state.dialled)


def _without(state: CallState, uniqueid: str, *records: CallRecord) -> CallState:
    calls = dict(state.calls)
    calls.pop(uniqueid, None)
    return CallState(calls, state.dialled, records)


def _close_ringing(
    attempts: tuple[RingAttempt, ...], ts: float, outcome: str, keep: str | None = None
) -> tuple[RingAttempt, ...]:
    return tuple(
        replace(a, end_ts=ts, outcome=outcome)
        if a.outcome == "ringing" and a.dest_uniqueid != keep
        else a
        for a in attempts
    )


def _record(call: Call, outcome: str, end_ts: float, **fields: object) -> CallRecord:
    return CallRecord(
        uniqueid=call.uniqueid,
        linkedid=call.linkedid,
        queue=call.queue,
        caller=call.caller,
        dialled=call.dialled,
        outcome=outcome,
        enter_ts=call.enter_ts,
        end_ts=end_ts,
        attempts=_close_ringing(call.attempts, end_ts, "canceled"),
        resynced=call.resynced,
        **fields,  # type: ignore[arg-type]
    )


def _answered(
    call: Call, end_ts: float, talk_s: int | None, ended_by: str | None, in_progress: bool = False
) -> CallRecord:
    return _record(
        call,
        ANSWERED,
        end_ts,
        connect_ts=call.connect_ts,
        agent=call.agent,
        hold_s=call.hold_s,
        ring_s=call.ring_s,
        wait_s=call.hold_s,
        talk_s=talk_s,
        ended_by=ended_by,
        in_progress=in_progress,
    )


def _left_queue(call: Call, end_ts: float) -> CallRecord:
    """Abandon seen: a caller hang-up is ABANDON; no hang-up request means the queue timed out
    or emptied (EXITWITHTIMEOUT / EXITEMPTY)."""
    if call.hangup_requested:
        return _record(call, ABANDONED, end_ts, wait_s=call.abandon_hold_s)
    return _record(call, TIMED_OUT, end_ts, wait_s=call.abandon_hold_s, exit_reason="timeout")


def _exit_with_key(call: Call, end_ts: float) -> CallRecord:
    left = call.leave_ts if call.leave_ts is not None else end_ts
    return _record(call, TIMED_OUT, left, wait_s=int(left - call.enter_ts), exit_reason="key")


def _entered(ts: float, hold_s: int) -> float:
    """Queue entry of a call whose join was not seen. Asterisk counts hold time as the
    difference of whole-second clocks, so the entry second is exact; the fraction is lost."""
    return float(math.floor(ts) - hold_s)


# --- transitions ----------------------------------------------------------------------------------


def _on_newchannel(state: CallState, e: ev.Newchannel) -> CallState:
    dialled = dict(state.dialled)
    dialled[e.uniqueid] = e.exten
    return CallState(state.calls, dialled)


def _on_join(state: CallState, e: ev.QueueCallerJoin) -> CallState:
    old = state.calls.get(e.uniqueid)
    finished: tuple[CallRecord, ...] = ()
    if old is not None:
        if old.phase == WAITING and old.queue == e.queue:
            if not old.resynced:
                return CallState(state.calls, state.dialled)  # replayed
            # Listed by QueueStatus before its join reached us: the join has the exact time.
            calls = dict(state.calls)
            calls[e.uniqueid] = replace(old, enter_ts=e.ts, linkedid=e.linkedid, resynced=False)
            return CallState(calls, state.dialled)
        if old.phase == LEFT:
            finished = (_exit_with_key(old, e.ts),)
        elif old.phase == LEAVING:
            finished = (_left_queue(old, e.ts),)
    call = Call(
        e.uniqueid,
        e.linkedid,
        e.channel,
        e.queue,
        e.caller,
        state.dialled.get(e.uniqueid) or e.exten,
        e.ts,
    )
    calls = dict(state.calls)
    calls[e.uniqueid] = call
    return CallState(calls, state.dialled, finished)


def _on_called(state: CallState, e: ev.AgentCalled) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None or call.phase != WAITING:
        return _unchanged(state)
    if any(a.dest_uniqueid == e.dest_uniqueid for a in call.attempts):
        return _unchanged(state)
    attempt = RingAttempt(e.member_name, e.interface, e.dest_uniqueid, e.ts)
    return _with(state, replace(call, attempts=call.attempts + (attempt,)))


def _on_ring_no_answer(state: CallState, e: ev.AgentRingNoAnswer) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None:
        return _unchanged(state)
    attempts = list(call.attempts)
    for i, a in enumerate(attempts):
        if a.dest_uniqueid == e.dest_uniqueid:
            if a.outcome == "no_answer":
                return _unchanged(state)  # replayed event
            attempts[i] = replace(a, end_ts=e.ts, outcome="no_answer", ring_ms=e.ring_time_ms)
            break
    else:  # AgentCalled was missed (before connect or during an outage)
        attempts.append(
            RingAttempt(
                e.member_name,
                e.interface,
                e.dest_uniqueid,
                e.ts - e.ring_time_ms / 1000,
                e.ts,
                "no_answer",
                e.ring_time_ms,
            )
        )
    return _with(state, replace(call, attempts=tuple(attempts)))


def _on_connect(state: CallState, e: ev.AgentConnect) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None:  # joined before we were connected and missed by resync
        call = Call(
            e.uniqueid,
            "",
            "",
            e.queue,
            e.caller,
            state.dialled.get(e.uniqueid, ""),
            _entered(e.ts, e.hold_time_s),
            resynced=True,
        )
    elif call.phase == CONNECTED:
        return _unchanged(state)
    # A member answering again means its previous call is over even if its AgentComplete
    # was lost.
    stale = tuple(
        _answered(
            c,
            c.hangup_ts,
            int(c.hangup_ts - c.connect_ts) if c.connect_ts is not None else None,
            None,
        )
        for c in state.calls.values()
        if c.phase == CONNECTED and c.agent == e.member_name and c.hangup_ts is not None
    )
    if stale:
        calls = {
            k: c
            for k, c in state.calls.items()
            if not (c.phase == CONNECTED and c.agent == e.member_name and c.hangup_ts is not None)
        }
        state = CallState(calls, state.dialled, stale)
    else:
        state = _unchanged(state)
    attempts = list(_close_ringing(call.attempts, e.ts, "canceled", keep=e.dest_uniqueid))
    for i, a in enumerate(attempts):
        if a.dest_uniqueid == e.dest_uniqueid and a.outcome == "ringing":
            attempts[i] = replace(a, end_ts=e.ts, outcome="answered", ring_ms=e.ring_time_s * 1000)
            break
    else:
        # Also when the member answered just as its ring timeout fired: Asterisk then reports
        # AgentRingNoAnswer and AgentConnect for the same leg (RINGNOANSWER and CONNECT).
        attempts.append(
            RingAttempt(
                e.member_name,
                e.interface,
                e.dest_uniqueid,
                e.ts - e.ring_time_s,
                e.ts,
                "answered",
                e.ring_time_s * 1000,
            )
        )
    if call.resynced:
        call = replace(call, enter_ts=_entered(e.ts, e.hold_time_s))
    calls = dict(state.calls)
    calls[call.uniqueid] = replace(
        call,
        phase=CONNECTED,
        attempts=tuple(attempts),
        agent=e.member_name,
        connect_ts=e.ts,
        hold_s=e.hold_time_s,
        ring_s=e.ring_time_s,
    )
    return CallState(calls, state.dialled, state.finished)


def _connected_to(state: CallState, queue: str, member_name: str) -> Call | None:
    """The call this member is connected to: the one whose caller already hung up first
    (that is when AgentComplete comes without channel fields), else the earliest."""
    found = [
        c
        for c in state.calls.values()
        if c.phase == CONNECTED and c.agent == member_name and c.queue == queue
    ]
    if not found:
        return None
    found.sort(key=lambda c: (c.hangup_ts is None, c.connect_ts or 0.0))
    return found[0]


def _on_complete(state: CallState, e: ev.AgentComplete) -> CallState:
    call = (
        state.calls.get(e.uniqueid) if e.uniqueid else _connected_to(state, e.queue, e.member_name)
    )
    if call is None and not e.uniqueid:
        return _unchanged(state)
    if call is None:
        # The join and AgentConnect were both missed (the call began before we connected):
        # the completion alone still tells who answered, after how long, for how long.
        call = Call(
            e.uniqueid,
            "",
            "",
            e.queue,
            e.caller,
            state.dialled.get(e.uniqueid, ""),
            _entered(e.ts - e.talk_time_s, e.hold_time_s),
            resynced=True,
        )
    if call.phase != CONNECTED or call.agent is None:
        call = replace(
            call,
            phase=CONNECTED,
            agent=e.member_name,
            hold_s=e.hold_time_s,
            connect_ts=call.connect_ts or e.ts - e.talk_time_s,
            resynced=True,
        )
    record = _answered(call, e.ts, e.talk_time_s, e.reason or None)
    return _without(state, call.uniqueid, record)


def _on_dump(state: CallState, e: ev.AgentDump) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None:
        return _unchanged(state)
    attempts = tuple(
        replace(a, outcome="dumped", end_ts=e.ts)
        if a.member_name == e.member_name and a.outcome in ("ringing", "answered")
        else a
        for a in call.attempts
    )
    phase = WAITING if call.phase == CONNECTED else call.phase
    return _with(
        state,
        replace(
            call,
            attempts=attempts,
            phase=phase,
            agent=None,
            connect_ts=None,
            hold_s=None,
            ring_s=None,
        ),
    )


def _on_abandon(state: CallState, e: ev.QueueCallerAbandon) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None or call.phase in (LEAVING, CONNECTED):
        return _unchanged(state)
    if call.resynced:
        call = replace(call, enter_ts=_entered(e.ts, e.hold_time_s))
    if call.phase == LEFT:
        # Left the queue to be connected, then hung up before the bridge (queue_log ABANDON).
        call = replace(call, abandon_ts=e.ts, abandon_hold_s=e.hold_time_s)
        return _without(state, e.uniqueid, _left_queue(call, e.ts))
    return _with(
        state,
        replace(
            call,
            phase=LEAVING,
            abandon_ts=e.ts,
            abandon_hold_s=e.hold_time_s,
            attempts=_close_ringing(call.attempts, e.ts, "canceled"),
        ),
    )


def _on_leave(state: CallState, e: ev.QueueCallerLeave) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None:
        return _unchanged(state)
    if call.phase == LEAVING:
        return _without(state, e.uniqueid, _left_queue(call, e.ts))
    if call.phase == WAITING:
        return _with(state, replace(call, phase=LEFT, leave_ts=e.ts))
    return _unchanged(state)


def _on_hangup_request(state: CallState, e: ev.HangupRequest) -> CallState:
    call = state.calls.get(e.uniqueid)
    if call is None or call.hangup_requested or call.phase == CONNECTED:
        return _unchanged(state)
    return _with(state, replace(call, hangup_requested=True))


def _on_hangup(state: CallState, e: ev.Hangup) -> CallState:
    dialled = state.dialled
    if e.uniqueid in dialled:
        dialled = dict(dialled)
        del dialled[e.uniqueid]
    call = state.calls.get(e.uniqueid)
    if call is None:
        return CallState(state.calls, dialled)
    if call.phase == CONNECTED:
        # The caller's channel can go before the member's leg: AgentComplete follows.
        calls = dict(state.calls)
        calls[e.uniqueid] = replace(call, hangup_ts=e.ts)
        return CallState(calls, dialled)
    record = _ended_unseen(call, e.ts)
    calls = dict(state.calls)
    del calls[e.uniqueid]
    return CallState(calls, dialled, (record,))


def _ended_unseen(call: Call, ts: float) -> CallRecord:
    """The caller's channel is gone while the call was still active here: the events that
    should have ended it were not seen."""
    if call.phase == CONNECTED:
        talk = int(ts - call.connect_ts) if call.connect_ts is not None else None
        return _answered(call, ts, talk, None)
    if call.phase == LEAVING:
        return _left_queue(call, ts)
    if call.phase == LEFT:
        return _exit_with_key(call, ts)
    # Still waiting when the channel hung up: the caller abandoned.
    return _record(call, ABANDONED, ts, wait_s=int(ts - call.enter_ts))


def _on_resync(state: CallState, e: ev.Resync) -> CallState:
    """Reconcile with what the PBX reports after a (re)connect.

    Callers listed by QueueStatus are waiting: add those not known (their entry time is
    estimated from `Wait`). Calls known here but no longer queued either moved on (their
    channel still exists: connected if bridged, else they left the queue) or ended unseen."""
    calls = dict(state.calls)
    dialled = dict(state.dialled)
    channels = {c.uniqueid: c for c in e.channels}
    for c in e.channels:
        dialled.setdefault(c.uniqueid, c.exten)
    queued = {q.uniqueid for q in e.entries}
    finished: list[CallRecord] = []
    for entry in e.entries:
        if entry.uniqueid not in calls:
            chan = channels.get(entry.uniqueid)
            calls[entry.uniqueid] = Call(
                entry.uniqueid,
                chan.linkedid if chan else "",
                entry.channel,
                entry.queue,
                entry.caller,
                dialled.get(entry.uniqueid, ""),
                e.ts - entry.wait_s,
                resynced=True,
            )
    for uid, call in list(calls.items()):
        if uid in queued:
            continue
        chan = channels.get(uid)
        if chan is None and e.channels_ts is not None and call.enter_ts > e.channels_ts:
            continue  # joined after the channel list was taken
        if chan is None:
            finished.append(_ended_unseen_in_outage(call, e.ts))
            del calls[uid]
        elif call.phase == WAITING:
            if chan.bridge_id:
                calls[uid] = replace(call, phase=CONNECTED, resynced=True)
            else:
                calls[uid] = replace(call, phase=LEFT, leave_ts=e.ts, resynced=True)
    return CallState(calls, dialled, tuple(finished))


def _ended_unseen_in_outage(call: Call, ts: float) -> CallRecord:
    if call.phase == CONNECTED:
        if call.hangup_ts is not None and call.connect_ts is not None:
            return _answered(call, call.hangup_ts, int(call.hangup_ts - call.connect_ts), None)
        return _answered(call, ts, None, None)
    if call.phase == LEAVING:
        return _left_queue(call, ts)
    return _record(call, UNKNOWN, ts)


def _unchanged(state: CallState) -> CallState:
    return state if not state.finished else CallState(state.calls, state.dialled)


# Each handler takes the one event type it is listed under.
_Handler = Callable[[CallState, Any], CallState]

HANDLERS: dict[type, _Handler] = {
    ev.Newchannel: _on_newchannel,
    ev.QueueCallerJoin: _on_join,
    ev.AgentCalled: _on_called,
    ev.AgentRingNoAnswer: _on_ring_no_answer,
    ev.AgentConnect: _on_connect,
    ev.AgentComplete: _on_complete,
    ev.AgentDump: _on_dump,
    ev.QueueCallerAbandon: _on_abandon,
    ev.QueueCallerLeave: _on_leave,
    ev.HangupRequest: _on_hangup_request,
    ev.Hangup: _on_hangup,
    ev.Resync: _on_resync,
}


def apply(state: CallState, event: object) -> CallState:
    """The state after `event`; `.finished` holds the calls it ended."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        return _unchanged(state)
    return handler(state, event)


def fold(
    events: Iterable[object], state: CallState | None = None
) -> tuple[CallState, list[CallRecord]]:
    """Apply all `events`; the final state and every record finished on the way."""
    state = state or CallState()
    records: list[CallRecord] = []
    for event in events:
        state = apply(state, event)
        if state.finished:
            records.extend(state.finished)
    return state, records


def snapshot(state: CallState) -> tuple[CallRecord, ...]:
    """Records of the calls still active, as they stand (in_progress=True)."""
    out = []
    for call in state.calls.values():
        end = call.leave_ts or call.abandon_ts or call.connect_ts or call.enter_ts
        if call.phase == CONNECTED:
            rec = _answered(call, end, None, None, in_progress=True)
        elif call.phase == LEAVING:
            rec = replace(_left_queue(call, end), in_progress=True)
        elif call.phase == LEFT:
            rec = replace(_exit_with_key(call, end), in_progress=True)
        else:
            rec = _record(call, WAITING, end, in_progress=True)
        out.append(replace(rec, end_ts=None))
    return tuple(out)
