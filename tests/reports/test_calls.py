"""History of calls: the shared captures replayed through the offline tracking the call tests
use, stored as the product stores them, and read back through the reports' port; every figure
is checked against Asterisk's own queue_log (parsed here, independently of the product)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from calls.ami.offline import track_capture
from calls.store import CallStore
from hotline.bootstrap import Services
from hotline.errors import InvalidInput
from hotline.localtime import SHANGHAI
from reports.calls import bucket_of
from reports.service import CallQuery
from reports.wiring import REPORTS
from tests.calls.conftest import capture_dirs
from tests.conftest import login

SL = 15


@dataclass
class Truth:
    """One queue_log: per call its entry second and fate, per agent what they did."""

    enter: dict[str, int] = field(default_factory=dict)
    connect_hold: dict[str, int] = field(default_factory=dict)
    agent_of: dict[str, str] = field(default_factory=dict)
    abandoned: set[str] = field(default_factory=set)
    timed_out: set[str] = field(default_factory=set)
    talk: dict[str, int] = field(default_factory=dict)
    agent_ended: set[str] = field(default_factory=set)
    ring_no_answer: Counter[str] = field(default_factory=Counter)


def queue_log(folder: Path) -> Truth:
    t = Truth()
    for line in (folder / "queue_log").read_text(encoding="utf-8").splitlines():
        when, callid, _queue, agent, event, *data = line.split("|")
        if event == "ENTERQUEUE":
            t.enter[callid] = int(when)
        elif event == "CONNECT":
            t.connect_hold[callid] = int(data[0])
            t.agent_of[callid] = agent
        elif event == "ABANDON":
            t.abandoned.add(callid)
        elif event in ("EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"):
            t.timed_out.add(callid)
        elif event in ("COMPLETEAGENT", "COMPLETECALLER"):
            t.talk[callid] = int(data[1])
            if event == "COMPLETEAGENT":
                t.agent_ended.add(callid)
        elif event == "RINGNOANSWER":
            t.ring_no_answer[agent] += 1
    return t


async def stored_capture(services: Services, folder: Path) -> Truth:
    tracker, _ = await track_capture(folder)
    writer = CallStore(services.db, "pbx:5038")
    for record in tracker.all_records():
        writer.on_record(record)
    assert await writer.flush()
    return queue_log(folder)


def days_of(truth: Truth) -> tuple[str, str]:
    local = sorted(dt.datetime.fromtimestamp(s, SHANGHAI).date() for s in truth.enter.values())
    return local[0].isoformat(), local[-1].isoformat()


@pytest.mark.parametrize("folder", capture_dirs(), ids=lambda p: p.name)
async def test_history_equals_queue_log(services: Services, folder: Path):
    truth = await stored_capture(services, folder)
    first, last = days_of(truth)
    reports = services[REPORTS]
    report = await reports.calls(CallQuery(first, last, "15min", "all"))
    total = report.history.total
    assert total.offered == len(truth.enter)
    assert total.answered == len(truth.connect_hold)
    assert total.tally.abandoned == len(truth.abandoned)
    assert total.tally.timed_out == len(truth.timed_out)
    within = sum(1 for h in truth.connect_hold.values() if h <= SL)
    assert total.tally.answered_within_sl == within
    assert total.asa_s == pytest.approx(
        sum(truth.connect_hold.values()) / len(truth.connect_hold), abs=0.0005
    )
    assert total.talk_s == sum(truth.talk.values())
    assert total.agent_hangups == len(truth.agent_ended)
    # Per 15 minutes of local queue-entry time.
    offered: Counter[dt.datetime] = Counter()
    answered: Counter[dt.datetime] = Counter()
    for callid, second in truth.enter.items():
        b = bucket_of(second, "15min", SHANGHAI)
        offered[b] += 1
        answered[b] += callid in truth.connect_hold
    got = {b: (c.offered, c.answered) for (b, _), c in report.history.cells.items()}
    assert got == {b: (offered[b], answered[b]) for b in offered}
    # Per agent: the calls they answered, their talk, their hang-ups and unanswered rings.
    by_agent = await reports.calls(CallQuery(first, last, "day", "agent"))
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for callid, agent in truth.agent_of.items():
        want[agent][0] += 1
        want[agent][1] += truth.talk.get(callid, 0)
        want[agent][2] += callid in truth.agent_ended
    for agent, (n, talk, ended) in want.items():
        cell = by_agent.history.totals[agent]
        assert (cell.answered, cell.talk_s, cell.agent_hangups) == (n, talk, ended), agent
    for agent, n in truth.ring_no_answer.items():
        assert by_agent.history.totals[agent].ring_no_answer == n, agent
    # Per entry number (the DID dialled): every call under one of them.
    by_entry = await reports.calls(CallQuery(first, last, "month", "entry"))
    assert sum(c.offered for c in by_entry.history.totals.values()) == len(truth.enter)
    assert all(k and k != "未知" for k in by_entry.history.keys)


async def test_page_csv_and_bad_input(services: Services, app_client: Any):
    folder = next(p for p in capture_dirs() if p.name == "busy")
    truth = await stored_capture(services, folder)
    first, last = days_of(truth)
    await login(app_client, "boss")
    page = await app_client.get(f"/reports/calls?from={first}&to={last}&group=hour")
    html = await page.text()
    assert page.status == 200, html
    assert "话务历史" in html and "/reports/static/vendor/chart.umd.min.js" in html
    asa = sum(truth.connect_hold.values()) / len(truth.connect_hold)
    assert f'data-testid="asa">{round(asa)} 秒<' in html
    assert "cdn" not in html.lower()
    js = await app_client.get("/reports/static/vendor/chart.umd.min.js")
    assert js.status == 200 and "Chart.js v4" in (await js.text())[:200]
    got = await app_client.get(f"/reports/calls.csv?from={first}&to={last}&group=day&by=queue")
    assert got.status == 200
    rows = list(csv.reader(io.StringIO((await got.read()).decode("utf-8-sig"))))
    assert rows[0][:4] == ["时段", "队列", "呼入量", "接通量"]
    total = [r for r in rows if r[0] == "合计"]
    assert total == [total[0]] and total[0][1] == "hotline"
    assert int(total[0][2]) == len(truth.enter) and int(total[0][3]) == len(truth.connect_hold)
    for query, text in (
        (
            f"from={last}&to={first}&group=day"
            if first != last
            else "from=2026-11-30&to=2026-11-01",
            "开始日期晚于结束日期",
        ),
        ("from=1800-01-01&to=2026-11-01", "年份须在"),
        ("from=2026-13-45", "开始日期格式"),
        ("from=2026-01-01&to=2026-11-30&group=15min", "最长查询 7 天"),
        ("group=year", "分组方式须为"),
        ("by=unit", "统计维度须为"),
        ("queue=nosuch", "没有队列“nosuch”"),
        ("agent=坐席9", "没有坐席“坐席9”"),
    ):
        for path in ("/reports/calls", "/reports/calls.csv", "/api/v1/reports/calls"):
            resp = await app_client.get(f"{path}?{query}")
            assert resp.status == 400, (path, query)
            body = await resp.text()
            assert text in body, (path, query, body[:300])


async def test_no_calls_is_a_labelled_empty_history(services: Services):
    report = await services[REPORTS].calls(CallQuery("2026-11-01", "2026-11-02", "hour", "all"))
    assert report.history.rows() == [] and report.history.total.offered == 0
    with pytest.raises(InvalidInput):
        await services[REPORTS].calls(CallQuery("2026-11-02", "2026-11-01"))


@pytest.mark.parametrize("user", ["agent1", "rsj"])
async def test_agents_and_units_are_refused(app_client: Any, user: str):
    await login(app_client, user)
    for path in ("/reports/calls", "/reports/calls.csv", "/api/v1/reports/calls"):
        assert (await app_client.get(path)).status == 403


async def test_ivr_scores_per_agent_and_in_the_monthly_report(services: Services, clock: Any):
    from ivr.wiring import SURVEYS
    from reports.monthly import monthly_report
    from reports.periods import month_of
    from reports.tables import call_header, call_rows

    truth = await stored_capture(services, next(p for p in capture_dirs() if p.name == "busy"))
    first, last = days_of(truth)
    clock.now = dt.datetime.fromtimestamp(min(truth.enter.values()) + 600, dt.timezone.utc)
    store = services[SURVEYS]
    for n, (agent, score) in enumerate(
        (("坐席1", 1), ("坐席1", 1), ("坐席1", 2), ("坐席1", 3), ("坐席1", None), ("坐席2", 1))
    ):
        await store.record(f"call-{n}", agent, "hotline", score)
    report = await services[REPORTS].calls(CallQuery(first, last, "day", "agent"))
    assert report.score_totals["坐席1"] == [2, 1, 1, 1]
    header = call_header(report)
    rows = {
        r[1]: dict(zip(header, r)) for r in call_rows(report, services.policy) if r[0] == "合计"
    }
    assert rows["坐席1"]["评价满意率"] == 0.75 and rows["坐席1"]["未评价"] == 1
    assert rows["坐席3"]["评价满意率"] is None
    monthly = await monthly_report(services[REPORTS], month_of(2026, 11, SHANGHAI))
    overview = {r[0]: r[1] for r in monthly.sections[0].rows}
    assert overview["来电评价数"] == 5 and overview["来电评价满意率"] == 0.8


async def test_past_days_are_kept_and_forgotten_when_their_calls_change(
    services: Services, clock: Any
):
    """Once the capture's day is past, its history is folded once and kept; a call of that
    day stored again (here: an answered call turned abandoned) is seen by the next history."""
    import dataclasses

    from calls.ami.offline import track_capture

    folder = next(p for p in capture_dirs() if p.name == "busy")
    truth = await stored_capture(services, folder)
    first, last = days_of(truth)
    clock.now = dt.datetime(2026, 12, 20, 2, tzinfo=dt.timezone.utc)
    reports = services[REPORTS]
    before = await reports.calls(CallQuery(first, last, "day", "all"))
    assert before.history.total.answered == len(truth.connect_hold)
    assert (dt.date.fromisoformat(first), "all", None, None) in reports.days._days
    tracker, _ = await track_capture(folder)
    answered = next(r for r in tracker.all_records() if r.outcome == "answered")
    writer = CallStore(services.db, "pbx:5038")
    writer.on_record(
        dataclasses.replace(
            answered,
            outcome="abandoned",
            agent=None,
            hold_s=None,
            talk_s=None,
            ended_by=None,
            connect_ts=None,
        )
    )
    assert await writer.flush()
    after = await reports.calls(CallQuery(first, last, "month", "all"))
    assert after.history.total.answered == len(truth.connect_hold) - 1
    assert after.history.total.tally.abandoned == len(truth.abandoned) + 1
    by_hour = await reports.calls(CallQuery(first, last, "hour", "queue"))
    assert sum(c.answered for c in by_hour.history.cells.values()) == len(truth.connect_hold) - 1
    # A queue first seen after the names were read is known at once.
    other = next(r for r in tracker.all_records() if r.outcome == "abandoned")
    writer.on_record(dataclasses.replace(other, uniqueid="new-queue-call", queue="hotline-en"))
    assert await writer.flush()
    english = await reports.calls(CallQuery(first, last, "day", "all", queue="hotline-en"))
    assert english.history.total.offered == 1 and "hotline-en" in english.queues
