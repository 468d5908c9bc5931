"""Chinese working-day calendar (法定节假日 and 调休) and work-order deadlines.

The calendar is data the service ships: `sla/data/calendar_cn.json`,
``{"<year>": {"holidays": [ISO dates], "workdays": [ISO dates]}}`` where
"holidays" are the days of the official holiday periods (weekend days inside a
period included) and "workdays" are the make-up working days (调休上班) that fall
on a Saturday or Sunday.  A day is a working day when it is a make-up working day,
or a Monday-Friday that is not a holiday.

The State Council publishes each year's schedule in the autumn of the year
before (国务院办公厅关于<year>年部分节假日安排的通知).  A year absent from the data
is never guessed: every question about it raises `CalendarYearMissing`, and
`missing_years()` lets the service warn ahead of time.  The file was generated
from the `chinese_calendar` package (`python -m sla.calendar 2025 2026`), and the
tests compare it with that package day by day.

Deadlines: `add_workdays(start, n)` is the end (23:59:59, Asia/Shanghai) of the
n-th working day after the local calendar day of `start`; the day of `start`
never counts, whatever the hour.  Inputs must be time-zone aware; outputs are
aware, in Asia/Shanghai.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Callable, Iterable, Mapping

from hotline.localtime import SHANGHAI

__all__ = [
    "CalendarYearMissing",
    "WorkCalendar",
    "SHANGHAI",  # hotline.localtime's, the zone of the official holiday schedule
    "add_workdays",
    "calendar_data_from_chinese_calendar",
    "end_of_day",
]


END_OF_DAY = time(23, 59, 59)
_DATA_RESOURCE = "data/calendar_cn.json"


class CalendarYearMissing(LookupError):
    """The calendar has no official schedule for a year it was asked about."""

    def __init__(self, year: int, covered: Iterable[int]) -> None:
        years = ", ".join(str(y) for y in sorted(covered)) or "none"
        super().__init__(
            f"the working-day calendar has no data for {year} (covered: {years}); "
            f"add the official holiday schedule for {year} to sla/data/calendar_cn.json"
        )
        self.year = year


@dataclass(frozen=True)
class WorkCalendar:
    years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]  # make-up working days on weekends (调休上班)

    # ---------------------------------------------------------------- building

    @classmethod
    def default(cls) -> "WorkCalendar":
        """The calendar shipped as package data (read once, on first use)."""
        return _default_calendar()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Mapping[str, Iterable[str]]]) -> "WorkCalendar":
        """Parse the calendar_cn.json shape; rejects dates outside their year and contradictions."""
        years: set[int] = set()
        holidays: set[date] = set()
        workdays: set[date] = set()
        for key, entry in data.items():
            year = int(key)
            years.add(year)
            days_off = {date.fromisoformat(d) for d in entry.get("holidays", ())}
            days_on = {date.fromisoformat(d) for d in entry.get("workdays", ())}
            stray = sorted(d for d in days_off | days_on if d.year != year)
            if stray:
                raise ValueError(f"calendar year {year} lists dates of another year: {stray[0]}")
            both = sorted(days_off & days_on)
            if both:
                raise ValueError(f"{both[0]} is listed both as a holiday and as a working day")
            weekday_workdays = sorted(d for d in days_on if d.weekday() < 5)
            if weekday_workdays:
                raise ValueError(f"make-up working day {weekday_workdays[0]} is not a weekend day")
            holidays |= days_off
            workdays |= days_on
        return cls(frozenset(years), frozenset(holidays), frozenset(workdays))

    def to_mapping(self) -> dict[str, dict[str, list[str]]]:
        """The calendar_cn.json shape."""
        return {
            str(year): {
                "holidays": sorted(d.isoformat() for d in self.holidays if d.year == year),
                "workdays": sorted(d.isoformat() for d in self.workdays if d.year == year),
            }
            for year in sorted(self.years)
        }

    # ---------------------------------------------------------------- coverage

    def covers(self, year: int) -> bool:
        return year in self.years

    def missing_years(self, today: date, lookahead_days: int = 60) -> list[int]:
        """Years from `today` to `today + lookahead_days` that the calendar lacks.

        60 days cover the longest deadline in the units directory (15 working
        days) plus a Spring Festival break, so a service that warns on a non-empty
        result in December learns in time that next year's schedule is missing.
        """
        if isinstance(today, datetime):
            today = today.astimezone(SHANGHAI).date() if today.tzinfo else today.date()
        last = today + timedelta(days=lookahead_days)
        return [y for y in range(today.year, last.year + 1) if y not in self.years]

    def _require(self, year: int) -> None:
        if year not in self.years:
            raise CalendarYearMissing(year, self.years)

    # ---------------------------------------------------------------- questions

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            raise TypeError(
                "is_workday takes a date; convert datetimes with .astimezone(SHANGHAI).date()"
            )
        self._require(d.year)
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """End (23:59:59 Asia/Shanghai) of the n-th working day after the local day of `start`.

        n = 0 gives the end of the start day itself.  Raises `CalendarYearMissing`
        when the count reaches a year without data.
        """
        return add_workdays(start, n, self.is_workday)

    def add_hours(self, start: datetime, hours: int) -> datetime:
        """`start` plus calendar hours (urgent tickets run through weekends and holidays)."""
        if hours < 0:
            raise ValueError("hours must be >= 0")
        return (_local(start) + timedelta(hours=hours)).astimezone(SHANGHAI)

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b; negative when b is before a.

        Consistent with `add_workdays`: add_workdays(a, n) falls on b exactly when
        workdays_between(a, b) == n and b is a working day.
        """
        if isinstance(a, datetime) or isinstance(b, datetime):
            raise TypeError("workdays_between takes dates")
        if b < a:
            return -self.workdays_between(b, a)
        if a < b:
            for year in range((a + timedelta(days=1)).year, b.year + 1):
                self._require(year)  # fail before counting, not halfway
        count = 0
        day = a
        while day < b:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


