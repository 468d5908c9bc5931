"""Wallboard event-to-screen latency (issue 15): a capture replays at 20x speed into a running
`hotline run --role web,ami` process; a manager's browser-side stream (/api/v1/calls/live/stream,
what the wallboard and dashboard read) is open. For every caller who joins the queue, the time
from the replayed PBX writing the QueueCallerJoin frame to the first board on the stream that
lists that caller waiting. Both ends are timed in this process. Target: p99 < 200 ms.

    PYTHONPATH=. .venv-test/bin/python benchmarks/wallboard_push.py \\
        [--capture ../shared/ami-traces/busy] [--speed 20] \\
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Without --database-url the service runs on a fresh SQLite file. Prints one JSON object:
joins, seen, p50_ms, p95_ms, p99_ms, max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from calls.ami.replay import Capture, ReplayServer
from hotline.db import Database
from tests.calls.conftest import free_port
from tests.calls.instances import ROOT, Instance, clean_env, create_database, drop_database

HERE = Path(__file__).resolve().parent
PASSWORD = "wallboard-bench-1"
UNIQUEID = re.compile(rb"\r\nUniqueid: ([^\r]+)")


class Stamped:
    """The server's stream writer, noting when each QueueCallerJoin frame is written."""

    def __init__(self, writer: Any, sent: dict[str, float]) -> None:
        self._writer, self._sent = writer, sent

    def write(self, data: bytes) -> None:
        now = time.monotonic()
        for frame in data.split(b"\r\n\r\n"):
            if frame.startswith(b"Event: QueueCallerJoin\r\n"):
                found = UNIQUEID.search(frame)
                if found:
                    self._sent.setdefault(found.group(1).decode(), now)
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


async def _database(url: str | None, work: Path) -> tuple[str, bool]:
    if url:
        return await create_database(url), True
    sqlite = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"],
        cwd=ROOT,
        env=clean_env(HOTLINE_DATABASE_URL=sqlite),
        check=True,
        capture_output=True,
    )
    return sqlite, False


async def _manager(url: str) -> None:
    from hotline.accounts import NewUser, create_user
    from hotline.models import Role

    db = Database.from_url(url)
    try:
        await create_user(
            db,
            "bench",
            NewUser(username="boss", display_name="值班长", role=Role.MANAGER, password=PASSWORD),
        )
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hotline-wallboard-"))
    url, created = await _database(args.database_url, work)
    await _manager(url)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    hold = asyncio.Event()
    server = ReplayServer(
        Capture.load(args.capture),
        speed=args.speed,
        username="hotline",
        secret="bench",
        static_members=True,
    )
    stream = server._stream

    async def stamped(writer: Any) -> None:
        await hold.wait()
        await stream(Stamped(writer, sent))

    server._stream = stamped  # type: ignore[method-assign]
    _, port = await server.start("127.0.0.1", free_port())
    instance = Instance("a", work, url, port, free_port(), None, "hotline", "bench")
    try:
        instance.start()
        await instance.wait_role("leader")
        base = f"http://127.0.0.1:{instance.port}"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            page = await (await http.get(base + "/login")).text()
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            await http.post(
                base + "/login", data={"username": "boss", "password": PASSWORD, "_csrf": csrf}
            )
            resp = await http.get(
                base + "/api/v1/calls/live/stream", timeout=aiohttp.ClientTimeout(total=None)
            )
            assert resp.status == 200, resp.status
            hold.set()

            async def read() -> None:
                data: list[str] = []
                async for raw in resp.content:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("data:"):
                        data.append(line[5:])
                    elif not line and data:
                        now = time.monotonic()
                        board = json.loads("".join(data))
                        data = []
                        for w in board.get("waiting", []):
                            seen.setdefault(w["uniqueid"], now)

            reader = asyncio.create_task(read())
            await asyncio.wait_for(server.finished.wait(), 3600)
            await asyncio.sleep(2)  # the last boards
            reader.cancel()
            resp.close()
    finally:
        instance.stop()
        await server.close()
        if created and args.database_url:
            await drop_database(args.database_url, url)
    latencies = sorted((seen[u] - t) * 1000 for u, t in sent.items() if u in seen and seen[u] >= t)
    q = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) >= 2
        else latencies * 99
    )
    return {
        "joins": len(sent),
        "seen": len(latencies),
        "db": url.split(":", 1)[0],
        "speed": args.speed,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(q[94], 1) if latencies else None,
        "p99_ms": round(q[98], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--capture", type=Path, default=HERE.parent.parent / "shared" / "ami-traces" / "busy"
    )
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
