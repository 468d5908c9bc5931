"""The unit ranking's stored rollup (reports/unitrollup.py) gives exactly the figures of the
reference fold over every ticket (reports.accountability.ranking over the TicketRecords port):
on generated tickets taken through the real TicketService (returns and redispatches, late and
timely signatures and replies, extensions approved and refused, returns sent back, call backs,
reopenings, merges), for several months, a date range and several moments of asking; after
changes of tickets in an old month (queued by the triggers); after a unit's term changed (a
rebuild); and rebuilt from scratch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any, Awaitable, Callable

import pytest
from sqlalchemy import func, select, text

from dispatch.tickets import Resolution, Satisfaction, TicketType, Urgency
from dispatch.wiring import TICKETS
from hotline.auth import Principal
from hotline.bootstrap import Services
from hotline.errors import DomainError
from hotline.models import Role
from hotline.ports import TICKET_RECORDS
from reports import accountability
from reports.models import UnitAssignmentFacts, UnitRollupQueue, UnitRollupState
from reports.periods import Period, month_of
from reports.wiring import REPORTS
from tests.conftest import PG_URL
from tests.workorders.conftest import AGENT, MANAGER, Clock, wages_ticket

TZ = dt.timezone(dt.timedelta(hours=8))
UTC = dt.timezone.utc
UNITS = ("ZZ-RSJ", "ZZ-GJJ", "ZZ-CGJ", "ZZ-ZLS")
OCTOBER, NOVEMBER, DECEMBER = (month_of(2026, m, TZ) for m in (10, 11, 12))
# 15-28 November, local days: not a whole month, so the facts are summed by time.
FORTNIGHT = Period(
    dt.datetime(2026, 11, 15, tzinfo=TZ), dt.datetime(2026, 11, 29, tzinfo=TZ), "15-28 Nov"
)


def handler(unit: str) -> Principal:
    return Principal(100 + UNITS.index(unit), unit.lower(), unit.lower(), Role.UNIT_HANDLER, unit)


async def attempt(work: Callable[[], Awaitable[Any]]) -> bool:
    """A step the lifecycle may refuse in the state the story reached (then skipped)."""
    try:
        await work()
    except DomainError:
        return False
    return True


async def stories(
    services: Services, clock: Clock, rng: random.Random, n: int, start: dt.datetime, days: float
) -> list[str]:
    tickets = services[TICKETS]
    numbers: list[str] = []
    for _ in range(n):
        clock.now = start + dt.timedelta(days=rng.random() * days)
        unit = rng.choice(UNITS)
        new = wages_ticket(
            unit_code=unit,
            type=rng.choice([TicketType.COMPLAINT, TicketType.CONSULT, TicketType.HELP]),
            urgency=Urgency.URGENT if rng.random() < 0.1 else Urgency.NORMAL,
        )
        number = (await tickets.create(AGENT, new)).ticket.number
        numbers.append(number)
        if rng.random() < 0.15:
            clock.advance(hours=rng.uniform(0.2, 3))
            await attempt(lambda: tickets.return_ticket(handler(unit), number, "不属于本单位"))
            clock.advance(hours=1)
            if rng.random() < 0.4:  # 驳回退单: back to the same unit, a new signing deadline
                await attempt(lambda: tickets.send_back(MANAGER, number, "属于本单位职责"))
            else:
                unit = rng.choice([u for u in UNITS if u != unit])
                await attempt(lambda: tickets.redispatch(MANAGER, number, unit))
        if rng.random() < 0.06 and len(numbers) > 1:  # merged before anyone signed
            clock.advance(hours=rng.uniform(0.5, 4))
            await attempt(lambda: tickets.merge(MANAGER, number, rng.choice(numbers[:-1])))
            continue
        if rng.random() < 0.85:
            clock.advance(hours=rng.uniform(0.1, 8))
            await attempt(lambda: tickets.sign(handler(unit), number))
            if rng.random() < 0.2:
                due = (await tickets.get(MANAGER, number)).ticket.due or clock.now
                await attempt(
                    lambda: tickets.request_extension(
                        handler(unit), number, due + dt.timedelta(days=5), "需现场核查"
                    )
                )
                clock.advance(hours=2)
                if rng.random() < 0.7:
                    await attempt(lambda: tickets.approve_extension(MANAGER, number))
                else:
                    await attempt(lambda: tickets.refuse_extension(MANAGER, number))
        if rng.random() < 0.7:
            clock.advance(hours=rng.uniform(1, 240))
            await attempt(lambda: tickets.reply(handler(unit), number, "已处理"))
            if rng.random() < 0.8:
                clock.advance(hours=rng.uniform(1, 48))
                await attempt(
                    lambda: tickets.callback(
                        AGENT, number, rng.choice(list(Resolution)), rng.choice(list(Satisfaction))
                    )
                )
                if rng.random() < 0.3:
                    clock.advance(hours=5)
                    unit = rng.choice(UNITS)
                    await attempt(lambda: tickets.reopen(MANAGER, number, unit_code=unit))
        elif rng.random() < 0.2 and len(numbers) > 1:
            clock.advance(hours=1)
            await attempt(lambda: tickets.merge(MANAGER, number, rng.choice(numbers[:-1])))
    return numbers


async def reference(services: Services, period: Period) -> list[accountability.UnitRow]:
    """The figures as the ranking was computed before the rollup: every record folded."""
    reports = services[REPORTS]
    records = await services[TICKET_RECORDS].assigned_between(period.start, period.end)
    return accountability.ranking(
        records,
        period.start,
        period.end,
        services.clock(),
        services.policy.score_weights,
        await reports.unit_names(),
    )


async def fast(services: Services, period: Period) -> list[accountability.UnitRow]:
    reports = services[REPORTS]
    if period is FORTNIGHT:  # pages ask for months; the rollup also sums any range exactly
        tallies = await reports.unit_rollup.tallies(
            services[TICKET_RECORDS],
            services.policy,
            period.start,
            period.end,
            services.clock(),
        )
        return accountability.rank(
            tallies, services.policy.score_weights, await reports.unit_names()
        )
    return (await reports.units(period)).rows


MOMENTS = (
    dt.datetime(2026, 11, 10, 4, tzinfo=UTC),
    dt.datetime(2026, 11, 26, 9, tzinfo=UTC),
    dt.datetime(2026, 12, 20, 2, tzinfo=UTC),
    dt.datetime(2027, 3, 1, tzinfo=UTC),
)


async def assert_equal_everywhere(services: Services, clock: Clock) -> dict[str, Any]:
    seen = {}
    for moment in MOMENTS:
        clock.now = moment
        for period in (OCTOBER, NOVEMBER, DECEMBER, FORTNIGHT):
            expected = await reference(services, period)
            assert await fast(services, period) == expected, (period.label, moment)
            seen[(period.label, moment)] = expected
    assert any(rows for rows in seen.values())
    return seen


async def count(services: Services, table: Any) -> int:
    async with services.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_rollup_equals_the_fold_over_every_ticket(services: Services, clock: Clock):
    rng = random.Random(15)
    start = dt.datetime(2026, 10, 20, tzinfo=TZ)
    # Tickets before the rollup exists: nothing is queued; the first ranking builds it.
    await stories(services, clock, rng, 40, start, 40)
    assert await count(services, UnitRollupQueue) == 0
    before = await assert_equal_everywhere(services, clock)
    assert await count(services, UnitAssignmentFacts) >= 40
    # The figures vary with the moment of asking: deadlines pass.
    assert before[("2026年11月", MOMENTS[1])] != before[("2026年11月", MOMENTS[3])]

    # Changes through the service once it is built are queued by the triggers and folded at
    # the next read, in whichever month their assignments were made.
    october = await stories(services, clock, rng, 30, start, 40)
    assert await count(services, UnitRollupQueue) > 0
    await assert_equal_everywhere(services, clock)
    assert await count(services, UnitRollupQueue) == 0

    # An October ticket answered in December changes October's figures.
    tickets = services[TICKETS]
    clock.now = dt.datetime(2026, 10, 12, 2, tzinfo=UTC)
    late = (await tickets.create(AGENT, wages_ticket(unit_code="ZZ-ZLS"))).ticket.number
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=UTC)
    was = await fast(services, OCTOBER)
    await tickets.sign(handler("ZZ-ZLS"), late)
    await tickets.reply(handler("ZZ-ZLS"), late, "已处理")
    await tickets.callback(AGENT, late, Resolution.RESOLVED, Satisfaction.SATISFIED)
    now = await fast(services, OCTOBER)
    assert now != was and now == await reference(services, OCTOBER)
    zls = {r.unit: r.tally for r in now}["ZZ-ZLS"]
    assert zls.callbacks == {r.unit: r.tally for r in was}["ZZ-ZLS"].callbacks + 1
    assert october  # (the second batch also reached back into October)

    # A unit's term is how the deadlines of earlier assignments are worked out again: its
    # change drops the rollup, and the next read rebuilds it.
    async with services.db.write() as s:
        await s.execute(
            text("UPDATE units SET default_deadline_workdays = 2 WHERE code = 'ZZ-RSJ'")
        )
    assert await count(services, UnitRollupState) == 0
    await assert_equal_everywhere(services, clock)
    assert await count(services, UnitRollupState) == 1

    stored = await services[REPORTS].rebuild_units()
    assert stored == await count(services, UnitAssignmentFacts)
    await assert_equal_everywhere(services, clock)


async def test_another_deadline_policy_rebuilds(services: Services, clock: Clock):
    rng = random.Random(16)
    await stories(services, clock, rng, 12, dt.datetime(2026, 11, 2, tzinfo=TZ), 25)
    clock.now = MOMENTS[2]
    first = await fast(services, NOVEMBER)
    async with services.db.read() as s:
        fingerprint = (await s.get(UnitRollupState, 1)).fingerprint
    services.settings = services.settings.replace(
        policy=dataclasses.replace(services.policy, acknowledge_hours=4)
    )
    assert await fast(services, NOVEMBER) == await reference(services, NOVEMBER)
    async with services.db.read() as s:
        assert (await s.get(UnitRollupState, 1)).fingerprint != fingerprint
    assert first


def test_hotline_report_rebuild_units(tmp_path: Any, monkeypatch: Any, capsys: Any):
    import asyncio

    from hotline.bootstrap import build
    from hotline.cli import main
    from hotline.config import Settings
    from hotline.db import Database
    from hotline.directory.units import import_units
    from tests.conftest import shared_path

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    assert main(["report", "rebuild-units"]) == 0
    assert "unit ranking rebuilt: 0 assignments" in capsys.readouterr().out

    async def two_tickets() -> None:
        db = Database.from_url(url)
        units = shared_path("units", "units.json").read_text(encoding="utf-8")
        await import_units(db, "test", units)
        services = await build(Settings(data_dir=tmp_path / "var", database_url=url), db=db)
        try:
            for unit in ("ZZ-RSJ", "ZZ-GJJ"):
                await services[TICKETS].create(AGENT, wages_ticket(unit_code=unit))
        finally:
            await services.close()
            await db.dispose()

    asyncio.run(two_tickets())
    assert main(["report", "rebuild-units"]) == 0
    assert "unit ranking rebuilt: 2 assignments" in capsys.readouterr().out


@pytest.mark.skipif(
    not PG_URL, reason="SQLite: the fold holds the write lock, no change commits during it"
)
async def test_a_change_committed_during_a_fold_stays_queued(
    services: Services, clock: Clock, monkeypatch: Any
):
    tickets = services[TICKETS]
    clock.now = dt.datetime(2026, 11, 23, 2, tzinfo=UTC)
    assert await fast(services, NOVEMBER) == []  # built, empty
    number = (await tickets.create(AGENT, wages_ticket(unit_code="ZZ-RSJ"))).ticket.number
    port = services[TICKET_RECORDS]
    read = port.records_of

    async def then_signed(numbers: Any) -> Any:
        stale = await read(numbers)
        monkeypatch.setattr(port, "records_of", read)
        asked = clock.now
        clock.now = dt.datetime(2026, 11, 23, 2, 30, tzinfo=UTC)  # signed in time
        await tickets.sign(handler("ZZ-RSJ"), number)  # commits while the fold runs
        clock.now = asked
        return stale

    monkeypatch.setattr(port, "records_of", then_signed)
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=UTC)
    rows = await fast(services, NOVEMBER)
    assert rows == await reference(services, NOVEMBER)
    assert (rows[0].tally.sign_judged, rows[0].tally.signed_on_time) == (1, 1)
