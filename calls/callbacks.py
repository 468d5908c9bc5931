"""Missed calls (未接来电): which callers need a call back. Pure, no I/O.

A caller who abandoned or was put out of the queue (timeout, empty queue, key) and has not got
through since is owed a call back (事事有着落). So is a caller whose call ended while the service
was not listening (outcome `unknown`: it was not answered, or we would have seen the answer or
queue_log would have settled it) — such an entry says why (`reason` "outage"). Several misses of one number make one entry
(with their count); an answered call from that number later settles it. Withheld numbers
cannot be called back and make no entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from calls.calls import UNKNOWN, CallRecord
from sla.metrics import ABANDONED, ANSWERED, TIMED_OUT

# A number that can be dialled back: digits (a leading + allowed), at least 3 of them.
_DIALLABLE = re.compile(r"^\+?\d{3,}$")


@dataclass(frozen=True, slots=True)
class Missed:
    """The open callback of one caller number."""

    caller: str
    count: int
    first_uniqueid: str
    last_uniqueid: str
    first_ts: float
    last_ts: float
    longest_wait_s: int
    reason: str = ABANDONED  # of the miss that opened it: abandoned | timed_out | outage


# Why a caller is owed a call back, by the outcome of the call they missed.
REASONS = {ABANDONED: ABANDONED, TIMED_OUT: TIMED_OUT, UNKNOWN: "outage"}


def diallable(number: str) -> bool:
    return bool(_DIALLABLE.match(number or ""))


def missed_after(missed: Missed | None, record: CallRecord) -> Missed | None:
    """The caller's open callback after `record` finished (None: nothing owed)."""
    if not diallable(record.caller) or record.in_progress:
        return missed
    if record.outcome in REASONS:
        wait = record.wait_s or 0
        if missed is None:
            return Missed(
                record.caller,
                1,
                record.uniqueid,
                record.uniqueid,
                record.enter_ts,
                record.enter_ts,
                wait,
                REASONS[record.outcome],
            )
        if record.uniqueid == missed.last_uniqueid:
            return missed  # the same call stored again
        return replace(
            missed,
            count=missed.count + 1,
            last_uniqueid=record.uniqueid,
            last_ts=max(missed.last_ts, record.enter_ts),
            longest_wait_s=max(missed.longest_wait_s, wait),
        )
    if record.outcome == ANSWERED and missed is not None and record.enter_ts >= missed.first_ts:
        return None
    return missed


# --- an agent calling back -------------------------------------------------------------------------

OUTCOMES_OF_ATTEMPT = ("reached", "no_answer", "invalid_number")


@dataclass(frozen=True, slots=True)
class AttemptResult:
    attempts: int
    closed: bool
    outcome: str | None  # set when closed: reached | invalid_number | unreachable


def after_attempt(attempts: int, outcome: str, max_attempts: int) -> AttemptResult:
    """A callback attempt's effect: reaching the caller or a dead number closes the entry; an
    unanswered call back leaves it open until `max_attempts` tries, then it is unreachable."""
    if outcome not in OUTCOMES_OF_ATTEMPT:
        raise ValueError(f"unknown callback outcome {outcome!r}")
    attempts += 1
    if outcome in ("reached", "invalid_number"):
        return AttemptResult(attempts, True, outcome)
    if attempts >= max_attempts:
        return AttemptResult(attempts, True, "unreachable")
    return AttemptResult(attempts, False, None)
