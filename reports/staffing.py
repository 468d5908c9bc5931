"""Staffing advice (排班建议): from the calls observed per half hour on the same weekday of recent
weeks, the agents needed to answer Policy.service_level_target of calls within
Policy.service_level_seconds, by Erlang C (M/M/N: Poisson arrivals, exponential handling, no
abandons), next to the agents who actually answered in those half hours; and, with the callers'
patience observed in those half hours, the share of callers Erlang A (M/M/N+M) expects to hang up
while waiting with either number of agents, next to the share who did. Pure: no I/O.

Erlang C is a dozen lines; the libraries that offer it (pyworkforce, erlangccmath) would bring
numpy, pandas or OR-Tools for them, so it is written here and checked in the tests against
published figures (a textbook's "about 0.10" for 6 Erlangs on 10 servers; 28 advisors for 250
calls an hour of 330 s at 80 % in 30 s). Erlang A likewise (erlang_a below, with its sources).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from hotline.ports import HistoryCall
from sla.metrics import ABANDONED, ANSWERED

SLOT_S = 1800  # half hours
MAX_AGENTS = 2000


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a call waits (Erlang C) with `agents` for `erlangs` of traffic; 1 when
    the agents cannot keep up (agents <= erlangs)."""
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = erlangs * b / (k + erlangs * b)
    return b / (1 - (erlangs / agents) * (1 - b))


def service_level(agents: int, erlangs: float, handle_s: float, within_s: float) -> float:
    """Share of calls answered within `within_s` seconds."""
    if erlangs <= 0:
        return 1.0
    if agents <= erlangs:
        return 0.0
    return 1 - erlang_c(agents, erlangs) * math.exp(-(agents - erlangs) * within_s / handle_s)


def agents_needed(
    calls: float, handle_s: float, interval_s: float, target: float, within_s: float
) -> int:
    """The fewest agents that answer `target` of `calls` (per `interval_s`) within `within_s`."""
    if calls <= 0 or handle_s <= 0:
        return 0
    erlangs = calls * handle_s / interval_s
    n = max(1, math.floor(erlangs) + 1)
    while service_level(n, erlangs, handle_s, within_s) < target and n < MAX_AGENTS:
        n += 1
    return n


# --- Erlang A (Palm's M/M/N+M: callers hang up after an exponential patience) ---------------------
#
# With λ calls a second, handle rate μ = 1/handle_s, patience rate θ = 1/patience_s, N agents,
# x = Nμ/θ and y = λ/θ, Mandelbaum & Zeltyn ("The Palm/Erlang-A queue, with applications to call
# centers", 2005, section 4; "The M/M/n+G queue: summary of performance measures") give, with
# E = Erlang B of λ/μ on N servers and A(x, y) = x e^y y^-x γ(x, y) = 1 + Σ_j y^j / Π_k (x + k):
#
#   P(W > 0)          = A E / (1 + (A - 1) E)
#   P(Ab | W > 0)     = 1 - 1/ρ + 1/(ρ A),  ρ = λ / (Nμ);  = 1 - S(x+1, y) / S(x, y), which
#                       is taken here, as it does not subtract near-equal numbers when ρ < 1
#   P(answered, W <= t | W > 0) = [γ(x+1, y) - γ(x+1, y e^-θt)] / (y γ(x, y))
#
# The last is the offered wait's density λ exp(λH(v) - Nμv), H(v) = (1 - e^-θv)/θ, times the
# chance e^-θv that the caller is still there, integrated over (0, t]. γ is the lower incomplete
# gamma function; it and the powers overflow for a busy half hour, so everything goes through
# S(a, z) = γ(a, z) z^-a e^z (kept as its logarithm), which is O(1/(a - z)) where the series
# converges and is only ever divided by another S.


