"""Service-level metrics of queue calls: the one place their definitions live.

Definitions follow the AMI captures' README (what queue_log and Asterisk's QueueStatus count):

- offered               calls that entered the queue (ENTERQUEUE)
- answered              calls an agent picked up (CONNECT)
- abandoned             callers who hung up while waiting (ABANDON)
- timed_out             left by queue timeout, empty queue or a key (EXITWITHTIMEOUT/EXITEMPTY/EXITWITHKEY)
- answered_within_sl    answered with hold time <= service-level seconds; hold time is Asterisk's
                        whole seconds from queue entry (AgentConnect HoldTime)
- abandoned_within_sl   abandoned with wait <= service-level seconds (ABANDON data3)
- connect_rate          answered / offered (接通率)
- service_level         answered_within_sl / answered (Asterisk ServicelevelPerf)
- service_level2        (answered_within_sl + abandoned_within_sl) / (answered + abandoned);
                        unlike Asterisk's ServicelevelPerf2, timeouts are not counted as abandons
- sl_of_offered         answered_within_sl / offered
- asa_s                 mean hold time of answered calls (3 decimals)
- ring_no_answer        member ring attempts that ran out unanswered (RINGNOANSWER)
- agents                per member: answered, ring_no_answer, talk_s (sum over completed calls),
                        completed

Ratios are rounded to 4 decimals and are None when their denominator is 0. Short abandons
(wait <= `short_abandon_s`, 0 = none excluded) are left out of offered and abandoned and counted
apart. Calls are placed in a window or bucket by their queue-entry time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar, Iterable, Mapping, Protocol, Sequence

from hotline.localtime import SHANGHAI

# A queue call's final outcome, as the call records of any PBX adapter state it.
ANSWERED = "answered"
ABANDONED = "abandoned"
TIMED_OUT = "timed_out"  # queue timeout, empty queue, or exit with a key


class RingRecord(Protocol):
    """One member rung for one caller: what the measures read of it."""

    @property
    def member_name(self) -> str: ...
    @property
    def outcome(self) -> str: ...  # answered | no_answer | others not counted
    @property
    def ring_ms(self) -> int | None: ...


class CallRecord(Protocol):
    """A queue call as the measures read it (calls.calls.CallRecord is one): times
    are PBX epoch seconds, `_s` integers Asterisk's own whole seconds."""

    @property
    def queue(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def enter_ts(self) -> float: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def hold_s(self) -> int | None: ...
    @property
    def wait_s(self) -> int | None: ...
    @property
    def talk_s(self) -> int | None: ...
    @property
    def in_progress(self) -> bool: ...
    @property
    def attempts(self) -> Sequence[RingRecord]: ...


# Day buckets of a Chinese hotline are local (SHANGHAI). China Standard Time has no daylight
# saving, so adding seconds to local midnight (bucket_start) gives the same instants as in UTC.

BUCKETS: Mapping[str, int] = {"15min": 900, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class AgentMetrics:
    answered: int = 0
    ring_no_answer: int = 0
    talk_s: int = 0
    completed: int = 0
    # Ring attempts that ended by the member (answered or ran out; a caller leaving cancels).
    rings: int = 0
    # Of those, answered within `ring_target_s` of starting to ring.
    answered_within_ring_target: int = 0

    @property
    def ring_compliance(self) -> float | None:
        return ratio(self.answered_within_ring_target, self.rings)

    def as_dict(self) -> dict[str, int]:
        return {
            "answered": self.answered,
            "ring_no_answer": self.ring_no_answer,
            "talk_s": self.talk_s,
            "completed": self.completed,
        }


@dataclass(frozen=True, slots=True)
class Metrics:
    service_level_seconds: int
    offered: int
    answered: int
    abandoned: int
    timed_out: int
    answered_within_sl: int
    abandoned_within_sl: int
    ring_no_answer: int
    hold_total_s: int
    agents: Mapping[str, AgentMetrics] = field(default_factory=dict)
    short_abandons: int = 0
    longest_wait_s: int | None = None
    unknown: int = 0  # calls that ended while the listener was disconnected
    waiting: int = 0  # still in the queue when the records were taken

    @property
    def connect_rate(self) -> float | None:
        return ratio(self.answered, self.offered)

    @property
    def service_level(self) -> float | None:
        return ratio(self.answered_within_sl, self.answered)

    @property
    def service_level2(self) -> float | None:
        return ratio(
            self.answered_within_sl + self.abandoned_within_sl, self.answered + self.abandoned
        )

    @property
    def sl_of_offered(self) -> float | None:
        return ratio(self.answered_within_sl, self.offered)

    @property
    def asa_s(self) -> float | None:
        return ratio(self.hold_total_s, self.answered, places=3)

    def as_dict(self, extended: bool = False) -> dict[str, object]:
        """The keys of the captures' expected.json (without `calls`); `extended` adds the
        figures that file does not hold."""
        out: dict[str, object] = {
            "service_level_seconds": self.service_level_seconds,
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "timed_out": self.timed_out,
            "answered_within_sl": self.answered_within_sl,
            "abandoned_within_sl": self.abandoned_within_sl,
            "connect_rate": self.connect_rate,
            "service_level": self.service_level,
            "service_level2": self.service_level2,
            "sl_of_offered": self.sl_of_offered,
            "asa_s": self.asa_s,
            "ring_no_answer": self.ring_no_answer,
            "agents": {name: a.as_dict() for name, a in sorted(self.agents.items())},
        }
        if extended:
            out.update(
                longest_wait_s=self.longest_wait_s,
                short_abandons=self.short_abandons,
                unknown=self.unknown,
                waiting=self.waiting,
                ring_compliance={
                    name: a.ring_compliance for name, a in sorted(self.agents.items())
                },
            )
        return out


def ratio(numerator: float, denominator: float, places: int = 4) -> float | None:
    if not denominator:
        return None
    return round(numerator / denominator, places)


AGENT_FIELDS = (
    "answered",
    "ring_no_answer",
    "talk_s",
    "completed",
    "rings",
    "answered_within_ring_target",
)


@dataclass(slots=True)
class Tally:
    """The sums behind `Metrics`, kept open: calls are added one by one, and tallies of
    disjoint sets of calls add up (and subtract, for prefix sums) to the tally of their union;
    only `longest` is a maximum, kept by whoever combines. `compute` is one tally."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timed_out: int = 0
    answered_within_sl: int = 0
    abandoned_within_sl: int = 0
    ring_no_answer: int = 0
    hold_total_s: int = 0
    short_abandons: int = 0
    unknown: int = 0
    waiting: int = 0
    longest_wait_s: int | None = None
    agents: dict[str, list[int]] = field(default_factory=dict)  # name -> AGENT_FIELDS

    # The running sums (merge adds and takes them away), every field but the maximum and agents.
    _SUMS: ClassVar[tuple[str, ...]] = (
        "offered",
        "answered",
        "abandoned",
        "timed_out",
        "answered_within_sl",
        "abandoned_within_sl",
        "ring_no_answer",
        "hold_total_s",
        "short_abandons",
        "unknown",
        "waiting",
    )

    @property
    def calls(self) -> int:
        """Calls tallied, short abandons included."""
        return self.offered + self.short_abandons

    def _agent(self, name: str) -> list[int]:
        a = self.agents.get(name)
        if a is None:
            a = self.agents[name] = [0, 0, 0, 0, 0, 0]
        return a

    def add(
        self,
        r: CallRecord,
        service_level_s: int = 15,
        short_abandon_s: int = 0,
        ring_target_s: int = 15,
    ) -> None:
        if r.outcome == ABANDONED and short_abandon_s > 0 and (r.wait_s or 0) <= short_abandon_s:
            self.short_abandons += 1
            return
        self.offered += 1
        if r.wait_s is not None and (self.longest_wait_s is None or r.wait_s > self.longest_wait_s):
            self.longest_wait_s = r.wait_s
        for attempt in r.attempts:
            if attempt.outcome == "no_answer":
                self.ring_no_answer += 1
                a = self._agent(attempt.member_name)
                a[1] += 1
                a[4] += 1
            elif attempt.outcome == "answered":
                a = self._agent(attempt.member_name)
                a[4] += 1
                if attempt.ring_ms is not None and attempt.ring_ms <= ring_target_s * 1000:
                    a[5] += 1
        if r.outcome == ANSWERED:
            self.answered += 1
            hold = r.hold_s or 0
            self.hold_total_s += hold
            if hold <= service_level_s:
                self.answered_within_sl += 1
            if r.agent is not None:
                a = self._agent(r.agent)
                a[0] += 1
                if r.talk_s is not None and not r.in_progress:
                    a[3] += 1
                    a[2] += r.talk_s
        elif r.outcome == ABANDONED:
            self.abandoned += 1
            if r.wait_s is not None and r.wait_s <= service_level_s:
                self.abandoned_within_sl += 1
        elif r.outcome == TIMED_OUT:
            self.timed_out += 1
        elif r.in_progress:
            self.waiting += 1
        else:
            self.unknown += 1

    def merge(self, other: "Tally", sign: int = 1) -> None:
        """Adds (sign 1) or takes away (sign -1) the sums of `other`; a maximum cannot be taken
        away, so `longest_wait_s` is only combined when adding."""
        # Spelt out: a loop over the field names was most of a dashboard's cost.
        self.offered += sign * other.offered
        self.answered += sign * other.answered
        self.abandoned += sign * other.abandoned
        self.timed_out += sign * other.timed_out
        self.answered_within_sl += sign * other.answered_within_sl
        self.abandoned_within_sl += sign * other.abandoned_within_sl
        self.ring_no_answer += sign * other.ring_no_answer
        self.hold_total_s += sign * other.hold_total_s
        self.short_abandons += sign * other.short_abandons
        self.unknown += sign * other.unknown
        self.waiting += sign * other.waiting
        if (
            sign > 0
            and other.longest_wait_s is not None
            and (self.longest_wait_s is None or other.longest_wait_s > self.longest_wait_s)
        ):
            self.longest_wait_s = other.longest_wait_s
        for name, values in other.agents.items():
            mine = self.agents.get(name)
            if mine is None:
                self.agents[name] = [sign * v for v in values]
            elif sign > 0:
                mine[:] = [a + b for a, b in zip(mine, values)]
            else:
                mine[:] = [a - b for a, b in zip(mine, values)]

    def copy(self) -> "Tally":
        return replace(self, agents={name: list(v) for name, v in self.agents.items()})

    def metrics(self, service_level_s: int = 15) -> Metrics:
        members = {
            name: AgentMetrics(*a) for name, a in self.agents.items() if a[0] or a[1] or a[3]
        }
        return Metrics(
            service_level_s,
            self.offered,
            self.answered,
            self.abandoned,
            self.timed_out,
            self.answered_within_sl,
            self.abandoned_within_sl,
            self.ring_no_answer,
            self.hold_total_s,
            members,
            self.short_abandons,
            self.longest_wait_s,
            self.unknown,
            self.waiting,
        )


def compute(
    records: Iterable[CallRecord],
    *,
    service_level_s: int = 15,
    short_abandon_s: int = 0,
    ring_target_s: int = 15,
    start: float | None = None,
    end: float | None = None,
) -> Metrics:
    """Metrics of the calls that entered the queue in [start, end) (all when unbounded)."""
    tally = Tally()
    for r in records:
        if start is not None and r.enter_ts < start:
            continue
        if end is not None and r.enter_ts >= end:
            continue
        tally.add(r, service_level_s, short_abandon_s, ring_target_s)
    return tally.metrics(service_level_s)


def bucket_start(ts: float, size: str, tz: tzinfo = SHANGHAI) -> datetime:
    """Start of the 15-minute, hour or day bucket holding `ts`, in local time `tz`."""
    seconds = BUCKETS[size]
    local = datetime.fromtimestamp(ts, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    into_day = (local - midnight).total_seconds()
    return midnight + timedelta(seconds=math.floor(into_day / seconds) * seconds)


def by_bucket(
    records: Iterable[CallRecord], size: str = "hour", tz: tzinfo = SHANGHAI, **params: int
) -> dict[datetime, Metrics]:
    """Metrics per bucket (`15min`, `hour`, `day`) of queue-entry time, oldest first."""
    groups: dict[datetime, list[CallRecord]] = {}
    for r in records:
        groups.setdefault(bucket_start(r.enter_ts, size, tz), []).append(r)
    return {k: compute(groups[k], **params) for k in sorted(groups)}


def by_queue(records: Iterable[CallRecord], **params: int) -> dict[str, Metrics]:
    groups: dict[str, list[CallRecord]] = {}
    for r in records:
        groups.setdefault(r.queue, []).append(r)
    return {k: compute(v, **params) for k, v in sorted(groups.items())}


def rolling(
    records: Iterable[CallRecord], now: float, window_s: int = 86400, **params: int
) -> Metrics:
    """Metrics of the calls that entered in the `window_s` seconds before `now` (24 h default)."""
    return compute(records, start=now - window_s, end=now, **params)


@dataclass(frozen=True, slots=True)
class Alarm:
    metric: str  # "connect_rate" | "service_level"
    value: float
    target: float
    window_s: int
    offered: int


def alarms(
    records: Iterable[CallRecord],
    now: float,
    *,
    window_s: int = 3600,
    connect_rate_target: float = 0.80,
    service_level_target: float = 0.80,
    min_offered: int = 1,
    service_level_s: int = 15,
    short_abandon_s: int = 0,
) -> list[Alarm]:
    """Alarms for a rolling window ending at `now`: 接通率 or service level below target.
    No alarm is raised on fewer than `min_offered` calls."""
    m = rolling(
        records, now, window_s, service_level_s=service_level_s, short_abandon_s=short_abandon_s
    )
    return alarms_of(
        m,
        window_s=window_s,
        connect_rate_target=connect_rate_target,
        service_level_target=service_level_target,
        min_offered=min_offered,
    )


def alarms_of(
    m: Metrics,
    *,
    window_s: int,
    connect_rate_target: float = 0.80,
    service_level_target: float = 0.80,
    min_offered: int = 1,
) -> list[Alarm]:
    """The alarms of the metrics `m` of a rolling window."""
    if m.offered < max(min_offered, 1):
        return []
    out = []
    if m.connect_rate is not None and m.connect_rate < connect_rate_target:
        out.append(Alarm("connect_rate", m.connect_rate, connect_rate_target, window_s, m.offered))
    if m.service_level is not None and m.service_level < service_level_target:
        out.append(
            Alarm("service_level", m.service_level, service_level_target, window_s, m.offered)
        )
    return out
