"""What a PBX would report at the replay's position (QueueStatus, CoreShowChannels, and the
answer to QueuePause), rebuilt from the event frames the replay has sent (calls.ami.replay)."""

from __future__ import annotations

import time
from typing import Iterable


def headers_of(frame: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep:
            out[k] = v
    return out


def frame_of(*pairs: tuple[str, object]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"


# Events whose effect on the PBX state QueueStatus / CoreShowChannels report.
_TRACKED = frozenset(
    {
        b"QueueCallerJoin",
        b"QueueCallerLeave",
        b"QueueCallerAbandon",
        b"AgentComplete",
        b"QueueMemberStatus",
        b"QueueMemberPause",
        b"QueueMemberAdded",
        b"QueueMemberRemoved",
        b"Newchannel",
        b"Newstate",
        b"Newexten",
        b"NewCallerid",
        b"Hangup",
        b"BridgeEnter",
        b"BridgeLeave",
    }
)

_MEMBER_FIELDS = (
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Wrapuptime",
)


class PbxState:
    """What a PBX would report at the current replay position, rebuilt from the events sent."""

    def __init__(self) -> None:
        self.now: float = 0.0
        self._now_seen_at = time.monotonic()  # when `now` was last moved by an event
        self._last_stamp = 0.0
        self.waiting: dict[str, dict[str, str]] = {}  # Uniqueid -> join headers
        self.members: dict[tuple[str, str], dict[str, str]] = {}
        self.queues: dict[str, dict[str, int]] = {}
        self.channels: dict[str, dict[str, str]] = {}

    def feed(self, frame: bytes, ts: float | None) -> None:
        if ts is not None:
            self.now = ts
            self._now_seen_at = time.monotonic()
        end = frame.find(b"\r\n")
        name = frame[7 : end if end >= 0 else len(frame)]
        if name not in _TRACKED:
            return
        h = headers_of(frame)
        getattr(self, "_" + name.decode())(h, ts)

    def know_members(self, frames: Iterable[bytes]) -> None:
        """Members statically configured in the queue exist before their first event: list them
        from the start, idle, as Asterisk's QueueStatus would."""
        for frame in frames:
            if frame.startswith((b"Event: QueueMemberStatus\r\n", b"Event: QueueMemberAdded\r\n")):
                h = headers_of(frame)
                key = (h.get("Queue", ""), h.get("Interface", ""))
                if key not in self.members:
                    self._queue(key[0])
                    self.members[key] = dict(h, Status="1", InCall="0")

    def _queue(self, name: str) -> dict[str, int]:
        return self.queues.setdefault(name, {"Completed": 0, "Abandoned": 0})

    def _QueueCallerJoin(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))
        self.waiting[h.get("Uniqueid", "")] = dict(h, _joined=str(ts or self.now))

    def _QueueCallerLeave(self, h: dict[str, str], ts: float | None) -> None:
        left = self.waiting.pop(h.get("Uniqueid", ""), None)
        if left is None:
            return
        pos = int(left.get("Position", "0") or 0)
        for w in self.waiting.values():
            if w.get("Queue") == left.get("Queue") and int(w.get("Position", "0") or 0) > pos:
                w["Position"] = str(int(w["Position"]) - 1)

    def _QueueCallerAbandon(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))["Abandoned"] += 1

    def _AgentComplete(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))["Completed"] += 1

    def _QueueMemberStatus(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))
        self.members[(h.get("Queue", ""), h.get("Interface", ""))] = h

    _QueueMemberAdded = _QueueMemberStatus

    def _QueueMemberPause(self, h: dict[str, str], ts: float | None) -> None:
        m = self.members.setdefault((h.get("Queue", ""), h.get("Interface", "")), dict(h))
        m["Paused"] = h.get("Paused", "0")
        m["PausedReason"] = h.get("PausedReason", h.get("Reason", ""))

    def _QueueMemberRemoved(self, h: dict[str, str], ts: float | None) -> None:
        self.members.pop((h.get("Queue", ""), h.get("Interface", "")), None)

    def _Newchannel(self, h: dict[str, str], ts: float | None) -> None:
        self.channels[h.get("Uniqueid", "")] = dict(
            h, _created=str(ts or self.now), BridgeId="", Application="", ApplicationData=""
        )

    def _update(self, h: dict[str, str], keys: Iterable[str]) -> None:
        c = self.channels.get(h.get("Uniqueid", ""))
        if c is not None:
            for k in keys:
                if k in h:
                    c[k] = h[k]

    def _Newstate(self, h: dict[str, str], ts: float | None) -> None:
        self._update(
            h,
            (
                "ChannelState",
                "ChannelStateDesc",
                "CallerIDNum",
                "CallerIDName",
                "ConnectedLineNum",
                "ConnectedLineName",
            ),
        )

    def _NewCallerid(self, h: dict[str, str], ts: float | None) -> None:
        self._update(h, ("CallerIDNum", "CallerIDName"))

    def _Newexten(self, h: dict[str, str], ts: float | None) -> None:
        self._update(h, ("Context", "Exten", "Priority", "Application"))
        self._update(
            {"Uniqueid": h.get("Uniqueid", ""), "ApplicationData": h.get("AppData", "")},
            ("ApplicationData",),
        )

    def _Hangup(self, h: dict[str, str], ts: float | None) -> None:
        self.channels.pop(h.get("Uniqueid", ""), None)

    def _BridgeEnter(self, h: dict[str, str], ts: float | None) -> None:
        self._update(
            {"Uniqueid": h.get("Uniqueid", ""), "BridgeId": h.get("BridgeUniqueid", "")},
            ("BridgeId",),
        )

    def _BridgeLeave(self, h: dict[str, str], ts: float | None) -> None:
        self._update({"Uniqueid": h.get("Uniqueid", ""), "BridgeId": ""}, ("BridgeId",))

    # --- answers to list actions ------------------------------------------------------------

    def queue_status(self, action_id: str) -> list[bytes]:
        out = [
            frame_of(
                ("Response", "Success"),
                ("ActionID", action_id),
                ("EventList", "start"),
                ("Message", "Queue status will follow"),
            )
        ]
        items = 0
        for q, counts in sorted(self.queues.items()):
            waiting = [w for w in self.waiting.values() if w.get("Queue") == q]
            out.append(
                frame_of(
                    ("Event", "QueueParams"),
                    ("Queue", q),
                    ("Max", 0),
                    ("Strategy", "rrmemory"),
                    ("Calls", len(waiting)),
                    ("Holdtime", 0),
                    ("TalkTime", 0),
                    ("Completed", counts["Completed"]),
                    ("Abandoned", counts["Abandoned"]),
                    ("ServiceLevel", 0),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", 0),
                    ("ActionID", action_id),
                )
            )
            items += 1
            for (mq, _), m in sorted(self.members.items()):
                if mq != q:
                    continue
                out.append(
                    frame_of(
                        ("Event", "QueueMember"),
                        ("Queue", q),
                        ("Name", m.get("MemberName", "")),
                        ("Location", m.get("Interface", "")),
                        *((k, m.get(k, "")) for k in _MEMBER_FIELDS),
                        ("ActionID", action_id),
                    )
                )
                items += 1
            for w in sorted(waiting, key=lambda w: int(w.get("Position", "0") or 0)):
                out.append(
                    frame_of(
                        ("Event", "QueueEntry"),
                        ("Queue", q),
                        ("Position", w.get("Position", "")),
                        ("Channel", w.get("Channel", "")),
                        ("Uniqueid", w.get("Uniqueid", "")),
                        ("CallerIDNum", w.get("CallerIDNum", "")),
                        ("CallerIDName", w.get("CallerIDName", "")),
                        ("ConnectedLineNum", w.get("ConnectedLineNum", "")),
                        ("ConnectedLineName", w.get("ConnectedLineName", "")),
                        ("Wait", int(self.now - float(w["_joined"]))),
                        ("Priority", 0),
                        ("ActionID", action_id),
                    )
                )
                items += 1
        out.append(
            frame_of(
                ("Event", "QueueStatusComplete"),
                ("ActionID", action_id),
                ("EventList", "Complete"),
                ("ListItems", items),
            )
        )
        return out

    def stamp(self) -> float:
        """A Timestamp for an event the PBX makes now: the replay's clock moved on by the time
        since its last event, and after any stamp given before (Asterisk stamps in
        microseconds; two events never share every header, which the listener relies on)."""
        stamp = max(self.now + time.monotonic() - self._now_seen_at, self._last_stamp + 1e-6)
        self._last_stamp = stamp
        return stamp

    def queue_pause(self, action: dict[str, str], action_id: str) -> list[bytes]:
        """app_queue's answer to QueuePause: an error when the interface is in no (or not the
        named) queue; else the acknowledgement and one QueueMemberPause event per queue, stamped
        with the replay's clock, as set_member_paused publishes them."""
        interface, queue = action.get("Interface", ""), action.get("Queue", "")
        if not interface or "Paused" not in action:
            return [
                frame_of(
                    ("Response", "Error"),
                    ("ActionID", action_id),
                    ("Message", "Need 'Interface' and 'Paused' parameters."),
                )
            ]
        paused = action["Paused"].strip().lower() in ("1", "true", "yes", "on", "y", "t")
        reason = action.get("Reason", "")
        mine = [
            (key, member)
            for key, member in self.members.items()
            if key[1] == interface and (not queue or key[0] == queue)
        ]
        if not mine:
            return [
                frame_of(
                    ("Response", "Error"),
                    ("ActionID", action_id),
                    ("Message", "Interface not found"),
                )
            ]
        out = [
            frame_of(
                ("Response", "Success"),
                ("ActionID", action_id),
                ("Message", f"Interface {'paused' if paused else 'unpaused'} successfully"),
            )
        ]
        stamp = self.stamp()
        for (queue_name, _), member in sorted(mine, key=lambda item: item[0]):
            member["Paused"] = "1" if paused else "0"
            member["PausedReason"] = reason if paused else ""
            out.append(
                frame_of(
                    ("Event", "QueueMemberPause"),
                    ("Privilege", "agent,all"),
                    ("Timestamp", f"{stamp:.6f}"),
                    ("Queue", queue_name),
                    ("MemberName", member.get("MemberName", interface)),
                    ("Interface", interface),
                    ("StateInterface", member.get("StateInterface", interface)),
                    ("Membership", member.get("Membership", "static")),
                    ("Penalty", member.get("Penalty", "0")),
                    ("CallsTaken", member.get("CallsTaken", "0")),
                    ("LastCall", member.get("LastCall", "0")),
                    ("LastPause", f"{int(stamp)}" if paused else member.get("LastPause", "0")),
                    ("InCall", member.get("InCall", "0")),
                    ("Status", member.get("Status", "1")),
                    ("Paused", member["Paused"]),
                    ("PausedReason", member["PausedReason"]),
                    ("Wrapuptime", member.get("Wrapuptime", "0")),
                )
            )
        return out

    def core_show_channels(self, action_id: str) -> list[bytes]:
        out = [
            frame_of(
                ("Response", "Success"),
                ("ActionID", action_id),
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            )
        ]
        for c in self.channels.values():
            secs = max(0, int(self.now - float(c["_created"])))
            out.append(
                frame_of(
                    ("Event", "CoreShowChannel"),
                    ("ActionID", action_id),
                    *(
                        (k, c.get(k, ""))
                        for k in (
                            "Channel",
                            "ChannelState",
                            "ChannelStateDesc",
                            "CallerIDNum",
                            "CallerIDName",
                            "ConnectedLineNum",
                            "ConnectedLineName",
                            "Language",
                            "AccountCode",
                            "Context",
                            "Exten",
                            "Priority",
                            "Uniqueid",
                            "Linkedid",
                            "Application",
                            "ApplicationData",
                        )
                    ),
                    ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                    ("BridgeId", c.get("BridgeId", "")),
                )
            )
        out.append(
            frame_of(
                ("Event", "CoreShowChannelsComplete"),
                ("ActionID", action_id),
                ("EventList", "Complete"),
                ("ListItems", len(self.channels)),
            )
        )
        return out
