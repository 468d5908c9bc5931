"""Which callers are owed a call back, and what an agent's callback attempt does (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from calls.callbacks import Missed, after_attempt, diallable, missed_after
from calls.calls import CallRecord


def call(uid: str, caller: str, outcome: str, enter: float, wait: int | None = 20) -> CallRecord:
    return CallRecord(uid, uid, "hotline", caller, "12345", outcome, enter, enter + 30, wait_s=wait)


def test_misses_of_one_number_make_one_entry_until_it_gets_through() -> None:
    owed = missed_after(None, call("1", "13800000001", "abandoned", 100.0, wait=40))
    owed = missed_after(owed, call("2", "13800000001", "timed_out", 300.0, wait=90))
    assert owed is not None and owed.count == 2 and owed.longest_wait_s == 90
    assert (owed.first_uniqueid, owed.last_uniqueid) == ("1", "2")
    assert missed_after(owed, call("2", "13800000001", "timed_out", 300.0)) == owed  # stored again
    assert missed_after(owed, call("3", "13800000001", "answered", 500.0)) is None


def test_withheld_numbers_and_earlier_answers_change_nothing() -> None:
    assert missed_after(None, call("1", "anonymous", "abandoned", 100.0)) is None
    assert missed_after(None, call("1", "", "abandoned", 100.0)) is None
    owed = missed_after(None, call("5", "13800000001", "abandoned", 500.0))
    # An answered call that entered before the miss (finished later) does not settle it.
    assert missed_after(owed, call("4", "13800000001", "answered", 400.0)) == owed
    assert not diallable("+") and diallable("+8613800000001") and diallable("110")


@pytest.mark.parametrize(
    "outcomes, closed, final",
    [
        (["reached"], True, "reached"),
        (["invalid_number"], True, "invalid_number"),
        (["no_answer"], False, None),
        (["no_answer", "no_answer", "no_answer"], True, "unreachable"),
        (["no_answer", "reached"], True, "reached"),
    ],
)
def test_callback_attempts(outcomes: list[str], closed: bool, final: str | None) -> None:
    attempts = 0
    for outcome in outcomes:
        result = after_attempt(attempts, outcome, max_attempts=3)
        attempts = result.attempts
    assert (result.closed, result.outcome, result.attempts) == (closed, final, len(outcomes))


def test_unknown_attempt_outcome_is_refused() -> None:
    with pytest.raises(ValueError):
        after_attempt(0, "busy", 3)


def test_the_entry_keeps_who_first_and_last_missed_and_when() -> None:
    first = missed_after(None, call("1", "13800000001", "abandoned", 100.0, wait=12))
    assert first == Missed("13800000001", 1, "1", "1", 100.0, 100.0, 12)
    second = missed_after(first, call("2", "13800000001", "timed_out", 300.0, wait=5))
    assert second == Missed("13800000001", 2, "1", "2", 100.0, 300.0, 12)
    # A record that finishes late but entered before the last miss does not move last_ts back.
    late = missed_after(second, call("3", "13800000001", "abandoned", 200.0, wait=7))
    assert late == Missed("13800000001", 3, "1", "3", 100.0, 300.0, 12)


def test_a_caller_who_hung_up_at_once_waited_zero_seconds() -> None:
    assert (
        missed_after(None, call("1", "13800000001", "abandoned", 100.0, wait=0)).longest_wait_s == 0
    )
    assert (
        missed_after(None, call("1", "13800000001", "abandoned", 100.0, wait=None)).longest_wait_s
        == 0
    )


def test_an_answer_entering_with_the_first_miss_settles_it() -> None:
    owed = missed_after(None, call("1", "13800000001", "abandoned", 100.0))
    assert missed_after(owed, call("2", "13800000001", "answered", 100.0)) is None


def test_calls_in_progress_change_nothing() -> None:
    waiting = dataclasses.replace(call("1", "13800000001", "abandoned", 100.0), in_progress=True)
    assert missed_after(None, waiting) is None


def test_a_call_that_ended_unseen_in_an_outage_is_owed_a_call_back_marked_so() -> None:
    """Its outcome is unknown, and it was not answered (an answer would have been seen, or
    settled from queue_log): the caller may have been lost to us (issue 16)."""
    owed = missed_after(None, call("1", "13800000001", "unknown", 100.0))
    assert owed is not None and owed.reason == "outage" and owed.count == 1
    again = missed_after(owed, call("2", "13800000001", "timed_out", 200.0))
    assert again is not None and again.count == 2 and again.reason == "outage"
    assert missed_after(again, call("3", "13800000001", "answered", 300.0)) is None


def test_unknown_attempt_outcome_is_named() -> None:
    with pytest.raises(ValueError, match="^unknown callback outcome 'busy'$"):
        after_attempt(0, "busy", 3)
