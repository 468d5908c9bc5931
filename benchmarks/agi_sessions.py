"""FastAGI IVR benchmark: many calls at once against one IVR server process.

The server is the product's: `hotline.bootstrap.build` on a fresh SQLite file (or, with
--database-url, a PostgreSQL schema of its own, dropped afterwards), its `agi` worker (ivr.wiring.agi_worker) in a child process, its clock set to
working hours. The callers are simulated channels (ivr.agi.client.SimulatedChannel) in this
process over TCP, answering at once as Asterisk would with instant prompts: the figures are
the IVR's own cost per call, not telephony time.

Two phases, each with --concurrent sessions open together, --rounds times:
- menu:   ANSWER, greeting, main menu, key 1 -> four SET VARIABLEs (no database)
- survey: survey prompt, key 1 -> one row written to ivr_surveys (a database write per call)
Reported: sessions/s, latency per session (p50/p95/max), the server's RSS before and after,
and its peak (VmHWM). Targets (docstring of the issue: 200 sessions at once): every session
completes, no protocol or handler error, and the server's memory returns near its start.

    PYTHONPATH=. .venv/bin/python benchmarks/agi_sessions.py [--concurrent 200] [--rounds 5]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.agi.client import SimulatedChannel, environment, run_channel  # noqa: E402

WORKDAY_MORNING = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)


def proc_status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def serve(port: int, data_dir: str, database_url: str, ready: Any, stop: Any, out: Any) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from hotline import bootstrap
    from hotline.config import IvrSettings, Settings
    from hotline.db import Database, upgrade
    from ivr.wiring import AGI_SERVER, agi_worker

    async def admin(sql: str) -> None:
        db = Database.from_url(database_url)
        try:
            async with db.engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await db.dispose()

    async def main() -> None:
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=database_url,
            ivr=IvrSettings(port=port, enabled=True),
        )
        schema = None
        if database_url and make_url(database_url).get_backend_name() == "postgresql":
            # a schema of its own, dropped afterwards: the server's other users see nothing
            schema = f"bench_agi_{os.getpid()}"
            await admin(f'CREATE SCHEMA "{schema}"')
            db = Database.from_url(
                database_url, connect_args={"server_settings": {"search_path": schema}}
            )
        else:
            db = Database.from_url(settings.resolved_database_url)
        await upgrade(db)
        services = await bootstrap.build(settings, db=db, clock=lambda: WORKDAY_MORNING)
        worker = agi_worker(services, "127.0.0.1", port)
        await worker.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        c = services[AGI_SERVER].counters
        out.put(
            {
                "connections": c.connections,
                "completed": c.completed,
                "protocol_errors": c.protocol_errors,
                "timeouts": c.timeouts,
                "handler_errors": c.handler_errors,
                "closed_by_peer": c.closed_by_peer,
                "refused": c.refused,
            }
        )
        await worker.stop()
        await db.dispose()
        if schema is not None:
            await admin(f'DROP SCHEMA "{schema}" CASCADE')

    asyncio.run(main())


async def phase(
    name: str, port: int, concurrent: int, rounds: int, pid: int, start_id: int
) -> dict[str, Any]:
    script, inputs = (
        ("survey?agent=坐席1&queue=hotline", ["1"]) if name == "survey" else ("ivr", ["1"])
    )
    latencies: list[float] = []
    n = start_id

    async def one(uid: str) -> None:
        t0 = time.perf_counter()
        trace = await run_channel(
            SimulatedChannel(list(inputs)),
            environment(uid, dnid="12345", script=script),
            "127.0.0.1",
            port,
            timeout=60,
        )
        assert trace and trace[-1][0].startswith("SET VARIABLE"), trace[-1:]
        latencies.append(time.perf_counter() - t0)

    rss_before = proc_status(pid, "VmRSS")
    t0 = time.perf_counter()
    for _ in range(rounds):
        uids = [f"1796300000.{n + i}" for i in range(concurrent)]
        n += concurrent
        await asyncio.gather(*(one(u) for u in uids))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "phase": name,
        "sessions": len(latencies),
        "seconds": round(elapsed, 2),
        "sessions_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "server_rss_mib_before": round(rss_before, 1),
        "server_rss_mib_after": round(proc_status(pid, "VmRSS"), 1),
        "server_peak_rss_mib": round(proc_status(pid, "VmHWM"), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        proc = ctx.Process(target=serve, args=(port, tmp, args.database_url, ready, stop, out))
        proc.start()
        try:
            if not ready.wait(60):
                raise SystemExit("the IVR server did not start")
            results = []
            for i, name in enumerate(("menu", "survey")):
                results.append(
                    asyncio.run(
                        phase(
                            name,
                            port,
                            args.concurrent,
                            args.rounds,
                            proc.pid or os.getpid(),
                            i * args.concurrent * args.rounds,
                        )
                    )
                )
        finally:
            stop.set()
        counters = out.get(timeout=30)
        proc.join(30)
    print(
        f"FastAGI IVR, {args.concurrent} sessions at once x {args.rounds} rounds, "
        f"database {args.database_url or 'SQLite (fresh file)'}"
    )
    for r in results:
        print(
            f"  {r['phase']:6}: {r['sessions']} sessions in {r['seconds']} s = "
            f"{r['sessions_per_s']} sessions/s; per session p50 {r['p50_ms']} ms, "
            f"p95 {r['p95_ms']} ms, max {r['max_ms']} ms; server RSS "
            f"{r['server_rss_mib_before']} -> {r['server_rss_mib_after']} MiB "
            f"(peak {r['server_peak_rss_mib']} MiB)"
        )
    print(f"  server counters: {counters}")
    ok = counters["completed"] == sum(r["sessions"] for r in results) and not (
        counters["protocol_errors"]
        or counters["timeouts"]
        or counters["handler_errors"]
        or counters["closed_by_peer"]
        or counters["refused"]
    )
    print(f"  target: every session completes, no error: {'met' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
