"""Live state of queue members and waiting callers, for live pages: a pure fold like `calls`.

    live = LiveState()
    for event in events:
        live = apply(live, event)
    board = members_at(live, now)         # each member's state at `now`
    queue = waiting_at(live, now)         # callers waiting and for how long

Member states shown: available, ringing, talking, wrap-up, paused (with reason), unavailable.
Asterisk reports device states with QueueMemberStatus `Status` (AST_DEVICE_*); a Local-channel
member shows "in use" (2) while it rings, so ringing is taken from AgentCalled instead. Wrap-up
(the queue's `wrapuptime`) is not an Asterisk state at all: it is the time after AgentComplete
during which app_queue does not ring the member.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from calls.ami import events as ev

AVAILABLE = "available"
RINGING = "ringing"
TALKING = "talking"
WRAP_UP = "wrap-up"
PAUSED = "paused"
UNAVAILABLE = "unavailable"

# What an agent may give as the reason of 示忙 (the QueuePause `Reason`, kept by app_queue as
# PausedReason and in queue_log's PAUSE line). A fixed list: reasons are counted per reason in
# the reports, and free text would reach the PBX.
PAUSE_REASONS = ("小休", "用餐", "会议", "培训", "其他")
# 话后整理 taken by hand is a pause with this reason (the queue's own wrapuptime, after every
# call, is the automatic one).
WRAP_UP_REASON = "话后整理"

# AST_DEVICE_* values app_queue puts in QueueMemberStatus / QueueMember `Status`.
DEVICE_UNKNOWN, DEVICE_NOT_INUSE, DEVICE_INUSE, DEVICE_BUSY, DEVICE_INVALID = 0, 1, 2, 3, 4
DEVICE_UNAVAILABLE, DEVICE_RINGING, DEVICE_RINGINUSE, DEVICE_ONHOLD = 5, 6, 7, 8


@dataclass(frozen=True, slots=True)
class Member:
    """A queue member (agent), keyed by its interface (e.g. `PJSIP/8001`, `Local/8001@agents/n`)."""

    interface: str
    name: str
    queues: frozenset[str] = frozenset()
    device_status: int = DEVICE_UNKNOWN
    paused: bool = False
    pause_reason: str = ""
    ringing_for: str | None = None  # caller Uniqueid while AgentCalled is outstanding
    talking_to: str | None = None  # caller Uniqueid while connected
    caller: str = ""  # caller number while ringing or talking
    since: float = 0.0  # when the current ringing/talk/pause began
    wrapup_until: float = 0.0
    wrapup_s: int = 0  # member's wrapuptime if Asterisk reported one


@dataclass(frozen=True, slots=True)
class Waiting:
    uniqueid: str
    queue: str
    caller: str
    enter_ts: float
    position: int


@dataclass(frozen=True, slots=True)
class LiveState:
    members: Mapping[str, Member] = field(default_factory=dict)
    waiting: Mapping[str, Waiting] = field(default_factory=dict)
    # Used for wrap-up when the member reports none: the queue's `wrapuptime`.
    default_wrapup_s: int = 0


@dataclass(frozen=True, slots=True)
class MemberView:
    interface: str
    name: str
    state: str
    pause_reason: str
    caller: str
    since: float
    seconds_in_state: float


@dataclass(frozen=True, slots=True)
class WaitingView:
    uniqueid: str
    queue: str
    caller: str
    position: int
    wait_s: float


def _by_name(state: LiveState, interface: str, name: str) -> Member:
    m = state.members.get(interface)
    if m is None and not interface:
        m = next((x for x in state.members.values() if x.name == name), None)
    return m or Member(interface, name)


def _put(state: LiveState, member: Member) -> LiveState:
    members = dict(state.members)
    members[member.interface] = member
    return LiveState(members, state.waiting, state.default_wrapup_s)


def _on_member_status(state: LiveState, e: ev.QueueMemberStatus | ev.QueueMember) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    since = m.since
    if e.paused != m.paused or not since:  # first seen: in this state since at least now
        since = e.ts
    m = replace(
        m,
        name=e.member_name,
        queues=m.queues | {e.queue},
        device_status=e.status,
        paused=e.paused,
        pause_reason=e.paused_reason if e.paused else "",
        wrapup_s=e.wrapup_s or m.wrapup_s,
        since=since,
    )
    if isinstance(e, ev.QueueMember) and not e.in_call and m.talking_to is not None:
        m = replace(m, talking_to=None, caller="")
    if m.ringing_for == "" and e.status == DEVICE_NOT_INUSE:
        m = replace(m, ringing_for=None, caller="")
    return _put(state, m)


def _on_pause(state: LiveState, e: ev.QueueMemberPause) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    return _put(
        state,
        replace(
            m,
            name=e.member_name,
            queues=m.queues | {e.queue},
            paused=e.paused,
            pause_reason=e.reason if e.paused else "",
            since=e.ts,
        ),
    )


def _on_added(state: LiveState, e: ev.QueueMemberAdded) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    return _put(
        state,
        replace(
            m,
            name=e.member_name,
            queues=m.queues | {e.queue},
            device_status=e.status,
            paused=e.paused,
            pause_reason=e.paused_reason if e.paused else "",
            since=e.ts,
        ),
    )


def _on_removed(state: LiveState, e: ev.QueueMemberRemoved) -> LiveState:
    m = state.members.get(e.interface)
    if m is None:
        return state
    queues = m.queues - {e.queue}
    members = dict(state.members)
    if queues:
        members[e.interface] = replace(m, queues=queues)
    else:
        del members[e.interface]
    return LiveState(members, state.waiting, state.default_wrapup_s)


def _on_called(state: LiveState, e: ev.AgentCalled) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    caller = state.waiting.get(e.uniqueid)
    return _put(
        state,
        replace(
            m,
            queues=m.queues | {e.queue},
            ringing_for=e.uniqueid,
            caller=caller.caller if caller else "",
            since=e.ts,
        ),
    )


def _on_ring_end(state: LiveState, e: ev.AgentRingNoAnswer) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    if m.ringing_for not in (e.uniqueid, ""):  # "": rung for a caller the resync could not name
        return state
    return _put(state, replace(m, ringing_for=None, caller="", since=e.ts))


def _on_connect(state: LiveState, e: ev.AgentConnect) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    waiting = state.waiting
    if e.uniqueid in waiting:
        waiting = dict(waiting)
        del waiting[e.uniqueid]
    m = replace(m, ringing_for=None, talking_to=e.uniqueid, caller=e.caller, since=e.ts)
    members = dict(state.members)
    members[m.interface] = m
    return LiveState(members, waiting, state.default_wrapup_s)


def _on_complete(state: LiveState, e: ev.AgentComplete) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    wrapup = m.wrapup_s or state.default_wrapup_s
    return _put(
        state, replace(m, talking_to=None, caller="", since=e.ts, wrapup_until=e.ts + wrapup)
    )


def _on_dump(state: LiveState, e: ev.AgentDump) -> LiveState:
    m = _by_name(state, e.interface, e.member_name)
    return _put(state, replace(m, ringing_for=None, talking_to=None, caller="", since=e.ts))


def _on_join(state: LiveState, e: ev.QueueCallerJoin) -> LiveState:
    waiting = dict(state.waiting)
    if e.uniqueid not in waiting:
        waiting[e.uniqueid] = Waiting(e.uniqueid, e.queue, e.caller, e.ts, e.position)
    return LiveState(state.members, waiting, state.default_wrapup_s)


def _on_leave(state: LiveState, e: ev.QueueCallerLeave) -> LiveState:
    if e.uniqueid not in state.waiting:
        return state
    waiting = dict(state.waiting)
    del waiting[e.uniqueid]
    # Callers behind move up one place.
    for uid, w in waiting.items():
        if w.queue == e.queue and w.position > e.position > 0:
            waiting[uid] = replace(w, position=w.position - 1)
    members = state.members
    ringing = [m for m in members.values() if m.ringing_for == e.uniqueid]
    if ringing:
        members = dict(members)
        for m in ringing:
            members[m.interface] = replace(m, ringing_for=None, caller="", since=e.ts)
    return LiveState(members, waiting, state.default_wrapup_s)


def _device_prefix(interface: str) -> str:
    """The start of the names of a member's channels: `Local/8001@agents/n` rings
    `Local/8001@agents-0000001a;1`, `PJSIP/8001` rings `PJSIP/8001-0000001b`."""
    base = interface[:-2] if interface.endswith("/n") else interface
    return base + "-"


def _member_call(
    interface: str, channels: tuple[ev.CoreShowChannel, ...], entries: tuple[ev.QueueEntry, ...]
) -> tuple[str, str, bool] | None:
    """What CoreShowChannels shows of a member's own channel: (caller Uniqueid, caller number,
    bridged). Bridged: the caller is the channel sharing its bridge; not bridged: app_queue is
    still ringing it for the caller whose number it carries (its Uniqueid "" when no queued
    caller has that number). None when the member has no channel."""
    prefix = _device_prefix(interface)
    own = [c for c in channels if c.channel.startswith(prefix)]
    if not own:
        return None
    bridges = {c.bridge_id for c in own if c.bridge_id}
    if bridges:
        for c in channels:
            if c.bridge_id in bridges and not c.channel.startswith(prefix):
                return c.uniqueid, c.caller, True
        return "", "", True
    rung = [c for c in own if c.application == "AppQueue"]  # app_queue's dial leg
    if not rung:
        return None
    number = rung[0].caller
    uid = next((w.uniqueid for w in entries if number and w.caller == number), "")
    return uid, number, False


def _on_resync(state: LiveState, e: ev.Resync) -> LiveState:
    """Every member's state as QueueStatus reports it now (what we missed while away: a ring
    that ran out, a call answered or ended, a pause): in a call (InCall) is talking, to the
    caller whose channel shares a bridge with the member's; not in a call is not talking;
    a member whose own channel exists unbridged is being rung (for the queued caller with the
    number it carries); wrap-up from the member's LastCall. Members QueueStatus no longer lists are gone."""
    listed = {m.interface for m in e.members}
    members = {k: m for k, m in state.members.items() if not e.members or k in listed}
    state = LiveState(members, state.waiting, state.default_wrapup_s)
    for item in e.members:
        state = _on_member_status(state, item)
        m = state.members[item.interface]
        before = member_state(m, e.ts)
        seen = _member_call(item.interface, e.channels, e.entries)
        known = (m.talking_to, m.caller) if m.talking_to else ("", "")
        m = replace(m, ringing_for=None, talking_to=None, caller="")
        if seen is not None and seen[2] and seen[0]:
            m = replace(m, talking_to=seen[0], caller=seen[1])
        elif item.in_call or (seen is not None and seen[2]):
            # In a call the channel list does not name: the call we knew, if any.
            m = replace(m, talking_to=known[0], caller=known[1])
        elif seen is not None:
            m = replace(m, ringing_for=seen[0], caller=seen[1])
        if m.talking_to is None and item.last_call:
            m = replace(m, wrapup_until=item.last_call + (m.wrapup_s or state.default_wrapup_s))
        if member_state(m, e.ts) != before:
            m = replace(m, since=e.ts)
        state = _put(state, m)
    waiting = {
        w.uniqueid: Waiting(
            w.uniqueid,
            w.queue,
            w.caller,
            state.waiting[w.uniqueid].enter_ts if w.uniqueid in state.waiting else e.ts - w.wait_s,
            w.position,
        )
        for w in e.entries
    }
    return LiveState(state.members, waiting, state.default_wrapup_s)


