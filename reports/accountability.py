"""承办单位考核: each unit's month, from the work orders' histories (hotline.ports.TicketRecord).
Pure: no I/O.

The unit of account is an assignment: a ticket handed to a unit (派单, 改派 or 重办) up to the
next hand-over. An assignment belongs to the month (local time) it was made in, and the rates
are as of `now`: a rate counts only assignments whose outcome is decided, so a ticket still
within its deadline is neither on time nor late yet.

- 签收率: signed within the acknowledgement deadline / assignments signed, or unsigned past
  that deadline (an assignment returned before signing is judged by 退单率 alone).
- 按时办结率: replied (答复) by the deadline in force then (extensions approved count) /
  assignments replied, or unreplied past the deadline while the unit held them.
- 退单率: assignments the unit returned (退单) / assignments.
- 延期率: assignments the unit asked to extend (申请延期) / assignments.
- 解决率: call backs (回访) with 解决 / call backs of the unit's answers.
- 满意率: call backs with 满意 or 基本满意 / call backs.
- Score: 100 x the weighted mean of the rates (Policy.score_weights), 退单率 and 延期率 as
  1 - rate; a rate with nothing to count is left out and the other weights scaled up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping

from hotline.ports import OpenTicket, TicketRecord, TicketStep

ASSIGNING = frozenset({"dispatch", "redispatch", "reopen"})
SATISFIED = frozenset({"满意", "基本满意"})

# Rate name -> Chinese label, in the order pages and exports show them.
RATE_LABELS: dict[str, str] = {
    "signed": "签收率",
    "on_time": "按时办结率",
    "returned": "退单率",
    "extended": "延期率",
    "resolved": "解决率",
    "satisfied": "满意率",
}
LOWER_IS_BETTER = frozenset({"returned", "extended"})


@dataclass(frozen=True, slots=True)
class Assignment:
    number: str
    unit: str
    start: TicketStep
    steps: tuple[TicketStep, ...]  # the assignment's own steps after `start`


def assignments(record: TicketRecord) -> list[Assignment]:
    """The ticket's hand-overs to units, each with the steps up to the next one."""
    out: list[Assignment] = []
    current: list[TicketStep] = []
    start: TicketStep | None = None
    for step in record.steps:
        if step.action in ASSIGNING and step.unit:
            if start is not None and start.unit:
                out.append(Assignment(record.number, start.unit, start, tuple(current)))
            start, current = step, []
        elif start is not None:
            current.append(step)
    if start is not None and start.unit:
        out.append(Assignment(record.number, start.unit, start, tuple(current)))
    return out


