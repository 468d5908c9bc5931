"""Metric definitions on hand-made call records, edge cases first."""

from __future__ import annotations

from datetime import datetime

from hotline.telephony.calls import CallRecord, RingAttempt
from sla import metrics
from sla.metrics import CHINA_TZ, compute

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_TZ).timestamp()


def answered(t: float, hold: int, agent: str = "坐席1", talk: int | None = 30, ring: int = 3,
             queue: str = "hotline") -> CallRecord:
    return CallRecord(f"{t}", "", queue, "138", "12345", "answered", t, t + hold + (talk or 0),
                      t + hold, agent, hold, ring, hold, talk, "agent" if talk is not None else None,
                      attempts=(RingAttempt(agent, "", "L", t + hold - ring, t + hold, "answered",
                                            ring * 1000),))


def abandoned(t: float, wait: int) -> CallRecord:
    return CallRecord(f"a{t}", "", "hotline", "139", "12345", "abandoned", t, t + wait, wait_s=wait,
                      attempts=(RingAttempt("坐席2", "", "L", t, t + 15, "no_answer", 15000),))


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
    assert m.as_dict()["agents"] == {"坐席2": {"answered": 0, "ring_no_answer": 2, "talk_s": 0,
                                              "completed": 0}}


def test_definitions_and_rounding() -> None:
    records = [answered(T0, 15), answered(T0 + 5, 16, "坐席2"), answered(T0 + 9, 3, talk=None),
               abandoned(T0 + 20, 15), abandoned(T0 + 30, 16)]
    m = compute(records)
    d = m.as_dict()
    assert (d["offered"], d["answered"], d["abandoned"], d["timed_out"]) == (5, 3, 2, 0)
    assert (d["answered_within_sl"], d["abandoned_within_sl"]) == (2, 1)  # <= 15 s counts
    assert d["connect_rate"] == 0.6 and d["service_level"] == 0.6667
    assert d["service_level2"] == 0.6 and d["sl_of_offered"] == 0.4
    assert d["asa_s"] == 11.333  # 3 decimals
    # A call still in talk is answered but not completed.
    assert d["agents"]["坐席1"] == {"answered": 2, "ring_no_answer": 0, "talk_s": 30, "completed": 1}
    assert m.longest_wait_s == 16
    assert compute(records, service_level_s=20).answered_within_sl == 3


def test_short_abandons_are_excluded_only_when_asked() -> None:
    records = [answered(T0, 5), abandoned(T0 + 1, 3), abandoned(T0 + 2, 30)]
    assert compute(records).offered == 3
    m = compute(records, short_abandon_s=5)
    assert (m.offered, m.abandoned, m.short_abandons, m.connect_rate) == (2, 1, 1, 0.5)


def test_ring_compliance_per_agent() -> None:
    m = compute([answered(T0, 20, ring=5), answered(T0 + 1, 30, ring=18), abandoned(T0 + 2, 40)],
                ring_target_s=15)
    assert m.agents["坐席1"].ring_compliance == 0.5
    assert m.agents["坐席2"].ring_compliance == 0.0  # one ring ran out


def test_windows_and_buckets() -> None:
    records = [answered(T0 + 60, 5), answered(T0 + 1000, 40), answered(T0 + 4000, 5, queue="other"),
               abandoned(T0 + 90000, 20)]
    quarters = metrics.by_bucket(records, "15min")
    assert [(k.strftime("%d %H:%M"), v.offered) for k, v in quarters.items()] == [
        ("02 09:00", 1), ("02 09:15", 1), ("02 10:00", 1), ("03 10:00", 1)]
    hours = metrics.by_bucket(records, "hour")
    assert [(k.strftime("%d %H"), v.offered) for k, v in hours.items()] == [
        ("02 09", 2), ("02 10", 1), ("03 10", 1)]
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