def _log_s(a: float, z: float) -> float:
    """ln S(a, z), S(a, z) = γ(a, z) z^-a e^z = Σ_k z^k / (a (a+1) ... (a+k))."""
    if z <= 0:
        return -math.log(a)
    if z < a + 1:
        # The series' terms only fall from the first: z < a + k.
        term = total = 1 / a
        k = 0
        while term > total * 1e-17:
            k += 1
            term *= z / (a + k)
            total += term
        return math.log(total)
    # Past the peak of the integrand the series would add huge terms before small ones:
    # S = Γ(a) z^-a e^z - Γ(a, z) z^-a e^z, the second by its continued fraction (modified Lentz,
    # as Numerical Recipes' gcf), which converges fast for z > a + 1.
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    big = math.lgamma(a) - a * math.log(z) + z
    return big + math.log1p(-h * math.exp(-big))


@dataclass(frozen=True, slots=True)
class ErlangA:
    waits: float  # P(W > 0): the share of callers who find every agent busy
    abandons: float  # P(Ab): the share who hang up before an agent answers
    service_level: float  # the share answered within the limit (abandons count against it)


def erlang_a(
    agents: int, erlangs: float, handle_s: float, patience_s: float | None, within_s: float
) -> ErlangA:
    """Erlang A for `agents` on `erlangs` of traffic of calls of `handle_s`, callers waiting
    `patience_s` on average (exponentially); no patience (None) is Erlang C's endless patience."""
    if erlangs <= 0 or handle_s <= 0:
        return ErlangA(0.0, 0.0, 1.0)
    if agents <= 0:
        return ErlangA(1.0, 1.0, 0.0)
    if patience_s is None:
        waits = erlang_c(agents, erlangs)
        return ErlangA(waits, 0.0, service_level(agents, erlangs, handle_s, within_s))
    e = 1.0  # Erlang B by its stable recurrence
    for k in range(1, agents + 1):
        e = erlangs * e / (k + erlangs * e)
    if patience_s <= 0:  # nobody waits at all: Erlang B's lost calls
        return ErlangA(e, e, 1 - e)
    if e == 0:  # underflow: so many idle agents that nobody waits
        return ErlangA(0.0, 0.0, 1.0)
    x = agents * patience_s / handle_s
    y = erlangs * patience_s / handle_s
    log_s = _log_s(x, y)
    log_a = math.log(x) + log_s
    waits = 1 / (1 + (1 / e - 1) * math.exp(-log_a))
    # P(answered | W > 0) = γ(x+1, y) / (y γ(x, y)) = S(x+1, y) / S(x, y)
    served = math.exp(_log_s(x + 1, y) - log_s)
    theta_t = within_s / patience_s
    late = math.exp(
        -y * math.expm1(-theta_t)
        - (x + 1) * theta_t
        + _log_s(x + 1, y * math.exp(-theta_t))
        - log_s
    )
    abandons = min(1.0, max(0.0, waits * (1 - served)))
    within = min(1.0, max(0.0, 1 - waits + waits * (served - late)))
    return ErlangA(waits, abandons, within)


def abandon_rate(agents: float, erlangs: float, handle_s: float, patience_s: float) -> float:
    """P(Ab) for a mean number of agents over several weeks, linear between the whole numbers
    either side of it."""
    low = math.floor(agents)
    p = erlang_a(low, erlangs, handle_s, patience_s, 0).abandons
    if agents == low:
        return p
    q = erlang_a(low + 1, erlangs, handle_s, patience_s, 0).abandons
    return p + (agents - low) * (q - p)


@dataclass(frozen=True, slots=True)
class Slot:
    start: dt.time
    calls: float  # mean calls offered per half hour over the weeks observed
    handle_s: float | None  # mean talk time of the calls answered in it
    needed: int  # agents for the target (Erlang C)
    expected_sl: float | None  # the service level `needed` agents give
    answering: float  # mean number of agents who answered calls in it
    observed_sl: float | None  # answered within the limit / answered, in those weeks
    patience_s: float | None  # callers' mean patience (Σ waits / abandons)
    abandon_needed: float | None  # Erlang A's P(Ab) with `needed` agents
    abandon_answering: float | None  # Erlang A's P(Ab) with `answering` agents
    observed_abandon: float  # abandoned / offered, in those weeks


