"""The periods reports are asked for, parsed at the edge: a month ("2026-11") or a date range,
in the hotline's local time. Bad input is an InvalidInput with a Chinese message (HTTP 400)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hotline.errors import InvalidInput

MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")
# Reports reach back to 2000 and no further ahead than next year: anything else is a typo.
FIRST_YEAR = 2000


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in the local zone, with its label for pages and files."""

    start: dt.datetime
    end: dt.datetime
    label: str

    def previous_month(self) -> "Period":
        first = self.start.date().replace(day=1)
        last = first - dt.timedelta(days=1)
        return month_of(last.year, last.month, self.start.tzinfo or dt.timezone.utc)


def _check_year(year: int, today: dt.date, field: str) -> None:
    if not FIRST_YEAR <= year <= today.year + 1:
        raise InvalidInput(
            f"{field}: year {year} is out of range",
            field=field,
            zh=f"年份须在 {FIRST_YEAR} 到 {today.year + 1} 之间",
        )


def month_of(year: int, month: int, tz: dt.tzinfo) -> Period:
    start = dt.datetime(year, month, 1, tzinfo=tz)
    nxt = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return Period(start, nxt, f"{year}年{month}月")


def parse_month(raw: str | None, today: dt.date, tz: dt.tzinfo) -> Period:
    """ "2026-11" -> that month; absent: the last whole month."""
    if not raw:
        first = today.replace(day=1) - dt.timedelta(days=1)
        return month_of(first.year, first.month, tz)
    m = MONTH_RE.fullmatch(raw.strip())
    if m is None:
        raise InvalidInput(
            "month must look like 2026-11", field="month", zh="月份格式应为“2026-11”"
        )
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise InvalidInput("month must be 1-12", field="month", zh="月份须在 1 到 12 之间")
    _check_year(year, today, "month")
    return month_of(year, month, tz)


def parse_date(raw: str, field: str, today: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        label = {"from": "开始日期", "to": "结束日期"}.get(field, "日期")
        raise InvalidInput(
            f"{field} must be a date such as 2026-11-01",
            field=field,
            zh=f"{label}格式应为“2026-11-01”",
        ) from None
    _check_year(day.year, today, field)
    return day


def parse_range(
    start: str | None, end: str | None, today: dt.date, tz: dt.tzinfo, max_days: int
) -> Period:
    """Whole local days [from, to] (both included); absent: the last 7 days up to today."""
    last = parse_date(end, "to", today) if end else today
    first = parse_date(start, "from", today) if start else last - dt.timedelta(days=6)
    if first > last:
        raise InvalidInput(
            "from is after to", field="from", zh="开始日期晚于结束日期，请调换后重试"
        )
    if (last - first).days + 1 > max_days:
        raise InvalidInput(
            f"a range covers at most {max_days} days",
            field="from",
            zh=f"查询范围最长 {max_days} 天，请缩短日期范围",
        )
    s = dt.datetime.combine(first, dt.time(), tz)
    e = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
    label = f"{first.isoformat()} 至 {last.isoformat()}"
    return Period(s, e, label)
