"""Follow-ups at scale (issue 16): pending follow-ups restored after a restart, and a burst fired
on time, by one or more `hotline run --role pump` processes on one database.

    PYTHONPATH=. .venv-test/bin/python benchmarks/followups.py --tickets 20000 --json
    PYTHONPATH=. .venv-test/bin/python benchmarks/followups.py --tickets 20000 --json \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test --instances 2

The database is fresh: a SQLite file in a temporary directory, or (with --database-url) a
database created on that server for the run and dropped after it. Setup, while no pump runs:
one ticket is created through TicketService (dispatched to a unit) and the others are inserted
in bulk as copies of it, each with its own deadlines and the follow-up rows the product's
planner (`dispatch.followups.plan`) gives for a dispatched ticket (签收超时, 催办, 督办: three
pending rows per ticket). Most fall due days later; `--backlog` tickets fell due during the
downtime (their acknowledgement deadline passed 1-10 minutes ago), and `--burst` tickets
(10,000) have their acknowledgement deadline at random moments of one minute that begins
`--lead` seconds after the restart (`--same-second`: all at its first second).

Then the restart: `--instances` processes `python -m hotline run --role pump` (the product's
worker, with its outbox courier; the policy as configured, e.g. the pump interval) start
together, and this process watches the notifications table (a poll every 50 ms) for what they
fire. Figures (JSON, one object):

* restore_s: from spawning the processes until every follow-up that fell due while they were
  down has fired (its notification committed): process start-up included.
* lateness_p99_s: 99th percentile over the burst of (seen committed - due).
* duplicates: follow-ups acted on more than once (notifications, ticket events or outbox
  messages naming the same follow-up, counted separately and added up).
* lost: follow-ups due by the end of the burst that did not fire (waited for up to
  `--grace` seconds after the burst's minute).

Details (counts, timings of setup, lateness of the claims) go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from dispatch.followups import plan  # noqa: E402
from dispatch.models import Followup, Notification, Ticket, TicketEvent  # noqa: E402
from dispatch.service import NewTicket, TicketService  # noqa: E402
from dispatch.tickets import Status, TicketType  # noqa: E402
from hotline.auth import Principal  # noqa: E402
from hotline.policy import Policy  # noqa: E402
from hotline.db import Database, upgrade  # noqa: E402
from hotline.directory.units import import_units  # noqa: E402
from hotline.models import Role  # noqa: E402
from hotline.outbox.models import OutboxMessage  # noqa: E402
from sla.calendar import WorkCalendar  # noqa: E402
from sla.deadlines import Deadlines  # noqa: E402

UNITS = ROOT.parent / "shared" / "units" / "units.json"
AGENT = Principal(1, "agent1", "agent1", Role.AGENT)
CHUNK = 5000


def note(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- the database --------------------------------------------------------------------------------


async def create_database(admin_url: str | None, work: Path) -> str:
    if admin_url is None:
        return f"sqlite+aiosqlite:///{work / 'hotline.db'}"
    name = f"hl_followups_{uuid.uuid4().hex[:8]}"
    admin = Database.from_url(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str | None, url: str) -> None:
    if admin_url is None:
        return
    admin = Database.from_url(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            name = make_url(url).database
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


# --- setup ---------------------------------------------------------------------------------------


async def template(db: Database) -> dict[str, Any]:
    """One ticket the product creates and dispatches; the bulk tickets are copies of its row."""
    await import_units(db, "bench", UNITS.read_text(encoding="utf-8"))
    service = TicketService(db, Policy())
    view = await service.create(
        AGENT,
        NewTicket(
            content="来电人反映公司拖欠三个月工资，多次讨要未果，要求劳动监察部门督促支付。",
            type=TicketType.COMPLAINT,
            category="劳动就业",
            district="金水区",
            caller_name="李四",
            caller_phone="13812345678",
            unit_code="ZZ-RSJ",
        ),
    )
    async with db.read() as s:
        row = (
            (await s.execute(select(Ticket.__table__).where(Ticket.id == view.ticket.id)))
            .mappings()
            .one()
        )
    assert row["status"] == Status.DISPATCHED.value
    return dict(row)


async def insert_tickets(
    db: Database,
    deadlines: Deadlines,
    base: dict[str, Any],
    first_id: int,
    acks: list[dt.datetime],
    work_days: int,
) -> None:
    """Tickets first_id.. with these acknowledgement deadlines (the unit's deadline `work_days`
    later), and the follow-up rows plan() gives each, in bulk."""
    now = utcnow()
    for start in range(0, len(acks), CHUNK):
        tickets, followups = [], []
        for n, ack in enumerate(acks[start : start + CHUNK], start=first_id + start):
            due = ack + dt.timedelta(days=work_days)
            tickets.append(
                base
                | {
                    "id": n,
                    "number": f"BENCH-{n:08d}",
                    "acknowledge_due": ack,
                    "due": due,
                    "idempotency_key": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            wanted = plan(deadlines, Status.DISPATCHED, ack, due, False, None)
            followups += [
                {"ticket_id": n, "kind": kind.value, "due_at": at, "created_at": now}
                for kind, at in wanted.items()
                if at is not None
            ]
        async with db.write() as s:
            await s.execute(insert(Ticket), tickets)
            await s.execute(insert(Followup), followups)


async def setup(db: Database, args: argparse.Namespace) -> tuple[dt.datetime, dt.datetime]:
    """Fills the database; returns the burst's minute (start, end) in real time."""
    base = await template(db)
    del base["id"]
    deadlines = Deadlines(WorkCalendar.default(), Policy())
    future = args.tickets - 1 - args.backlog - args.burst
    if future < 0:
        raise SystemExit("--tickets must exceed --backlog + --burst")
    rng = random.Random(16)
    t = time.monotonic()
    later = utcnow() + dt.timedelta(days=1)
    acks = [later + dt.timedelta(seconds=rng.uniform(0, 5 * 86400)) for _ in range(future)]
    await insert_tickets(db, deadlines, base, 2, acks, 7)
    # The restart follows right after these: backlog and burst are timed from here.
    now = utcnow()
    acks = [now - dt.timedelta(seconds=rng.uniform(60, 600)) for _ in range(args.backlog)]
    start = now + dt.timedelta(seconds=args.lead)
    if args.same_second:
        acks += [start + dt.timedelta(seconds=rng.uniform(0, 1)) for _ in range(args.burst)]
    else:
        acks += [start + dt.timedelta(seconds=rng.uniform(0, 60)) for _ in range(args.burst)]
    await insert_tickets(db, deadlines, base, 2 + future, acks, 7)
    if not db.is_sqlite:
        async with db.write() as s:
            await s.execute(text("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))"))
            await s.execute(text("ANALYZE"))
    async with db.read() as s:
        pending = await s.scalar(
            select(func.count()).select_from(Followup).where(Followup.done_at.is_(None))
        )
    note(
        f"setup: {args.tickets} tickets, {pending} pending follow-ups in {time.monotonic() - t:.1f} s"
    )
    return start, start + dt.timedelta(seconds=60)


