"""The working-day calendar the running service uses: the schedule shipped in sla/data, with
the years an admin entered in the database (table calendar_years) in place of shipped ones.

Every service of a process holds the same `LiveCalendar` (hotline.bootstrap); a saved year
takes effect in it at once, and other instances read it on their next refresh (`refresh`,
called by the web role every minute).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select

from hotline import audit
from hotline.db import Database, upsert, utcnow
from hotline.errors import InvalidInput
from hotline.models import CalendarYear
from sla.calendar import WorkCalendar


@dataclass(frozen=True, eq=False)
class LiveCalendar(WorkCalendar):
    """A WorkCalendar whose data can be replaced in place, so that every holder sees a newly
    entered year without being rebuilt. Between replacements it answers as a WorkCalendar."""

    def replace_with(self, other: WorkCalendar) -> None:
        for name in ("years", "holidays", "workdays"):
            object.__setattr__(self, name, getattr(other, name))

    @classmethod
    def of(cls, calendar: WorkCalendar) -> "LiveCalendar":
        return cls(calendar.years, calendar.holidays, calendar.workdays)


async def entered(db: Database) -> list[CalendarYear]:
    async with db.read() as s:
        return list(await s.scalars(select(CalendarYear).order_by(CalendarYear.year)))


async def load(db: Database) -> WorkCalendar:
    """The shipped schedule with the entered years in place of shipped ones."""
    data = WorkCalendar.default().to_mapping()
    for row in await entered(db):
        data[str(row.year)] = {"holidays": row.holidays, "workdays": row.workdays}
    return WorkCalendar.from_mapping(data)


async def refresh(db: Database, calendar: WorkCalendar) -> None:
    if isinstance(calendar, LiveCalendar):
        calendar.replace_with(await load(db))


_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\s*(?:(?:~|～|至|到|-{1,2}|—)\s*(\d{4}-\d{2}-\d{2}))?")


def parse_days(text: str, field: str) -> list[dt.date]:
    """Dates as an admin types them: one date or a range (2027-02-15 至 2027-02-22) per line or
    separated by commas."""
    days: list[dt.date] = []
    for part in re.split(r"[\n,，、;；]+", text):
        part = part.strip()
        if not part:
            continue
        match = _RANGE.fullmatch(part)
        try:
            if match is None:
                raise ValueError(part)
            first = dt.date.fromisoformat(match.group(1))
            last = dt.date.fromisoformat(match.group(2) or match.group(1))
        except ValueError:
            raise InvalidInput(
                f"{field}: {part[:40]!r} is not a date or a range of dates",
                field=field,
                zh=f"“{part[:40]}”不是日期或日期区间（如 2027-02-15 至 2027-02-22）",
            ) from None
        if last < first or (last - first).days > 31:
            raise InvalidInput(
                f"{field}: {part[:40]!r} is not a range of at most a month",
                field=field,
                zh=f"“{part[:40]}”不是一个月以内的日期区间",
            )
        days.extend(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return sorted(set(days))


async def save_year(
    db: Database,
    actor: str,
    year: int,
    holidays: Iterable[dt.date],
    workdays: Iterable[dt.date],
    note: str | None,
    calendar: WorkCalendar | None = None,
) -> WorkCalendar:
    """Store a year's schedule (checked as the shipped data is) and apply it to `calendar`."""
    if not 2000 <= year <= 2100:
        raise InvalidInput("year out of range", field="year", zh="年份须在 2000 到 2100 之间")
    off = sorted({d.isoformat() for d in holidays})
    on = sorted({d.isoformat() for d in workdays})
    if not off:
        raise InvalidInput(
            "a schedule lists its holidays", field="holidays", zh="请填写当年的放假日期"
        )
    try:
        WorkCalendar.from_mapping({str(year): {"holidays": off, "workdays": on}})
    except ValueError as exc:
        raise InvalidInput(str(exc), field="holidays", zh=_zh(str(exc))) from None
    async with db.write() as s:
        await s.execute(
            upsert(
                s,
                CalendarYear,
                {
                    "year": year,
                    "holidays": off,
                    "workdays": on,
                    "note": note,
                    "updated_by": actor,
                    "updated_at": utcnow(),
                },
                index_elements=[CalendarYear.year],
                set_excluded=("holidays", "workdays", "note", "updated_by", "updated_at"),
            )
        )
        audit.record(
            s,
            actor,
            "calendar.save",
            "calendar_year",
            year,
            {"holidays": len(off), "workdays": len(on)},
            note,
        )
    merged = await load(db)
    if isinstance(calendar, LiveCalendar):
        calendar.replace_with(merged)
    return merged


def _zh(message: str) -> str:
    if "another year" in message:
        return "所填日期不属于该年份：" + message.rsplit(": ", 1)[-1]
    if "both" in message:
        return "同一天不能既是放假日又是调休上班日：" + message.split(" ", 1)[0]
    if "not a weekend day" in message:
        return "调休上班日须为周六或周日：" + message.split(" ")[3]
    return "日程有误：" + message
