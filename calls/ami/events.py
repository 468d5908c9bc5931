"""Typed AMI events: the edge where raw header mappings become frozen values.

Only the events call tracking uses have a parser (calls/ami/parse.py); every other event name
(VarSet, Newexten, DeviceStateChange, LocalBridge, ... the bulk of a Local-channel PBX's
traffic) costs one dict lookup in `parse.PARSERS` and is dropped.

Units, as Asterisk 22 app_queue sends them:
- `Timestamp` (with `timestampevents = yes`): epoch seconds with microseconds. List items sent in
  answer to an action (QueueEntry, CoreShowChannel, ...) carry none; the caller supplies
  `received_at` for those.
- AgentRingNoAnswer `RingTime`: milliseconds.
- AgentConnect `RingTime` and `HoldTime`, AgentComplete `HoldTime` and `TalkTime`,
  QueueCallerAbandon `HoldTime`, QueueEntry `Wait`: whole seconds (Asterisk truncates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Union


class ParseError(ValueError):
    """An event we track arrived with a field missing or malformed. Log it and skip the event."""

    def __init__(self, event: str, field: str | None, reason: str) -> None:
        super().__init__(f"{event}: {field or '?'}: {reason}")
        self.event = event
        self.field = field
        self.reason = reason


# --- queue callers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueCallerJoin:
    ts: float
    queue: str
    uniqueid: str
    linkedid: str
    channel: str
    caller: str  # CallerIDNum of the caller's channel
    caller_name: str
    exten: str  # dialplan extension the caller's channel is at when it runs Queue()
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerLeave:
    ts: float
    queue: str
    uniqueid: str
    channel: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon:
    """Published by app_queue's record_abandoned(): on a caller hang-up (queue_log ABANDON) but
    also on a queue timeout (EXITWITHTIMEOUT) and an empty queue (EXITEMPTY). Only a hang-up is
    preceded by a HangupRequest / SoftHangupRequest on the caller's channel."""

    ts: float
    queue: str
    uniqueid: str
    channel: str
    position: int
    original_position: int
    hold_time_s: int  # seconds since queue entry, as Asterisk counts it (queue_log data3)


# --- agent attempts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentCalled:
    ts: float
    queue: str
    uniqueid: str  # the caller's channel
    member_name: str
    interface: str
    dest_uniqueid: str  # the channel ringing the member


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str
    dest_uniqueid: str
    ring_time_ms: int  # milliseconds (queue_log RINGNOANSWER data1), unlike AgentConnect


@dataclass(frozen=True, slots=True)
class AgentConnect:
    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str
    dest_uniqueid: str
    ring_time_s: int  # whole seconds the answering member rang (queue_log CONNECT data3)
    hold_time_s: int  # whole seconds since queue entry (queue_log CONNECT data1)
    caller: str  # CallerIDNum of the caller's channel


@dataclass(frozen=True, slots=True)
class AgentComplete:
    """When the caller's channel is already gone (it can hang up before the member's leg),
    Asterisk sends this without any channel fields: `uniqueid` is then "" and the call is found
    by its member."""

    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str
    dest_uniqueid: str
    hold_time_s: int
    talk_time_s: int
    reason: str  # "agent" | "caller" | "transfer" (COMPLETEAGENT / COMPLETECALLER / TRANSFER)
    caller: str


@dataclass(frozen=True, slots=True)
class AgentDump:
    """The member hung up before the caller was bridged (queue_log AGENTDUMP)."""

    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str


# --- queue members ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueMemberStatus:
    ts: float
    queue: str
    member_name: str
    interface: str
    status: int  # AST_DEVICE_*: 1 not in use, 2 in use, 5 unavailable, 6 ringing, ...
    paused: bool
    paused_reason: str
    in_call: bool
    wrapup_s: int


@dataclass(frozen=True, slots=True)
class QueueMemberPause:
    ts: float
    queue: str
    member_name: str
    interface: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberAdded:
    ts: float
    queue: str
    member_name: str
    interface: str
    status: int
    paused: bool
    paused_reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberRemoved:
    ts: float
    queue: str
    member_name: str
    interface: str


# --- channels ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Newchannel:
    ts: float
    uniqueid: str
    linkedid: str
    channel: str
    caller: str
    context: str
    exten: str  # the number dialled into this channel (a trunk's DID, e.g. 12345)


@dataclass(frozen=True, slots=True)
class HangupRequest:
    """HangupRequest (the channel's technology or the far end hung up) or SoftHangupRequest
    (an application, AMI or CLI asked for it)."""

    ts: float
    uniqueid: str
    channel: str
    soft: bool


@dataclass(frozen=True, slots=True)
class Hangup:
    ts: float
    uniqueid: str
    channel: str
    cause: int


