"""The monthly report (月度报告, "每月月底前...书面报送"): one value with one section per sheet,
shared by the printable page and the XLSX file. `monthly_report` reads the month and the one
before through the report service; `build` is pure.

Sections: 概览 (calls, 接通率, 15-second rate, ASA, tickets, KB-answered share, on-time rate,
satisfaction, each with last month and the change), 话务按日, 工单按分类, 工单按区县,
工单按承办单位 (counts), 热点诉求 (what rose sharply on last month), 承办单位考核 (the ranking). Cells are numbers (rates 0..1, seconds) so
that a spreadsheet can compute with them; `percent` and `seconds` name the columns to format.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from hotline.policy import Policy
from hotline.ports import CALL_HISTORY, SURVEY_SCORES, TICKET_RECORDS, TicketCounts
from reports import tables
from reports.calls import History, bucket_label, history, survey_rate
from reports.periods import Period
from reports.service import ReportService, UnitReport


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # the sheet's name (at most 31 characters in XLSX)
    header: list[str]
    rows: list[list[Any]]
    percent: frozenset[str] = frozenset()  # columns holding rates 0..1
    seconds: frozenset[str] = frozenset()  # columns holding durations in seconds
    empty: str = "本月无数据"  # shown instead of rows when there are none
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    period: Period
    previous: Period
    sections: list[Section] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"12345 热线月度报告 · {self.period.label}"


@dataclass(frozen=True, slots=True)
class MonthData:
    """What one month's report is made of, as read through the ports."""

    calls: History
    created: TicketCounts  # the work orders recorded in the month
    units: UnitReport
    names: Mapping[str, str] = field(default_factory=dict)  # unit code -> name
    scores: Sequence[int] = (
        0,
        0,
        0,
        0,
    )  # the IVR's post-call scores: 满意, 基本满意, 不满意, 未评价


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _change(now: float | None, before: float | None, rate: bool) -> float | None:
    """Month-on-month: the difference for rates (percentage points as 0..1), else relative."""
    if now is None or before is None:
        return None
    if rate:
        return round(now - before, 4)
    return round((now - before) / before, 4) if before else None


def _overview(d: MonthData) -> dict[str, tuple[float | None, bool]]:
    """Figure name -> (value, is a rate)."""
    t = d.calls.total
    tallies = [r.tally for r in d.units.rows]
    judged = sum(x.reply_judged for x in tallies)
    callbacks = sum(x.callbacks for x in tallies)
    return {
        "呼入量": (t.offered, False),
        "接通量": (t.answered, False),
        "接通率": (t.connect_rate, True),
        "15秒接听率": (t.service_level, True),
        "平均应答时长(秒)": (None if t.asa_s is None else round(t.asa_s, 1), False),
        "放弃量": (t.tally.abandoned, False),
        "短时放弃": (t.tally.short_abandons, False),
        "受理工单": (d.created.total, False),
        # The call history's figure (reports.calls.kb_share), over every work order recorded.
        "知识库当场解答占比": (t.kb_share, True),
        "按时办结率": (_ratio(sum(x.replied_on_time for x in tallies), judged), True),
        "满意率": (_ratio(sum(x.satisfied for x in tallies), callbacks), True),
        "解决率": (_ratio(sum(x.resolved for x in tallies), callbacks), True),
        "来电评价数": (sum(d.scores[:3]), False),
        "来电评价满意率": (survey_rate(list(d.scores)), True),
    }


