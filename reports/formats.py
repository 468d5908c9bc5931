"""How figures read on pages and in exports: percentages with one decimal, durations in whole
seconds or minutes with their unit (never "41.356"), CSV that Excel opens in Chinese."""

from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

NONE = "—"  # nothing to count (a rate without calls or tickets)


def pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    """41.356 -> "41 秒"; 125 -> "2 分 05 秒"; 3725 -> "1 时 02 分"."""
    if value is None:
        return NONE
    s = int(round(value))
    if s < 60:
        return f"{s} 秒"
    if s < 3600:
        return f"{s // 60} 分 {s % 60:02d} 秒"
    return f"{s // 3600} 时 {s % 3600 // 60:02d} 分"


def score(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark (Excel reads Chinese headings only with it); None is an
    empty cell, numbers stay numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def ratio_cell(value: float | None, places: int = 4) -> float | None:
    """A rate as a number for exports (0.8534), None when there is nothing to count."""
    return None if value is None else round(value, places)
