"""ami_events by month (migration 0024, calls/partitions.py): the conversion keeps every row,
its id and its key's uniqueness on both databases; on PostgreSQL rows sit in their month's
partition, and archiving drops the partitions of archived months."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

from sqlalchemy import func, select, text

from calls import archive, partitions
from calls.models import AmiEventRow, stamped_at
from calls.store import CallStore, _insert_events, event_key
from hotline.db import Database, upgrade
from hotline.localtime import SHANGHAI
from tests.foundation.test_migrations import empty_db  # noqa: F401 - a fixture

APRIL = dt.datetime(2026, 4, 30, 12, tzinfo=SHANGHAI).timestamp()
MAY = dt.datetime(2026, 5, 2, 12, tzinfo=SHANGHAI).timestamp()


def frame(n: int, stamp: str | None) -> dict:
    headers = {"Event": "Newchannel", "Uniqueid": f"1.{n}"}
    if stamp is not None:
        headers["Timestamp"] = stamp
    encoded = json.dumps(headers, separators=(",", ":"))
    return {
        "source": "pbx:5038",
        "received_at": 1796000000.0 + n,  # when it came: not the event's own time
        "name": "Newchannel",
        "headers": encoded,
        "event_key": event_key("Newchannel", encoded, headers),
    }


ROWS = [
    frame(1, f"{APRIL:.6f}"),
    frame(2, f"{MAY:.6f}"),
    frame(3, None),  # a list item: no Timestamp, no key
    frame(4, "soon"),  # a Timestamp that is not a number
]


async def stored(db: Database) -> list[tuple]:
    async with db.read() as s:
        return [
            tuple(r)
            for r in await s.execute(
                text(
                    "SELECT id, source, received_at, name, headers, event_key FROM ami_events "
                    "ORDER BY id"
                )
            )
        ]


async def test_the_conversion_keeps_every_row_and_its_key_unique(empty_db: Database) -> None:  # noqa: F811
    db = empty_db
    await upgrade(db, "0023")
    async with db.write() as s:
        for row in ROWS:
            await s.execute(
                text(
                    "INSERT INTO ami_events (source, received_at, name, headers, event_key) "
                    "VALUES (:source, :received_at, :name, :headers, :event_key)"
                ),
                row,
            )
    before = await stored(db)

    await upgrade(db)

    assert await stored(db) == before
    async with db.read() as s:
        stamps = list(await s.scalars(select(AmiEventRow.stamped_at).order_by(AmiEventRow.id)))
    assert stamps == [APRIL, MAY, ROWS[2]["received_at"], 0.0]
    # The same events received again later (a standby's replay) are no-ops, but for the list
    # item, which has no key; it gets a new id.
    again = [row | {"received_at": row["received_at"] + 60} for row in ROWS]
    async with db.write() as s:
        await s.execute(
            _insert_events(s),
            [
                row
                | {
                    "stamped_at": stamped_at(
                        json.loads(row["headers"]), row["received_at"], row["event_key"] is not None
                    )
                }
                for row in again
            ],
        )
    after = await stored(db)
    assert after[:4] == before and len(after) == 5 and after[4][0] > before[-1][0]
    assert after[4][4] == ROWS[2]["headers"]
    if not db.is_sqlite:
        async with db.read() as s:
            homes = list(
                await s.scalars(text("SELECT tableoid::regclass::text FROM ami_events ORDER BY id"))
            )
        assert homes[:2] == ["ami_events_2026_04", "ami_events_2026_05"]
        assert homes[3] == "ami_events_default"  # stamped 0


async def test_archiving_drops_the_partitions_of_archived_months(
    db: Database, tmp_path: Path
) -> None:
    created = await partitions.ensure_months(db, ["2026-04", "2026-05"])
    async with db.write() as s:
        await s.execute(
            _insert_events(s),
            [
                row | {"stamped_at": st, "received_at": st}
                for row, st in ((ROWS[0], APRIL), (ROWS[1], MAY))
            ],
        )
    files = await archive.archive(db, archive.cutoff("2026-06-01"), tmp_path)
    assert [(f.month, f.events, f.deleted) for f in files] == [("2026-04", 1, 1), ("2026-05", 1, 1)]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AmiEventRow)) == 0
    if db.is_sqlite:
        assert created == []
        return
    assert created == ["2026-04", "2026-05"]
    async with db.read() as s:
        left = [
            await s.scalar(text(f"SELECT to_regclass('{partitions.table(m)}')::text"))
            for m in ("2026-04", "2026-05")
        ]
    assert left == [None, None]


async def test_the_store_adds_the_partitions_of_the_coming_months(db: Database) -> None:
    """A leader's store adds this month's and the next months' partitions when it starts (and
    daily), so their events never go to the default partition; SQLite has none to add."""
    coming = partitions.months_from(time.time(), partitions.AHEAD)
    last = partitions.table(coming[-1])

    async def exists() -> bool:
        async with db.read() as s:
            return await s.scalar(text(f"SELECT to_regclass('{last}')")) is not None

    if not db.is_sqlite:
        async with db.write() as s:
            await s.execute(text(f"DROP TABLE {last}"))
        assert not await exists()
    store = CallStore(db, "pbx:5038")
    task = asyncio.create_task(store.run())
    try:
        for _ in range(200):
            if db.is_sqlite or await exists():
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if db.is_sqlite:
        assert not await partitions.partitioned(db)
    else:
        assert await exists()
