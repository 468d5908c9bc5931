"""Raw AMI events archived to files: `hotline ami archive --before DATE --out DIR` moves the
events received before a local date (or moment) from ami_events to gzip-compressed JSON Lines,
one file per local month, and `ami recompute --archive DIR` folds them back in.

The order of the work is what keeps it safe:
1. export: the events are read in id order, a chunk per short read transaction, and written to
   `ami-events-YYYY-MM.jsonl.gz.partial` (one line per event: id, source, received_at, name,
   headers, event_key), fsynced;
2. verify: each file is read back whole (gzip and JSON intact) and its count and id sum must
   equal those of the rows of its month in its id range still in the table; then it is renamed
   into place. Any difference stops the run before anything is deleted;
3. delete: the file is recorded in ami_event_archives (its id and PBX-time ranges, count,
   SHA-256), and the rows it covers are deleted in batches, one short transaction each. The
   table's append-only trigger lets a DELETE through only for a row such a record covers
   (migration 0023): nothing else can remove a raw event. On PostgreSQL a month partition
   whose rows are all covered so is detached and dropped instead (calls/partitions.py).

A month archived in two runs (a cutoff inside it) gets a second file, `...-YYYY-MM.2.jsonl.gz`.
A run stopped between verifying and deleting leaves events both in a file and in the table (or
in two files); the reader merges everything by event id and takes each id once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import heapq
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from sqlalchemy import delete, func, select

from calls import partitions
from calls.models import AmiEventArchive, AmiEventRow
from calls.recompute import StoredEvent, events_after
from hotline.db import Database, utcnow
from hotline.localtime import SHANGHAI

PREFIX = "ami-events-"
FILE = re.compile(r"ami-events-(\d{4}-\d{2})(?:\.(\d+))?\.jsonl\.gz")


class ArchiveError(Exception):
    """The export could not be verified; nothing was deleted."""


@dataclass(frozen=True)
class MonthFile:
    """One month's events written by this run."""

    month: str
    path: Path
    events: int
    first_id: int
    last_id: int
    from_ts: float
    to_ts: float
    sha256: str
    deleted: int = 0


def cutoff(text: str) -> float:
    """`--before`: a local date (midnight, Asia/Shanghai) or local moment, as PBX epoch
    seconds. ValueError names what is wrong."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--before: {text!r} is not a date (YYYY-MM-DD) or a local time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.timestamp()


def month_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, SHANGHAI).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[float, float]:
    """The local month as PBX epoch seconds [start, end)."""
    year, mon = (int(p) for p in month.split("-"))
    start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return start.timestamp(), end.timestamp()


def _new_path(out: Path, month: str) -> Path:
    """The month's file, or its next part when a run before this one archived part of it."""
    path = out / f"{PREFIX}{month}.jsonl.gz"
    part = 2
    while path.exists():
        path = out / f"{PREFIX}{month}.{part}.jsonl.gz"
        part += 1
    return path


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


@dataclass
class _Writing:
    path: Path
    raw: IO[bytes]
    stream: gzip.GzipFile
    count: int = 0
    id_sum: int = 0
    first_id: int = 0
    last_id: int = 0


async def archive(db: Database, before: float, out: Path, batch: int = 5000) -> list[MonthFile]:
    """Moves the events received before `before` (PBX epoch seconds) to month files in `out`;
    returns the files written (with the rows deleted). ArchiveError when a file does not match
    the table (then nothing was deleted)."""
    out.mkdir(parents=True, exist_ok=True)
    writing: dict[str, _Writing] = {}
    try:
        await _export(db, before, out, batch, writing)
    finally:
        for w in writing.values():
            w.stream.close()
            if not w.raw.closed:
                w.raw.flush()
                os.fsync(w.raw.fileno())
                w.raw.close()
    files = [await _verify(db, month, w, before) for month, w in sorted(writing.items())]
    for f in files:
        await _record(db, f)
    # PostgreSQL: whole months go with their partition; what is left, row by row.
    await partitions.drop_archived(db, before)
    done = []
    for f in files:
        done.append(await _delete(db, f, batch))
    await partitions.ensure_months(db)
    return done


