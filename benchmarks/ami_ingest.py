"""AMI ingest benchmark: events/s through the listener (asterisk-ami client, thread bridge, typed
parse, dedupe, call + live state machines) against the bare asterisk-ami client, on one stream.

A capture is looped (shifted Timestamps, fresh Uniqueids) to >= --events events and served over
TCP by a replay server in another process at full speed. Storage is not part of this yet.

    PYTHONPATH=. .venv/bin/python benchmarks/ami_ingest.py [--capture ../shared/ami-traces/busy]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asterisk.ami import AMIClient  # noqa: E402

from hotline.telephony.listener import AmiListener, ListenerOptions  # noqa: E402
from hotline.telephony.replay import Capture, ReplayServer  # noqa: E402
from hotline.telephony.tracker import CallTracker  # noqa: E402

DEFAULT_CAPTURE = ROOT.parent / "shared" / "ami-traces" / "busy"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
    listener = AmiListener("127.0.0.1", server.port, "bench", "bench",
                           ListenerOptions(ping_interval_s=30.0, ping_timeout_s=30.0,
                                           resync_timeout_s=60.0))
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
        "events": stats.events, "typed_events": stats.dispatched, "calls_finished": tracker.finished,
        "calls_active_at_end": len(tracker.calls.calls), "parse_errors": stats.parse_errors,
        "connects": stats.connects, "seconds": elapsed, "events_per_s": stats.events / elapsed,
        "memory": memory,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--capture", default=str(DEFAULT_CAPTURE))
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    original = Capture.load(args.capture)
    capture = looped(original, args.events)
    total = len(capture.frames)
    print(f"stream: {total} events ({total // len(original.frames)} loops of {args.capture}), "
          f"{sum(map(len, capture.frames)) / 2**20:.0f} MiB", file=sys.stderr)

    ours = asyncio.run(listener_run(capture, total, trace=False))
    bare_default = bare_client(capture, total, buffer_size=1024)
    bare_64k = bare_client(capture, total, buffer_size=65536)
    traced = asyncio.run(listener_run(capture, total, trace=True))
    best_bare = max(bare_default["events_per_s"], bare_64k["events_per_s"])
    result = {
        "events": total,
        "listener": ours,
        "bare_client_default_buffer": bare_default,
        "bare_client_64k_buffer": bare_64k,
        "listener_vs_best_bare": round(ours["events_per_s"] / best_bare, 3),  # type: ignore[operator]
        "memory_with_tracemalloc": traced["memory"],
        "targets": {"parse_and_state_machine_events_per_s": 50_000, "vs_bare_client": 0.5},
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"listener (parse + state machines): {ours['events_per_s']:,.0f} events/s "
          f"({ours['events']} events in {ours['seconds']:.2f} s, {ours['calls_finished']} calls)")
    print(f"bare asterisk-ami, 1 KiB reads:    {bare_default['events_per_s']:,.0f} events/s")
    print(f"bare asterisk-ami, 64 KiB reads:   {bare_64k['events_per_s']:,.0f} events/s")
    print(f"listener / best bare client:       {result['listener_vs_best_bare']}")
    print("memory (RSS):       " + ", ".join(f"{m['at']} {m['rss_mib']} MiB" for m in ours["memory"]))  # type: ignore[index,union-attr]
    print("memory (traced):    " + ", ".join(f"{m['at']} {m['traced_kib']} KiB"
                                             for m in traced["memory"]))  # type: ignore[index,union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main())
