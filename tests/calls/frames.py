"""AMI frames with the header sets Asterisk 22 really sends, for the recovery paths the shared
captures never hit (AgentDump, QueueMemberAdded, QueueMemberRemoved).

The caller, member-channel and queue-member header sets are copied from the first call of
`../shared/ami-traces/calm/ami.raw` (caller 16702419103, Uniqueid 1795639917.1, rung on 坐席1).
The events those captures lack are put together as app_queue.c builds them: AgentDump is the
caller's channel snapshot, the member channel's snapshot prefixed `Dest` and
Queue/Interface/MemberName (like AgentConnect without HoldTime/RingTime); QueueMemberAdded and
QueueMemberRemoved carry the same member blob as QueueMemberStatus (queue_member_blob_create).
Frames are bytes and go through the real parser (`events.parse_frame`, `events.parse_event`).
"""

from __future__ import annotations

from calls.ami import parse as ami_parse

QUEUE = "hotline"
CALLER_UID = "1795639917.1"

CALLER = {
    "Channel": "Local/16702419103@incoming-00000000;2",
    "ChannelState": "6",
    "ChannelStateDesc": "Up",
    "CallerIDNum": "16702419103",
    "CallerIDName": "16702419103",
    "ConnectedLineNum": "16702419103",
    "ConnectedLineName": "16702419103",
    "Language": "en",
    "AccountCode": "",
    "Context": "incoming",
    "Exten": "16702419103",
    "Priority": "4",
    "Uniqueid": CALLER_UID,
    "Linkedid": "1795639917.0",
}


def member_leg(n: int, channel_no: str, uniqueid: str, state: str = "0") -> dict[str, str]:
    """The `Dest` snapshot of the Local channel ringing member 坐席n (state 0 Down, 6 Up)."""
    return {
        "DestChannel": f"Local/800{n}@agents-{channel_no};1",
        "DestChannelState": state,
        "DestChannelStateDesc": {"0": "Down", "6": "Up"}[state],
        "DestCallerIDNum": "16702419103",
        "DestCallerIDName": "16702419103",
        "DestConnectedLineNum": "16702419103",
        "DestConnectedLineName": "16702419103",
        "DestLanguage": "en",
        "DestAccountCode": "",
        "DestContext": "agents",
        "DestExten": "16702419103",
        "DestPriority": "1",
        "DestUniqueid": uniqueid,
        "DestLinkedid": "1795639917.0",
    }


def member(n: int, **changes: str) -> dict[str, str]:
    """The queue-member blob of 坐席n, as QueueMemberStatus carries it."""
    blob = {
        "Queue": QUEUE,
        "MemberName": f"坐席{n}",
        "Interface": f"Local/800{n}@agents/n",
        "StateInterface": f"Local/800{n}@agents/n",
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "1795639901",
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    blob.update(changes)
    return blob


def agent(n: int) -> dict[str, str]:
    return {"Queue": QUEUE, "Interface": f"Local/800{n}@agents/n", "MemberName": f"坐席{n}"}


def frame(event: str, ts: float, *parts: dict[str, str], **more: str) -> bytes:
    headers = {"Event": event, "Privilege": "agent,all", "Timestamp": f"{ts:.6f}"}
    for part in parts:
        headers.update(part)
    headers.update(more)
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8")


def parsed(*frames: bytes) -> list[object]:
    out = []
    for f in frames:
        e = ami_parse.parse_event(ami_parse.parse_frame(f))
        assert e is not None, f
        out.append(e)
    return out


# The real start of the call: it joins and 坐席1's leg rings.
JOIN = frame("QueueCallerJoin", 1795639918.284578, CALLER, Queue=QUEUE, Position="1", Count="1")
CALLED_1 = frame(
    "AgentCalled", 1795639918.284630, CALLER, member_leg(1, "00000001", "1795639918.2"), agent(1)
)
# 坐席1 picks up and hangs up again before the bridge (queue_log AGENTDUMP).
DUMP_1 = frame(
    "AgentDump",
    1795639920.289940,
    CALLER,
    member_leg(1, "00000001", "1795639918.2", state="6"),
    agent(1),
)
