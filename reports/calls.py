"""History of calls: the answer-time measures (sla.metrics) per period and per queue, agent or
entry number, over stored call records (hotline.ports.HistoryCall). Pure: no I/O.

Calls are placed by their queue-entry time in local time: 15 min, hour, day, week (from
Monday) or month. Per queue, entry number or all calls: offered, answered, abandoned (short
abandons apart, Policy.short_abandon_seconds), timed out, 接通率, 15-second service level
(answered within Policy.service_level_seconds / answered), ASA, talk time. Per agent: the calls
they answered, ring-no-answer, talk time and agent-first hang-ups (the seed forbids 强行挂断):
an agent is flagged when they end a call within Policy.agent_hangup_quick_seconds of answering,
or end at least Policy.agent_hangup_flag_share of their completed calls themselves.

知识库当场解答占比 (kb_share, the monthly report's figure too): the work orders recorded in a
period, and how many of them were answered on the spot from the knowledge base, placed by when
they were recorded. Without a queue or agent filter the total counts every work order (whatever
its channel); per queue, entry number or agent, and under a filter, those taken on a call of
that key entered the same local day (an agent's: the calls they answered).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from hotline.policy import Policy
from hotline.ports import HistoryCall, RecordedTicket, SurveyDay
from sla.metrics import ANSWERED, Tally, ratio

GROUPS: Mapping[str, str] = {
    "15min": "15 分钟",
    "hour": "小时",
    "day": "日",
    "week": "周",
    "month": "月",
}
DIMENSIONS: Mapping[str, str] = {
    "all": "全部",
    "queue": "队列",
    "agent": "坐席",
    "entry": "呼入号码",
}
# The longest range each grouping may show (a page of a few hundred rows at most).
MAX_DAYS: Mapping[str, int] = {"15min": 7, "hour": 62, "day": 400, "week": 400, "month": 400}
ALL = "全部"


def kb_share(on_spot: int, recorded: int) -> float | None:
    """知识库当场解答占比: work orders answered on the spot over work orders recorded."""
    return ratio(on_spot, recorded)


def bucket_of(ts: float, group: str, tz: dt.tzinfo) -> dt.datetime:
    """Local start of the period holding PBX epoch second `ts`."""
    local = dt.datetime.fromtimestamp(ts, tz)
    if group == "15min":
        return local.replace(minute=local.minute // 15 * 15, second=0, microsecond=0)
    if group == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if group == "day":
        return day
    if group == "week":
        return day - dt.timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grouping {group}")


def bucket_label(start: dt.datetime, group: str) -> str:
    if group in ("15min", "hour"):
        return start.strftime("%m-%d %H:%M")
    if group == "day":
        return start.strftime("%Y-%m-%d")
    if group == "week":
        return start.strftime("%Y-%m-%d 起")
    return f"{start.year}年{start.month}月"


@dataclass(slots=True)
class Cell:
    """One period of one queue, entry number, agent or all calls."""

    tally: Tally = field(default_factory=Tally)
    talked: int = 0  # completed answered calls (talk time known)
    talk_s: int = 0
    agent_hangups: int = 0  # completed calls the agent ended first
    quick_hangups: int = 0  # ... within agent_hangup_quick_seconds of answering
    ring_no_answer: int = 0  # agent rows: their rings that ran out
    recorded: int = 0  # work orders recorded (受理)
    on_spot: int = 0  # ... of them answered on the spot from the knowledge base

    def add(self, r: HistoryCall, policy: Policy) -> None:
        self.tally.add(r, policy.service_level_seconds, policy.short_abandon_seconds)
        self.add_talk(r, policy)

    def merge(self, other: "Cell") -> None:
        """Adds the sums of `other` (a cell of calls disjoint from this one's)."""
        self.tally.merge(other.tally)
        self.talked += other.talked
        self.talk_s += other.talk_s
        self.agent_hangups += other.agent_hangups
        self.quick_hangups += other.quick_hangups
        self.ring_no_answer += other.ring_no_answer
        self.recorded += other.recorded
        self.on_spot += other.on_spot

    def add_ticket(self, t: RecordedTicket) -> None:
        self.recorded += 1
        self.on_spot += t.answered_on_spot

    def add_talk(self, r: HistoryCall, policy: Policy) -> None:
        if r.outcome != ANSWERED or r.in_progress or r.talk_s is None:
            return
        self.talked += 1
        self.talk_s += r.talk_s
        if r.ended_by == "agent":
            self.agent_hangups += 1
            if r.talk_s <= policy.agent_hangup_quick_seconds:
                self.quick_hangups += 1

    @property
    def offered(self) -> int:
        return self.tally.offered

    @property
    def answered(self) -> int:
        return self.tally.answered

    @property
    def connect_rate(self) -> float | None:
        return ratio(self.tally.answered, self.tally.offered)

    @property
    def service_level(self) -> float | None:
        return ratio(self.tally.answered_within_sl, self.tally.answered)

    @property
    def asa_s(self) -> float | None:
        return ratio(self.tally.hold_total_s, self.tally.answered, places=3)

    @property
    def avg_talk_s(self) -> float | None:
        return ratio(self.talk_s, self.talked, places=1)

    @property
    def kb_share(self) -> float | None:
        return kb_share(self.on_spot, self.recorded)

    @property
    def agent_hangup_share(self) -> float | None:
        return ratio(self.agent_hangups, self.talked)

    def flag(self, policy: Policy) -> str | None:
        """Why this agent's hang-ups need a look (Chinese), or None."""
        reasons = []
        if self.quick_hangups:
            reasons.append(
                f"接通后 {policy.agent_hangup_quick_seconds} 秒内主动挂断 {self.quick_hangups} 次"
            )
        share = self.agent_hangup_share
        if (
            share is not None
            and self.talked >= policy.agent_hangup_min_calls
            and share >= policy.agent_hangup_flag_share
        ):
            reasons.append(f"主动挂断占 {share * 100:.0f}%")
        return "；".join(reasons) or None


@dataclass(frozen=True, slots=True)
class History:
    group: str
    dimension: str
    buckets: list[dt.datetime]  # every period of the range, oldest first
    keys: list[str]  # queues / agents / entry numbers / ALL
    cells: dict[tuple[dt.datetime, str], Cell]  # only the periods with calls
    totals: dict[str, Cell]  # per key over the whole range
    total: Cell  # every call of the range

    def rows(self) -> list[tuple[dt.datetime, str, Cell]]:
        """Every (period, key) with calls, by period then key."""
        return [
            (b, k, self.cells[b, k])
            for b in self.buckets
            for k in self.keys
            if (b, k) in self.cells
        ]


def periods(start: dt.datetime, end: dt.datetime, group: str) -> list[dt.datetime]:
    """The local starts of every period from the one holding `start` to before `end`."""
    tz = start.tzinfo
    assert tz is not None
    first = bucket_of(start.timestamp(), group, tz)
    out = []
    current = first
    while current < end:
        out.append(current)
        if group == "15min":
            current = current + dt.timedelta(minutes=15)
        elif group == "hour":
            current = current + dt.timedelta(hours=1)
        elif group == "day":
            current = current + dt.timedelta(days=1)
        elif group == "week":
            current = current + dt.timedelta(days=7)
        else:
            current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def history(
    calls: Iterable[HistoryCall],
    start: dt.datetime,
    end: dt.datetime,
    group: str,
    dimension: str,
    policy: Policy,
    *,
    queue: str | None = None,
    agent: str | None = None,
    tickets: Iterable[RecordedTicket] = (),
) -> History:
    """The calls that entered in [start, end) (local `start.tzinfo`), filtered to `queue` or
    `agent` when given (an agent's calls: those they answered), and the work orders recorded
    in it (`tickets`: those of [start, end) and the calls' keys)."""
    tz = start.tzinfo
    assert tz is not None
    lo, hi = start.timestamp(), end.timestamp()
    cells: dict[tuple[dt.datetime, str], Cell] = {}
    totals: dict[str, Cell] = {}
    total = Cell()
    # uniqueid -> the key its work orders count under, and when the call entered
    key_of: dict[str, tuple[str, float]] = {}
    for r in calls:
        if not lo <= r.enter_ts < hi or (queue is not None and r.queue != queue):
            continue
        if (
            agent is not None
            and r.agent != agent
            and not any(a.member_name == agent for a in r.attempts)
        ):
            continue
        b = bucket_of(r.enter_ts, group, tz)
        total.add(r, policy)
        if dimension == "agent":
            _add_agent(cells, totals, b, r, policy, agent)
            if r.outcome == ANSWERED and r.agent and (agent is None or r.agent == agent):
                key_of[r.uniqueid] = (r.agent, r.enter_ts)
            continue
        key = {"queue": r.queue, "entry": r.dialled or "未知"}.get(dimension, ALL)
        cells.setdefault((b, key), Cell()).add(r, policy)
        totals.setdefault(key, Cell()).add(r, policy)
        if agent is None or r.agent == agent:
            key_of[r.uniqueid] = (key, r.enter_ts)
    unfiltered = queue is None and agent is None
    for t in tickets:
        at = t.created_at.timestamp()
        if not lo <= at < hi:
            continue
        # Histories of whole days are folded a day at a time (reports.daycache): a call and its
        # work order meet on the call's day, whatever the grouping.
        call = key_of.get(t.call_id) if t.call_id else None
        call_key = call[0] if call and _day(call[1], tz) == _day(at, tz) else None
        if unfiltered or call_key:
            total.add_ticket(t)
        counted_as = ALL if unfiltered and dimension == "all" else call_key
        if counted_as:
            b = bucket_of(at, group, tz)
            for target in (
                cells.setdefault((b, counted_as), Cell()),
                totals.setdefault(counted_as, Cell()),
            ):
                target.add_ticket(t)
    # A Tally also keeps a per-agent breakdown (the live board's); a history has agent rows
    # of their own instead. Dropped, a kept day is a few objects per cell, not dozens: the
    # garbage collector walks every kept object (100-270 ms pauses with a month by agent).
    for c in (*cells.values(), *totals.values(), total):
        c.tally.agents = {}
    return History(
        group, dimension, periods(start, end, group), sorted(totals), cells, totals, total
    )


def _day(ts: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(ts, tz).date()


def regroup(parts: Iterable[History], start: dt.datetime, end: dt.datetime, group: str) -> History:
    """One history of [start, end) by `group` from histories of disjoint parts of it (whole
    local days, by hour: reports.daycache), merged without reading a call again."""
    tz = start.tzinfo
    assert tz is not None
    cells: dict[tuple[dt.datetime, str], Cell] = {}
    totals: dict[str, Cell] = {}
    total = Cell()
    dimension = "all"
    for part in parts:
        dimension = part.dimension
        for (b, k), cell in part.cells.items():
            cells.setdefault((bucket_of(b.timestamp(), group, tz), k), Cell()).merge(cell)
        for k, cell in part.totals.items():
            totals.setdefault(k, Cell()).merge(cell)
        total.merge(part.total)
    return History(
        group, dimension, periods(start, end, group), sorted(totals), cells, totals, total
    )


def _add_agent(
    cells: dict[tuple[dt.datetime, str], Cell],
    totals: dict[str, Cell],
    b: dt.datetime,
    r: HistoryCall,
    policy: Policy,
    only: str | None,
) -> None:
    """An agent's row counts the calls they answered and the rings they let run out."""
    for attempt in r.attempts:
        if attempt.outcome == "no_answer" and (only is None or attempt.member_name == only):
            for target in (
                cells.setdefault((b, attempt.member_name), Cell()),
                totals.setdefault(attempt.member_name, Cell()),
            ):
                target.ring_no_answer += 1
    if r.outcome == ANSWERED and r.agent and (only is None or r.agent == only):
        for target in (cells.setdefault((b, r.agent), Cell()), totals.setdefault(r.agent, Cell())):
            target.add(r, policy)


Scores = list[int]  # 满意, 基本满意, 不满意, 未评价


def survey_rate(scores: Scores | None) -> float | None:
    """满意率 of post-call scores: 满意 or 基本满意 over the calls scored."""
    if not scores:
        return None
    return ratio(scores[0] + scores[1], scores[0] + scores[1] + scores[2])


def surveys(
    days: Iterable[SurveyDay], group: str, tz: dt.tzinfo
) -> tuple[dict[tuple[dt.datetime, str], Scores], dict[str, Scores]]:
    """The IVR's scores per (period, agent) — for groupings of whole days — and per agent."""
    per: dict[tuple[dt.datetime, str], Scores] = {}
    totals: dict[str, Scores] = {}
    for d in days:
        counts = [d.satisfied, d.fairly, d.unsatisfied, d.no_answer]
        targets = [totals.setdefault(d.agent, [0, 0, 0, 0])]
        if group in ("day", "week", "month"):
            start = dt.datetime.combine(d.day, dt.time(), tz).timestamp()
            targets.append(per.setdefault((bucket_of(start, group, tz), d.agent), [0, 0, 0, 0]))
        for target in targets:
            for i, n in enumerate(counts):
                target[i] += n
    return per, totals
