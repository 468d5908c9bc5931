"""Typed AMI events: the edge where raw header mappings become frozen values.

Only the events call tracking uses have a parser; every other event name (VarSet, Newexten,
DeviceStateChange, LocalBridge, ... the bulk of a Local-channel PBX's traffic) costs one dict
lookup in `PARSERS` and is dropped.

Units, as Asterisk 22 app_queue sends them:
- `Timestamp` (with `timestampevents = yes`): epoch seconds with microseconds. List items sent in
  answer to an action (QueueEntry, CoreShowChannel, ...) carry none; the caller supplies
  `received_at` for those.
- AgentRingNoAnswer `RingTime`: milliseconds.
- AgentConnect `RingTime` and `HoldTime`, AgentComplete `HoldTime` and `TalkTime`,
  QueueCallerAbandon `HoldTime`, QueueEntry `Wait`: whole seconds (Asterisk truncates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Union


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
    caller: str          # CallerIDNum of the caller's channel
    caller_name: str
    exten: str           # dialplan extension the caller's channel is at when it runs Queue()
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
    hold_time_s: int     # seconds since queue entry, as Asterisk counts it (queue_log data3)


# --- agent attempts ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AgentCalled:
    ts: float
    queue: str
    uniqueid: str        # the caller's channel
    member_name: str
    interface: str
    dest_uniqueid: str   # the channel ringing the member


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str
    dest_uniqueid: str
    ring_time_ms: int    # milliseconds (queue_log RINGNOANSWER data1), unlike AgentConnect


@dataclass(frozen=True, slots=True)
class AgentConnect:
    ts: float
    queue: str
    uniqueid: str
    member_name: str
    interface: str
    dest_uniqueid: str
    ring_time_s: int     # whole seconds the answering member rang (queue_log CONNECT data3)
    hold_time_s: int     # whole seconds since queue entry (queue_log CONNECT data1)
    caller: str          # CallerIDNum of the caller's channel


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
    reason: str          # "agent" | "caller" | "transfer" (COMPLETEAGENT / COMPLETECALLER / TRANSFER)
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
    status: int          # AST_DEVICE_*: 1 not in use, 2 in use, 5 unavailable, 6 ringing, ...
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
    exten: str           # the number dialled into this channel (a trunk's DID, e.g. 12345)


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
    wait_s: int          # whole seconds since the caller entered the queue


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
    bridge_id: str       # empty while the channel is not bridged


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


AmiEvent = Union[
    QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon,
    AgentCalled, AgentRingNoAnswer, AgentConnect, AgentComplete, AgentDump,
    QueueMemberStatus, QueueMemberPause, QueueMemberAdded, QueueMemberRemoved,
    Newchannel, HangupRequest, Hangup,
    QueueParams, QueueMember, QueueEntry, QueueStatusComplete,
    CoreShowChannel, CoreShowChannelsComplete, Resync,
]

Headers = Mapping[str, str]


def _ts(h: Headers, received_at: float | None) -> float:
    raw = h.get("Timestamp")
    if raw is None:
        if received_at is None:
            raise KeyError("Timestamp")
        return received_at
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"Timestamp {raw!r}")
    return value


def _flag(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a flag: {value!r}")


def _int_or(h: Headers, key: str, default: int) -> int:
    raw = h.get(key)
    return default if raw is None or raw == "" else int(raw)


def _join(h: Headers, r: float | None) -> QueueCallerJoin:
    return QueueCallerJoin(_ts(h, r), h["Queue"], h["Uniqueid"], h.get("Linkedid", ""),
                           h.get("Channel", ""), h.get("CallerIDNum", ""),
                           h.get("CallerIDName", ""), h.get("Exten", ""),
                           int(h["Position"]), _int_or(h, "Count", 0))


def _leave(h: Headers, r: float | None) -> QueueCallerLeave:
    return QueueCallerLeave(_ts(h, r), h["Queue"], h["Uniqueid"], h.get("Channel", ""),
                            _int_or(h, "Position", 0), _int_or(h, "Count", 0))


def _abandon(h: Headers, r: float | None) -> QueueCallerAbandon:
    return QueueCallerAbandon(_ts(h, r), h["Queue"], h["Uniqueid"], h.get("Channel", ""),
                              _int_or(h, "Position", 0), _int_or(h, "OriginalPosition", 0),
                              int(h["HoldTime"]))


def _called(h: Headers, r: float | None) -> AgentCalled:
    return AgentCalled(_ts(h, r), h["Queue"], h["Uniqueid"], h["MemberName"],
                       h.get("Interface", ""), h.get("DestUniqueid", ""))


def _rna(h: Headers, r: float | None) -> AgentRingNoAnswer:
    return AgentRingNoAnswer(_ts(h, r), h["Queue"], h["Uniqueid"], h["MemberName"],
                             h.get("Interface", ""), h.get("DestUniqueid", ""),
                             int(h["RingTime"]))


def _connect(h: Headers, r: float | None) -> AgentConnect:
    return AgentConnect(_ts(h, r), h["Queue"], h["Uniqueid"], h["MemberName"],
                        h.get("Interface", ""), h.get("DestUniqueid", ""),
                        int(h["RingTime"]), int(h["HoldTime"]), h.get("CallerIDNum", ""))


def _complete(h: Headers, r: float | None) -> AgentComplete:
    return AgentComplete(_ts(h, r), h["Queue"], h.get("Uniqueid", ""), h["MemberName"],
                         h.get("Interface", ""), h.get("DestUniqueid", ""),
                         int(h["HoldTime"]), int(h["TalkTime"]), h.get("Reason", ""),
                         h.get("CallerIDNum", ""))


def _dump(h: Headers, r: float | None) -> AgentDump:
    return AgentDump(_ts(h, r), h["Queue"], h["Uniqueid"], h["MemberName"], h.get("Interface", ""))


def _member_status(h: Headers, r: float | None) -> QueueMemberStatus:
    return QueueMemberStatus(_ts(h, r), h["Queue"], h["MemberName"], h["Interface"],
                             int(h["Status"]), _flag(h.get("Paused", "0")),
                             h.get("PausedReason", ""), _flag(h.get("InCall", "0")),
                             _int_or(h, "Wrapuptime", 0))


def _member_pause(h: Headers, r: float | None) -> QueueMemberPause:
    return QueueMemberPause(_ts(h, r), h["Queue"], h["MemberName"], h["Interface"],
                            _flag(h["Paused"]), h.get("PausedReason", h.get("Reason", "")))


def _member_added(h: Headers, r: float | None) -> QueueMemberAdded:
    return QueueMemberAdded(_ts(h, r), h["Queue"], h["MemberName"], h["Interface"],
                            _int_or(h, "Status", 0), _flag(h.get("Paused", "0")),
                            h.get("PausedReason", ""))


def _member_removed(h: Headers, r: float | None) -> QueueMemberRemoved:
    return QueueMemberRemoved(_ts(h, r), h["Queue"], h["MemberName"], h["Interface"])


def _newchannel(h: Headers, r: float | None) -> Newchannel:
    return Newchannel(_ts(h, r), h["Uniqueid"], h.get("Linkedid", ""), h.get("Channel", ""),
                      h.get("CallerIDNum", ""), h.get("Context", ""), h.get("Exten", ""))


def _hangup_request(h: Headers, r: float | None) -> HangupRequest:
    return HangupRequest(_ts(h, r), h["Uniqueid"], h.get("Channel", ""), False)


def _soft_hangup_request(h: Headers, r: float | None) -> HangupRequest:
    return HangupRequest(_ts(h, r), h["Uniqueid"], h.get("Channel", ""), True)


def _hangup(h: Headers, r: float | None) -> Hangup:
    return Hangup(_ts(h, r), h["Uniqueid"], h.get("Channel", ""), _int_or(h, "Cause", 0))


def _float_or(h: Headers, key: str) -> float:
    raw = h.get(key)
    return 0.0 if raw is None or raw == "" else float(raw)


def _queue_params(h: Headers, r: float | None) -> QueueParams:
    return QueueParams(_ts(h, r), h.get("ActionID", ""), h["Queue"], _int_or(h, "Calls", 0),
                       _int_or(h, "Holdtime", 0), _int_or(h, "Completed", 0),
                       _int_or(h, "Abandoned", 0), _int_or(h, "ServiceLevel", 0),
                       _float_or(h, "ServicelevelPerf"), _float_or(h, "ServicelevelPerf2"))


def _queue_member(h: Headers, r: float | None) -> QueueMember:
    # QueueStatus names the member `Name` and its interface `Location`.
    return QueueMember(_ts(h, r), h.get("ActionID", ""), h["Queue"],
                       h.get("Name") or h["MemberName"], h.get("Location") or h["Interface"],
                       _int_or(h, "Status", 0), _flag(h.get("Paused", "0")),
                       h.get("PausedReason", ""), _flag(h.get("InCall", "0")),
                       _int_or(h, "Wrapuptime", 0))


def _queue_entry(h: Headers, r: float | None) -> QueueEntry:
    return QueueEntry(_ts(h, r), h.get("ActionID", ""), h["Queue"], _int_or(h, "Position", 0),
                      h["Uniqueid"], h.get("Channel", ""), h.get("CallerIDNum", ""),
                      h.get("CallerIDName", ""), _int_or(h, "Wait", 0))


def _queue_status_complete(h: Headers, r: float | None) -> QueueStatusComplete:
    return QueueStatusComplete(_ts(h, r), h.get("ActionID", ""))


def _core_show_channel(h: Headers, r: float | None) -> CoreShowChannel:
    return CoreShowChannel(_ts(h, r), h.get("ActionID", ""), h["Uniqueid"], h.get("Linkedid", ""),
                           h.get("Channel", ""), h.get("CallerIDNum", ""), h.get("Context", ""),
                           h.get("Exten", h.get("Extension", "")), h.get("Application", ""),
                           h.get("BridgeId", ""))


def _core_show_channels_complete(h: Headers, r: float | None) -> CoreShowChannelsComplete:
    return CoreShowChannelsComplete(_ts(h, r), h.get("ActionID", ""))


Parser = Callable[[Headers, Union[float, None]], AmiEvent]

# Event name -> parser. Names not here are skipped by one lookup.
PARSERS: dict[str, Parser] = {
    "QueueCallerJoin": _join,
    "QueueCallerLeave": _leave,
    "QueueCallerAbandon": _abandon,
    "AgentCalled": _called,
    "AgentRingNoAnswer": _rna,
    "AgentConnect": _connect,
    "AgentComplete": _complete,
    "AgentDump": _dump,
    "QueueMemberStatus": _member_status,
    "QueueMemberPause": _member_pause,
    "QueueMemberPaused": _member_pause,  # Asterisk 11 name
    "QueueMemberAdded": _member_added,
    "QueueMemberRemoved": _member_removed,
    "Newchannel": _newchannel,
    "HangupRequest": _hangup_request,
    "SoftHangupRequest": _soft_hangup_request,
    "Hangup": _hangup,
    "QueueParams": _queue_params,
    "QueueMember": _queue_member,
    "QueueEntry": _queue_entry,
    "QueueStatusComplete": _queue_status_complete,
    "CoreShowChannel": _core_show_channel,
    "CoreShowChannelsComplete": _core_show_channels_complete,
}

WANTED: frozenset[str] = frozenset(PARSERS)


def parse(name: str, headers: Headers, received_at: float | None = None) -> AmiEvent | None:
    """Typed event for `name`, or None for an event we do not track.

    Raises ParseError when a tracked event lacks a field or has a malformed one."""
    parser = PARSERS.get(name)
    if parser is None:
        return None
    try:
        return parser(headers, received_at)
    except KeyError as exc:
        raise ParseError(name, str(exc.args[0]) if exc.args else None, "missing") from None
    except (ValueError, TypeError) as exc:
        raise ParseError(name, None, str(exc)) from None


def parse_event(headers: Headers, received_at: float | None = None) -> AmiEvent | None:
    """Same as `parse`, reading the name from the `Event` header."""
    name = headers.get("Event")
    if name is None:
        return None
    return parse(name, headers, received_at)


def parse_frame(frame: bytes) -> dict[str, str]:
    """Header mapping of one raw AMI frame (lines `Key: value`, CRLF). Bytes that are not
    UTF-8 are replaced; lines without `: ` are dropped, as the asterisk-ami client does."""
    headers: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            headers[key] = value
    return headers


# --- QueueStatus / CoreShowChannels answers -------------------------------------------------------

_LIST_ITEMS = (QueueParams, QueueMember, QueueEntry, QueueStatusComplete, CoreShowChannel,
               CoreShowChannelsComplete)


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
