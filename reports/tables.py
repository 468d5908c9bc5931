"""The reports as tables of numbers (rates 0..1, durations in seconds) with Chinese headings:
one definition for the pages' tables, the CSV files and the XLSX workbook."""

from __future__ import annotations

from typing import Any

from hotline.policy import Policy
from reports import formats
from reports.accountability import RATE_LABELS
from reports.calls import DIMENSIONS, Cell, Scores, bucket_label, survey_rate
from reports.service import CallReport, UnitReport

UNIT_HEADER = [
    "名次",
    "单位编码",
    "承办单位",
    "派单数",
    *RATE_LABELS.values(),
    "综合得分",
    "超期未办结",
]
# Which columns hold rates (formatted as percentages) and durations in seconds.
UNIT_PERCENT = set(RATE_LABELS.values())


def unit_rows(report: UnitReport) -> list[list[Any]]:
    return [
        [
            r.rank,
            r.unit,
            r.name,
            r.tally.assigned,
            *(formats.ratio_cell(r.rates[k]) for k in RATE_LABELS),
            r.score,
            r.tally.overdue_open,
        ]
        for r in report.rows
    ]


KB_COLUMNS = ["受理工单", "当场解答", "知识库当场解答占比"]
CALL_COLUMNS = [
    "呼入量",
    "接通量",
    "放弃量",
    "短时放弃",
    "超时离队",
    "接通率",
    "15秒接听率",
    "平均应答时长(秒)",
    "通话总时长(秒)",
    "平均通话时长(秒)",
    "坐席先挂断",
    "振铃未接",
    *KB_COLUMNS,
]
AGENT_COLUMNS = [
    "接听量",
    "15秒接听率",
    "平均应答时长(秒)",
    "振铃未接",
    "通话总时长(秒)",
    "平均通话时长(秒)",
    "坐席先挂断",
    "接通后速挂",
    *KB_COLUMNS,
    "评价满意",
    "评价基本满意",
    "评价不满意",
    "未评价",
    "评价满意率",
    "提示",
]
CALL_PERCENT = {"接通率", "15秒接听率", "知识库当场解答占比", "评价满意率"}
CALL_SECONDS = {"平均应答时长(秒)", "通话总时长(秒)", "平均通话时长(秒)"}


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def call_cells(cell: Cell, agent: bool, policy: Policy, scores: Scores | None = None) -> list[Any]:
    if agent:
        counts: list[int | None] = list(scores) if scores else [None] * 4
        return [
            cell.answered,
            formats.ratio_cell(cell.service_level),
            _round(cell.asa_s),
            cell.ring_no_answer,
            cell.talk_s,
            _round(cell.avg_talk_s),
            cell.agent_hangups,
            cell.quick_hangups,
            *kb_cells(cell),
            *counts,
            formats.ratio_cell(survey_rate(scores)),
            cell.flag(policy) or "",
        ]
    t = cell.tally
    return [
        t.offered,
        t.answered,
        t.abandoned,
        t.short_abandons,
        t.timed_out,
        formats.ratio_cell(cell.connect_rate),
        formats.ratio_cell(cell.service_level),
        _round(cell.asa_s),
        cell.talk_s,
        _round(cell.avg_talk_s),
        cell.agent_hangups,
        t.ring_no_answer,
        *kb_cells(cell),
    ]


def kb_cells(cell: Cell) -> list[Any]:
    return [cell.recorded, cell.on_spot, formats.ratio_cell(cell.kb_share)]


def call_header(report: CallReport) -> list[str]:
    agent = report.history.dimension == "agent"
    return [
        "时段",
        DIMENSIONS[report.history.dimension],
        *(AGENT_COLUMNS if agent else CALL_COLUMNS),
    ]


def call_rows(report: CallReport, policy: Policy) -> list[list[Any]]:
    """One row per period and key with calls, then a total per key over the whole range."""
    h = report.history
    agent = h.dimension == "agent"
    rows = [
        [bucket_label(b, h.group), k, *call_cells(c, agent, policy, report.scores.get((b, k)))]
        for b, k, c in h.rows()
    ]
    rows += [
        ["合计", k, *call_cells(h.totals[k], agent, policy, report.score_totals.get(k))]
        for k in h.keys
    ]
    return rows
