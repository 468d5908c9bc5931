"""Past days' call history kept in the database (reports.daystore): a process that starts reads
them instead of folding the calls again, as long as nothing they were folded from changed;
a call of the day stored again, or another policy, makes it fold again. The calls are a shared
capture stored as the product stores them; the port is the product's, counted."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select, update

from calls.ami.offline import track_capture
from calls.models import CallRow
from calls.store import CallStore
from hotline.bootstrap import Services
from hotline.ports import CALL_HISTORY
from reports.daystore import decode, encode
from reports.models import CallDay
from reports.service import CallQuery, ReportService
from tests.calls.conftest import capture_dirs
from tests.reports.test_calls import days_of, stored_capture
from tests.reports.test_kb_share import on_spot
from tests.workorders.conftest import AGENT

BUSY = next(p for p in capture_dirs() if p.name == "busy")


class Counted:
    """The product's CallHistory port, counting the calls it reads."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self.read = 0

    async def calls_between(self, start: dt.datetime, end: dt.datetime) -> Any:
        calls = await self.port.calls_between(start, end)
        self.read += len(calls)
        return calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)


def figures(report: Any) -> list[tuple[Any, ...]]:
    h = report.history
    return [(b, k, dataclasses.astuple(c)) for b, k, c in h.rows()] + [
        ("total", dataclasses.astuple(h.total))
    ]


async def stored_an_hour_ago(services: Services) -> None:
    """The calls were stored long before anyone asks for their day's history (a fold trusts
    nothing stored within seconds of it: a batch may commit after its stamp)."""
    async with services.db.write() as s:
        an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        await s.execute(update(CallRow).values(stored_at=an_hour_ago))


async def stored_rows(services: Services) -> list[Any]:
    async with services.db.read() as s:
        return list((await s.execute(select(CallDay.day, CallDay.folded_at))).all())


async def test_a_starting_process_reads_past_days_and_folds_only_what_changed(
    services: Services, clock: Any
) -> None:
    from dispatch.wiring import TICKETS

    truth = await stored_capture(services, BUSY)
    await stored_an_hour_ago(services)
    first, last = days_of(truth)
    call = sorted(truth.connect_hold)[0]
    clock.now = dt.datetime.fromtimestamp(truth.enter[call] + 60, dt.timezone.utc)
    await services[TICKETS].create(AGENT, on_spot(call))
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=dt.timezone.utc)  # the days are past
    port = Counted(services[CALL_HISTORY])
    services[CALL_HISTORY] = port
    queries = [CallQuery(first, last, "day", by) for by in ("all", "queue", "agent", "entry")]

    folded = [await ReportService(services).calls(q) for q in queries]
    assert port.read == 4 * len(truth.enter)
    rows = await stored_rows(services)
    assert len(rows) == 4 * len(set(r.day for r in rows)) and rows

    # A new process (a restart, another worker): the same figures, no call read.
    port.read = 0
    again = [await ReportService(services).calls(q) for q in queries]
    assert port.read == 0
    assert [figures(r) for r in again] == [figures(r) for r in folded]
    assert again[0].history.total.on_spot == 1

    # A call of the day stored again (answered turned abandoned): its day is folded again.
    tracker, _ = await track_capture(BUSY)
    answered = next(r for r in tracker.all_records() if r.outcome == "answered")
    writer = CallStore(services.db, "pbx:5038")
    writer.on_record(
        dataclasses.replace(
            answered, outcome="abandoned", agent=None, hold_s=None, talk_s=None, connect_ts=None
        )
    )
    assert await writer.flush()
    after = await ReportService(services).calls(queries[0])
    assert port.read == len(truth.enter)
    assert after.history.total.answered == len(truth.connect_hold) - 1
    await stored_an_hour_ago(services)
    port.read = 0
    assert figures(await ReportService(services).calls(queries[0])) == figures(after)
    assert port.read == 0  # the new fold was stored in place of the stale one

    # Another policy counts differently: the stored folds are not used for it.
    other = dataclasses.replace(services.policy, service_level_seconds=30)
    changed = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, policy=other)
    )
    report = await ReportService(changed).calls(queries[0])
    assert port.read == len(truth.enter)
    within = sum(1 for c, h in truth.connect_hold.items() if h <= 30 and c != answered.uniqueid)
    assert report.history.total.tally.answered_within_sl == within


async def test_encoding_keeps_every_figure(services: Services, clock: Any) -> None:
    truth = await stored_capture(services, BUSY)
    first, last = days_of(truth)
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=dt.timezone.utc)
    reports = ReportService(services)
    for by in ("all", "queue", "agent", "entry"):
        await reports.calls(CallQuery(first, last, "hour", by))
        day = dt.date.fromisoformat(first)
        part = reports.days._days[(day, by, None, None)]
        back = decode(encode(part), day, by, reports.tz)
        assert back.cells == part.cells and back.totals == part.totals
        assert back.total == part.total and back.keys == part.keys
        assert back.buckets == part.buckets