async def _export(
    db: Database, before: float, out: Path, batch: int, writing: dict[str, _Writing]
) -> None:
    last = 0
    while True:
        async with db.read() as s:
            rows = (
                await s.execute(
                    select(
                        AmiEventRow.id,
                        AmiEventRow.source,
                        AmiEventRow.received_at,
                        AmiEventRow.name,
                        AmiEventRow.headers,
                        AmiEventRow.event_key,
                    )
                    .where(AmiEventRow.received_at < before, AmiEventRow.id > last)
                    .order_by(AmiEventRow.id)
                    .limit(batch)
                )
            ).all()
        if not rows:
            break
        for row in rows:
            month = month_of(row.received_at)
            w = writing.get(month)
            if w is None:
                path = _new_path(out, month)
                raw = open(_partial(path), "wb")
                w = writing[month] = _Writing(path, raw, gzip.GzipFile(fileobj=raw, mode="wb"))
                w.first_id = row.id
            line = {
                "id": row.id,
                "source": row.source,
                "received_at": row.received_at,
                "name": row.name,
                "headers": json.loads(row.headers),
                "event_key": row.event_key,
            }
            w.stream.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            w.count += 1
            w.id_sum += row.id
            w.last_id = row.id
        last = rows[-1].id


def _digest(path: Path) -> tuple[int, int, str]:
    """Count and id sum of a file's events, read back whole, and the file's SHA-256."""
    count = id_sum = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            id_sum += int(json.loads(line)["id"])
            count += 1
    sha = hashlib.sha256()
    with open(path, "rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            sha.update(block)
    return count, id_sum, sha.hexdigest()


async def _verify(db: Database, month: str, w: _Writing, before: float) -> MonthFile:
    start, end = month_bounds(month)
    to_ts = min(end, before)
    partial = _partial(w.path)
    count, id_sum, sha = _digest(partial)
    async with db.read() as s:
        in_table = (
            await s.execute(
                select(func.count(), func.coalesce(func.sum(AmiEventRow.id), 0)).where(
                    AmiEventRow.id.between(w.first_id, w.last_id),
                    AmiEventRow.received_at >= start,
                    AmiEventRow.received_at < to_ts,
                )
            )
        ).one()
    if (count, id_sum) != (w.count, w.id_sum) or (count, id_sum) != tuple(in_table):
        raise ArchiveError(
            f"{partial.name}: {count} events read back, {w.count} written, "
            f"{in_table[0]} in the table for its range: nothing deleted"
        )
    os.replace(partial, w.path)
    return MonthFile(month, w.path, count, w.first_id, w.last_id, start, to_ts, sha)


async def _record(db: Database, f: MonthFile) -> None:
    async with db.write() as s:
        s.add(
            AmiEventArchive(
                file=f.path.name,
                month=f.month,
                first_id=f.first_id,
                last_id=f.last_id,
                from_ts=f.from_ts,
                to_ts=f.to_ts,
                events=f.events,
                sha256=f.sha256,
                archived_at=utcnow(),
            )
        )


async def _delete(db: Database, f: MonthFile, batch: int) -> MonthFile:
    """Deletes the rows the file covers, a batch per transaction; the file with how many of
    its events left the table (by these deletes or with a dropped partition)."""
    covered = (
        AmiEventRow.id.between(f.first_id, f.last_id),
        AmiEventRow.received_at >= f.from_ts,
        AmiEventRow.received_at < f.to_ts,
    )
    while True:
        async with db.write() as s:
            ids = select(AmiEventRow.id).where(*covered).order_by(AmiEventRow.id).limit(batch)
            result = await s.execute(
                delete(AmiEventRow).where(AmiEventRow.id.in_(ids.scalar_subquery()))
            )
        if result.rowcount < batch:  # type: ignore[attr-defined]
            break
    async with db.read() as s:
        left = (
            await s.execute(select(func.count()).select_from(AmiEventRow).where(*covered))
        ).scalar_one()
    return MonthFile(**{**f.__dict__, "deleted": f.events - left})


# --- reading back ----------------------------------------------------------------------------------


def archive_files(directory: Path) -> list[Path]:
    """The archive's month files, oldest month first."""
    found = [p for p in directory.iterdir() if FILE.fullmatch(p.name)]
    return sorted(found, key=lambda p: (FILE.fullmatch(p.name).group(1), p.name))  # type: ignore[union-attr]


def _read_file(path: Path, source: str | None) -> Iterator[tuple[int, StoredEvent]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if source is None or item["source"] == source:
                yield item["id"], StoredEvent(item["name"], item["headers"], item["received_at"])


def archived_events(
    directory: Path, source: str | None = None
) -> Iterator[tuple[int, StoredEvent]]:
    """Every archived event (of `source`) in id order (each file is in id order)."""
    return heapq.merge(*(_read_file(p, source) for p in archive_files(directory)), key=_first)


def _first(item: tuple[int, StoredEvent]) -> int:
    return item[0]


async def all_events(db: Database, directory: Path, source: str | None = None) -> list[StoredEvent]:
    """Archived and stored events together in arrival (id) order, each id once."""
    live = [item async for item in events_after(db, 0, source)]
    merged = heapq.merge(archived_events(directory, source), live, key=_first)
    events, seen = [], -1
    for event_id, event in merged:
        if event_id != seen:
            events.append(event)
            seen = event_id
    return events
