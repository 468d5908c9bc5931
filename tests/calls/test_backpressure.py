"""Bounded memory end to end: a slow subscriber (storage) holds the listener back through its
throttle, the bounded bridge holds the reader thread, TCP holds the PBX; nothing is lost, the
keepalive does not mistake our own backpressure for a dead PBX, and stop still works."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from tests.conftest import wait_until

from hotline.db import Database, upgrade
from calls import recompute, records
from calls import store as call_store
from calls.ami.bridge import RESPONSE
from calls.ami.listener import AmiListener, ListenerOptions, RawHandler
from calls.ami.offline import track_capture
from calls.ami.replay import Capture, ReplayServer
from calls.tracker import CallTracker

from .test_captures import assert_matches

BOUNDED = ListenerOptions(
    bridge_max_items=32,
    batch_items=8,
    ping_interval_s=0.1,
    ping_timeout_s=0.2,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    login_timeout_s=2.0,
    resync_timeout_s=5.0,
)


class GatedServer(ReplayServer):
    """Streams only once `gate` is set. The captures are small: at full speed most of one would
    be read while the listener logs in and resyncs, when no throttle applies yet."""

    gate: asyncio.Event

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        await self.gate.wait()
        await super()._stream(writer)


async def track_throttled(
    folder: Path,
    options: ListenerOptions,
    throttle: Callable[[], Awaitable[None]],
    *,
    tracker: CallTracker | None = None,
    raw: RawHandler | None = None,
    timeout_s: float = 120.0,
) -> tuple[CallTracker, AmiListener]:
    """`offline.track_capture` with a throttle, streaming once the listener has resynced."""

    def gate(server: ReplayServer, listener: AmiListener) -> None:
        server.gate = listener.connected  # type: ignore[attr-defined]

    return await track_capture(
        folder,
        options=options,
        tracker=tracker,
        raw=raw,
        throttle=throttle,
        timeout_s=timeout_s,
        prepare=gate,
        server=GatedServer(Capture.load(folder), speed=0.0),
    )


@pytest.mark.asyncio
async def test_a_slow_subscriber_holds_the_pbx_back_without_loss_or_reconnect(
    capture_dir: Path,
) -> None:
    calls = 0

    async def slow() -> None:
        # Mostly a yield; a few long pauses, each longer than a ping's timeout while the
        # server has far more than the bridge holds waiting to be read.
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.5 if calls in (5, 40) else 0)

    tracker, listener = await track_throttled(capture_dir, BOUNDED, slow)
    stats = listener.stats
    assert calls > 40
    assert_matches(capture_dir, tracker.all_records())  # nothing lost, nothing doubled
    assert stats.parse_errors == 0 and stats.throttle_errors == 0
    assert stats.bridge_waits > 0  # the reader was held back ...
    assert 0 < stats.bridge_peak <= BOUNDED.bridge_max_items  # ... and the bridge stayed bounded
    assert stats.late_pongs > 0  # pongs were late behind our pauses
    assert stats.connects == 1  # and that was not taken for a dead PBX


@pytest.mark.expect_errors("calls.ami.listener")
@pytest.mark.asyncio
async def test_a_raising_throttle_is_logged_and_the_stream_goes_on(busy_dir: Path) -> None:
    async def broken() -> None:
        raise RuntimeError("throttle bug")

    tracker, listener = await track_throttled(busy_dir, BOUNDED, broken)
    assert listener.stats.throttle_errors > 0
    assert listener.stats.connects == 1
    assert_matches(busy_dir, tracker.all_records())


@pytest.mark.asyncio
async def test_stop_releases_a_reader_waiting_for_room(busy_dir: Path) -> None:
    """A throttle that never lets go: the bridge fills, the reader thread waits; the keepalive
    keeps the connection (we are the ones not reading), and stop() still ends the reader."""
    gate = asyncio.Event()
    server = GatedServer(Capture.load(busy_dir), speed=0.0)
    host, port = await server.start("127.0.0.1", 0)
    listener = AmiListener(host, port, "hotline", "replay", BOUNDED)
    server.gate = listener.connected
    listener.throttle(gate.wait)
    await listener.start()
    try:
        for _ in range(200):
            bridge = listener._bridge
            if bridge is not None and bridge.full:
                break
            await asyncio.sleep(0.05)
        assert bridge is not None and bridge.full
        assert listener._client is not None
        reader = listener._client._thread
        assert reader is not None and reader.is_alive()
        pings_before = listener.stats.late_pongs
        for _ in range(200):  # several ping intervals pass while held back
            if listener.stats.late_pongs >= pings_before + 2:
                break
            await asyncio.sleep(0.05)
        assert listener.stats.late_pongs >= pings_before + 2
        assert listener.stats.connects == 1 and listener.connected.is_set()
        assert len(bridge.items) <= BOUNDED.bridge_max_items
        await listener.stop()
        assert not reader.is_alive()
    finally:
        gate.set()
        await listener.stop()
        await server.close()


# --- storage as the throttle -------------------------------------------------------------------


def raw_event(i: int) -> tuple[str, dict[str, str], float]:
    return (
        "QueueMemberStatus",
        {
            "Queue": "hotline",
            "Interface": f"PJSIP/{8000 + i % 10}",
            "Status": "1",
            "Timestamp": f"{1795600000 + i}.000000",
        },
        1795600000.0 + i,
    )


async def test_storage_throttle_bounds_the_backlog_and_stores_everything(
    db: Database, capture_dir: Path
) -> None:
    # No flush unless wait_for_room asks for one: the backlog reaches the high-water mark for sure.
    high_water = 100
    store = call_store.CallStore(
        db, "replay:test", batch=10**9, interval_s=60.0, high_water=high_water
    )
    tracker = CallTracker(on_record=store.on_record)
    raw_seen = 0

    def count(name: str, headers: object, received_at: float) -> None:
        nonlocal raw_seen
        raw_seen += 1

    def both(name: str, headers: object, received_at: float) -> None:
        count(name, headers, received_at)
        store.on_raw(name, headers, received_at)  # type: ignore[arg-type]

    writer = asyncio.create_task(store.run())
    try:
        _, listener = await track_throttled(
            capture_dir, BOUNDED, store.wait_for_room, tracker=tracker, raw=both
        )
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    assert store.backlog == 0 and store.failed_flushes == 0
    assert store.waits > 1  # the listener was held back, repeatedly
    # Above the mark by at most what one consumer batch adds (raw events and their records).
    assert high_water < store.peak_backlog <= high_water + 2 * BOUNDED.batch_items
    assert listener.stats.bridge_peak <= BOUNDED.bridge_max_items
    assert listener.stats.connects == 1
    counts = await recompute.counts(db)
    assert counts["events"] == store.stored_events == raw_seen
    stored = await records.load_records(db)
    assert {r.uniqueid: r for r in stored} == {r.uniqueid: r for r in tracker.records}
    assert_matches(capture_dir, tracker.all_records())


async def test_wait_for_room_flushes_itself_without_a_writer_task(db: Database) -> None:
    store = call_store.CallStore(db, "test", batch=50, high_water=100)
    for i in range(40):
        store.on_raw(*raw_event(i))
    await store.wait_for_room()  # under the mark: nothing written, nothing waited
    assert store.backlog == 40 and store.stored_events == 0 and store.waits == 0
    for i in range(40, 250):
        store.on_raw(*raw_event(i))
    await store.wait_for_room()  # written a batch at a time until under the mark
    assert store.waits == 1 and store.held == store.backlog <= store.high_water
    assert store.stored_events == 250 - store.backlog >= 150
    assert (await recompute.counts(db))["events"] == store.stored_events
    assert await store.flush() and store.stored_events == 250


@pytest.mark.expect_errors("calls.store")
async def test_database_down_holds_for_stall_s_then_buffers_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database without the schema refuses every batch, as one that is down.
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'down.db'}")
    store = call_store.CallStore(db, "test", batch=50, interval_s=0.05, high_water=100, stall_s=0.3)
    writer = asyncio.create_task(store.run())
    try:
        for i in range(500):
            store.on_raw(*raw_event(i))
        with caplog.at_level(logging.WARNING, logger="calls.store"):
            await store.wait_for_room()  # gives up after stall_s instead of holding forever
        assert store.stalls == 1 and store.overflowing
        # Kept, not dropped (`held` also counts a batch a failing flush has in hand right now).
        assert store.held == 500 and store.stored_events == 0
        assert 1 <= store.failed_flushes <= 15  # retried on its interval, not in a tight loop
        assert any(
            r.levelno == logging.CRITICAL and "stalled" in r.getMessage() for r in caplog.records
        )
        for i in range(500, 600):  # buffering beyond the mark: no more waiting
            store.on_raw(*raw_event(i))
        await store.wait_for_room()
        assert store.waits == 1 and store.held == 600

        writer.cancel()  # the database is back (migrated alone:
        await asyncio.gather(writer, return_exceptions=True)  # SQLite locks)
        assert store.backlog == 600
        await upgrade(db)
        writer = asyncio.create_task(store.run())
        # Done when nothing is held in memory (a batch being written is held too).
        await wait_until(lambda: store.held == 0, what="the buffered events to be stored")
        assert not store.overflowing and store.stored_events == 600

        for i in range(600, 900):  # held back again once above the mark
            store.on_raw(*raw_event(i))
        await store.wait_for_room()
        assert store.waits == 2 and store.stalls == 1 and store.backlog <= store.high_water
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await db.dispose()
    assert store.stored_events == 900


async def test_a_cancelled_request_stays_cancelled_when_its_answer_comes_at_once() -> None:
    """asyncio.wait_for (3.11) returns the answer instead of raising when a cancel and the
    answer meet; a keepalive ping that survived its cancel would make stop() wait forever."""
    frame = (
        b"Event: QueueMemberStatus\r\nTimestamp: 1795600000.000000\r\nQueue: hotline\r\n"
        b"Interface: PJSIP/8001\r\nStatus: 1\r\nPaused: 0"
    )
    server = ReplayServer(Capture.of(b"Asterisk Call Manager/11.0.0", [frame]), speed=0.0)
    host, port = await server.start("127.0.0.1", 0)
    listener = AmiListener(
        host, port, "u", "p", ListenerOptions(ping_interval_s=60.0, ping_timeout_s=30.0)
    )
    gate = asyncio.Event()
    armed = False

    async def hold() -> None:
        if armed:
            await gate.wait()

    listener.throttle(hold)
    await listener.start()
    try:
        await listener.wait_connected(30)
        await listener.ping()
        armed = True  # the consumer holds every answer from its next batch on
        bridge = listener._bridge
        assert bridge is not None
        bridge._push((RESPONSE, "Success", {"ActionID": "nobody"}))
        for _ in range(500):
            if listener._throttling:
                break
            await asyncio.sleep(0.01)
        assert listener._throttling
        ping = asyncio.create_task(listener.ping())
        for _ in range(500):  # its answer has come in: the Ping was sent, the task waits
            if any(
                item[0] == RESPONSE and item[2].get("ActionID") in listener._pending
                for item in bridge.items
            ):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        [future] = listener._pending.values()
        assert not ping.done()
        future.set_result({"Response": "Success", "Ping": "Pong"})  # the answer and the
        ping.cancel()  # cancel, together
        with pytest.raises(asyncio.CancelledError):
            await ping
    finally:
        gate.set()
        await listener.stop()
        await server.close()
