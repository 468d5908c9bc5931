"""Metric definitions on hand-made call records, edge cases first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hotline.localtime import SHANGHAI
from calls.calls import CallRecord, RingAttempt
from sla import metrics
from sla.metrics import compute

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI).timestamp()


def answered(
    t: float,
    hold: int,
    agent: str = "坐席1",
    talk: int | None = 30,
    ring: int = 3,
    queue: str = "hotline",
) -> CallRecord:
    return CallRecord(
        f"{t}",
        "",
        queue,
        "138",
        "12345",
        "answered",
        t,
        t + hold + (talk or 0),
        t + hold,
        agent,
        hold,
        ring,
        hold,
        talk,
        "agent" if talk is not None else None,
        attempts=(RingAttempt(agent, "", "L", t + hold - ring, t + hold, "answered", ring * 1000),),
    )


def abandoned(t: float, wait: int) -> CallRecord:
    return CallRecord(
        f"a{t}",
        "",
        "hotline",
        "139",
        "12345",
        "abandoned",
        t,
        t + wait,
        wait_s=wait,
        attempts=(RingAttempt("坐席2", "", "L", t, t + 15, "no_answer", 15000),),
    )


def test_no_calls_gives_null_ratios() -> None:
    m = compute([])
    d = m.as_dict()
    assert d["offered"] == 0 and d["agents"] == {}
    for key in ("connect_rate", "service_level", "service_level2", "sl_of_offered", "asa_s"):
        assert d[key] is None
    assert m.longest_wait_s is None


def test_only_abandons_nulls_what_divides_by_answered() -> None:
    m = compute([abandoned(T0, 10), abandoned(T0 + 1, 40)])
    assert (m.offered, m.abandoned, m.abandoned_within_sl) == (2, 2, 1)
    assert m.connect_rate == 0.0 and m.service_level is None and m.asa_s is None
    assert m.service_level2 == 0.5
    assert m.as_dict()["agents"] == {
        "坐席2": {"answered": 0, "ring_no_answer": 2, "talk_s": 0, "completed": 0}
    }


def test_definitions_and_rounding() -> None:
    records = [
        answered(T0, 15),
        answered(T0 + 5, 16, "坐席2"),
        answered(T0 + 9, 3, talk=None),
        abandoned(T0 + 20, 15),
        abandoned(T0 + 30, 16),
    ]
    m = compute(records)
    d = m.as_dict()
    assert (d["offered"], d["answered"], d["abandoned"], d["timed_out"]) == (5, 3, 2, 0)
    assert (d["answered_within_sl"], d["abandoned_within_sl"]) == (2, 1)  # <= 15 s counts
    assert d["connect_rate"] == 0.6 and d["service_level"] == 0.6667
    assert d["service_level2"] == 0.6 and d["sl_of_offered"] == 0.4
    assert d["asa_s"] == 11.333  # 3 decimals
    # A call still in talk is answered but not completed.
    assert d["agents"]["坐席1"] == {
        "answered": 2,
        "ring_no_answer": 0,
        "talk_s": 30,
        "completed": 1,
    }
    assert m.longest_wait_s == 16
    assert compute(records, service_level_s=20).answered_within_sl == 3


def test_short_abandons_are_excluded_only_when_asked() -> None:
    records = [answered(T0, 5), abandoned(T0 + 1, 3), abandoned(T0 + 2, 30)]
    assert compute(records).offered == 3
    m = compute(records, short_abandon_s=5)
    assert (m.offered, m.abandoned, m.short_abandons, m.connect_rate) == (2, 1, 1, 0.5)


def test_ring_compliance_per_agent() -> None:
    m = compute(
        [answered(T0, 20, ring=5), answered(T0 + 1, 30, ring=18), abandoned(T0 + 2, 40)],
        ring_target_s=15,
    )
    assert m.agents["坐席1"].ring_compliance == 0.5
    assert m.agents["坐席2"].ring_compliance == 0.0  # one ring ran out


def test_windows_and_buckets() -> None:
    records = [
        answered(T0 + 60, 5),
        answered(T0 + 1000, 40),
        answered(T0 + 4000, 5, queue="other"),
        abandoned(T0 + 90000, 20),
    ]
    quarters = metrics.by_bucket(records, "15min")
    assert [(k.strftime("%d %H:%M"), v.offered) for k, v in quarters.items()] == [
        ("02 09:00", 1),
        ("02 09:15", 1),
        ("02 10:00", 1),
        ("03 10:00", 1),
    ]
    hours = metrics.by_bucket(records, "hour")
    assert [(k.strftime("%d %H"), v.offered) for k, v in hours.items()] == [
        ("02 09", 2),
        ("02 10", 1),
        ("03 10", 1),
    ]
    days = metrics.by_bucket(records, "day")
    assert [v.offered for v in days.values()] == [3, 1]
    assert list(metrics.by_queue(records)) == ["hotline", "other"]
    day = metrics.rolling(records, now=T0 + 86400)
    assert day.offered == 3
    assert compute(records, start=T0 + 500, end=T0 + 5000).offered == 2


def test_alarm_when_connect_rate_or_service_level_below_target() -> None:
    now = T0 + 3600
    good = [answered(T0 + i * 60, 5) for i in range(10)]
    assert metrics.alarms(good, now) == []
    bad = good + [abandoned(T0 + 600 + i, 30) for i in range(5)]
    kinds = {a.metric for a in metrics.alarms(bad, now)}
    assert kinds == {"connect_rate"}
    slow = [answered(T0 + i * 60, 40) for i in range(10)]
    [alarm] = metrics.alarms(slow, now, service_level_target=0.8)
    assert alarm.metric == "service_level" and alarm.value == 0.0 and alarm.offered == 10
    assert metrics.alarms(slow, now, min_offered=11) == []
    assert metrics.alarms([], now) == []


# --- every count of a tally, and tallies that add up and take away ------------------------------


def record(uid: str, outcome: str, t: float, **fields: object) -> CallRecord:
    return CallRecord(uid, "", "hotline", "138", "12345", outcome, t, t + 60, **fields)  # type: ignore[arg-type]


def ring(member: str, outcome: str, ring_ms: int | None) -> RingAttempt:
    return RingAttempt(member, "", "L", 0.0, 1.0, outcome, ring_ms)


MIXED = [
    answered(T0, 15, "坐席1", ring=15),  # hold and ring exactly on target
    answered(T0 + 1, 16, "坐席2", talk=None, ring=16),  # still talking, rang too long
    record(
        "rn",
        "answered",
        T0 + 2,
        agent="坐席1",
        hold_s=None,
        talk_s=20,
        attempts=(ring("坐席3", "no_answer", 15000), ring("坐席1", "answered", 15001)),
    ),
    record("ab", "abandoned", T0 + 3, wait_s=15, attempts=(ring("坐席3", "canceled", None),)),
    record("ab2", "abandoned", T0 + 4, wait_s=None),
    record("to", "timed_out", T0 + 5, wait_s=70, exit_reason="timeout"),
    record("un", "unknown", T0 + 6),
    record("wa", "waiting", T0 + 7, in_progress=True, attempts=(ring("坐席2", "dumped", None),)),
    record("ip", "answered", T0 + 8, agent="坐席3", hold_s=4, talk_s=12, in_progress=True),
]


def test_a_tally_counts_each_outcome_once_where_it_belongs() -> None:
    t = metrics.Tally()
    for r in MIXED:
        t.add(r)
    assert t == metrics.Tally(
        offered=9,
        answered=4,
        abandoned=2,
        timed_out=1,
        answered_within_sl=3,
        abandoned_within_sl=1,
        ring_no_answer=1,
        hold_total_s=15 + 16 + 0 + 4,
        short_abandons=0,
        unknown=1,
        waiting=1,
        longest_wait_s=70,
        # answered, ring_no_answer, talk_s, completed, rings, answered_within_ring_target
        agents={
            "坐席1": [2, 0, 50, 2, 2, 1],
            "坐席2": [1, 0, 0, 0, 1, 0],
            "坐席3": [1, 1, 0, 0, 1, 0],
        },
    )
    assert t.calls == 9


def test_short_abandons_boundary_and_a_missing_wait() -> None:
    t = metrics.Tally()
    for r in [
        record("a", "abandoned", T0, wait_s=5),
        record("b", "abandoned", T0, wait_s=6),
        record("c", "abandoned", T0, wait_s=None),
        record("d", "timed_out", T0, wait_s=2),
    ]:
        t.add(r, short_abandon_s=5)
    assert (t.short_abandons, t.offered, t.abandoned, t.timed_out, t.calls) == (2, 2, 1, 1, 4)
    assert t.longest_wait_s == 6


def test_tally_defaults_are_the_hotline_policy() -> None:
    t = metrics.Tally()
    t.add(answered(T0, 15, ring=15))  # 15 s service level, 15 s ring target
    t.add(record("z", "abandoned", T0, wait_s=0))  # no abandon is short by default
    assert (t.answered_within_sl, t.agents["坐席1"][5], t.abandoned, t.short_abandons) == (
        1,
        1,
        1,
        0,
    )
    m = t.metrics()
    assert m.service_level_seconds == 15 and m.offered == 2
    loose = compute([answered(T0, 15, ring=15), record("z", "abandoned", T0, wait_s=0)])
    assert (
        loose.answered_within_sl,
        loose.short_abandons,
        loose.agents["坐席1"].answered_within_ring_target,
    ) == (1, 0, 1)


def test_longest_wait_takes_the_larger_and_ignores_unknown_waits() -> None:
    t = metrics.Tally()
    for wait in (None, 30, 30, 10, None):
        t.add(record(str(wait), "abandoned", T0, wait_s=wait))
    assert t.longest_wait_s == 30


def tally_of(records: list[CallRecord]) -> metrics.Tally:
    t = metrics.Tally()
    for r in records:
        t.add(r)
    return t


def test_tallies_of_disjoint_calls_add_up_and_take_away() -> None:
    first, second = MIXED[:4], MIXED[4:]
    whole = tally_of(MIXED)
    combined = tally_of(first)
    combined.merge(tally_of(second))
    assert combined == whole
    # Taking a part away leaves the rest; the longest wait, a maximum, stays as it was.
    rest = whole.copy()
    rest.merge(tally_of(second), sign=-1)
    expected = tally_of(first)
    expected.longest_wait_s = whole.longest_wait_s
    assert rest == expected
    # An agent only in the part taken away shows up negative, as a prefix sum wants.
    nothing = metrics.Tally()
    nothing.merge(tally_of([answered(T0, 5, "坐席9")]), sign=-1)
    assert nothing.agents == {"坐席9": [-1, 0, -30, -1, -1, -1]} and nothing.offered == -1
    assert nothing.longest_wait_s is None


def test_merging_keeps_the_longer_wait_of_either() -> None:
    a, b = (
        tally_of([record("a", "abandoned", T0, wait_s=50)]),
        tally_of([record("b", "abandoned", T0, wait_s=20)]),
    )
    a.merge(b)
    assert a.longest_wait_s == 50
    empty = metrics.Tally()
    empty.merge(b)
    assert empty.longest_wait_s == 20
    b.merge(metrics.Tally())
    assert b.longest_wait_s == 20


def test_a_copy_is_equal_and_independent() -> None:
    whole = tally_of(MIXED)
    copy = whole.copy()
    assert copy == whole and copy is not whole
    copy.add(answered(T0, 5, "坐席1"))
    assert whole == tally_of(MIXED)  # the agents' lists were copied too


def test_metrics_list_agents_that_answered_missed_or_completed() -> None:
    t = metrics.Tally()
    t.agents = {
        "rang": [0, 0, 0, 0, 3, 0],
        "answered": [1, 0, 0, 0, 0, 0],
        "missed": [0, 1, 0, 0, 1, 0],
        "completed": [0, 0, 9, 1, 0, 0],
    }
    assert set(t.metrics().agents) == {"answered", "missed", "completed"}


def test_extended_dict_adds_what_expected_json_does_not_hold() -> None:
    m = compute(MIXED, short_abandon_s=0)
    d = m.as_dict(extended=True)
    assert {k: d[k] for k in ("longest_wait_s", "short_abandons", "unknown", "waiting")} == {
        "longest_wait_s": 70,
        "short_abandons": 0,
        "unknown": 1,
        "waiting": 1,
    }
    assert d["ring_compliance"] == {"坐席1": 0.5, "坐席2": 0.0, "坐席3": 0.0}
    assert list(d["ring_compliance"]) == ["坐席1", "坐席2", "坐席3"]
    plain = m.as_dict()
    assert set(plain) == {
        "service_level_seconds",
        "offered",
        "answered",
        "abandoned",
        "timed_out",
        "answered_within_sl",
        "abandoned_within_sl",
        "connect_rate",
        "service_level",
        "service_level2",
        "sl_of_offered",
        "asa_s",
        "ring_no_answer",
        "agents",
    }
    assert (plain["service_level_seconds"], plain["ring_no_answer"]) == (15, 1)


# --- windows, buckets and alarms at their edges ------------------------------------------------


def test_a_window_holds_its_start_not_its_end() -> None:
    records = [answered(T0 + 10, 5), answered(T0, 5), answered(T0 + 20, 5)]  # not in time order
    assert compute(records, start=T0, end=T0 + 20).offered == 2
    assert metrics.rolling(records, now=T0 + 20, window_s=20).offered == 2
    assert metrics.rolling(records, now=T0 + 86400 + 10).offered == 2  # 24 h by default


def test_buckets_start_on_local_boundaries() -> None:
    on_the_hour = T0 + 3600
    assert metrics.bucket_start(on_the_hour, "hour") == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert metrics.bucket_start(on_the_hour - 0.5, "15min") == datetime(
        2026, 3, 2, 9, 45, tzinfo=SHANGHAI
    )
    assert metrics.bucket_start(T0 + 0.75, "day") == datetime(2026, 3, 2, tzinfo=SHANGHAI)
    # 09:00 in Zhengzhou is 01:00 UTC: a UTC day starts at UTC midnight.
    utc_day = metrics.bucket_start(T0, "day", tz=timezone.utc)
    assert utc_day == datetime(
        2026, 3, 2, tzinfo=timezone.utc
    ) and utc_day.utcoffset() == timedelta(0)


def test_buckets_and_queues_pass_the_definitions_on() -> None:
    records = [answered(T0, 18), answered(T0 + 4000, 18, queue="other")]
    assert [
        m.answered_within_sl for m in metrics.by_bucket(records, service_level_s=20).values()
    ] == [1, 1]
    assert [
        m.answered_within_sl for m in metrics.by_queue(records, service_level_s=20).values()
    ] == [1, 1]
    assert list(metrics.by_bucket(records)) == [
        datetime(2026, 3, 2, 9, tzinfo=SHANGHAI),
        datetime(2026, 3, 2, 10, tzinfo=SHANGHAI),
    ]
    in_utc = metrics.by_bucket(records, "day", tz=timezone.utc)
    assert list(in_utc) == [datetime(2026, 3, 2, tzinfo=timezone.utc)]


def test_alarm_fields_and_edges() -> None:
    now = T0 + 3600
    four_of_five = [answered(T0 + i, 5) for i in range(4)] + [abandoned(T0 + 10, 30)]
    assert metrics.alarms(four_of_five, now) == []  # 0.80 is on target
    three_of_five = four_of_five[1:] + [abandoned(T0 + 11, 30)]
    assert metrics.alarms(three_of_five, T0 + 1000, window_s=1800) == [
        metrics.Alarm("connect_rate", 0.6, 0.8, 1800, 5)
    ]
    assert metrics.alarms(three_of_five, T0 + 1812, window_s=1800) == []  # all entered before
    slow = [answered(T0 + i, 20) for i in range(5)]
    assert metrics.alarms(slow, now, service_level_s=20) == []
    assert metrics.alarms(slow, now, service_level_target=0.5) == [
        metrics.Alarm("service_level", 0.0, 0.5, 3600, 5)
    ]
    short = [answered(T0, 5), abandoned(T0 + 1, 2)]
    assert metrics.alarms(short, now, short_abandon_s=3) == []  # the short abandon is left out
    assert metrics.alarms(short, now, min_offered=0) == [
        metrics.Alarm("connect_rate", 0.5, 0.8, 3600, 2)
    ]
    assert metrics.alarms_of(compute([]), window_s=60, min_offered=0) == []


def test_every_sum_doubles_when_a_tally_is_merged_with_itself_and_comes_back() -> None:
    once = metrics.Tally()
    for r in MIXED + [record("s", "abandoned", T0, wait_s=1)]:
        once.add(r, short_abandon_s=1)
    assert once.short_abandons == 2  # "s", and "ab2" whose wait is unknown
    twice = once.copy()
    twice.merge(once)
    assert twice == metrics.Tally(
        **{name: 2 * getattr(once, name) for name in metrics.Tally._SUMS},
        longest_wait_s=once.longest_wait_s,
        agents={name: [2 * v for v in values] for name, values in once.agents.items()},
    )
    # Adding the same calls one by one gives the same sums as merging.
    again = metrics.Tally()
    for r in (MIXED + [record("s", "abandoned", T0, wait_s=1)]) * 2:
        again.add(r, short_abandon_s=1)
    assert again == twice
    twice.merge(once, sign=-1)
    assert twice == once


def test_compute_passes_its_definitions_to_every_call() -> None:
    rings = [answered(T0, 5, ring=18)]
    assert compute(rings, ring_target_s=20).agents["坐席1"].ring_compliance == 1.0
    assert compute(rings).agents["坐席1"].ring_compliance == 0.0
    # A call after the window, listed first, does not end the scan.
    late_first = [answered(T0 + 100, 5), answered(T0, 5), answered(T0 + 10, 5)]
    assert compute(late_first, end=T0 + 50).offered == 2


def test_rolling_day_is_exactly_24_hours() -> None:
    now = T0 + 100000
    records = [answered(now - 86400, 5), answered(now - 86400.5, 5)]
    assert metrics.rolling(records, now).offered == 1


def test_alarm_defaults_are_the_hotline_policy() -> None:
    now = T0 + 60
    assert metrics.alarms([abandoned(T0, 1)], now) == [
        metrics.Alarm("connect_rate", 0.0, 0.8, 3600, 1)
    ]
    assert metrics.alarms([answered(T0, 16)], now) == [
        metrics.Alarm("service_level", 0.0, 0.8, 3600, 1)
    ]
    assert (
        metrics.alarms(
            [answered(T0, 5), answered(T0 + 1, 5), abandoned(T0 + 2, 9)],
            now,
            connect_rate_target=0.6,
        )
        == []
    )
    on_target = compute([answered(T0 + i, 5 if i < 4 else 30) for i in range(5)])
    assert (on_target.connect_rate, on_target.service_level) == (1.0, 0.8)
    assert metrics.alarms_of(on_target, window_s=60) == []  # 0.8 is not below 0.8
    one = compute([abandoned(T0, 9)])
    assert metrics.alarms_of(one, window_s=60) == [metrics.Alarm("connect_rate", 0.0, 0.8, 60, 1)]
    assert metrics.alarms_of(one, window_s=60, min_offered=1) != []
    five = compute([abandoned(T0 + i, 9) for i in range(5)])
    assert len(metrics.alarms_of(five, window_s=60, min_offered=5)) == 1
    assert metrics.alarms_of(five, window_s=60, min_offered=6) == []
    nearly = compute([answered(T0 + i, 5) for i in range(9)] + [abandoned(T0 + 9, 9)])
    assert metrics.alarms_of(nearly, window_s=60) == []  # 0.9 and 1.0 are fine
