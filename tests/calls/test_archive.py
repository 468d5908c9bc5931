"""Raw AMI events archived to month files (calls/archive.py), on both databases: the records
recomputed from archived + stored events equal those from all-stored events, a file is verified
before its rows leave the table, and only archived rows can leave it."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from calls import archive, recompute, records
from calls.models import AmiEventArchive, AmiEventRow
from hotline.db import Database
from hotline.localtime import SHANGHAI

from .test_store import _stored_run


async def event_count(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(AmiEventRow)))


def lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


async def test_archived_and_stored_events_recompute_the_same_records(
    db: Database, busy_dir: Path, tmp_path: Path
) -> None:
    await _stored_run(db, busy_dir)
    all_stored = await recompute.recompute(db)
    stored = await records.load_records(db)
    assert {r.uniqueid: r for r in all_stored} == {r.uniqueid: r for r in stored}
    total = await event_count(db)
    out = tmp_path / "archive"
    async with db.read() as s:
        times = sorted(await s.scalars(select(AmiEventRow.received_at)))
    middle = dt.datetime.fromtimestamp(times[len(times) // 2], SHANGHAI).replace(tzinfo=None)

    files = await archive.archive(db, archive.cutoff(middle.isoformat()), out, batch=300)

    # The capture's list answers carry no Timestamp: stored with the capture's own (older)
    # time, they land in a month of their own.
    left = await event_count(db)
    archived = sum(f.events for f in files)
    assert 0 < left < total and archived == sum(f.deleted for f in files) == total - left
    cut = archive.cutoff(middle.isoformat())
    for f in files:
        assert len(lines(f.path)) == f.events
        assert all(line["received_at"] < cut for line in lines(f.path))
    assert sorted(p.name for p in out.iterdir()) == sorted(f.path.name for f in files)
    # Without the archive the calls of the first half are missing or cut short.
    assert await recompute.recompute(db) != all_stored
    assert await recompute.recompute(db, archive=out) == all_stored
    async with db.read() as s:
        recorded = (await s.scalars(select(AmiEventArchive).order_by(AmiEventArchive.id))).all()
    assert [(r.file, r.events) for r in recorded] == [(f.path.name, f.events) for f in files]


def at(year: int, month: int, day: int) -> float:
    return dt.datetime(year, month, day, 12, tzinfo=SHANGHAI).timestamp()


async def add_events(db: Database, *times: float) -> None:
    async with db.write() as s:
        for n, ts in enumerate(times):
            s.add(
                AmiEventRow(
                    source="pbx:5038",
                    received_at=ts,
                    name="Newchannel",
                    headers=json.dumps({"Uniqueid": f"{ts}.{n}", "Timestamp": str(ts)}),
                    event_key=f"k{ts}-{n}",
                )
            )


async def test_one_file_per_month_and_only_archived_rows_leave_the_table(
    db: Database, tmp_path: Path
) -> None:
    await add_events(db, at(2026, 4, 30), at(2026, 5, 2), at(2026, 5, 20), at(2026, 6, 1))
    first = await archive.archive(db, archive.cutoff("2026-05-15"), tmp_path)
    assert [(f.month, f.events, f.path.name) for f in first] == [
        ("2026-04", 1, "ami-events-2026-04.jsonl.gz"),
        ("2026-05", 1, "ami-events-2026-05.jsonl.gz"),
    ]
    # The cutoff inside May: the rest of May goes to a second file of the month.
    second = await archive.archive(db, archive.cutoff("2026-06-01"), tmp_path)
    assert [(f.month, f.events, f.path.name) for f in second] == [
        ("2026-05", 1, "ami-events-2026-05.2.jsonl.gz")
    ]
    assert await archive.archive(db, archive.cutoff("2026-06-01"), tmp_path) == []
    async with db.read() as s:
        assert list(await s.scalars(select(AmiEventRow.received_at))) == [at(2026, 6, 1)]
    archived = [event.received_at for _, event in archive.archived_events(tmp_path)]
    assert archived == [at(2026, 4, 30), at(2026, 5, 2), at(2026, 5, 20)]
    # The live row is still append-only.
    for statement in ("UPDATE ami_events SET name = 'x'", "DELETE FROM ami_events"):
        with pytest.raises(Exception, match="append-only"):
            async with db.write() as s:
                await s.execute(text(statement))
    assert await event_count(db) == 1


async def test_a_file_that_does_not_read_back_stops_the_run_before_any_delete(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_events(db, at(2026, 4, 30), at(2026, 5, 2))
    real = archive._digest

    def short(path: Path) -> tuple[int, int, str]:
        count, id_sum, sha = real(path)
        return count - 1, id_sum, sha  # as if the file had lost a line

    monkeypatch.setattr(archive, "_digest", short)
    with pytest.raises(archive.ArchiveError, match="nothing deleted"):
        await archive.archive(db, archive.cutoff("2026-06-01"), tmp_path)
    assert await event_count(db) == 2
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AmiEventArchive)) == 0


def test_cutoff_is_a_local_date_or_time() -> None:
    assert archive.cutoff("2026-06-01") == dt.datetime(2026, 5, 31, 16, tzinfo=dt.UTC).timestamp()
    assert (
        archive.cutoff("2026-06-01T08:30")
        == dt.datetime(2026, 6, 1, 0, 30, tzinfo=dt.UTC).timestamp()
    )
    with pytest.raises(ValueError, match="--before"):
        archive.cutoff("June")


def test_ami_archive_and_recompute_from_the_command_line(
    busy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hotline.cli import build_parser
    from hotline.db import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"

    async def follow() -> str:
        db = Database.from_url(url)
        await upgrade(db)
        await _stored_run(db, busy_dir)
        async with db.read() as s:
            times = sorted(await s.scalars(select(AmiEventRow.received_at)))
        await db.dispose()
        middle = dt.datetime.fromtimestamp(times[len(times) // 2], SHANGHAI)
        return middle.replace(tzinfo=None).isoformat()

    middle = asyncio.run(follow())
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    out = tmp_path / "archive"
    args = build_parser().parse_args(
        ["ami", "archive", "--before", middle, "--out", str(out), "--json"]
    )
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == report["deleted"] > 100 and report["files"]

    args = build_parser().parse_args(["ami", "recompute", "--json", "--archive", str(out)])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["same"] is True
    args = build_parser().parse_args(["ami", "recompute", "--json"])
    assert args.func(args) == 1  # the stored records of the first half need the archive
    capsys.readouterr()
