"""排班建议: Erlang C and Erlang A checked against published figures and against the queue's
birth-and-death chain summed directly, the patience estimate, and the advice for the busy
capture's half hour a week later, next to the agents who answered then."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from hotline.bootstrap import Services
from hotline.localtime import SHANGHAI
from reports import formats
from reports.staffing import (
    abandon_rate,
    advise,
    agents_needed,
    erlang_a,
    erlang_c,
    patience,
    service_level,
)
from reports.wiring import REPORTS
from tests.calls.conftest import capture_dirs
from tests.conftest import login
from sla.metrics import ABANDONED, ANSWERED, TIMED_OUT
from tests.reports.test_calls import stored_capture


def test_erlang_c_against_published_figures():
    # A textbook M/M/10 queue: 120 customers an hour, 3 minutes each (6 Erlangs): "from the
    # Erlang C curve, the probability of waiting is about 0.10".
    assert erlang_c(10, 6.0) == pytest.approx(0.10, abs=0.005)
    # A call centre's "average hour": 250 calls of 330 s, 80 % answered within 30 s: Erlang
    # says 28 advisors, where the accountant's 22.9 would do.
    assert agents_needed(250, 330, 3600, 0.80, 30) == 28
    erlangs = 250 * 330 / 3600
    assert service_level(27, erlangs, 330, 30) < 0.80 <= service_level(28, erlangs, 330, 30)
    # The limits: no traffic needs nobody; agents who cannot keep up always make callers wait.
    assert erlang_c(3, 0.0) == 0.0 and erlang_c(5, 5.0) == 1.0
    assert agents_needed(0, 300, 1800, 0.8, 15) == 0


def test_erlang_a_against_published_figures():
    """pyworkforce's Erlang A guide (https://pyworkforce.rodrigo-arenas.com/stable/guide/erlanga,
    "Basic usage"): 100 calls in 30 minutes, 3 minutes each, callers' mean patience 5 minutes,
    80 % within 20 s: 13 raw positions, service level 0.858..., abandonment probability
    0.025..., waiting probability 0.226..., average speed of answer 0.125... minutes. pyworkforce
    sums the birth-and-death chain; here the incomplete-gamma formulas give the same."""
    erlangs = 100 * 180 / 1800
    got = erlang_a(13, erlangs, 180, 300, 20)
    # The guide prints three decimals and "...".
    assert round(got.service_level, 3) == 0.858
    assert round(got.abandons, 3) == 0.025
    assert round(got.waits, 3) == 0.226
    # The mean wait of all callers is P(Ab) times the mean patience (Little's law on the queue).
    assert round(got.abandons * 300 / 60, 3) == 0.125
    # 13 is the fewest: 12 positions keep the guide's other limits (occupancy 85 %, abandons
    # 5 %), so it is 80 % within 20 s they miss.
    twelve = erlang_a(12, erlangs, 180, 300, 20)
    assert twelve.abandons < 0.05 and erlangs * (1 - twelve.abandons) / 12 < 0.85
    assert twelve.service_level < 0.80 <= got.service_level


def _chain(agents: int, erlangs: float, handle_s: float, patience_s: float) -> tuple[float, float]:
    """P(W > 0) and P(Ab) from the stationary distribution of the M/M/N+M chain, summed state by
    state (birth λ, death min(k, N)μ + max(k - N, 0)θ) until the terms vanish; P(Ab) = θE[Q]/λ."""
    lam, mu, theta = erlangs / handle_s, 1 / handle_s, 1 / patience_s
    p, total, waiting, queue, k = 1.0, 1.0, 0.0, 0.0, 0
    while k < agents or p > 1e-300 * total:
        k += 1
        p *= lam / (min(k, agents) * mu + max(k - agents, 0) * theta)
        total += p
        waiting += p if k >= agents else 0
        queue += (k - agents) * p if k > agents else 0
    return waiting / total, theta * (queue / total) / lam


@pytest.mark.parametrize(
    "agents, erlangs, handle_s, patience_s",
    [
        (13, 10.0, 180, 300),  # the published example above
        (50, 48.0, 60, 120),  # Mandelbaum & Zeltyn's illustration: 48 calls a minute on 50
        (40, 48.0, 60, 120),  # the same centre short of agents (the continued fraction's side)
        (5, 10.0, 300, 60),  # twice overloaded, impatient callers
        (3, 0.5, 300, 30),  # a quiet night
        (1, 0.9, 240, 600),
        (200, 180.0, 300, 90),
    ],
)
def test_erlang_a_equals_its_chain(agents, erlangs, handle_s, patience_s):
    got = erlang_a(agents, erlangs, handle_s, patience_s, 15)
    waits, abandons = _chain(agents, erlangs, handle_s, patience_s)
    assert got.waits == pytest.approx(waits, rel=1e-9)
    assert got.abandons == pytest.approx(abandons, rel=1e-9, abs=1e-15)
    # Answered within 0 s are exactly the callers who did not wait.
    assert erlang_a(agents, erlangs, handle_s, patience_s, 0).service_level == pytest.approx(
        1 - waits, abs=1e-12
    )
    # Given time without end, everyone not abandoning is answered.
    forever = erlang_a(agents, erlangs, handle_s, patience_s, 1e9).service_level
    assert forever == pytest.approx(1 - abandons, abs=1e-12)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    # 6 Erlangs on 10 agents, 180 s calls, 20 s: callers who never give up are Erlang C's.
    c_waits, c_level = erlang_c(10, 6.0), service_level(10, 6.0, 180, 20)
    for patience_s, tolerance in ((1e5, 1e-3), (1e7, 1e-5), (1e9, 1e-7)):
        got = erlang_a(10, 6.0, 180, patience_s, 20)
        assert got.waits == pytest.approx(c_waits, abs=tolerance)
        assert got.service_level == pytest.approx(c_level, abs=tolerance)
        assert got.abandons < tolerance
    assert erlang_a(10, 6.0, 180, None, 20).waits == c_waits
    # Patient callers of an overloaded centre: nearly all wait, the excess hangs up.
    slow = erlang_a(40, 48.0, 60, 1e6, 20)
    assert slow.waits == pytest.approx(1, abs=1e-6)
    assert slow.abandons == pytest.approx(1 - 40 / 48, abs=1e-4)


def test_erlang_a_invariants():
    for erlangs, handle_s, patience_s in ((10.0, 180, 300), (48.0, 60, 120), (2.0, 400, 20)):
        previous = erlang_a(0, erlangs, handle_s, patience_s, 15)
        assert previous.abandons == 1 and previous.service_level == 0
        for agents in range(1, 80):
            got = erlang_a(agents, erlangs, handle_s, patience_s, 15)
            assert 0 <= got.abandons <= got.waits <= 1
            assert 0 <= got.service_level <= 1 - got.abandons + 1e-12
            assert got.abandons <= previous.abandons and got.waits <= previous.waits
            assert got.service_level >= previous.service_level - 1e-12
            previous = got
        assert previous.abandons < 1e-6  # agents to spare
    # Less patient callers hang up more often.
    rates = [erlang_a(12, 10.0, 180, p, 15).abandons for p in (10, 60, 300, 3600)]
    assert rates == sorted(rates, reverse=True)
    # No traffic, nobody waits; a fractional mean of agents lies between its neighbours.
    assert erlang_a(5, 0.0, 180, 60, 15).abandons == 0
    low, high = abandon_rate(11, 10.0, 180, 300), abandon_rate(12, 10.0, 180, 300)
    assert abandon_rate(11.25, 10.0, 180, 300) == pytest.approx(low + (high - low) / 4)
    # Callers with no patience at all are Erlang B's lost calls (Erlang B tables: 6 Erlangs on
    # 10 lines lose 4.31 %), and a patience of a millisecond is next to it.
    assert erlang_a(10, 6.0, 180, 0, 15).abandons == pytest.approx(0.0431, abs=5e-5)
    assert erlang_a(10, 6.0, 180, 0.001, 15).abandons == pytest.approx(0.0431, abs=5e-5)
    # So many idle agents that Erlang B underflows.
    assert erlang_a(2000, 0.01, 180, 60, 15).abandons == 0


def test_patience_is_waits_over_abandons():
    # Exponential patience, censored by answers: θ̂ = abandons / Σ waits of every caller.
    assert patience(4, 200) == 50
    assert patience(0, 200) is None
    assert patience(3, 0) == 1.0  # whole seconds: under one second counts as one


@dataclass(frozen=True)
class _Call:
    enter_ts: float
    outcome: str
    wait_s: int | None
    hold_s: int | None = None
    talk_s: int | None = None
    agent: str | None = None
    queue: str = "hotline"
    in_progress: bool = False
    attempts: tuple[()] = ()
    dialled: str = "12345"
    ended_by: str | None = None
    uniqueid: str = ""


def test_advice_with_patience_observed():
    day = dt.date(2026, 12, 3)
    nine = dt.datetime.combine(day - dt.timedelta(weeks=1), dt.time(9, 5), SHANGHAI).timestamp()
    ten = nine + 3600
    calls = [
        *(
            _Call(nine + i, ANSWERED, 10 * i, 10 * i, 240, f"a{i % 2}", ended_by="caller")
            for i in range(6)
        ),  # waits 0 + 10 + ... + 50 = 150 s
        _Call(nine + 10, ABANDONED, 30),
        _Call(nine + 20, ABANDONED, 70),
        _Call(nine + 30, TIMED_OUT, 50),  # patient for 50 s at least
        _Call(nine + 40, ANSWERED, None, None, None, "a0", in_progress=True),
        _Call(ten, ANSWERED, 5, 5, 200, "a1"),
    ]
    nine_slot, ten_slot = advise(calls, day, 1, SHANGHAI, 0.8, 15)
    assert nine_slot.start == dt.time(9, 0) and ten_slot.start == dt.time(10, 0)
    assert nine_slot.patience_s == (150 + 30 + 70 + 50) / 2
    assert nine_slot.observed_abandon == round(2 / 10, 4)
    erlangs = 10 * 240 / 1800
    assert nine_slot.abandon_needed == round(
        erlang_a(nine_slot.needed, erlangs, 240, 150, 15).abandons, 4
    )
    assert nine_slot.answering == 2
    assert nine_slot.abandon_answering == round(erlang_a(2, erlangs, 240, 150, 15).abandons, 4)
    assert nine_slot.abandon_answering > nine_slot.abandon_needed  # 2 agents are one short
    # No abandon at ten: the day's callers give its patience, (150 + 30 + 70 + 50 + 5) / 2.
    assert ten_slot.patience_s == 152.5 and ten_slot.observed_abandon == 0
    (only,) = advise([calls[-1]], day, 1, SHANGHAI, 0.8, 15)
    assert (
        only.patience_s is None and only.abandon_needed is None and only.abandon_answering is None
    )


async def test_advice_from_the_same_weekday(services: Services):
    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    first = min(truth.enter.values())
    day = dt.datetime.fromtimestamp(first, SHANGHAI).date() + dt.timedelta(weeks=1)
    got_day, slots = await services[REPORTS].staffing(day.isoformat(), 1)
    assert got_day == day
    assert [s.start for s in slots] == [dt.time(4, 0)]
    slot = slots[0]
    assert slot.calls == len(truth.enter)
    completed = [truth.talk[c] for c in truth.talk]
    assert slot.handle_s == pytest.approx(sum(completed) / len(completed), abs=0.05)
    assert slot.answering == len(set(truth.agent_of.values()))
    erlangs = slot.calls * slot.handle_s / 1800
    assert service_level(slot.needed - 1, erlangs, slot.handle_s, 15) < 0.8 <= slot.expected_sl
    # Patience and abandons from the queue_log: every call's waittime (CONNECT's holdtime, the
    # last field of ABANDON and the EXIT lines) over the ABANDON lines.
    busy = next(p for p in capture_dirs() if p.name == "busy")
    waited = 0
    for line in (busy / "queue_log").read_text(encoding="utf-8").splitlines():
        event, *data = line.split("|")[4:]
        if event == "CONNECT":
            waited += int(data[0])
        elif event in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"):
            waited += int(data[-1])
    assert truth.abandoned
    assert slot.observed_abandon == round(len(truth.abandoned) / len(truth.enter), 4)
    assert slot.patience_s == round(waited / len(truth.abandoned), 1)
    assert slot.abandon_answering == round(
        abandon_rate(slot.answering, erlangs, slot.handle_s, waited / len(truth.abandoned)), 4
    )
    _, none = await services[REPORTS].staffing(day.isoformat(), 2)
    assert none[0].calls == len(truth.enter) / 2  # the week before has no calls


async def test_staffing_page(services: Services, app_client: Any):
    await login(app_client, "boss")
    page = await app_client.get("/reports/staffing?date=2026-12-03&weeks=4")
    assert page.status == 200 and "排班建议 · 2026-12-03（星期四）" in await page.text()
    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    first = dt.datetime.fromtimestamp(min(truth.enter.values()), SHANGHAI).date()
    day = (first + dt.timedelta(weeks=1)).isoformat()
    _, (slot,) = await services[REPORTS].staffing(day, 1)
    html = await (await app_client.get(f"/reports/staffing?date={day}&weeks=1")).text()
    for heading in (
        "平均耐心时长",
        "预计放弃率（所需坐席）",
        "预计放弃率（历史坐席）",
        "实际放弃率",
    ):
        assert f'<th class="num">{heading}</th>' in html
    row = (
        f'<td class="num">{formats.seconds(slot.patience_s)}</td>'
        f'<td class="num">{formats.pct(slot.abandon_needed)}</td>'
        f'<td class="num">{formats.pct(slot.abandon_answering)}</td>'
        f'<td class="num">{formats.pct(slot.observed_abandon)}</td></tr>'
    )
    assert row in html and "30.0%" in row
    for bad in ("date=2026-02-30", "weeks=0", "weeks=x"):
        assert (await app_client.get(f"/reports/staffing?{bad}")).status == 400
    await login(app_client, "agent1")
    assert (await app_client.get("/reports/staffing")).status == 403