# --- list items of QueueStatus / CoreShowChannels (answers to our resync actions) ---------------


@dataclass(frozen=True, slots=True)
class QueueParams:
    ts: float
    action_id: str
    queue: str
    calls: int
    holdtime_s: int
    completed: int
    abandoned: int
    service_level_s: int
    sl_perf: float
    sl_perf2: float


@dataclass(frozen=True, slots=True)
class QueueMember:
    ts: float
    action_id: str
    queue: str
    member_name: str
    interface: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    wrapup_s: int
    last_call: float = 0.0  # PBX time the member's last queue call ended (0: none yet)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    ts: float
    action_id: str
    queue: str
    position: int
    uniqueid: str
    channel: str
    caller: str
    caller_name: str
    wait_s: int  # whole seconds since the caller entered the queue


@dataclass(frozen=True, slots=True)
class QueueStatusComplete:
    ts: float
    action_id: str


@dataclass(frozen=True, slots=True)
class CoreShowChannel:
    ts: float
    action_id: str
    uniqueid: str
    linkedid: str
    channel: str
    caller: str
    context: str
    exten: str
    application: str
    bridge_id: str  # empty while the channel is not bridged


@dataclass(frozen=True, slots=True)
class CoreShowChannelsComplete:
    ts: float
    action_id: str


@dataclass(frozen=True, slots=True)
class Resync:
    """What QueueStatus and CoreShowChannels reported after a (re)connect, taken together.

    Built by the listener (not parsed from one frame); the state machines reconcile with it."""

    ts: float
    entries: tuple[QueueEntry, ...]
    members: tuple[QueueMember, ...]
    channels: tuple[CoreShowChannel, ...]
    # PBX time of the CoreShowChannels list: a call that entered the queue after it cannot be
    # judged by the absence of its channel there.
    channels_ts: float | None = None


@dataclass(frozen=True, slots=True)
class Connected:
    """The listener has logged in (again); the resync follows. Events the PBX produced
    since the last event before this were not received (the gap). Built by the listener."""

    ts: float  # PBX time of the last event received before this connection (0: none)


AmiEvent = Union[
    QueueCallerJoin,
    QueueCallerLeave,
    QueueCallerAbandon,
    AgentCalled,
    AgentRingNoAnswer,
    AgentConnect,
    AgentComplete,
    AgentDump,
    QueueMemberStatus,
    QueueMemberPause,
    QueueMemberAdded,
    QueueMemberRemoved,
    Newchannel,
    HangupRequest,
    Hangup,
    QueueParams,
    QueueMember,
    QueueEntry,
    QueueStatusComplete,
    CoreShowChannel,
    CoreShowChannelsComplete,
    Resync,
    Connected,
]

Headers = Mapping[str, str]


# --- QueueStatus / CoreShowChannels answers -------------------------------------------------------

_LIST_ITEMS = (
    QueueParams,
    QueueMember,
    QueueEntry,
    QueueStatusComplete,
    CoreShowChannel,
    CoreShowChannelsComplete,
)


class ResyncLists:
    """Gathers the items of the `CoreShowChannels` and `QueueStatus` answers (events carrying the
    action's ActionID, ended by `...Complete`) into one `Resync`, built when both are complete.

    The listener marks the lists it asked for (`start`); rebuilding from stored raw events
    (`auto=True`) takes any list item that carries an ActionID."""

    def __init__(self, auto: bool = False) -> None:
        self._auto = auto
        self._items: dict[str, list[AmiEvent]] = {}
        self._complete: dict[type, str] = {}
        self._channels_ts: float | None = None

    def start(self, action_id: str) -> None:
        self._items[action_id] = []

    def reset(self) -> None:
        self._items.clear()
        self._complete.clear()

    def wants(self, action_id: str | None, event: AmiEvent) -> bool:
        if action_id is None:
            return False
        return action_id in self._items or (self._auto and isinstance(event, _LIST_ITEMS))

    def collect(self, action_id: str, event: AmiEvent) -> Resync | None:
        """Take one list item; the Resync once both lists are complete."""
        if isinstance(event, (QueueStatusComplete, CoreShowChannelsComplete)):
            self._complete[type(event)] = action_id
            if isinstance(event, CoreShowChannelsComplete):
                self._channels_ts = event.ts
            if len(self._complete) < 2:
                return None
            items = [e for aid in self._complete.values() for e in self._items.get(aid, ())]
            # Lists of an earlier connection that never completed are dropped with these.
            self.reset()
            return Resync(
                event.ts,
                tuple(e for e in items if isinstance(e, QueueEntry)),
                tuple(e for e in items if isinstance(e, QueueMember)),
                tuple(e for e in items if isinstance(e, CoreShowChannel)),
                self._channels_ts,
            )
        self._items.setdefault(action_id, []).append(event)
        return None