def patience(abandons: int, waited_s: float) -> float | None:
    """Callers' mean patience in seconds, exponential patience's maximum-likelihood estimate
    from censored waits: every caller's time in the queue (those answered or timed out were at
    least that patient) over the number who hung up (Brown et al., "Statistical analysis of a
    telephone call center", JASA 2005; Mandelbaum & Zeltyn's Erlang-A note, section 5). None
    with no abandons: patience is then unbounded for all the calls show. Asterisk counts whole
    seconds, so a patience under one second is taken as one."""
    if abandons <= 0:
        return None
    return max(waited_s / abandons, 1.0)


def advise(
    calls: Iterable[HistoryCall],
    day: dt.date,
    weeks: int,
    tz: dt.tzinfo,
    target: float,
    within_s: int,
) -> list[Slot]:
    """Half hours of `day` (its weekday over the `weeks` before it) with calls observed."""
    days = {day - dt.timedelta(weeks=w) for w in range(1, weeks + 1)}
    offered: dict[dt.time, int] = defaultdict(int)
    talk: dict[dt.time, list[int]] = defaultdict(list)
    answered: dict[dt.time, list[int]] = defaultdict(lambda: [0, 0])
    agents: dict[tuple[dt.time, dt.date], set[str]] = defaultdict(set)
    abandoned: dict[dt.time, int] = defaultdict(int)
    waited: dict[dt.time, int] = defaultdict(int)
    all_talk: list[int] = []
    for r in calls:
        local = dt.datetime.fromtimestamp(r.enter_ts, tz)
        if local.date() not in days:
            continue
        slot = local.replace(minute=local.minute // 30 * 30, second=0, microsecond=0).time()
        offered[slot] += 1
        abandoned[slot] += r.outcome == ABANDONED
        if not r.in_progress:
            waited[slot] += r.wait_s if r.wait_s is not None else (r.hold_s or 0)
        if r.outcome == ANSWERED:
            answered[slot][0] += 1
            answered[slot][1] += (r.hold_s or 0) <= within_s
            if r.agent:
                agents[slot, local.date()].add(r.agent)
            if r.talk_s is not None and not r.in_progress:
                talk[slot].append(r.talk_s)
                all_talk.append(r.talk_s)
    fallback = sum(all_talk) / len(all_talk) if all_talk else None
    # A half hour without an abandon says little about patience: the day's callers speak for it.
    day_patience = patience(sum(abandoned.values()), sum(waited.values()))
    out = []
    for slot in sorted(offered):
        mean_calls = offered[slot] / len(days)
        handle = sum(talk[slot]) / len(talk[slot]) if talk[slot] else fallback
        needed = agents_needed(mean_calls, handle or 0, SLOT_S, target, within_s)
        erlangs = mean_calls * (handle or 0) / SLOT_S
        expected = service_level(needed, erlangs, handle, within_s) if handle and needed else None
        seen = sum(len(agents.get((slot, d), ())) for d in days) / len(days)
        n, within = answered[slot]
        slot_patience = patience(abandoned[slot], waited[slot]) or day_patience
        out.append(
            Slot(
                slot,
                round(mean_calls, 2),
                None if handle is None else round(handle, 1),
                needed,
                None if expected is None else round(expected, 4),
                round(seen, 2),
                round(within / n, 4) if n else None,
                None if slot_patience is None else round(slot_patience, 1),
                _rate(needed, erlangs, handle, slot_patience),
                _rate(seen, erlangs, handle, slot_patience),
                round(abandoned[slot] / offered[slot], 4),
            )
        )
    return out


def _rate(
    agents: float, erlangs: float, handle: float | None, patience_s: float | None
) -> float | None:
    if handle is None or patience_s is None:
        return None
    return round(abandon_rate(agents, erlangs, handle, patience_s), 4)
