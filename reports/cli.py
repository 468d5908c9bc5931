"""`hotline report ...`: the reports as files.

hotline report monthly [--month 2026-11] --out FILE.xlsx   # the monthly report (月度报告),
                                                           # last month when --month is absent
hotline report rebuild-units                               # the unit ranking's rollup made
                                                           # again from every ticket
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hotline.bootstrap import Services
from hotline.commands import run_with_services
from hotline.errors import InvalidInput
from reports.monthly import monthly_report
from reports.periods import parse_month
from reports.wiring import REPORTS
from reports.xlsx import workbook_bytes


def cmd_monthly(args: argparse.Namespace) -> int:
    async def work(services: Services) -> tuple[str, int]:
        reports = services[REPORTS]
        period = parse_month(args.month, reports.today(), reports.tz)
        report = await monthly_report(reports, period)
        body = workbook_bytes(report)
        try:
            Path(args.out).write_bytes(body)
        except OSError as exc:
            raise InvalidInput(f"cannot write {args.out}: {exc.strerror}") from None
        return period.label, len(report.sections)

    label, sheets = run_with_services(args, work)
    print(f"{label}: {sheets} sheets written to {args.out}")
    return 0


def cmd_rebuild_units(args: argparse.Namespace) -> int:
    async def work(services: Services) -> int:
        return await services[REPORTS].rebuild_units()

    print(f"unit ranking rebuilt: {run_with_services(args, work)} assignments")
    return 0


def register(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="managers' reports as files")
    sub = report.add_subparsers(dest="report_command", required=True)
    p = sub.add_parser("monthly", help="the monthly report (月度报告) as an XLSX workbook")
    p.add_argument("--month", help="YYYY-MM, local time (default: last month)")
    p.add_argument("--out", required=True, help="the .xlsx file to write")
    p.set_defaults(func=cmd_monthly)
    p = sub.add_parser(
        "rebuild-units",
        help="make the unit ranking's rollup (承办单位考核) again from every ticket",
    )
    p.set_defaults(func=cmd_rebuild_units)
