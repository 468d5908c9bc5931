"""知识库当场解答占比 in the call history and the monthly report: work orders taken on the calls
of a shared capture (stored as the product stores them), some answered on the spot from the
knowledge base, one from the web, one recorded after midnight for a call of the evening before.
Who answered each call comes from Asterisk's own queue_log, not from the product."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from dispatch.tickets import Source, TicketType
from dispatch.views import NewTicket
from dispatch.wiring import TICKETS
from hotline.bootstrap import Services
from hotline.localtime import SHANGHAI
from reports.monthly import monthly_report
from reports.periods import month_of
from reports.service import CallQuery
from reports.tables import call_header, call_rows
from reports.wiring import REPORTS
from tests.calls.conftest import capture_dirs
from tests.reports.test_calls import days_of, stored_capture
from tests.workorders.conftest import AGENT, wages_ticket


def on_spot(call_id: str | None, source: Source = Source.PHONE) -> NewTicket:
    return NewTicket(
        content="来电人咨询公积金提取需要哪些材料，已按知识库条目当场答复。",
        type=TicketType.CONSULT,
        category="住房保障",
        district="金水区",
        call_id=call_id,
        source=source,
        answered_on_spot=True,
        kb_article_id="kb-gjj-001",
    )


async def test_kb_share_per_period_key_filter_and_month(services: Services, clock: Any) -> None:
    folder = next(p for p in capture_dirs() if p.name == "busy")
    truth = await stored_capture(services, folder)
    first, last = days_of(truth)
    answered = sorted(truth.connect_hold, key=lambda c: truth.enter[c])
    assert len(answered) >= 4, "the busy capture answers at least four calls"
    tickets = services[TICKETS]

    async def at(second: float, new: NewTicket) -> None:
        clock.now = dt.datetime.fromtimestamp(second, dt.timezone.utc)
        await tickets.create(AGENT, new)

    # Two answered on the spot and two dispatched, each a minute after its call entered.
    for n, call in enumerate(answered[:4]):
        new = on_spot(call) if n < 2 else wages_ticket(call_id=call)
        await at(truth.enter[call] + 60, new)
    # From the web, answered on the spot: no call behind it.
    await at(truth.enter[answered[0]] + 120, on_spot(None, Source.WEB))
    # Recorded just after the local midnight following the last answered call.
    evening = answered[-1]
    day_after = dt.datetime.fromtimestamp(truth.enter[evening], SHANGHAI).date()
    midnight = dt.datetime.combine(day_after + dt.timedelta(days=1), dt.time(), SHANGHAI)
    await at(midnight.timestamp() + 30, on_spot(evening))
    next_day = (day_after + dt.timedelta(days=1)).isoformat()

    reports = services[REPORTS]
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=dt.timezone.utc)  # the capture's days are past

    whole = await reports.calls(CallQuery(first, last, "day", "all"))
    t = whole.history.total
    assert (t.recorded, t.on_spot, t.kb_share) == (5, 3, 0.6)
    # The same figures when the days come from the cache, and folded by 15 minutes.
    assert (first_day := dt.date.fromisoformat(first), "all", None, None) in reports.days._days
    again = (await reports.calls(CallQuery(first, last, "month", "all"))).history.total
    assert (again.recorded, again.on_spot) == (5, 3), first_day
    quarter = (await reports.calls(CallQuery(first, last, "15min", "all"))).history
    assert (quarter.total.recorded, quarter.total.on_spot) == (5, 3)
    assert sum(c.recorded for c in quarter.cells.values()) == 5
    # With the day after: the ticket of the midnight counts there, in the whole range's total.
    longer = (await reports.calls(CallQuery(first, next_day, "day", "all"))).history
    assert (longer.total.recorded, longer.total.on_spot) == (6, 4)

    # Per agent: the work orders of the calls each answered (queue_log's CONNECT agent).
    want = Counter(truth.agent_of[c] for c in answered[:4])
    by_agent = (await reports.calls(CallQuery(first, next_day, "day", "agent"))).history
    assert {k: c.recorded for k, c in by_agent.totals.items() if c.recorded} == dict(want)
    spot_agent = truth.agent_of[answered[0]]
    assert by_agent.totals[spot_agent].on_spot == sum(
        1 for c in answered[:2] if truth.agent_of[c] == spot_agent
    )
    # Per queue: only work orders taken on a call of the same day; the total has them all.
    by_queue = (await reports.calls(CallQuery(first, next_day, "day", "queue"))).history
    assert sum(c.recorded for c in by_queue.totals.values()) == 4
    assert by_queue.total.recorded == 6
    # ... whatever the grouping: by 15 minutes the days are not folded one at a time.
    fine = (await reports.calls(CallQuery(first, next_day, "15min", "queue"))).history
    assert sum(c.recorded for c in fine.totals.values()) == 4
    # Under a filter, the work orders of the calls that pass it.
    queue = next(k for k, c in by_queue.totals.items() if c.recorded)
    only = (await reports.calls(CallQuery(first, last, "day", "all", queue=queue))).history
    assert only.total.recorded == by_queue.totals[queue].recorded
    mine = await reports.calls(CallQuery(first, last, "day", "all", agent=spot_agent))
    assert mine.history.total.recorded == want[spot_agent]

    # The table (page, CSV, API) carries the figures; rates as 0..1.
    header = call_header(whole)
    total_row = dict(
        zip(header, next(r for r in call_rows(whole, services.policy) if r[0] == "合计"))
    )
    assert (total_row["受理工单"], total_row["当场解答"]) == (5, 3)
    assert total_row["知识库当场解答占比"] == 0.6

    # The monthly report reads the same history.
    y, m = (int(x) for x in first.split("-")[:2])
    monthly = await monthly_report(reports, month_of(y, m, SHANGHAI))
    assert monthly.sections[0].rows
    overview = {r[0]: r[1] for r in monthly.sections[0].rows}
    period = month_of(y, m, SHANGHAI)
    month_last = (period.end - dt.timedelta(days=1)).date().isoformat()
    month = (await reports.calls(CallQuery(f"{y}-{m:02d}-01", month_last, "month", "all"))).history
    assert overview["知识库当场解答占比"] == month.total.kb_share
    assert overview["受理工单"] == month.total.recorded


async def test_a_month_without_tickets_has_no_share(services: Services) -> None:
    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    first, last = days_of(truth)
    t = (await services[REPORTS].calls(CallQuery(first, last, "day", "all"))).history.total
    assert (t.recorded, t.on_spot, t.kb_share) == (0, 0, None)
    assert t.offered == len(truth.enter)