def _counts(title: str, label: str, now: Counter[str], before: Counter[str]) -> Section:
    total = sum(now.values())
    rows = [
        [key, n, _ratio(n, total), before.get(key, 0), _change(n, before.get(key), False)]
        for key, n in sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return Section(
        title,
        [label, "工单数", "占比", "上月", "环比"],
        rows,
        percent=frozenset({"占比", "环比"}),
        empty="本月没有工单",
    )


MISSING = {"category": "未分类", "district": "未填写区县", "unit": "未派单"}


def _by(d: MonthData, attr: str) -> Counter[str]:
    counts = {
        "category": d.created.by_category,
        "district": d.created.by_district,
        "unit": d.created.by_unit,
    }[attr]
    out: Counter[str] = Counter()
    for key, n in counts.items():
        name = d.names.get(key, key) if attr == "unit" and key else key
        out[name or MISSING[attr]] += n
    return out


def build(
    period: Period, previous: Period, now: MonthData, before: MonthData, policy: Policy
) -> MonthlyReport:
    a, b = _overview(now), _overview(before)
    overview = Section(
        "概览",
        ["指标", "本月", "上月", "环比"],
        [
            [name, value, b[name][0], _change(value, b[name][0], rate)]
            for name, (value, rate) in a.items()
        ],
        notes=(
            f"统计期：{period.label}（本地时间）；上月：{previous.label}。",
            f"接通率目标 {policy.connect_rate_target:.0%}，{policy.service_level_seconds} 秒"
            f"接听率目标 {policy.service_level_target:.0%}；比率的环比为百分点差，数量的环比为增减幅度。",
        ),
    )
    rates = {name for name, (_, rate) in a.items() if rate}
    daily = Section(
        "话务按日",
        ["日期", *tables.CALL_COLUMNS],
        [
            [bucket_label(bucket, "day"), *tables.call_cells(cell, False, policy)]
            for bucket, _, cell in now.calls.rows()
        ],
        percent=frozenset(tables.CALL_PERCENT),
        seconds=frozenset(tables.CALL_SECONDS),
        empty="本月没有话务记录",
    )
    ranking = Section(
        "承办单位考核",
        tables.UNIT_HEADER,
        tables.unit_rows(now.units),
        percent=frozenset(tables.UNIT_PERCENT),
        empty="本月没有派往承办单位的工单",
        notes=("按派单月份统计；尚在时限内的工单不计入签收率和按时办结率。",),
    )
    return MonthlyReport(
        period,
        previous,
        [
            _percent_rows(overview, rates),
            daily,
            _counts("工单按分类", "诉求分类", _by(now, "category"), _by(before, "category")),
            _counts("工单按区县", "区县", _by(now, "district"), _by(before, "district")),
            _counts("工单按承办单位", "承办单位", _by(now, "unit"), _by(before, "unit")),
            _rising(now, before, policy),
            ranking,
        ],
    )


def _rising(now: MonthData, before: MonthData, policy: Policy) -> Section:
    """热点诉求 of the month: categories and districts with at least Policy.hotspot_min_tickets
    tickets and Policy.hotspot_ratio times last month's (or new this month)."""
    rows: list[list[Any]] = []
    for label, attr in (("诉求分类", "category"), ("区县", "district")):
        a, b = _by(now, attr), _by(before, attr)
        for key, n in a.items():
            if key == MISSING[attr] or n < policy.hotspot_min_tickets:
                continue
            last = b.get(key, 0)
            if n >= policy.hotspot_ratio * last:
                rows.append([label, key, n, last, round(n / last, 1) if last else None])
    rows.sort(key=lambda r: (-(r[4] or float("inf")), -r[2], r[0], r[1]))
    return Section(
        "热点诉求",
        ["类型", "名称", "本月", "上月", "倍数"],
        rows,
        empty="本月没有比上月突增的诉求",
        notes=(
            f"本月不少于 {policy.hotspot_min_tickets} 件且达到上月 "
            f"{policy.hotspot_ratio:g} 倍以上（或上月没有）的诉求分类和区县；"
            "当天的突增见“热点诉求”页面。",
        ),
    )


def _percent_rows(section: Section, rate_rows: set[str]) -> Section:
    """The overview mixes counts and rates by row: rates are marked by their row name."""
    return Section(
        section.title,
        section.header,
        section.rows,
        percent=frozenset(f"row:{name}" for name in rate_rows),
        empty=section.empty,
        notes=section.notes,
    )


def kind(section: Section, row: Sequence[Any], column: str) -> str | None:
    """How a cell reads: "percent" (a rate 0..1), "seconds" (a duration) or None (a number or
    text as it is)."""
    if column in section.percent:
        return "percent"
    if column in section.seconds:
        return "seconds"
    if section.title == "概览":
        if column == "环比" or (f"row:{row[0]}" in section.percent and column in ("本月", "上月")):
            return "percent"
        if str(row[0]).endswith("(秒)") and column in ("本月", "上月"):
            return "seconds"
    return None


async def month_data(reports: ReportService, period: Period) -> MonthData:
    port = reports.services.get(CALL_HISTORY)
    tickets = reports.services.get(TICKET_RECORDS)
    if port is None:
        calls_history = history([], period.start, period.end, "day", "all", reports.services.policy)
    else:
        calls_history = await reports.days.history(
            port,
            period.start,
            period.end,
            "day",
            "all",
            None,
            None,
            reports.today(),
            tickets=tickets,
        )
    created = (
        await tickets.counted_between(period.start, period.end)
        if tickets
        else TicketCounts(0, {}, {}, {})
    )
    surveys = reports.services.get(SURVEY_SCORES)
    scores = [0, 0, 0, 0]
    for day in await surveys.tallies(period.start, period.end) if surveys else []:
        for i, n in enumerate((day.satisfied, day.fairly, day.unsatisfied, day.no_answer)):
            scores[i] += n
    return MonthData(
        calls_history, created, await reports.units(period), await reports.unit_names(), scores
    )


async def monthly_report(reports: ReportService, period: Period) -> MonthlyReport:
    previous = period.previous_month()
    return build(
        period,
        previous,
        await month_data(reports, period),
        await month_data(reports, previous),
        reports.services.policy,
    )
