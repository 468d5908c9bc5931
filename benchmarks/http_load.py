"""HTTP load benchmark: one real `hotline serve` process driven by concurrent aiohttp clients.

The service runs in a subprocess with a data directory of its own and a fresh database: a SQLite
file in a temporary directory, or with --database-url a PostgreSQL database of its own created on
that server (`hotline_bench_<pid>`, dropped afterwards). It is set up the way an operator would:
`hotline db upgrade`, `hotline units import` (../shared/units/units.json), `hotline kb import`
(../shared/kb/articles.jsonl), `hotline users add` and `hotline users token`; and --calls stored
call records (default 100,000, spread over the last 48 hours, ~35 a minute: a large centre) are
inserted into `calls` directly before the service starts.

Scenarios (each --duration seconds with --concurrency clients, except burst):
  create     POST /api/v1/tickets: texts, districts, categories and types of
             ../shared/units/routing-dev.jsonl with varied details, a third dispatched directly to
             the expected unit
  advice     POST /api/v1/tickets/advice (suggested units and similar tickets, which the agent's
             form asks for while the request is typed) with the creation texts, over the
             tickets the create scenario stored
  kb_search  GET /api/v1/kb/search?q= with the queries of ../shared/kb/queries-dev.jsonl
  metrics    GET /api/v1/calls/metrics (bucket 15min, hour or day) over the stored calls
  burst      --burst creations sent at once (all in flight together), then every created
             ticket is looked for in the database

One JSON line per scenario (with --workers, per scenario and process count, then a line with
`speedup`, the rps of N processes over one's): scenario, db, workers, rps, p50_ms, p95_ms, p99_ms, errors (non-2xx answers
and failed requests), requests, and for creations the tickets found in the database.

    cd /work/main && .venv-test/bin/python benchmarks/http_load.py
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
        [--scenarios create,advice,kb_search,metrics,burst] [--duration 30] [--concurrency 20]
        [--workers N]     (each scenario against one process, then against `serve --workers N`
                           on the same database: both figures and their ratio; PostgreSQL)
        [--cprofile FILE] (the service's main thread under cProfile, pstats written to FILE)
        [--profile DIR]   (py-spy samples of the server per scenario; pip install py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from dispatch.models import Ticket  # noqa: E402
from hotline.db import Database  # noqa: E402
from calls.models import CallRow  # noqa: E402

SHARED = ROOT.parent / "shared"
UNITS = SHARED / "units" / "units.json"
ROUTING = SHARED / "units" / "routing-dev.jsonl"
ARTICLES = SHARED / "kb" / "articles.jsonl"
QUERIES = SHARED / "kb" / "queries-dev.jsonl"
SCENARIOS = ("create", "advice", "kb_search", "metrics", "burst")


# --- the service under test ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A data directory, a fresh database and one `hotline serve` process on them."""

    def __init__(self, database_url: str | None) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="http-load-"))
        self.server_url = database_url
        self.bench_database: str | None = None
        if database_url is None:
            self.url = f"sqlite+aiosqlite:///{self.tmpdir / 'hotline.db'}"
        elif make_url(database_url).get_backend_name() == "postgresql":
            self.bench_database = f"hotline_bench_{os.getpid()}"
            self.url = (
                make_url(database_url)
                .set(database=self.bench_database)
                .render_as_string(hide_password=False)
            )
        else:
            self.url = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = self.tmpdir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers = 1
        self.cprofile: str | None = None
        self.env = {
            **os.environ,
            "HOTLINE_DATA_DIR": str(self.tmpdir / "var"),
            "HOTLINE_DATABASE_URL": self.url,
            "HOTLINE_HOST": "127.0.0.1",
            "HOTLINE_PORT": str(self.port),
            "HOTLINE_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hotline", *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hotline {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    async def create_database(self) -> None:
        if self.bench_database is None:
            return
        await _pg_admin(self.server_url, f'DROP DATABASE IF EXISTS "{self.bench_database}"')
        await _pg_admin(self.server_url, f'CREATE DATABASE "{self.bench_database}"')

    def prepare(self) -> dict[str, str]:
        """Schema, units, articles, accounts; returns bearer tokens by role."""
        self.cli("db", "upgrade")
        self.cli("units", "import", str(UNITS))
        self.cli("kb", "import", str(ARTICLES))
        tokens = {}
        for name, role in (("agent1", "agent"), ("boss", "manager")):
            self.cli(
                "users",
                "add",
                name,
                "--role",
                role,
                "--password-stdin",
                stdin="bench-password-123\n" * 2,
            )
            tokens[role] = self.cli("users", "token", name).strip().splitlines()[-1]
        return tokens

    async def start(self, workers: int = 1) -> None:
        log = open(self.log, "ab")
        profiler = ["-m", "cProfile", "-o", self.cprofile] if self.cprofile else []
        several = ["--workers", str(workers)] if workers > 1 else []
        self.workers = workers
        self.proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "hotline", "serve", "--no-upgrade", *several],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hotline serve exited: {self.log.read_text()[-2000:]}")
                try:
                    # A new connection each time: with several workers, wait until each
                    # answers (their processes appear as the parent's children).
                    async with http.get(
                        self.base + "/healthz", headers={"Connection": "close"}
                    ) as resp:
                        if resp.status == 200:
                            if workers == 1 or len(self._children()) >= workers:
                                await asyncio.sleep(2.0 if workers > 1 else 0)
                                return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("hotline serve did not answer /healthz within 30 s")

    def profile(
        self, directory: str | None, scenario: str, duration: float
    ) -> subprocess.Popen[bytes] | None:
        """py-spy samples the server during a scenario: collapsed stacks in DIR/SCENARIO.txt."""
        if directory is None or self.proc is None:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        Path(directory).mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(self.proc.pid),
                "--format",
                "raw",
                "--duration",
                str(max(1, int(duration))),
                "--gil",
                "--rate",
                "200",
                "--output",
                str(Path(directory) / f"{scenario}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _children(self) -> list[int]:
        assert self.proc is not None
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(stat.parent.name))
        return out

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds each of the service's processes has used so far (all its threads)."""
        assert self.proc is not None
        out = {}
        for pid in (self.proc.pid, *self._children()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_process().values())

    async def settle(self, idle_cpu_s: float = 0.05, limit_s: float = 120.0) -> float:
        """Wait until the service's start-up work is done (its first look at the stored calls,
        the search index): until a second passes with under `idle_cpu_s` of its CPU. Returns
        the seconds waited. Scenarios then measure the service in steady state."""
        t0 = time.perf_counter()
        before = self.cpu_seconds()
        while time.perf_counter() - t0 < limit_s:
            await asyncio.sleep(1.0)
            now = self.cpu_seconds()
            if now - before < idle_cpu_s:
                break
            before = now
        return time.perf_counter() - t0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def server_errors(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if "ERROR" in line or "Traceback" in line]

    async def drop(self, keep: bool) -> None:
        if keep:
            print(f"kept: {self.tmpdir} {self.url}", file=sys.stderr)
            return
        if self.bench_database is not None:
            await _pg_admin(
                self.server_url, f'DROP DATABASE IF EXISTS "{self.bench_database}" WITH (FORCE)'
            )
        shutil.rmtree(self.tmpdir, ignore_errors=True)


async def _pg_admin(url: str | None, sql: str) -> None:
    assert url is not None
    admin = Database.from_url(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


# --- data ------------------------------------------------------------------------------------


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def ticket_bodies(seed: int = 7) -> Callable[[], dict[str, Any]]:
    """Realistic creation bodies: a routing-dev request, its details varied, a district and
    category the directory knows, a third dispatched straight to the expected unit."""
    units = json.loads(UNITS.read_text(encoding="utf-8"))
    active = {u["code"] for u in units}
    categories = {c for u in units for c in u.get("categories") or ()}
    districts = sorted({u["district"] for u in units if u.get("district")})
    requests = jsonl(ROUTING)
    rng = random.Random(seed)
    places = ("小区", "路口", "菜市场", "学校门口", "公交站", "家属院", "商业街")
    tails = (
        "",
        "，希望尽快处理。",
        "，已经反映过多次。",
        "，请相关部门核实。",
        "，影响周边居民生活。",
    )

    def body() -> dict[str, Any]:
        r = rng.choice(requests)
        district = r["district"] or (rng.choice(districts) if rng.random() < 0.3 else None)
        where = (
            f"{district or ''}{rng.choice('东西南北')}{rng.randint(1, 99)}号{rng.choice(places)}"
        )
        out: dict[str, Any] = {
            "content": f"{r['text'].rstrip('。')}，地点在{where}{rng.choice(tails)}",
            "type": r["type"],
            "district": district,
            "category": r["category"] if r["category"] in categories else None,
            "caller_name": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("先生", "女士")),
            "caller_phone": f"1{rng.choice('35789')}{rng.randint(0, 999_999_999):09d}",
            "urgency": "urgent" if r.get("urgent") else "normal",
        }
        if rng.random() < 1 / 3 and r["expected_unit"] in active:
            out["unit_code"] = r["expected_unit"]
        return out

    return body


async def seed_calls(url: str, count: int, hours: float = 48.0, seed: int = 11) -> None:
    """`count` finished queue calls entered over the last `hours`: 85 % answered, 10 %
    abandoned, 5 % timed out; 3 queues, 40 agents, some unanswered rings before the answer."""
    if count <= 0:
        return
    rng = random.Random(seed)
    now = time.time()
    queues = ("hotline", "hotline-en", "enterprise")
    agents = [f"坐席{i}" for i in range(1, 41)]
    db = Database.from_url(url)
    rows: list[dict[str, Any]] = []

    def ring(member: str, start: float, outcome: str, ring_ms: int) -> dict[str, Any]:
        return {
            "member_name": member,
            "interface": f"Local/{8000 + agents.index(member)}@agents/n",
            "dest_uniqueid": f"{start:.6f}",
            "start_ts": start,
            "end_ts": start + ring_ms / 1000,
            "outcome": outcome,
            "ring_ms": ring_ms,
        }

    try:
        for i in range(count):
            enter = now - hours * 3600 * (i + rng.random()) / count
            kind = rng.random()
            wait = int(rng.expovariate(1 / 12))
            attempts = []
            row: dict[str, Any] = {
                "uniqueid": f"{enter:.6f}-{i}",
                "source": "127.0.0.1:5038",
                "linkedid": "",
                "queue": rng.choices(queues, (8, 1, 2))[0],
                "caller": f"13{rng.randint(0, 10**9 - 1):09d}",
                "dialled": "12345",
                "enter_ts": enter,
                "enter_at": dt.datetime.fromtimestamp(enter, dt.timezone.utc),
                "resynced": False,
                "stored_at": dt.datetime.now(dt.timezone.utc),
            }
            if kind < 0.85:
                agent = rng.choice(agents)
                if rng.random() < 0.2:
                    attempts.append(ring(rng.choice(agents), enter + 1, "no_answer", 15000))
                ring_s = rng.randint(1, 20)
                attempts.append(ring(agent, enter + wait - ring_s, "answered", ring_s * 1000))
                talk = int(rng.expovariate(1 / 180))
                row.update(
                    outcome="answered",
                    agent=agent,
                    hold_s=wait,
                    ring_s=ring_s,
                    wait_s=wait,
                    connect_ts=enter + wait,
                    talk_s=talk,
                    end_ts=enter + wait + talk,
                    ended_by=rng.choice(("agent", "caller")),
                )
            elif kind < 0.95:
                row.update(outcome="abandoned", wait_s=wait, end_ts=enter + wait)
            else:
                row.update(
                    outcome="timed_out",
                    wait_s=wait + 60,
                    end_ts=enter + wait + 60,
                    exit_reason="timeout",
                )
            row["attempts"] = attempts
            rows.append(row)
            if len(rows) == 5000 or i == count - 1:
                async with db.write() as s:
                    await s.execute(insert(CallRow), rows)
                rows = []
    finally:
        await db.dispose()


# --- load ------------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    numbers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def result(self, scenario: str, db: str) -> dict[str, Any]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(1000 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1)

        return {
            "scenario": scenario,
            "db": db,
            "rps": round(len(lat) / self.seconds, 1) if self.seconds else None,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "errors": self.errors,
            "requests": len(lat),
            "statuses": dict(self.statuses),
        }


Request = Callable[[aiohttp.ClientSession, Tally], Awaitable[None]]


async def timed(tally: Tally, call: Awaitable[tuple[int, bytes]], ok: tuple[int, ...]) -> Any:
    """Times a request until its whole answer is received; parses it (client work) after."""
    started = time.perf_counter()
    try:
        status, body = await call
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        tally.latencies.append(time.perf_counter() - started)
        tally.errors += 1
        tally.statuses[type(exc).__name__] += 1
        return None
    tally.latencies.append(time.perf_counter() - started)
    tally.statuses[str(status)] += 1
    if status not in ok:
        tally.errors += 1
        return None
    return json.loads(body)


async def _json(resp_cm: Any) -> tuple[int, bytes]:
    async with resp_cm as resp:
        return resp.status, await resp.read()


async def drive(
    base: str, token: str, request: Request, duration: float, concurrency: int
) -> Tally:
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        base, headers=headers, timeout=timeout, connector=connector
    ) as http:
        deadline = time.perf_counter() + duration

        async def client() -> None:
            while time.perf_counter() < deadline:
                await request(http, tally)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        tally.seconds = time.perf_counter() - started
    return tally