@dataclass(slots=True)
class UnitTally:
    """Counts behind one unit's rates."""

    assigned: int = 0
    sign_judged: int = 0
    signed_on_time: int = 0
    reply_judged: int = 0
    replied_on_time: int = 0
    returned: int = 0
    extended: int = 0
    callbacks: int = 0
    resolved: int = 0
    satisfied: int = 0
    overdue_open: int = 0  # still held past the deadline now (督办)

    def add(self, a: Assignment, now: dt.datetime) -> None:
        self.assigned += 1
        last = a.steps[-1] if a.steps else a.start
        actions = [s.action for s in a.steps]
        sign = next((s for s in a.steps if s.action == "sign"), None)
        returned_at = next((i for i, s in enumerate(a.steps) if s.action == "return"), None)
        if sign is not None:
            self.sign_judged += 1
            due = sign.acknowledge_due
            if due is None or sign.at <= due:
                self.signed_on_time += 1
        elif returned_at is None and last.status != "merged":
            ack = last.acknowledge_due
            if ack is not None and ack < now:
                self.sign_judged += 1
        if returned_at is not None:
            self.returned += 1
        if "request_extension" in actions:
            self.extended += 1
        reply = next((s for s in a.steps if s.action == "reply"), None)
        if reply is not None:
            self.reply_judged += 1
            if reply.due is None or reply.at <= reply.due:
                self.replied_on_time += 1
        elif returned_at is None and last.status in ("dispatched", "signed"):
            if last.due is not None and last.due < now:
                self.reply_judged += 1
                self.overdue_open += 1
        for s in a.steps:
            if s.action == "callback":
                self.callbacks += 1
                self.resolved += s.resolution == "解决"
                self.satisfied += s.satisfaction in SATISFIED

    def rates(self) -> dict[str, float | None]:
        return {
            "signed": _ratio(self.signed_on_time, self.sign_judged),
            "on_time": _ratio(self.replied_on_time, self.reply_judged),
            "returned": _ratio(self.returned, self.assigned),
            "extended": _ratio(self.extended, self.assigned),
            "resolved": _ratio(self.resolved, self.callbacks),
            "satisfied": _ratio(self.satisfied, self.callbacks),
        }


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def score(rates: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """100 x the weighted mean of the defined rates (lower-is-better ones as 1 - rate)."""
    total = weight = 0.0
    for name, w in weights.items():
        r = rates.get(name)
        if r is None or w <= 0:
            continue
        total += w * ((1.0 - r) if name in LOWER_IS_BETTER else r)
        weight += w
    return round(100.0 * total / weight, 2) if weight else None


@dataclass(frozen=True, slots=True)
class UnitRow:
    rank: int
    unit: str
    name: str
    tally: UnitTally
    rates: dict[str, float | None]
    score: float | None


def ranking(
    records: Iterable[TicketRecord],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    weights: Mapping[str, float],
    names: Mapping[str, str] | None = None,
) -> list[UnitRow]:
    """Units with an assignment made in [start, end), best score first (then most tickets,
    then code); units whose score has nothing to count yet come last. Folds every record:
    pages read the stored rollup (reports.unitrollup), which gives the same tallies."""
    tallies: dict[str, UnitTally] = {}
    for record in records:
        for a in assignments(record):
            if start <= a.start.at < end:
                tallies.setdefault(a.unit, UnitTally()).add(a, now)
    return rank(tallies, weights, names)


def rank(
    tallies: Mapping[str, UnitTally],
    weights: Mapping[str, float],
    names: Mapping[str, str] | None = None,
) -> list[UnitRow]:
    """The units' rows in ranking order (see `ranking`)."""
    rows = []
    for unit, t in tallies.items():
        rates = t.rates()
        rows.append((unit, t, rates, score(rates, weights)))
    rows.sort(key=lambda r: (r[3] is None, -(r[3] or 0.0), -r[1].assigned, r[0]))
    names = names or {}
    return [
        UnitRow(i + 1, unit, names.get(unit, unit), t, rates, sc)
        for i, (unit, t, rates, sc) in enumerate(rows)
    ]


# --- what an assignment counts, apart from the time of asking (the stored rollup) -------------

# The counts an assignment adds whatever the time of asking, as AssignmentFacts and
# report_unit_months name them.
FIXED = (
    "signed",
    "signed_on_time",
    "replied",
    "replied_on_time",
    "returned",
    "extended",
    "callbacks",
    "resolved",
    "satisfied",
)


@dataclass(frozen=True, slots=True)
class AssignmentFacts:
    """An assignment as `UnitTally.add` counts it, split into what is settled by the ticket's
    history and the two deadlines after which an undecided assignment is judged: unsigned (not
    returned, not merged) past `ack_pending` counts in 签收率 as late; unreplied while the unit
    holds it past `due_pending` counts in 按时办结率 as late and as 超期未办结. Stored per
    assignment (report_unit_assignments) and summed per unit and month."""

    number: str
    seq: int  # the assignment's place in the ticket's history, from 0
    unit: str
    at: dt.datetime  # made at (派单, 改派, 重办)
    signed: int
    signed_on_time: int
    ack_pending: dt.datetime | None
    replied: int
    replied_on_time: int
    due_pending: dt.datetime | None
    returned: int
    extended: int
    callbacks: int
    resolved: int
    satisfied: int


def facts(record: TicketRecord) -> list[AssignmentFacts]:
    """The facts of each of the ticket's assignments, in order."""
    out = []
    for seq, a in enumerate(assignments(record)):
        last = a.steps[-1] if a.steps else a.start
        sign = next((s for s in a.steps if s.action == "sign"), None)
        returned = any(s.action == "return" for s in a.steps)
        reply = next((s for s in a.steps if s.action == "reply"), None)
        callbacks = [s for s in a.steps if s.action == "callback"]
        ack_pending = due_pending = None
        if sign is None and not returned and last.status != "merged":
            ack_pending = last.acknowledge_due
        if reply is None and not returned and last.status in ("dispatched", "signed"):
            due_pending = last.due
        out.append(
            AssignmentFacts(
                record.number,
                seq,
                a.unit,
                a.start.at,
                signed=sign is not None,
                signed_on_time=sign is not None
                and (sign.acknowledge_due is None or sign.at <= sign.acknowledge_due),
                ack_pending=ack_pending,
                replied=reply is not None,
                replied_on_time=reply is not None and (reply.due is None or reply.at <= reply.due),
                due_pending=due_pending,
                returned=returned,
                extended=any(s.action == "request_extension" for s in a.steps),
                callbacks=len(callbacks),
                resolved=sum(s.resolution == "解决" for s in callbacks),
                satisfied=sum(s.satisfaction in SATISFIED for s in callbacks),
            )
        )
    return out


def tally_of(sums: Mapping[str, int], ack_passed: int, due_passed: int) -> UnitTally:
    """A unit's tally from the sums of its assignments' facts (`FIXED` and "assigned") and how
    many of their pending deadlines have passed."""
    return UnitTally(
        assigned=sums["assigned"],
        sign_judged=sums["signed"] + ack_passed,
        signed_on_time=sums["signed_on_time"],
        reply_judged=sums["replied"] + due_passed,
        replied_on_time=sums["replied_on_time"],
        returned=sums["returned"],
        extended=sums["extended"],
        callbacks=sums["callbacks"],
        resolved=sums["resolved"],
        satisfied=sums["satisfied"],
        overdue_open=due_passed,
    )


# --- open tickets by status and age ----------------------------------------------------------

# The open states in the lifecycle's order (dispatch.tickets.OPEN).
ORDER = {"created": 0, "dispatched": 1, "signed": 2, "returned": 3}
AGES: tuple[tuple[str, float], ...] = (
    ("1 天内", 1),
    ("1–3 天", 3),
    ("3–7 天", 7),
    ("7–15 天", 15),
    ("15 天以上", float("inf")),
)


@dataclass(frozen=True, slots=True)
class OpenRow:
    status_label: str
    by_age: list[int]  # one count per AGES bucket
    total: int
    overdue: int


def open_by_age(tickets: Iterable[OpenTicket], now: dt.datetime) -> list[OpenRow]:
    """Open work orders per status (in the lifecycle's order) and age since recorded; the last
    row sums them all (合计)."""
    rows: dict[str, list[int]] = {}
    overdue: dict[str, int] = {}
    labels: dict[str, str] = {}
    for t in tickets:
        labels[t.status] = t.status_label
        days = (now - t.created_at).total_seconds() / 86400
        i = next(i for i, (_, limit) in enumerate(AGES) if days < limit)
        rows.setdefault(t.status_label, [0] * len(AGES))[i] += 1
        overdue[t.status_label] = overdue.get(t.status_label, 0) + t.overdue
    order = {label: ORDER.get(code, len(ORDER)) for code, label in labels.items()}
    out = [
        OpenRow(label, counts, sum(counts), overdue[label])
        for label, counts in sorted(rows.items(), key=lambda kv: (order[kv[0]], kv[0]))
    ]
    if out:
        out.append(
            OpenRow(
                "合计",
                [sum(r.by_age[i] for r in out) for i in range(len(AGES))],
                sum(r.total for r in out),
                sum(r.overdue for r in out),
            )
        )
    return out
