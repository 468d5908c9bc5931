"""Storage of call tracking, on both databases: raw events appended as received, records
upserted, recomputing from the stored events gives the same records, missed-call callbacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hotline.db import Database, upgrade
from calls import recompute, records
from calls import store as call_store
from calls.models import AmiEventRow, MissedCallback
from calls.ami.offline import track_capture
from calls.tracker import CallTracker

from .conftest import owed_callbacks
from .test_captures import assert_matches, summaries


async def _stored_run(
    db: Database, folder: Path, **options: object
) -> tuple[CallTracker, call_store.CallStore]:
    store = call_store.CallStore(db, "replay:test", batch=500, interval_s=0.05)
    tracker = CallTracker(on_record=store.on_record)
    writer = asyncio.create_task(store.run())
    try:
        await track_capture(folder, tracker=tracker, raw=store.on_raw, **options)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    assert store.backlog == 0
    return tracker, store


@pytest.mark.parametrize(
    "options",
    [{}, {"drop_at": [1200], "drop_mid_frame": True, "resume_overlap": 200}],
    ids=["whole", "drop-overlap"],
)
async def test_stored_records_equal_live_and_expected_and_recompute(
    db: Database, capture_dir: Path, options: dict
) -> None:
    tracker, store = await _stored_run(db, capture_dir, **options)

    stored = await records.load_records(db)
    assert summaries(stored) == summaries(tracker.records)
    assert {r.uniqueid: r for r in stored} == {r.uniqueid: r for r in tracker.records}
    assert_matches(
        capture_dir,
        stored
        + [r for r in tracker.all_records() if r.uniqueid not in {s.uniqueid for s in stored}],
    )

    # Raw events are all there, in arrival order, and fold into exactly the stored records.
    counts = await recompute.counts(db)
    assert counts["events"] == store.stored_events > 500
    recomputed = await recompute.recompute(db)
    assert {r.uniqueid: r for r in recomputed} == {r.uniqueid: r for r in stored}


async def test_missed_callers_not_reached_later_form_the_callback_list(
    db: Database, busy_dir: Path
) -> None:
    await _stored_run(db, busy_dir)
    owed = owed_callbacks(busy_dir)
    assert owed, "the busy capture has callers who never got through"
    async with db.read() as s:
        rows = (await s.execute(select(MissedCallback))).scalars().all()
    open_rows = {r.caller: r.missed_count for r in rows if r.status == "open"}
    assert open_rows == owed
    assert all(r.outcome == "called_in" for r in rows if r.status == "closed")


@pytest.mark.expect_errors("calls.store")
async def test_a_failed_flush_keeps_its_batch_and_retries(tmp_path: Path, busy_dir: Path) -> None:
    # A database without the schema refuses the batch; once migrated, the same batch lands.
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}")
    try:
        store = call_store.CallStore(db, "replay:test")
        tracker = CallTracker(on_record=store.on_record)
        await track_capture(busy_dir, tracker=tracker, raw=store.on_raw)
        held = store.backlog
        assert held > 0
        assert await store.flush() is False
        assert store.backlog == held and store.failed_flushes == 1
        await upgrade(db)
        assert await store.flush() is True
        assert store.backlog == 0
        stored = await records.load_records(db)
        assert {r.uniqueid: r for r in stored} == {r.uniqueid: r for r in tracker.records}
    finally:
        await db.dispose()


async def test_raw_events_are_append_only(db: Database, busy_dir: Path) -> None:
    await _stored_run(db, busy_dir)
    for statement in ("UPDATE ami_events SET name = 'x'", "DELETE FROM ami_events"):
        with pytest.raises(Exception, match="append-only"):
            async with db.write() as s:
                await s.execute(text(statement))
    async with db.read() as s:
        assert (await s.execute(select(AmiEventRow.name).limit(1))).scalar_one() != "x"


async def test_history_stored_again_counts_nothing_twice(db: Database, busy_dir: Path) -> None:
    """A standby that takes over replays history that overlaps what the leader stored: every
    raw event is keyed, so the overlap is a no-op; records and call-backs stay as they were."""

    async def keyed() -> list[str]:
        # Events a resync's lists bring carry no Timestamp: each resync's snapshot is new.
        async with db.read() as s:
            return list(
                (
                    await s.execute(
                        select(AmiEventRow.event_key).where(AmiEventRow.event_key.is_not(None))
                    )
                ).scalars()
            )

    first, first_store = await _stored_run(db, busy_dir)
    before = await keyed()
    async with db.read() as s:
        callbacks = {
            r.caller: (r.missed_count, r.status)
            for r in (await s.execute(select(MissedCallback))).scalars()
        }
    again, again_store = await _stored_run(db, busy_dir, drop_at=[900], resume_overlap=300)
    assert again_store.stored_events > 0
    keys = await keyed()
    assert sorted(keys) == sorted(before) and len(set(keys)) == len(keys)
    async with db.read() as s:
        assert {
            r.caller: (r.missed_count, r.status)
            for r in (await s.execute(select(MissedCallback))).scalars()
        } == callbacks
    stored = await records.load_records(db)
    assert summaries(stored) == summaries(first.records) == summaries(again.records)
    assert {r.uniqueid: r for r in await recompute.recompute(db)} == {r.uniqueid: r for r in stored}
