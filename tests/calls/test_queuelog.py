"""Asterisk's queue_log read and folded per call (calls.queuelog): the recorded outage run's
file, the events it lacks in Asterisk's documented shapes, and the file tailed as it grows."""

from __future__ import annotations

from pathlib import Path

from calls.calls import UNKNOWN, CallRecord, RingAttempt
from calls.queuelog import QueueLogFile, fold, parse_line, reconcile, record_of

from .conftest import outage_dirs


def facts_of(*lines: str) -> dict:
    return fold(line for line in map(parse_line, lines) if line is not None)


def test_the_recorded_queue_log_folds_into_its_expected_calls() -> None:
    for folder in outage_dirs():
        import json

        want = json.loads((folder / "expected.json").read_text(encoding="utf-8"))["calls"]
        got = QueueLogFile(folder / "queue_log")
        got.refresh()
        assert set(got.calls) == set(want)
        for uid, call in want.items():
            facts = got.calls[uid]
            assert (facts.caller, facts.enter) == (call["caller"], call["enter"])
            if call["outcome"] == "answered":
                assert (
                    facts.outcome,
                    facts.agent,
                    facts.hold_s,
                    facts.ring_s,
                    facts.talk_s,
                    facts.ended_by,
                ) == (
                    "answered",
                    call["agent"],
                    call["hold_s"],
                    call["ring_s"],
                    call["talk_s"],
                    call["ended_by"],
                )
            else:
                assert facts.outcome == (
                    "abandoned" if call["outcome"] == "abandoned" else "timed_out"
                )


def test_transfers_key_exits_and_empty_queues() -> None:
    calls = facts_of(
        "100|1.1|q|NONE|ENTERQUEUE||13800000001|1",
        "105|1.1|q|坐席1|CONNECT|5|1.2|3",
        "140|1.1|q|坐席1|BLINDTRANSFER|8002|agents|5|35|1",
        "200|2.1|q|NONE|ENTERQUEUE||13800000002|1",
        "209|2.1|q|NONE|EXITWITHKEY|1|1|1|9",
        "300|3.1|q|NONE|ENTERQUEUE||13800000003|1",
        "301|3.1|q|NONE|EXITEMPTY|1|1|1",
        "garbage",
        "",
    )
    assert (calls["1.1"].outcome, calls["1.1"].ended_by, calls["1.1"].talk_s) == (
        "answered",
        "transfer",
        35,
    )
    assert (calls["2.1"].outcome, calls["2.1"].exit_reason, calls["2.1"].wait_s) == (
        "timed_out",
        "key",
        9,
    )
    assert (calls["3.1"].outcome, calls["3.1"].exit_reason, calls["3.1"].wait_s) == (
        "timed_out",
        "timeout",
        1,
    )


def test_a_record_ended_unseen_takes_queue_log_figures_and_missed_rings() -> None:
    facts = facts_of(
        "100|1.1|q|NONE|ENTERQUEUE||13800000001|1",
        "115|1.1|q|坐席2|RINGNOANSWER|15000",
        "127|1.1|q|NONE|EXITWITHTIMEOUT|1|1|27",
    )["1.1"]
    seen = RingAttempt("坐席2", "Local/8002@agents/n", "1.3", 100.2)  # rung, end not seen
    unknown = CallRecord(
        "1.1", "1.0", "q", "13800000001", "12345", UNKNOWN, 100.4, 120.0, attempts=(seen,)
    )
    settled = reconcile(unknown, facts, ended_unseen=True)
    assert settled.summary() == {
        "caller": "13800000001",
        "outcome": "timed_out",
        "enter": 100,
        "wait_s": 27,
    }
    assert [(a.member_name, a.outcome, a.ring_ms) for a in settled.attempts] == [
        ("坐席2", "no_answer", 15000)
    ]
    assert settled.enter_ts == 100.4 and settled.end_ts == 127.0
    # Not ended: only what queue_log has so far; no facts: unchanged.
    assert reconcile(unknown, None, ended_unseen=True) is unknown
    alone = record_of(facts)
    assert alone is not None and alone.outcome == "timed_out" and alone.resynced


def test_the_file_is_tailed_line_by_line_and_read_again_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(
        "100|1.1|q|NONE|ENTERQUEUE||13800000001|1\n105|1.1|q|NONE|ABAN", encoding="utf-8"
    )
    log = QueueLogFile(path)
    log.refresh()
    assert log.call("1.1") is not None and log.call("1.1").outcome is None  # type: ignore[union-attr]
    with open(path, "a", encoding="utf-8") as f:
        f.write("DON|1|1|5\n")
    log.refresh()
    assert log.call("1.1").outcome == "abandoned"  # type: ignore[union-attr]
    path.unlink()
    path.write_text("200|2.1|q|NONE|ENTERQUEUE||13800000002|1\n", encoding="utf-8")
    log.refresh()
    assert log.call("2.1") is not None and log.lines == 3
    missing = QueueLogFile(tmp_path / "absent")
    missing.refresh()
    assert missing.calls == {} and missing.errors == 1