async def burst(base: str, token: str, bodies: Callable[[], dict[str, Any]], n: int) -> Tally:
    """n creations in flight at once (one connection each)."""
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        base, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as http:
        payloads = [bodies() for _ in range(n)]
        gate = asyncio.Event()

        async def one(payload: dict[str, Any]) -> None:
            await gate.wait()
            body = await timed(tally, _json(http.post("/api/v1/tickets", json=payload)), (201,))
            if body is not None:
                tally.numbers.append(body["ticket"]["number"])

        tasks = [asyncio.create_task(one(p)) for p in payloads]
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        tally.seconds = time.perf_counter() - started
    return tally


async def stored_tickets(url: str, numbers: list[str]) -> int:
    db = Database.from_url(url)
    try:
        found = 0
        async with db.read() as s:
            for i in range(0, len(numbers), 500):
                found += (
                    await s.scalar(
                        select(func.count())
                        .select_from(Ticket)
                        .where(Ticket.number.in_(numbers[i : i + 500]))
                    )
                    or 0
                )
        return found
    finally:
        await db.dispose()


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    service = Service(args.database_url)
    service.cprofile = args.cprofile
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = []
    try:
        await service.create_database()
        tokens = await asyncio.to_thread(service.prepare)
        if "metrics" in scenarios:
            t0 = time.perf_counter()
            await seed_calls(service.url, args.calls)
            print(f"seeded {args.calls} calls in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        bodies = ticket_bodies()
        queries = [q["q"] for q in jsonl(QUERIES)]
        rng = random.Random(3)

        async def create(http: aiohttp.ClientSession, tally: Tally) -> None:
            body = await timed(tally, _json(http.post("/api/v1/tickets", json=bodies())), (201,))
            if body is not None:
                tally.numbers.append(body["ticket"]["number"])

        async def advice(http: aiohttp.ClientSession, tally: Tally) -> None:
            b = bodies()
            await timed(
                tally,
                _json(
                    http.post(
                        "/api/v1/tickets/advice",
                        json={
                            "text": b["content"],
                            "district": b["district"],
                            "category": b["category"],
                        },
                    )
                ),
                (200,),
            )

        async def kb_search(http: aiohttp.ClientSession, tally: Tally) -> None:
            await timed(
                tally,
                _json(http.get("/api/v1/kb/search", params={"q": rng.choice(queries)})),
                (200,),
            )

        async def call_metrics(http: aiohttp.ClientSession, tally: Tally) -> None:
            bucket = rng.choice(("15min", "hour", "day"))
            await timed(
                tally, _json(http.get("/api/v1/calls/metrics", params={"bucket": bucket})), (200,)
            )

        phases = [1] if args.workers == 1 else [1, args.workers]
        by_phase: dict[tuple[str, int], float] = {}
        for workers in phases:
            service.stop()
            await service.start(workers)
            waited = await service.settle()
            print(f"service settled {waited:.0f} s after start", file=sys.stderr)
            for scenario in scenarios:
                if scenario == "burst":
                    tally = await burst(service.base, tokens["agent"], bodies, args.burst)
                else:
                    request, role = {
                        "create": (create, "agent"),
                        "advice": (advice, "agent"),
                        "kb_search": (kb_search, "agent"),
                        "metrics": (call_metrics, "manager"),
                    }[scenario]
                    # A short warm-up: first requests build the process's caches.
                    await drive(service.base, tokens[role], request, min(2.0, args.duration), 4)
                    profiler = service.profile(args.profile, scenario, args.duration)
                    before = service.cpu_by_process()
                    tally = await drive(
                        service.base, tokens[role], request, args.duration, args.concurrency
                    )
                    after = service.cpu_by_process()
                    spent = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
                    cpu = sum(spent.values())
                    if profiler is not None:
                        await asyncio.to_thread(profiler.wait)
                result = {**tally.result(scenario, service.dialect), "workers": workers}
                if workers > 1 and scenario != "burst":
                    # How the kernel spread the load: CPU seconds per serving process.
                    result["cpu_s_per_worker"] = sorted(
                        (
                            round(v, 1)
                            for pid, v in spent.items()
                            if service.proc is None or pid != service.proc.pid
                        ),
                        reverse=True,
                    )
                if scenario != "burst" and tally.latencies:
                    result["server_cpu_ms_per_request"] = round(
                        1000 * cpu / len(tally.latencies), 2
                    )
                if scenario in ("create", "burst"):
                    result["created"] = len(tally.numbers)
                    result["distinct_numbers"] = len(set(tally.numbers))
                    result["found_in_db"] = await stored_tickets(service.url, tally.numbers)
                if scenario == "metrics":
                    result["stored_calls"] = args.calls
                print(json.dumps(result, ensure_ascii=False), flush=True)
                results.append(result)
                by_phase[scenario, workers] = result["rps"]
        for scenario in scenarios:
            if len(phases) > 1 and by_phase.get((scenario, 1)):
                speedup = {
                    "scenario": scenario,
                    "db": service.dialect,
                    "workers": args.workers,
                    "speedup": round(by_phase[scenario, args.workers] / by_phase[scenario, 1], 2),
                }
                print(json.dumps(speedup), flush=True)
    finally:
        service.stop()
        errors = service.server_errors()
        if errors:
            print(f"server log: {len(errors)} error lines, e.g.:", file=sys.stderr)
            for line in errors[:5]:
                print("  " + line[:300], file=sys.stderr)
        await service.drop(args.keep)
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to create a benchmark database on (default: a fresh "
        "SQLite file in a temporary directory)",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, of {', '.join(SCENARIOS)}",
    )
    p.add_argument("--duration", type=float, default=30.0, help="seconds per scenario")
    p.add_argument("--concurrency", type=int, default=20, help="concurrent clients")
    p.add_argument("--burst", type=int, default=500, help="creations in flight at once")
    p.add_argument(
        "--calls", type=int, default=100_000, help="call records stored before the metrics scenario"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also run each scenario against `hotline serve --workers N` (PostgreSQL) "
        "after the single process, and print the speedup",
    )
    p.add_argument("--keep", action="store_true", help="keep the data directory and database")
    p.add_argument(
        "--cprofile",
        metavar="FILE",
        default=None,
        help="run the service under cProfile (its main thread), stats written to FILE",
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        default=None,
        help="sample the server with py-spy during each scenario (DIR/SCENARIO.txt, "
        "collapsed stacks)",
    )
    args = p.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