def end_of_day(day: date) -> datetime:
    """The last second of `day` in Asia/Shanghai: a deadline "on" a day means by its end."""
    return datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI)


def add_workdays(start: datetime, n: int, is_workday: Callable[[date], bool]) -> datetime:
    """End of the n-th working day after the local day of `start`, `is_workday` telling
    which days count (`WorkCalendar.is_workday`, or one with a fallback for missing years)."""
    local = _local(start)
    if n < 0:
        raise ValueError("n must be >= 0")
    day = local.date()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return end_of_day(day)


def _local(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError("expected a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be time-zone aware (e.g. tzinfo=Asia/Shanghai)")
    return moment.astimezone(SHANGHAI)


@lru_cache(maxsize=1)
def _default_calendar() -> WorkCalendar:
    text = resources.files("sla").joinpath(_DATA_RESOURCE).read_text(encoding="utf-8")
    return WorkCalendar.from_mapping(json.loads(text))


# ------------------------------------------------------------------- generation


def calendar_data_from_chinese_calendar(years: Iterable[int]) -> dict[str, dict[str, list[str]]]:
    """The calendar_cn.json content for `years`, taken from the `chinese_calendar` package.

    Raises NotImplementedError (from the package) for a year it does not know.
    """
    import chinese_calendar

    result: dict[str, dict[str, list[str]]] = {}
    for year in sorted(set(years)):
        chinese_calendar.is_workday(date(year, 1, 1))  # raises for an unknown year
        result[str(year)] = {
            "holidays": sorted(d.isoformat() for d in chinese_calendar.holidays if d.year == year),
            "workdays": sorted(
                d.isoformat()
                for d in chinese_calendar.workdays
                if d.year == year and d.weekday() >= 5
            ),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m sla.calendar 2025 2026 > sla/data/calendar_cn.json`"""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m sla.calendar YEAR [YEAR ...]", file=sys.stderr)
        return 2
    data = calendar_data_from_chinese_calendar(int(a) for a in args)
    print(json.dumps(data, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
