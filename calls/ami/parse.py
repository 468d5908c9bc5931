"""Raw AMI header mappings parsed into the typed events of calls/ami/events.py: one parser per
tracked event name, looked up in `PARSERS`; every other name is dropped after that one lookup.
Units and the fields Asterisk 22 sends: see calls/ami/events.py."""

from __future__ import annotations

import math
from typing import Callable, Union

from calls.ami.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentDump,
    AgentRingNoAnswer,
    AmiEvent,
    CoreShowChannel,
    CoreShowChannelsComplete,
    Hangup,
    HangupRequest,
    Headers,
    Newchannel,
    ParseError,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueMember,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
    QueueParams,
    QueueStatusComplete,
)


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
    return QueueCallerJoin(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h.get("Linkedid", ""),
        h.get("Channel", ""),
        h.get("CallerIDNum", ""),
        h.get("CallerIDName", ""),
        h.get("Exten", ""),
        int(h["Position"]),
        _int_or(h, "Count", 0),
    )


def _leave(h: Headers, r: float | None) -> QueueCallerLeave:
    return QueueCallerLeave(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h.get("Channel", ""),
        _int_or(h, "Position", 0),
        _int_or(h, "Count", 0),
    )


def _abandon(h: Headers, r: float | None) -> QueueCallerAbandon:
    return QueueCallerAbandon(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h.get("Channel", ""),
        _int_or(h, "Position", 0),
        _int_or(h, "OriginalPosition", 0),
        int(h["HoldTime"]),
    )


def _called(h: Headers, r: float | None) -> AgentCalled:
    return AgentCalled(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h["MemberName"],
        h.get("Interface", ""),
        h.get("DestUniqueid", ""),
    )


def _rna(h: Headers, r: float | None) -> AgentRingNoAnswer:
    return AgentRingNoAnswer(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h["MemberName"],
        h.get("Interface", ""),
        h.get("DestUniqueid", ""),
        int(h["RingTime"]),
    )


def _connect(h: Headers, r: float | None) -> AgentConnect:
    return AgentConnect(
        _ts(h, r),
        h["Queue"],
        h["Uniqueid"],
        h["MemberName"],
        h.get("Interface", ""),
        h.get("DestUniqueid", ""),
        int(h["RingTime"]),
        int(h["HoldTime"]),
        h.get("CallerIDNum", ""),
    )


def _complete(h: Headers, r: float | None) -> AgentComplete:
    return AgentComplete(
        _ts(h, r),
        h["Queue"],
        h.get("Uniqueid", ""),
        h["MemberName"],
        h.get("Interface", ""),
        h.get("DestUniqueid", ""),
        int(h["HoldTime"]),
        int(h["TalkTime"]),
        h.get("Reason", ""),
        h.get("CallerIDNum", ""),
    )


def _dump(h: Headers, r: float | None) -> AgentDump:
    return AgentDump(_ts(h, r), h["Queue"], h["Uniqueid"], h["MemberName"], h.get("Interface", ""))


def _member_status(h: Headers, r: float | None) -> QueueMemberStatus:
    return QueueMemberStatus(
        _ts(h, r),
        h["Queue"],
        h["MemberName"],
        h["Interface"],
        int(h["Status"]),
        _flag(h.get("Paused", "0")),
        h.get("PausedReason", ""),
        _flag(h.get("InCall", "0")),
        _int_or(h, "Wrapuptime", 0),
    )


def _member_pause(h: Headers, r: float | None) -> QueueMemberPause:
    return QueueMemberPause(
        _ts(h, r),
        h["Queue"],
        h["MemberName"],
        h["Interface"],
        _flag(h["Paused"]),
        h.get("PausedReason", h.get("Reason", "")),
    )


def _member_added(h: Headers, r: float | None) -> QueueMemberAdded:
    return QueueMemberAdded(
        _ts(h, r),
        h["Queue"],
        h["MemberName"],
        h["Interface"],
        _int_or(h, "Status", 0),
        _flag(h.get("Paused", "0")),
        h.get("PausedReason", ""),
    )


def _member_removed(h: Headers, r: float | None) -> QueueMemberRemoved:
    return QueueMemberRemoved(_ts(h, r), h["Queue"], h["MemberName"], h["Interface"])


def _newchannel(h: Headers, r: float | None) -> Newchannel:
    return Newchannel(
        _ts(h, r),
        h["Uniqueid"],
        h.get("Linkedid", ""),
        h.get("Channel", ""),
        h.get("CallerIDNum", ""),
        h.get("Context", ""),
        h.get("Exten", ""),
    )


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
    return QueueParams(
        _ts(h, r),
        h.get("ActionID", ""),
        h["Queue"],
        _int_or(h, "Calls", 0),
        _int_or(h, "Holdtime", 0),
        _int_or(h, "Completed", 0),
        _int_or(h, "Abandoned", 0),
        _int_or(h, "ServiceLevel", 0),
        _float_or(h, "ServicelevelPerf"),
        _float_or(h, "ServicelevelPerf2"),
    )


def _queue_member(h: Headers, r: float | None) -> QueueMember:
    # QueueStatus names the member `Name` and its interface `Location`.
    return QueueMember(
        _ts(h, r),
        h.get("ActionID", ""),
        h["Queue"],
        h.get("Name") or h["MemberName"],
        h.get("Location") or h["Interface"],
        _int_or(h, "Status", 0),
        _flag(h.get("Paused", "0")),
        h.get("PausedReason", ""),
        _flag(h.get("InCall", "0")),
        _int_or(h, "Wrapuptime", 0),
        float(_int_or(h, "LastCall", 0)),
    )


def _queue_entry(h: Headers, r: float | None) -> QueueEntry:
    return QueueEntry(
        _ts(h, r),
        h.get("ActionID", ""),
        h["Queue"],
        _int_or(h, "Position", 0),
        h["Uniqueid"],
        h.get("Channel", ""),
        h.get("CallerIDNum", ""),
        h.get("CallerIDName", ""),
        _int_or(h, "Wait", 0),
    )


def _queue_status_complete(h: Headers, r: float | None) -> QueueStatusComplete:
    return QueueStatusComplete(_ts(h, r), h.get("ActionID", ""))


def _core_show_channel(h: Headers, r: float | None) -> CoreShowChannel:
    return CoreShowChannel(
        _ts(h, r),
        h.get("ActionID", ""),
        h["Uniqueid"],
        h.get("Linkedid", ""),
        h.get("Channel", ""),
        h.get("CallerIDNum", ""),
        h.get("Context", ""),
        h.get("Exten", h.get("Extension", "")),
        h.get("Application", ""),
        h.get("BridgeId", ""),
    )


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
