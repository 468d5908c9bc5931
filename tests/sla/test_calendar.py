"""Working-day calendar: shipped data vs the chinese_calendar package, deadlines, missing years."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from importlib import resources

import chinese_calendar
import pytest

from sla.calendar import (
    SHANGHAI,
    CalendarYearMissing,
    WorkCalendar,
    calendar_data_from_chinese_calendar,
)

SHIPPED_YEARS = (2025, 2026)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.default()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI)


def days_of(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


# ----------------------------------------------------------------- shipped data


def test_shipped_data_covers_2025_and_2026(cal: WorkCalendar) -> None:
    for year in SHIPPED_YEARS:
        assert cal.covers(year)
    assert not cal.covers(2024)


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_every_day_agrees_with_chinese_calendar(cal: WorkCalendar, year: int) -> None:
    disagreements = [
        d for d in days_of(year) if cal.is_workday(d) != chinese_calendar.is_workday(d)
    ]
    assert disagreements == []


def test_shipped_file_is_what_the_generator_produces() -> None:
    shipped = json.loads(
        resources.files("sla").joinpath("data/calendar_cn.json").read_text(encoding="utf-8")
    )
    assert shipped == calendar_data_from_chinese_calendar(SHIPPED_YEARS)


def test_round_trip_through_mapping(cal: WorkCalendar) -> None:
    assert WorkCalendar.from_mapping(cal.to_mapping()) == cal


# ----------------------------------------------------------------- facts of 2026


def test_2026_spring_festival_make_up_saturdays_are_workdays(cal: WorkCalendar) -> None:
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert cal.is_workday(date(2026, 2, 14))
    assert cal.is_workday(date(2026, 2, 28))
    # an ordinary Saturday and a weekday inside the holiday are not
    assert not cal.is_workday(date(2026, 3, 7))
    assert not cal.is_workday(date(2026, 2, 16))


def test_five_working_days_after_2026_02_13_is_2026_02_27(cal: WorkCalendar) -> None:
    assert cal.add_workdays(at(2026, 2, 13, 9), 5) == end_of(2026, 2, 27)
    # the start hour does not matter: the start day never counts
    assert cal.add_workdays(at(2026, 2, 13, 0, 1), 5) == end_of(2026, 2, 27)
    assert cal.add_workdays(at(2026, 2, 13, 23, 30), 5) == end_of(2026, 2, 27)


def test_dispatched_before_national_day_2026_lands_after_the_holiday(cal: WorkCalendar) -> None:
    start = at(2026, 9, 30, 16)
    # What the official schedule (via chinese_calendar) says, computed independently.
    expected, counted = date(2026, 9, 30), 0
    while counted < 5:
        expected += timedelta(days=1)
        counted += chinese_calendar.is_workday(expected)
    national_day = [
        d for d in days_of(2026) if chinese_calendar.get_holiday_detail(d)[1] == "National Day"
    ]
    assert national_day and max(national_day) < expected

    deadline = cal.add_workdays(start, 5)
    assert deadline == end_of(expected.year, expected.month, expected.day)
    assert deadline == end_of(2026, 10, 13)  # Oct 1-7 off; Sat Oct 10 is a make-up working day
    assert cal.is_workday(date(2026, 10, 10))
    assert cal.workdays_between(date(2026, 9, 30), date(2026, 10, 13)) == 5


def test_deadline_is_end_of_day_in_shanghai_and_aware(cal: WorkCalendar) -> None:
    deadline = cal.add_workdays(at(2026, 3, 2), 1)
    assert deadline.tzinfo is not None
    assert deadline.utcoffset() == timedelta(hours=8)
    assert (deadline.hour, deadline.minute, deadline.second) == (23, 59, 59)
    assert deadline == end_of(2026, 3, 3)


def test_start_is_read_in_shanghai_time(cal: WorkCalendar) -> None:
    # 2026-02-13 17:00 UTC is already Saturday 2026-02-14 01:00 in Shanghai (a make-up workday),
    # so the count starts after the 14th.
    start = datetime(2026, 2, 13, 17, 0, tzinfo=timezone.utc)
    assert cal.add_workdays(start, 1) == end_of(2026, 2, 24)
    assert cal.add_workdays(start, 0) == end_of(2026, 2, 14)


def test_naive_datetimes_are_rejected(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.add_workdays(datetime(2026, 3, 2, 10), 1)
    with pytest.raises(ValueError, match="aware"):
        cal.add_hours(datetime(2026, 3, 2, 10), 1)


def test_add_hours_counts_calendar_hours_through_holidays(cal: WorkCalendar) -> None:
    start = datetime(2026, 9, 30, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai
    result = cal.add_hours(start, 24)
    assert result == at(2026, 10, 1, 20)  # National Day: still 24 hours later
    assert result.utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError):
        cal.add_hours(start, -1)


def test_workdays_between(cal: WorkCalendar) -> None:
    assert cal.workdays_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert cal.workdays_between(date(2026, 3, 2), date(2026, 3, 9)) == 5  # Tue..Fri + Mon
    assert cal.workdays_between(date(2026, 3, 9), date(2026, 3, 2)) == -5
    assert cal.workdays_between(date(2026, 2, 13), date(2026, 2, 27)) == 5
    # whole years, against the package
    for year in SHIPPED_YEARS:
        expected = sum(chinese_calendar.is_workday(d) for d in days_of(year))
        assert cal.workdays_between(date(year - 1, 12, 31), date(year, 12, 31)) == expected


def test_add_workdays_and_workdays_between_agree(cal: WorkCalendar) -> None:
    start = date(2025, 12, 20)
    for n in range(0, 40):
        deadline = cal.add_workdays(
            datetime.combine(start, datetime.min.time(), tzinfo=SHANGHAI), n
        ).date()
        assert cal.workdays_between(start, deadline) == n
        assert n == 0 or cal.is_workday(deadline)


def test_counting_across_new_year_uses_both_years(cal: WorkCalendar) -> None:
    # 2025-12-31 (Wed) + 1: 2026-01-01..03 are New Year holidays, Sun 2026-01-04 is a make-up day
    assert cal.add_workdays(at(2025, 12, 31), 1) == end_of(2026, 1, 4)


# ----------------------------------------------------------------- missing years


def test_unknown_year_raises_a_clear_error(cal: WorkCalendar) -> None:
    with pytest.raises(CalendarYearMissing, match="no data for 2027"):
        cal.is_workday(date(2027, 1, 4))
    with pytest.raises(CalendarYearMissing, match="2027"):
        cal.workdays_between(date(2026, 12, 1), date(2027, 1, 15))
    with pytest.raises(CalendarYearMissing, match="2024"):
        cal.add_workdays(at(2024, 12, 27), 1)
    # the start day itself is never counted, so a start on the last day before a covered year works
    assert cal.add_workdays(at(2024, 12, 31), 1) == end_of(2025, 1, 2)


def test_computing_across_into_an_unknown_year_raises_not_guesses(cal: WorkCalendar) -> None:
    # 2026-12-24 + 5 working days stays in 2026; + 10 needs January 2027
    assert cal.add_workdays(at(2026, 12, 24), 5).year == 2026
    with pytest.raises(CalendarYearMissing) as info:
        cal.add_workdays(at(2026, 12, 24), 10)
    assert info.value.year == 2027


def test_missing_years_warns_about_next_year_in_time(cal: WorkCalendar) -> None:
    assert cal.missing_years(date(2026, 6, 1)) == []
    assert cal.missing_years(date(2026, 12, 1)) == [2027]
    assert cal.missing_years(date(2027, 3, 1)) == [2027]
    assert cal.missing_years(date(2026, 6, 1), lookahead_days=365) == [2027]


def test_package_itself_does_not_know_2027() -> None:
    """Why the data is shipped and checked: the package raises for 2027 (see LIBRARIES.md)."""
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_from_mapping_rejects_inconsistent_data() -> None:
    with pytest.raises(ValueError, match="another year"):
        WorkCalendar.from_mapping({"2026": {"holidays": ["2025-10-01"], "workdays": []}})
    with pytest.raises(ValueError, match="both"):
        WorkCalendar.from_mapping(
            {"2026": {"holidays": ["2026-02-14"], "workdays": ["2026-02-14"]}}
        )
    with pytest.raises(ValueError, match="weekend"):
        WorkCalendar.from_mapping({"2026": {"holidays": [], "workdays": ["2026-02-16"]}})


def test_default_is_loaded_once() -> None:
    assert WorkCalendar.default() is WorkCalendar.default()
