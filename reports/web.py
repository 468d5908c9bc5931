"""Managers' report pages and exports (manager only; agents and unit handlers get 403):

GET /reports/units?month=2026-11        承办单位考核: ranking page
GET /reports/units.csv?month=2026-11    the same as CSV
GET /api/v1/reports/units?month=2026-11 the same as JSON (rates 0..1, null: nothing to count)
GET /reports/calls?from=2026-11-01&to=2026-11-30&group=day&by=queue[&queue=Q][&agent=A]
                                        话务历史: charts, the table one click away
GET /reports/calls.csv?...              the same as CSV
GET /api/v1/reports/calls?...           the same as JSON
GET /reports/hotspots                   热点诉求 now, with the tickets behind each (+ /api/v1/...)
GET /reports/staffing?date=2026-11-27&weeks=4   排班建议 (Erlang C; Erlang A's abandons) per half hour
GET /reports/wallboard                  大屏: today's figures for a 1920x1080 wall, polled
GET /reports/monthly?month=2026-11      月度报告: printable page
GET /reports/monthly.xlsx?month=2026-11 the same as an XLSX workbook (hotline report monthly)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.auth import allow
from hotline.models import Role
from hotline.policy import Policy
from hotline.web.api import ok
from hotline.web.keys import SERVICES
from hotline.web.pages import page
from hotline.web.validation import query_int, query_text
from reports import formats, tables
from reports.accountability import AGES, RATE_LABELS
from reports.calls import DIMENSIONS, GROUPS, bucket_label, kb_share
from reports.monthly import kind, monthly_report
from reports.periods import Period, parse_month
from reports.xlsx import workbook_bytes
from reports.service import CallQuery, CallReport, ReportService
from reports.textclusters import SIMILAR
from reports.wiring import REPORTS

routes = web.RouteTableDef()
HERE = Path(__file__).parent
MANAGERS = (Role.MANAGER,)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _service(request: web.Request) -> ReportService:
    return request.app[SERVICES][REPORTS]


def _month(request: web.Request) -> Period:
    reports = _service(request)
    return parse_month(query_text(request, "month"), reports.today(), reports.tz)


def _csv(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- 承办单位考核 ---------------------------------------------------------------------------------


@routes.get("/reports/units")
@allow(*MANAGERS)
async def units_page(request: web.Request) -> web.Response:
    report = await _service(request).units(_month(request))
    return await page(
        request,
        "reports/units.html",
        report=report,
        labels=RATE_LABELS,
        month=report.period.start.strftime("%Y-%m"),
        f=formats,
        open_rows=await _service(request).open_tickets(),
        ages=AGES,
    )


@routes.get("/reports/units.csv")
@allow(*MANAGERS)
async def units_csv(request: web.Request) -> web.Response:
    report = await _service(request).units(_month(request))
    return _csv(
        formats.csv_bytes(tables.UNIT_HEADER, tables.unit_rows(report)),
        f"units-{report.period.start:%Y-%m}.csv",
    )


@routes.get("/api/v1/reports/units")
@allow(*MANAGERS)
async def units_api(request: web.Request) -> web.Response:
    report = await _service(request).units(_month(request))
    return ok(
        {
            "month": f"{report.period.start:%Y-%m}",
            "weights": report.weights,
            "units": [
                {
                    "rank": r.rank,
                    "unit": r.unit,
                    "name": r.name,
                    "assigned": r.tally.assigned,
                    "rates": r.rates,
                    "score": r.score,
                    "overdue_open": r.tally.overdue_open,
                    "counts": {
                        "sign_judged": r.tally.sign_judged,
                        "signed_on_time": r.tally.signed_on_time,
                        "reply_judged": r.tally.reply_judged,
                        "replied_on_time": r.tally.replied_on_time,
                        "returned": r.tally.returned,
                        "extended": r.tally.extended,
                        "callbacks": r.tally.callbacks,
                        "resolved": r.tally.resolved,
                        "satisfied": r.tally.satisfied,
                    },
                }
                for r in report.rows
            ],
        }
    )


# --- 话务历史 -------------------------------------------------------------------------------------


def _call_query(request: web.Request) -> CallQuery:
    return CallQuery(
        start=query_text(request, "from"),
        end=query_text(request, "to"),
        group=query_text(request, "group") or "hour",
        dimension=query_text(request, "by") or "all",
        queue=query_text(request, "queue"),
        agent=query_text(request, "agent"),
    )


def _chart_data(report: CallReport, policy: Policy) -> dict[str, Any]:
    """What reports/static/calls.js draws: per period (all calls of the range) and per key."""
    h = report.history
    per_period = {b: [c for (bb, _), c in h.cells.items() if bb == b] for b in h.buckets}

    def summed(cells: list[Any], name: str) -> int:
        return sum(getattr(c.tally, name) for c in cells)

    labels: list[str] = []
    offered: list[int] = []
    answered: list[int] = []
    abandoned: list[int] = []
    connect: list[float | None] = []
    service: list[float | None] = []
    kb: list[float | None] = []
    for b, cells in per_period.items():
        labels.append(bucket_label(b, h.group))
        o, a = summed(cells, "offered"), summed(cells, "answered")
        within = summed(cells, "answered_within_sl")
        offered.append(o)
        answered.append(a)
        abandoned.append(summed(cells, "abandoned"))
        connect.append(round(100 * a / o, 1) if o else None)
        service.append(round(100 * within / a, 1) if a else None)
        share = kb_share(sum(c.on_spot for c in cells), sum(c.recorded for c in cells))
        kb.append(None if share is None else round(100 * share, 1))
    if h.dimension == "agent":
        offered, abandoned, connect = [], [], []
    keys = list(h.keys)
    return {
        "dimension": h.dimension,
        "labels": labels,
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "connect_rate": connect,
        "service_level": service,
        "kb_share": kb,
        "keys": keys,
        "key_answered": [h.totals[k].answered for k in keys],
        "key_offered": [h.totals[k].offered for k in keys],
        "key_hangups": [h.totals[k].agent_hangups for k in keys],
        "targets": {
            "connect_rate": 100 * policy.connect_rate_target,
            "service_level": 100 * policy.service_level_target,
        },
    }


@routes.get("/reports/calls")
@allow(*MANAGERS)
async def calls_page(request: web.Request) -> web.Response:
    report = await _service(request).calls(_call_query(request))
    policy = request.app[SERVICES].policy
    return await page(
        request,
        "reports/calls.html",
        report=report,
        f=formats,
        groups=GROUPS,
        dimensions=DIMENSIONS,
        header=tables.call_header(report),
        rows=tables.call_rows(report, policy),
        percent=tables.CALL_PERCENT,
        seconds=tables.CALL_SECONDS,
        chart=_chart_data(report, policy),
        policy=policy,
        query=request.query_string,
    )


@routes.get("/reports/calls.csv")
@allow(*MANAGERS)
async def calls_csv(request: web.Request) -> web.Response:
    report = await _service(request).calls(_call_query(request))
    policy = request.app[SERVICES].policy
    return _csv(
        formats.csv_bytes(tables.call_header(report), tables.call_rows(report, policy)),
        f"calls-{report.period.start:%Y%m%d}-{report.history.group}.csv",
    )


@routes.get("/api/v1/reports/calls")
@allow(*MANAGERS)
async def calls_api(request: web.Request) -> web.Response:
    report = await _service(request).calls(_call_query(request))
    policy = request.app[SERVICES].policy
    header = tables.call_header(report)
    return ok(
        {
            "from": report.period.start.date().isoformat(),
            "to": (report.period.end.date() - dt.timedelta(days=1)).isoformat(),
            "group": report.history.group,
            "by": report.history.dimension,
            "columns": header,
            "rows": tables.call_rows(report, policy),
        }
    )


# --- 热点诉求 -------------------------------------------------------------------------------------


@routes.get("/reports/hotspots")
@allow(*MANAGERS)
async def hotspots_page(request: web.Request) -> web.Response:
    report = await _service(request).hot_spots()
    return await page(
        request,
        "reports/hotspots.html",
        spots=report.spots,
        texts=report.texts,
        since=report.since,
        now=report.now,
        policy=request.app[SERVICES].policy,
        similar=SIMILAR,
    )


@routes.get("/api/v1/reports/hotspots")
@allow(*MANAGERS)
async def hotspots_api(request: web.Request) -> web.Response:
    report = await _service(request).hot_spots()
    texts = report.texts
    return ok(
        {
            "since": report.since.isoformat(),
            "until": report.now.isoformat(),
            "hotspots": [
                {
                    "kind": h.kind,
                    "key": h.key,
                    "recent": h.recent,
                    "baseline": h.baseline,
                    "ratio": h.ratio,
                    "tickets": [t.number for t in h.tickets],
                }
                for h in report.spots
            ],
            "text_clusters": [
                {
                    "terms": list(c.terms),
                    "excerpt": c.excerpt,
                    "recent": c.recent,
                    "baseline": c.baseline,
                    "ratio": c.ratio,
                    "tickets": [t.number for t in c.tickets],
                }
                for c in texts.hot
            ],
            "text_window": {
                "tickets": texts.window_total,
                "clustered": texts.clustered,
                "capped": texts.capped,
            },
        }
    )


# --- 大屏 ---------------------------------------------------------------------------------------


@routes.get("/reports/wallboard")
@allow(*MANAGERS)
async def wallboard(request: web.Request) -> web.Response:
    """A page of its own (no navigation bar): the figures come from the calls API the
    manager's session may read, fetched by reports/static/wallboard.js."""
    return await page(
        request, "reports/wallboard.html", f=formats, policy=request.app[SERVICES].policy
    )


