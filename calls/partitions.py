"""PostgreSQL: ami_events is partitioned by local month of stamped_at (migration 0024), one
table `ami_events_YYYY_MM` per month and `ami_events_default` for anything else. Months are
added ahead of time (`ensure_months`: the store at its start, `ami archive`), as a month whose
rows already went to the default partition can no longer get one. `drop_archived` drops the
partitions of months entirely before an archive cutoff once every row in them is covered by a
verified archive file (ami_event_archives): that is how old raw events leave on PostgreSQL.
On SQLite there are no partitions and these do nothing."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Iterable

from sqlalchemy import text

from hotline.db import Database
from hotline.localtime import SHANGHAI

log = logging.getLogger(__name__)

AHEAD = 3  # months
NAME = re.compile(r"ami_events_(\d{4})_(\d{2})")


def month_start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=SHANGHAI)


def months_from(moment: float, count: int) -> list[str]:
    """`count` local months from the one holding `moment` on, as YYYY-MM."""
    local = dt.datetime.fromtimestamp(moment, SHANGHAI)
    return [month_start(local.year, local.month + n).strftime("%Y-%m") for n in range(count)]


def bounds(month: str) -> tuple[float, float]:
    year, mon = (int(p) for p in month.split("-"))
    return month_start(year, mon).timestamp(), month_start(year, mon + 1).timestamp()


def table(month: str) -> str:
    return "ami_events_" + month.replace("-", "_")


async def partitioned(db: Database) -> bool:
    if db.is_sqlite:
        return False
    async with db.read() as s:
        kind = await s.scalar(
            text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass('ami_events')")
        )
    return bool(kind == "p")


async def ensure_months(db: Database, months: Iterable[str] | None = None) -> list[str]:
    """Creates the partitions of `months` (default: this month and the next AHEAD-1) that are
    missing; returns those created. A month the default partition already holds rows of is
    left there, with a warning."""
    if not await partitioned(db):
        return []
    wanted = (
        list(months) if months is not None else months_from(dt.datetime.now().timestamp(), AHEAD)
    )
    created = []
    for month in wanted:
        name = table(month)
        start, end = bounds(month)
        try:
            async with db.write() as s:
                if await s.scalar(text(f"SELECT to_regclass('{name}')")) is not None:
                    continue
                await s.execute(
                    text(
                        f"CREATE TABLE {name} PARTITION OF ami_events "
                        f"FOR VALUES FROM ({start!r}) TO ({end!r})"
                    )
                )
            created.append(month)
        except Exception as exc:  # noqa: BLE001 - a month left in the default partition
            log.warning("ami_events: no partition for %s (%s)", month, exc)
    return created


async def drop_archived(db: Database, before: float) -> list[str]:
    """Drops the month partitions that end by `before` and whose every row is covered by an
    ami_event_archives record (the rule the append-only trigger applies to a DELETE); returns
    their months. A partition with a row no archive covers is kept (its covered rows are
    deleted row by row instead)."""
    if not await partitioned(db):
        return []
    async with db.read() as s:
        names = list(
            await s.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass('ami_events') ORDER BY c.relname"
                )
            )
        )
    dropped = []
    for name in names:
        found = NAME.fullmatch(name)
        if found is None:
            continue
        month = f"{found.group(1)}-{found.group(2)}"
        if bounds(month)[1] > before:
            continue
        async with db.write() as s:
            # No row goes in while it is counted and detached.
            await s.execute(text(f"LOCK TABLE {name} IN SHARE MODE"))
            left = await s.scalar(
                text(
                    f"SELECT count(*) FROM {name} e WHERE NOT EXISTS (SELECT 1 FROM "
                    "ami_event_archives a WHERE e.id BETWEEN a.first_id AND a.last_id "
                    "AND e.received_at >= a.from_ts AND e.received_at < a.to_ts)"
                )
            )
            if left:
                log.info("ami_events: %s keeps %d rows no archive covers", name, left)
                continue
            await s.execute(text(f"ALTER TABLE ami_events DETACH PARTITION {name}"))
            await s.execute(text(f"DROP TABLE {name}"))
        dropped.append(month)
    return dropped
