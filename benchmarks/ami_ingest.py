"""AMI ingest benchmark: events/s through the listener (asterisk-ami client, thread bridge, typed
parse, dedupe, call + live state machines) against the bare asterisk-ami client, on one stream,
and the same again with storage (raw events appended, call records upserted: CallStore).

A capture is looped (shifted Timestamps, fresh Uniqueids) to >= --events events and served over
TCP by a replay server in another process at full speed. The storage pass runs on a fresh SQLite
file in a temporary directory, or with --database-url on that database (PostgreSQL: in a schema
of its own, dropped afterwards). Storage holds the listener back when its backlog is above its
high-water mark (`listener.throttle(store.wait_for_room)`, the listener's bounded bridge, TCP):
memory should stay flat over the run.

    PYTHONPATH=. .venv/bin/python benchmarks/ami_ingest.py [--capture ../shared/ami-traces/busy]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterisk.ami import AMIClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hotline.db import Database, upgrade  # noqa: E402
from calls.ami.listener import AmiListener, ListenerOptions  # noqa: E402
from calls.ami.replay import Capture, ReplayServer  # noqa: E402
from calls.recompute import counts  # noqa: E402
from calls.store import CallStore  # noqa: E402
from calls.tracker import CallTracker  # noqa: E402

DEFAULT_CAPTURE = ROOT.parent / "shared" / "ami-traces" / "busy"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


LISTENER_OPTIONS: dict[str, Any] = {}  # from the command line (--bridge-max, --batch-items)


def listener_options() -> ListenerOptions:
    return ListenerOptions(
        ping_interval_s=30.0, ping_timeout_s=30.0, resync_timeout_s=60.0, **LISTENER_OPTIONS
    )


def looped(capture: Capture, events: int) -> Capture:
    n = math.ceil(events / len(capture.frames)) * len(capture.frames)
    return Capture.of(capture.banner, [capture.frame(i) for i in range(n)])


def _serve(capture: Capture, port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        server = ReplayServer(capture, speed=0)
        _, port = await server.start("127.0.0.1", 0)
        port_queue.put(port)
        await server.serve_forever()

    asyncio.run(main())


class ServerProcess:
    """A replay server for one client, in its own process (its own core and GIL)."""

    def __init__(self, capture: Capture) -> None:
        ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        self.proc = multiprocessing.Process(target=_serve, args=(capture, ports), daemon=True)
        self.proc.start()
        self.port = ports.get(timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


def bare_client(capture: Capture, total: int, buffer_size: int) -> dict[str, float]:
    """The asterisk-ami client alone: connect, log in, count events in its callback."""
    server = ServerProcess(capture)
    done = threading.Event()
    count = 0

    def on_event(event: object, source: object) -> None:
        nonlocal count
        count += 1
        if count >= total:
            done.set()

    client = AMIClient(address="127.0.0.1", port=server.port, timeout=None, buffer_size=buffer_size)
    client.add_event_listener(on_event)
    t0 = time.perf_counter()
    client.login(username="bench", secret="bench")
    done.wait(600)
    elapsed = time.perf_counter() - t0
    client._socket.shutdown(2)  # wake the reader; 0.1.7 has no clean close of a blocked reader
    client.disconnect()
    server.stop()
    return {"events": count, "seconds": elapsed, "events_per_s": count / elapsed}


async def listener_run(capture: Capture, total: int, trace: bool) -> dict[str, object]:
    server = ServerProcess(capture)
    listener = AmiListener("127.0.0.1", server.port, "bench", "bench", listener_options())
    tracker = CallTracker(keep=False)
    listener.subscribe(tracker)
    memory: list[dict[str, float]] = []

    def sample(label: str) -> None:
        row = {"at": label, "events": listener.stats.events, "rss_mib": round(rss_mib(), 1)}
        if trace:
            row["traced_kib"] = round(tracemalloc.get_traced_memory()[0] / 1024, 1)
        memory.append(row)

    gc.collect()
    if trace:
        tracemalloc.start()
    sample("start")
    t0 = time.perf_counter()
    await listener.start()
    marks = iter([total // 4, total // 2, 3 * total // 4])
    mark = next(marks)
    while listener.stats.events < total:
        await asyncio.sleep(0.02)
        if mark is not None and listener.stats.events >= mark:
            sample(f"{round(100 * mark / total)}%")
            mark = next(marks, None)
    await listener.sync(60)
    elapsed = time.perf_counter() - t0
    sample("end")
    if trace:
        tracemalloc.stop()
    await listener.stop()
    server.stop()
    stats = listener.stats
    return {
        "events": stats.events,
        "typed_events": stats.dispatched,
        "calls_finished": tracker.finished,
        "calls_active_at_end": len(tracker.calls.calls),
        "parse_errors": stats.parse_errors,
        "connects": stats.connects,
        "seconds": elapsed,
        "events_per_s": stats.events / elapsed,
        "memory": memory,
    }


class BenchDatabase:
    """A fresh, migrated database for one storage pass: a SQLite file in a temporary directory,
    or a schema of its own on a PostgreSQL server (dropped by `drop`)."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.schema: str | None = None
        self.tmpdir: str | None = None
        self.sqlite_file: Path | None = None
        self.connect_args: dict[str, Any] = {}

    async def create(self) -> Database:
        if self.url is None:
            self.tmpdir = tempfile.mkdtemp(prefix="ami-ingest-")
            self.sqlite_file = Path(self.tmpdir) / "bench.db"
            self.url = f"sqlite+aiosqlite:///{self.sqlite_file}"
        elif make_url(self.url).get_backend_name() == "postgresql":
            self.schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            await self._admin(f'CREATE SCHEMA "{self.schema}"')
            self.connect_args = {"server_settings": {"search_path": self.schema}}
        elif make_url(self.url).get_backend_name() == "sqlite":
            database = make_url(self.url).database
            self.sqlite_file = Path(database) if database and database != ":memory:" else None
        db = Database.from_url(self.url, connect_args=self.connect_args)
        await upgrade(db)
        return db

    async def _admin(self, sql: str) -> None:
        assert self.url is not None
        admin = Database.from_url(self.url)
        try:
            async with admin.engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await admin.dispose()

    def size_mib(self) -> float | None:
        """The SQLite database's size on disk (with its WAL, if any is left)."""
        if self.sqlite_file is None:
            return None
        files = [self.sqlite_file, Path(f"{self.sqlite_file}-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 1)

    async def drop(self) -> None:
        if self.schema is not None:
            await self._admin(f'DROP SCHEMA "{self.schema}" CASCADE')
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


async def storage_run(
    capture: Capture,
    total: int,
    database_url: str | None,
    batch: int,
    interval_s: float,
    high_water: int | None = None,
    throttle: bool = True,
) -> dict[str, object]:
    """The listener with storage: raw events and finished records written by CallStore. Timed
    from the first event to everything stored (listener synced, last flush done, backlog 0)."""
    bench_db = BenchDatabase(database_url)
    db = await bench_db.create()
    try:
        return await _storage_pass(
            capture, total, db, bench_db, batch, interval_s, high_water, throttle
        )
    finally:
        await db.dispose()
        await bench_db.drop()


async def _storage_pass(
    capture: Capture,
    total: int,
    db: Database,
    bench_db: BenchDatabase,
    batch: int,
    interval_s: float,
    high_water: int | None,
    throttle: bool,
) -> dict[str, object]:
    server = ServerProcess(capture)
    listener = AmiListener("127.0.0.1", server.port, "bench", "bench", listener_options())
    store = CallStore(
        db,
        source=f"127.0.0.1:{server.port}",
        batch=batch,
        interval_s=interval_s,
        high_water=high_water,
    )
    tracker = CallTracker(on_record=store.on_record, keep=False)
    raw_count = 0
    first_event = 0.0

    def count_raw(name: str, headers: object, received_at: float) -> None:
        nonlocal raw_count, first_event
        if not raw_count:
            first_event = time.perf_counter()
        raw_count += 1

    listener.subscribe_raw(count_raw)
    listener.subscribe_raw(store.on_raw)
    listener.subscribe(tracker)
    if throttle:
        listener.throttle(store.wait_for_room)  # backpressure: bounded memory
    memory: list[dict[str, float]] = []

    def sample(label: str) -> None:
        memory.append(
            {
                "at": label,
                "events": listener.stats.events,
                "stored": store.stored_events,
                "backlog": store.backlog,
                "rss_mib": round(rss_mib(), 1),
            }
        )

    gc.collect()
    sample("start")
    writer = asyncio.create_task(store.run(), name="call-store")
    t0 = time.perf_counter()
    await listener.start()
    marks = iter([total // 4, total // 2, 3 * total // 4])
    mark = next(marks)
    peak_backlog = 0
    while listener.stats.events < total:
        await asyncio.sleep(0.02)
        peak_backlog = max(peak_backlog, store.backlog)
        if mark is not None and listener.stats.events >= mark:
            sample(f"{round(100 * mark / total)}%")
            mark = next(marks, None)
    streamed = time.perf_counter()
    await listener.sync(300)  # every event sent has been handed to the subscribers
    handled = time.perf_counter()
    while store.backlog:  # the last flush (run() may be writing one right now: it waits)
        if not await store.flush():
            raise RuntimeError("storing the last batch failed")
    stored = time.perf_counter()
    sample("end")
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await listener.stop()
    server.stop()
    in_db = await counts(db)
    await db.dispose()
    stats = listener.stats
    start = first_event or t0
    elapsed = stored - start
    return {
        "database": db.engine.dialect.name,
        "batch": batch,
        "interval_s": interval_s,
        "events": stats.events,
        "raw_events": raw_count,
        "typed_events": stats.dispatched,
        "stored_events": store.stored_events,
        "rows_ami_events": in_db["events"],
        "calls_finished": tracker.finished,
        "stored_records": store.stored_records,
        "rows_calls": in_db["calls"],
        "failed_flushes": store.failed_flushes,
        "parse_errors": stats.parse_errors,
        "connects": stats.connects,
        "events_check": raw_count == store.stored_events == in_db["events"],
        "records_check": tracker.finished == store.stored_records == in_db["calls"],
        "seconds": elapsed,
        "events_per_s": stats.events / elapsed,
        "stored_events_per_s": store.stored_events / elapsed,
        "seconds_streamed": streamed - start,
        "seconds_handled": handled - start,
        "seconds_last_flush": stored - handled,
        "peak_backlog": peak_backlog,
        "peak_backlog_exact": store.peak_backlog,
        "throttled": throttle,
        "high_water": store.high_water if throttle else None,
        "store_waits": store.waits,
        "store_wait_s": store.wait_s,
        "store_stalls": store.stalls,
        "bridge_peak": stats.bridge_peak,
        "bridge_max_items": listener.options.bridge_max_items,
        "bridge_waits": stats.bridge_waits,
        "bridge_wait_s": stats.bridge_wait_s,
        "late_pongs": stats.late_pongs,
        "db_size_mib": bench_db.size_mib(),
        "memory": memory,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capture", default=str(DEFAULT_CAPTURE))
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--database-url",
        default=None,
        help="database of the storage pass (default: a fresh SQLite file in a temp dir)",
    )
    p.add_argument(
        "--store-batch",
        type=int,
        default=5000,
        help="CallStore batch: events buffered before a flush is kicked",
    )
    p.add_argument(
        "--store-interval",
        type=float,
        default=0.25,
        help="CallStore interval_s: the longest wait between flushes",
    )
    p.add_argument(
        "--store-high-water",
        type=int,
        default=None,
        help="CallStore high_water: backlog above which the listener is held back "
        "(default 2 batches)",
    )
    p.add_argument(
        "--no-throttle",
        action="store_true",
        help="storage pass without backpressure (the listener never waits)",
    )
    p.add_argument(
        "--bridge-max",
        type=int,
        default=None,
        help="ListenerOptions.bridge_max_items (items in the thread bridge)",
    )
    p.add_argument(
        "--batch-items",
        type=int,
        default=None,
        help="ListenerOptions.batch_items (consumer batch between throttles)",
    )
    args = p.parse_args()
    if args.bridge_max is not None:
        LISTENER_OPTIONS["bridge_max_items"] = args.bridge_max
    if args.batch_items is not None:
        LISTENER_OPTIONS["batch_items"] = args.batch_items

    original = Capture.load(args.capture)
    capture = looped(original, args.events)
    total = len(capture.frames)
    print(
        f"stream: {total} events ({total // len(original.frames)} loops of {args.capture}), "
        f"{sum(map(len, capture.frames)) / 2**20:.0f} MiB",
        file=sys.stderr,
    )

    ours = asyncio.run(listener_run(capture, total, trace=False))
    bare_default = bare_client(capture, total, buffer_size=1024)
    bare_64k = bare_client(capture, total, buffer_size=65536)
    stored = asyncio.run(
        storage_run(
            capture,
            total,
            args.database_url,
            args.store_batch,
            args.store_interval,
            args.store_high_water,
            not args.no_throttle,
        )
    )
    traced = asyncio.run(listener_run(capture, total, trace=True))
    best_bare = max(bare_default["events_per_s"], bare_64k["events_per_s"])
    result = {
        "events": total,
        "listener": ours,
        "bare_client_default_buffer": bare_default,
        "bare_client_64k_buffer": bare_64k,
        "listener_vs_best_bare": round(ours["events_per_s"] / best_bare, 3),  # type: ignore[operator]
        "storage": stored,
        "memory_with_tracemalloc": traced["memory"],
        "targets": {
            "parse_and_state_machine_events_per_s": 50_000,
            "vs_bare_client": 0.5,
            "with_storage_events_per_s": 20_000,
        },
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"listener (parse + state machines): {ours['events_per_s']:,.0f} events/s "
        f"({ours['events']} events in {ours['seconds']:.2f} s, {ours['calls_finished']} calls)"
    )
    print(f"bare asterisk-ami, 1 KiB reads:    {bare_default['events_per_s']:,.0f} events/s")
    print(f"bare asterisk-ami, 64 KiB reads:   {bare_64k['events_per_s']:,.0f} events/s")
    print(f"listener / best bare client:       {result['listener_vs_best_bare']}")
    print(
        "memory (RSS):       " + ", ".join(f"{m['at']} {m['rss_mib']} MiB" for m in ours["memory"])
    )  # type: ignore[index,union-attr]
    db_size = f", {stored['db_size_mib']} MiB file" if stored["db_size_mib"] is not None else ""
    print(
        f"listener + storage ({stored['database']}):  {stored['events_per_s']:,.0f} events/s "
        f"({stored['events']} events in {stored['seconds']:.2f} s, first event to all stored; "
        f"batch {stored['batch']}, interval {stored['interval_s']} s)"
    )
    print(
        f"  handled by listener at {stored['seconds_handled']:.2f} s, last flush "
        f"{stored['seconds_last_flush']:.2f} s, peak backlog {stored['peak_backlog']} items "
        f"sampled / at most {stored['peak_backlog_exact']} held (high-water "
        f"{stored['high_water'] or 'none: no throttle'}), {stored['failed_flushes']} failed "
        f"flushes"
    )
    print(
        f"  backpressure: store held the listener {stored['store_waits']} times "
        f"({stored['store_wait_s']:.2f} s, {stored['store_stalls']} stalls); bridge peak "
        f"{stored['bridge_peak']} of {stored['bridge_max_items']} items, reader waited "
        f"{stored['bridge_waits']} times ({stored['bridge_wait_s']:.2f} s); "
        f"{stored['late_pongs']} late pongs; {stored['connects']} connect(s)"
    )
    print(
        f"  stored: {stored['stored_events']} raw events ({stored['rows_ami_events']} rows) of "
        f"{stored['raw_events']} dispatched: {'ok' if stored['events_check'] else 'MISMATCH'}; "
        f"{stored['stored_records']} records ({stored['rows_calls']} rows) of "
        f"{stored['calls_finished']} finished: {'ok' if stored['records_check'] else 'MISMATCH'}"
        f"{db_size}"
    )
    print(
        "  memory (RSS):     "
        + ", ".join(
            f"{m['at']} {m['rss_mib']} MiB (backlog {m['backlog']})" for m in stored["memory"]
        )
    )  # type: ignore[index,union-attr]
    rss = {m["at"]: m["rss_mib"] for m in stored["memory"]}  # type: ignore[union-attr]
    if "25%" in rss:
        print(f"  RSS from 25 % to end: {rss['end'] - rss['25%']:+.1f} MiB")
    print(
        "memory (traced):    "
        + ", ".join(f"{m['at']} {m['traced_kib']} KiB" for m in traced["memory"])
    )  # type: ignore[index,union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main())