# Each handler takes the one event type it is listed under.
HANDLERS: dict[type, Callable[[LiveState, Any], LiveState]] = {
    ev.QueueMemberStatus: _on_member_status,
    ev.QueueMemberPause: _on_pause,
    ev.QueueMemberAdded: _on_added,
    ev.QueueMemberRemoved: _on_removed,
    ev.AgentCalled: _on_called,
    ev.AgentRingNoAnswer: _on_ring_end,
    ev.AgentConnect: _on_connect,
    ev.AgentComplete: _on_complete,
    ev.AgentDump: _on_dump,
    ev.QueueCallerJoin: _on_join,
    ev.QueueCallerLeave: _on_leave,
    ev.Resync: _on_resync,
}


def apply(state: LiveState, event: object) -> LiveState:
    handler = HANDLERS.get(type(event))
    return state if handler is None else handler(state, event)


def member_state(m: Member, now: float) -> str:
    if m.talking_to is not None:
        return TALKING
    if m.ringing_for is not None or m.device_status in (DEVICE_RINGING, DEVICE_RINGINUSE):
        return RINGING
    if m.paused:
        return PAUSED
    if now < m.wrapup_until:
        return WRAP_UP
    if m.device_status in (DEVICE_INVALID, DEVICE_UNAVAILABLE):
        return UNAVAILABLE
    return AVAILABLE


def members_at(state: LiveState, now: float) -> list[MemberView]:
    return [
        MemberView(
            m.interface,
            m.name,
            member_state(m, now),
            m.pause_reason if m.paused else "",
            m.caller,
            m.since,
            max(0.0, now - m.since),
        )
        for m in sorted(state.members.values(), key=lambda m: m.name)
    ]


def waiting_at(state: LiveState, now: float) -> list[WaitingView]:
    return [
        WaitingView(w.uniqueid, w.queue, w.caller, w.position, max(0.0, now - w.enter_ts))
        for w in sorted(state.waiting.values(), key=lambda w: (w.queue, w.enter_ts))
    ]
