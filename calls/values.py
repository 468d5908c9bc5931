"""The values the queue-call fold (calls/calls.py) works on: a call's phases and outcomes, its
ring attempts, the record of a finished call, the live call and the fold's state. Frozen; no
I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from sla.metrics import ANSWERED

# Call phases while the call is active.
WAITING = "waiting"  # in the queue, possibly with members ringing
LEAVING = "leaving"  # QueueCallerAbandon seen, QueueCallerLeave not yet
LEFT = "left"  # QueueCallerLeave without abandon: AgentConnect follows unless a key
CONNECTED = "connected"  # bridged to a member

# Final outcomes (CallRecord.outcome): the three the service-level measures define, and
UNKNOWN = "unknown"  # the call ended while the listener was disconnected


@dataclass(frozen=True, slots=True)
class RingAttempt:
    """One member rung for one caller."""

    member_name: str
    interface: str
    dest_uniqueid: str
    start_ts: float
    end_ts: float | None = None
    outcome: str = "ringing"  # ringing | answered | no_answer | canceled | dumped
    # Ring time as Asterisk reported it: AgentRingNoAnswer gives milliseconds, AgentConnect
    # whole seconds (stored here * 1000). None for a canceled attempt.
    ring_ms: int | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A queue call, finished (or, from `snapshot`, in progress). Times are PBX epoch seconds;
    the `_s` integers are Asterisk's own whole-second figures, as in queue_log."""

    uniqueid: str
    linkedid: str
    queue: str
    caller: str
    dialled: str  # the number the caller dialled (the hotline's DID)
    outcome: str  # answered | abandoned | timed_out | unknown | waiting
    enter_ts: float
    end_ts: float | None = None
    connect_ts: float | None = None
    agent: str | None = None
    hold_s: int | None = None  # answered: AgentConnect HoldTime (queue entry -> answer)
    ring_s: int | None = None  # answered: AgentConnect RingTime of the answering member
    wait_s: int | None = None  # time in queue: hold_s if answered, else Asterisk's HoldTime
    talk_s: int | None = None
    ended_by: str | None = None  # answered: agent | caller | transfer
    exit_reason: str | None = None  # timed_out: timeout (queue timeout or empty) | key
    attempts: tuple[RingAttempt, ...] = ()
    resynced: bool = False  # (partly) rebuilt from QueueStatus/CoreShowChannels
    in_progress: bool = False

    @property
    def enter(self) -> int:
        """Whole second of queue entry, as queue_log writes ENTERQUEUE."""
        return math.floor(self.enter_ts)

    def summary(self) -> dict[str, object]:
        """The call as `expected.json` of the AMI captures writes it."""
        out: dict[str, object] = {
            "caller": self.caller,
            "outcome": self.outcome,
            "enter": self.enter,
        }
        if self.outcome == ANSWERED:
            out.update(
                agent=self.agent,
                hold_s=self.hold_s,
                ring_s=self.ring_s,
                talk_s=self.talk_s,
                ended_by=self.ended_by,
            )
        else:
            out["wait_s"] = self.wait_s
        return out


@dataclass(frozen=True, slots=True)
class Call:
    """An active queue call."""

    uniqueid: str
    linkedid: str
    channel: str
    queue: str
    caller: str
    dialled: str
    enter_ts: float
    phase: str = WAITING
    attempts: tuple[RingAttempt, ...] = ()
    hangup_requested: bool = False
    abandon_ts: float | None = None
    abandon_hold_s: int | None = None
    leave_ts: float | None = None
    agent: str | None = None
    connect_ts: float | None = None
    hold_s: int | None = None
    ring_s: int | None = None
    hangup_ts: float | None = None  # connected, caller's channel gone, AgentComplete to come
    resynced: bool = False


@dataclass(frozen=True, slots=True)
class CallState:
    calls: Mapping[str, Call] = field(default_factory=dict)
    # Channel Uniqueid -> the extension it was created for (Newchannel Exten), until its Hangup.
    dialled: Mapping[str, str] = field(default_factory=dict)
    # Records finished by the last applied event.
    finished: tuple[CallRecord, ...] = ()