# --- the instances and the watch -----------------------------------------------------------------


def spawn(url: str, work: Path, n: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    log = open(work / f"pump-{n}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "hotline", "run", "--role", "pump", "--no-upgrade"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def watch(
    db: Database, until: dt.datetime, due: dict[int, dt.datetime]
) -> dict[int, dt.datetime]:
    """When each follow-up's notification was first seen committed (polled every 50 ms), until
    every row of `due` has fired or `until` passed."""
    seen: dict[int, dt.datetime] = {}
    last = 0
    while True:
        async with db.read() as s:
            rows = (
                await s.execute(
                    select(Notification.id, Notification.followup_id)
                    .where(Notification.id > last)
                    .order_by(Notification.id)
                )
            ).all()
        at = utcnow()
        for row in rows:
            last = max(last, row.id)
            seen.setdefault(row.followup_id, at)
        if all(f in seen for f in due) or at > until:
            return seen
        await asyncio.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


async def duplicates(db: Database) -> int:
    async with db.read() as s:
        notes = collections.Counter(await s.scalars(select(Notification.followup_id)))
        events = collections.Counter(
            e["followup_id"]
            for e in await s.scalars(
                select(TicketEvent.detail).where(TicketEvent.actor == "system")
            )
            if e and "followup_id" in e
        )
        messages = collections.Counter(
            m["followup_id"] for m in await s.scalars(select(OutboxMessage.data))
        )
    return sum(c - 1 for counter in (notes, events, messages) for c in counter.values() if c > 1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hotline-followups-"))
    url = await create_database(args.database_url, work)
    db = Database.from_url(url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await upgrade(db)
        burst_start, burst_end = await setup(db, args)
        async with db.read() as s:
            due_rows = (
                await s.execute(
                    select(Followup.id, Followup.due_at).where(
                        Followup.done_at.is_(None), Followup.due_at < burst_end
                    )
                )
            ).all()
        backlog = {r.id: r.due_at for r in due_rows if r.due_at < burst_start}
        burst = {r.id: r.due_at for r in due_rows if r.due_at >= burst_start}
        note(f"due: {len(backlog)} fell due while down, {len(burst)} in the burst minute")
        started = utcnow()
        procs = [spawn(url, work, n) for n in range(args.instances)]
        seen = await watch(db, started + dt.timedelta(seconds=args.lead + 60), backlog)
        restored = max((seen[f] for f in backlog if f in seen), default=started)
        restore_s = (restored - started).total_seconds()
        note(
            f"restore: {restore_s:.2f} s; burst starts in {(burst_start - utcnow()).total_seconds():.1f} s"
        )
        due = backlog | burst
        seen = await watch(db, burst_end + dt.timedelta(seconds=args.grace), due)
        late = [(seen[f] - at).total_seconds() for f, at in burst.items() if f in seen]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        async with db.read() as s:
            claims = [
                (r.done_at - r.due_at).total_seconds()
                for r in await s.execute(
                    select(Followup.due_at, Followup.done_at).where(
                        Followup.id.in_(list(burst)), Followup.done_at.is_not(None)
                    )
                )
            ]
            fired = set(
                await s.scalars(
                    select(Notification.followup_id).where(Notification.followup_id.is_not(None))
                )
            )
        lost = sum(1 for f in due if f not in fired)
        note(
            f"burst lateness (seen committed): p50 {percentile(late, 0.5):.3f} s, "
            f"p99 {percentile(late, 0.99):.3f} s, max {max(late, default=float('nan')):.3f} s; "
            f"claimed (done_at - due): p99 {percentile(claims, 0.99):.3f} s"
        )
        result = {
            "tickets": args.tickets,
            "db": "sqlite" if db.is_sqlite else "postgresql",
            "instances": args.instances,
            "restore_s": round(restore_s, 3),
            "lateness_p99_s": round(percentile(late, 0.99), 3),
            "duplicates": await duplicates(db),
            "lost": lost,
        }
        return result
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        await db.dispose()
        await drop_database(args.database_url, url)
        note(f"instance logs in {work}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tickets", type=int, default=20000)
    p.add_argument("--database-url", help="PostgreSQL server (a database is created and dropped)")
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--backlog", type=int, default=1000, help="tickets whose follow-up fell due")
    p.add_argument("--burst", type=int, default=10000)
    p.add_argument("--lead", type=float, default=25.0, help="seconds from restart to the burst")
    p.add_argument("--grace", type=float, default=60.0)
    p.add_argument("--same-second", action="store_true")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