# --- 排班建议 -------------------------------------------------------------------------------------


@routes.get("/reports/staffing")
@allow(*MANAGERS)
async def staffing_page(request: web.Request) -> web.Response:
    weeks = query_int(request, "weeks", 4, 1, 12)
    day, slots = await _service(request).staffing(query_text(request, "date"), weeks)
    return await page(
        request,
        "reports/staffing.html",
        day=day,
        weeks=weeks,
        slots=slots,
        f=formats,
        policy=request.app[SERVICES].policy,
        weekday="一二三四五六日"[day.weekday()],
    )


# --- 月度报告 -------------------------------------------------------------------------------------


@routes.get("/reports/monthly")
@allow(*MANAGERS)
async def monthly_page(request: web.Request) -> web.Response:
    report = await monthly_report(_service(request), _month(request))
    return await page(
        request,
        "reports/monthly.html",
        report=report,
        f=formats,
        kind=kind,
        month=f"{report.period.start:%Y-%m}",
    )


@routes.get("/reports/monthly.xlsx")
@allow(*MANAGERS)
async def monthly_xlsx(request: web.Request) -> web.Response:
    report = await monthly_report(_service(request), _month(request))
    return web.Response(
        body=workbook_bytes(report),
        content_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="monthly-{report.period.start:%Y-%m}.xlsx"'
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static("/reports/static", HERE / "static")
