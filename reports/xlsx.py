"""The monthly report as an XLSX workbook (openpyxl): one sheet per section, the report's title
on the first row, Chinese headings on the second, numbers stored as numbers (rates as 0..1
formatted as percentages, durations in seconds), notes under the table."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.monthly import MonthlyReport, kind

HEADER_FILL = PatternFill("solid", fgColor="F2F4F7")
FORMATS = {"percent": "0.0%", "seconds": "0.0"}


def workbook_bytes(report: MonthlyReport) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for section in report.sections:
        ws = wb.create_sheet(section.title[:31])
        ws.append([f"{report.title} · {section.title}"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(section.header)
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(horizontal="center")
        for row in section.rows:
            ws.append(row)
            for cell, column in zip(ws[ws.max_row], section.header):
                how = kind(section, row, column)
                if how is not None and isinstance(cell.value, (int, float)):
                    cell.number_format = FORMATS[how]
        if not section.rows:
            ws.append([section.empty])
        for note in section.notes:
            ws.append([])
            ws.append([note])
        ws.freeze_panes = "A3"
        for i, title in enumerate(section.header, start=1):
            width = max(
                [len(str(title)) * 2]
                + [
                    len(str(r[i - 1])) * 1.3
                    for r in section.rows
                    if i - 1 < len(r) and r[i - 1] is not None
                ]
            )
            ws.column_dimensions[get_column_letter(i)].width = min(max(10, width + 2), 48)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
