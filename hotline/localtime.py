"""Local time: the one definition of the hotline's time zone and of how pages show a moment.

The database keeps UTC (`hotline.db.UTCDateTime`); people read local time. Pages format every
moment with `fmt` in `Settings.timezone` (Asia/Shanghai unless configured otherwise); working
days and deadlines are always counted in Asia/Shanghai (`SHANGHAI`), the zone of the official
holiday schedule.
"""

from __future__ import annotations

import datetime as dt
import functools

MINUTES = "%Y-%m-%d %H:%M"


@functools.lru_cache(maxsize=8)
def zone(name: str) -> dt.tzinfo:
    """The tz database zone `name`; raises KeyError for an unknown name.

    Without a tz database (no system zoneinfo, no `tzdata`), Asia/Shanghai falls back to the
    fixed offset UTC+8: China has kept UTC+8 without daylight saving since 1991, so every date
    the hotline handles reads the same.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":
            return dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
        raise KeyError(name) from None


SHANGHAI = zone("Asia/Shanghai")


def fmt(moment: dt.datetime | None, pattern: str = MINUTES, tz: dt.tzinfo = SHANGHAI) -> str:
    """`moment` (timezone-aware) as local wall-clock text; "" for None."""
    return moment.astimezone(tz).strftime(pattern) if moment else ""


def iso(moment: dt.datetime | None, tz: dt.tzinfo = SHANGHAI, timespec: str = "auto") -> str | None:
    """`moment` as ISO 8601 with the local offset (`2026-03-02T07:30:00+08:00`); None for None."""
    return moment.astimezone(tz).isoformat(timespec=timespec) if moment else None


def ts_iso(ts: float | None, tz: dt.tzinfo = SHANGHAI, timespec: str = "seconds") -> str | None:
    """A POSIX timestamp (the PBX clock's) as ISO 8601 with the local offset; None for None."""
    return None if ts is None else dt.datetime.fromtimestamp(ts, tz).isoformat(timespec=timespec)
