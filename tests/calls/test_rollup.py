"""Dashboard metrics over stored calls (no PBX followed): the tallied figures equal the
figures computed from every stored call, also after calls are stored or updated in between,
on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import datetime as dt
import random
import time

import pytest
from sqlalchemy import update

from hotline.config import Policy
from hotline.db import Database
from calls import dashboard, rollup
from calls.calls import ABANDONED, ANSWERED, TIMED_OUT, CallRecord, RingAttempt
from calls.models import CallRow
from calls.records import load_records, record_of
from calls.store import CallStore
from sla.metrics import BUCKETS

AGENTS = ("坐席1", "坐席2", "坐席3", "坐席4")


def calls(now: float, n: int, hours: float, seed: int = 5) -> list[CallRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        enter = now - hours * 3600 * rng.random()
        wait = rng.randint(0, 40)
        kind = rng.random()
        attempts: tuple[RingAttempt, ...] = ()
        if kind < 0.7:
            agent = rng.choice(AGENTS)
            missed = RingAttempt(
                rng.choice(AGENTS),
                "Local/1@agents",
                f"m{i}",
                enter + 1,
                enter + 16,
                "no_answer",
                15000,
            )
            answered = RingAttempt(
                agent,
                "Local/2@agents",
                f"a{i}",
                enter + 2,
                enter + wait,
                "answered",
                rng.randint(1, 30) * 1000,
            )
            attempts = (missed, answered) if rng.random() < 0.3 else (answered,)
            out.append(
                CallRecord(
                    f"c{i}",
                    f"c{i}",
                    rng.choice(("q1", "q2")),
                    f"138{i:08d}",
                    "12345",
                    ANSWERED,
                    enter,
                    enter + wait + 60,
                    enter + wait,
                    agent,
                    wait,
                    3,
                    wait,
                    60,
                    "caller",
                    attempts=attempts,
                )
            )
        else:
            outcome = ABANDONED if kind < 0.9 else TIMED_OUT
            out.append(
                CallRecord(
                    f"c{i}",
                    f"c{i}",
                    rng.choice(("q1", "q2")),
                    f"139{i:08d}",
                    "12345",
                    outcome,
                    enter,
                    enter + wait,
                    wait_s=wait,
                    exit_reason="timeout" if outcome == TIMED_OUT else None,
                )
            )
    return out


async def expected(db: Database, now: float, policy: Policy, bucket: str) -> dict:
    since = dt.datetime.fromtimestamp(now - rollup.HORIZON_S, dt.timezone.utc)
    records = [r for r in await load_records(db, since=since) if r.enter_ts < now]
    return dashboard.dashboard_metrics(records, now, policy, bucket)


async def store(db: Database, records: list[CallRecord]) -> None:
    writer = CallStore(db, "pbx:5038")
    for r in records:
        writer.on_record(r)
    assert await writer.flush()


@pytest.mark.parametrize("short_abandon", [0, 5])
async def test_tallied_metrics_equal_the_metrics_of_every_stored_call(db, short_abandon):
    now = time.time()
    policy = Policy(short_abandon_seconds=short_abandon, alarm_min_offered=1)
    records = calls(now, 1500, hours=50)  # some older than the 48 h read
    await store(db, records)
    stored = rollup.StoredMetrics(db, policy)
    for bucket in BUCKETS:
        assert await stored.dashboard(now, bucket) == await expected(db, now, policy, bucket)
    # A call of an old bucket updated (it finished), a call just now, a call of 20 hours ago.
    changed = dataclasses.replace(
        records[7], outcome=ABANDONED, agent=None, hold_s=None, attempts=(), wait_s=3
    )
    await store(
        db,
        [
            changed,
            *calls(now, 1, hours=0.01, seed=9),
            dataclasses.replace(calls(now - 20 * 3600, 1, 0.01, seed=11)[0], uniqueid="late"),
        ],
    )
    later = now + 2
    for bucket in BUCKETS:
        assert await stored.dashboard(later, bucket) == await expected(db, later, policy, bucket)


async def test_no_stored_calls(db):
    now = time.time()
    answer = await rollup.StoredMetrics(db, Policy()).dashboard(now, "hour")
    assert answer == dashboard.dashboard_metrics([], now, Policy(), "hour")
    assert answer["rolling_24h"]["offered"] == 0 and answer["buckets"] == []


def as_json(answer: dict) -> object:
    return json.loads(json.dumps(answer, ensure_ascii=False, default=str))


async def test_bodies_of_one_second_share_one_look(db):
    now = math.floor(time.time()) + 0.25
    policy = Policy(alarm_min_offered=1)
    await store(db, calls(now, 600, hours=30))
    stored = rollup.StoredMetrics(db, policy)
    for i, bucket in enumerate(BUCKETS):  # later in the same second: the figures of `now`
        body = await stored.body(now + 0.2 * i, bucket)
        assert json.loads(body) == as_json(await expected(db, now, policy, bucket))
    await store(db, calls(now, 1, hours=0.001, seed=9))
    later = now + 1
    for bucket in BUCKETS:
        body = await stored.body(later, bucket)
        assert json.loads(body) == as_json(await expected(db, later, policy, bucket))
    with pytest.raises(ValueError):
        await stored.body(later, "week")


async def test_while_a_look_is_under_way_the_answer_of_a_second_ago_is_sent(db, monkeypatch):
    now = math.floor(time.time()) + 0.25
    await store(db, calls(now, 50, hours=2))
    stored = rollup.StoredMetrics(db, Policy())
    first = await stored.body(now, "hour")
    slow, release = asyncio.Event(), asyncio.Event()
    refresh = stored._refresh

    async def held(at: float):
        slow.set()
        await release.wait()
        return await refresh(at)

    monkeypatch.setattr(stored, "_refresh", held)
    looking = asyncio.create_task(stored.body(now + 1, "hour"))
    await slow.wait()
    # The look of the next second is under way: a second-old answer comes without waiting.
    assert await asyncio.wait_for(stored.body(now + 1, "hour"), 1) == first
    # Older than that, or a bucket size never answered: it waits for the look.
    later = asyncio.create_task(stored.body(now + 1 + rollup.STALE_S + 1, "hour"))
    other = asyncio.create_task(stored.body(now + 1, "day"))
    await asyncio.sleep(0.05)
    assert not later.done() and not other.done()
    release.set()
    assert json.loads(await looking) == as_json(await expected(db, now + 1, Policy(), "hour"))
    assert json.loads(await other) == as_json(await expected(db, now + 1, Policy(), "day"))
    await later


def call_at(uniqueid: str, enter_ts: float, seed: int) -> CallRecord:
    return dataclasses.replace(
        calls(enter_ts, 1, hours=0, seed=seed)[0],
        uniqueid=uniqueid,
        linkedid=uniqueid,
        enter_ts=enter_ts,
    )


async def same_as_every_call(
    stored: rollup.StoredMetrics, db: Database, now: float, policy: Policy
) -> None:
    for bucket in BUCKETS:
        assert await stored.dashboard(now, bucket) == await expected(db, now, policy, bucket)


async def test_a_call_below_the_48h_stored_again(db):
    """The running sums start at the base, the 48 h start of an earlier look: a bucket between
    it and the 48 h start whose calls are stored again is tallied again (it was left out and
    the sums could not be built), also when the calls were stored just before the first look."""
    B = rollup.BUCKET_S
    now = rollup._floor(time.time()) - 5 * B + 100.5
    policy = Policy(alarm_min_offered=1)
    first = rollup._ceil(now - rollup.HORIZON_S)  # the first whole bucket of the first look
    await store(db, [*calls(now, 1500, hours=50), call_at("old", first + 10, 1)])
    stored = rollup.StoredMetrics(db, policy)
    await same_as_every_call(stored, db, now, policy)
    await store(db, [call_at("old", first + 20, 2)])
    await same_as_every_call(stored, db, now + 2 * B, policy)


async def test_calls_of_edge_buckets_stored_between_two_looks_count_once(db):
    """The calls of the buckets at the edges (the 48 h, 24 h and alarm window starts, the
    current bucket) are kept between looks: calls stored or stored again there in between,
    some twice, some moved to another bucket, are each counted once where they are now."""
    B = rollup.BUCKET_S
    now = rollup._floor(time.time()) - 5 * B + 100.5  # 100 s into a bucket: looks 1 s apart
    policy = Policy(alarm_min_offered=1)  # keep the same edge buckets
    starts = {"48h": now - rollup.HORIZON_S, "24h": now - 86400, "window": now - 3600}
    seed = iter(range(100, 10_000))
    edge = {
        name: [
            call_at(f"{name}-{i}", rollup._floor(x) + d, next(seed))
            for i, d in enumerate((1, 99, 101, 250))
        ]
        for name, x in starts.items()
    }
    edge["now"] = [call_at(f"now-{i}", now - d, next(seed)) for i, d in enumerate((1, 50, 99))]
    await store(db, [*calls(now, 1500, hours=50), *(c for cs in edge.values() for c in cs)])
    stored = rollup.StoredMetrics(db, policy)
    await same_as_every_call(stored, db, now, policy)

    def finished(c: CallRecord, **changes: object) -> CallRecord:
        return dataclasses.replace(
            c,
            **{
                "outcome": ABANDONED,
                "agent": None,
                "hold_s": None,
                "attempts": (),
                "wait_s": 3,
                **changes,
            },
        )

    await store(
        db,
        [
            *(finished(cs[1]) for cs in edge.values()),  # updated in place
            call_at("new-now", now - 0.5, next(seed)),  # a new call, current bucket
            call_at("new-24h", starts["24h"] + 0.25, next(seed)),  # just inside the 24 h
            call_at("new-48h", starts["48h"] - 0.25, next(seed)),  # just outside the 48 h
            finished(edge["48h"][2], enter_ts=now - 2),  # 48 h edge -> current
            finished(edge["now"][0], enter_ts=now - 7200),  # current -> a whole bucket
            dataclasses.replace(edge["24h"][3], enter_ts=starts["window"] + 1),  # edge -> edge
        ],
    )
    await store(
        db,
        [
            finished(edge["now"][2], wait_s=9),  # stored twice in between
            dataclasses.replace(edge["window"][0], enter_ts=now - 86000),
        ],
    )
    await same_as_every_call(stored, db, now + 1, policy)
    await store(db, [dataclasses.replace(edge["now"][0], enter_ts=now - 3)])  # moved back
    await same_as_every_call(stored, db, now + 2, policy)


async def test_a_look_in_the_next_bucket(db):
    """Crossing into the next bucket: the current bucket's kept calls become a whole bucket,
    changed in the same look, and the window starts move to the next buckets."""
    B = rollup.BUCKET_S
    hi = rollup._floor(time.time()) - 5 * B
    now = hi + B - 0.5
    policy = Policy(alarm_min_offered=1)
    await store(
        db,
        [
            *calls(now, 1500, hours=50),
            call_at("late", hi + 290, 1),
            call_at("edge", now - 86400 + 0.25, 2),
        ],
    )
    stored = rollup.StoredMetrics(db, policy)
    await same_as_every_call(stored, db, now, policy)
    await store(
        db,
        [
            call_at("late", hi + 10, 3),
            call_at("new", hi + 299, 4),
            call_at("next", hi + B + 0.2, 5),
        ],
    )
    await same_as_every_call(stored, db, now + 1, policy)
    await same_as_every_call(stored, db, now + 2 * B, policy)


async def test_a_call_stamped_ahead_of_this_clock_counts_once_the_bound_reaches_it(db, monkeypatch):
    """Changes are read in a range of stamps bounded on both sides (so that PostgreSQL uses
    the index without statistics): a call stamped beyond the upper bound, by a writer whose
    clock is ahead, is read by the first look whose bound reaches it."""
    now = time.time()
    policy = Policy(alarm_min_offered=1)
    records = calls(now, 600, hours=30)
    await store(db, records)
    stored = rollup.StoredMetrics(db, policy)
    await same_as_every_call(stored, db, now, policy)
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    old = min((r for r in records if r.outcome == ANSWERED), key=lambda r: r.enter_ts)
    async with db.write() as s:
        await s.execute(
            update(CallRow)
            .where(CallRow.uniqueid == old.uniqueid)
            .values(outcome=ABANDONED, agent=None, hold_s=None, stored_at=ahead)
        )
    answer = await stored.dashboard(now + 1, "day")
    # Beyond the bound, not read yet: the case the last look has to catch up on.
    assert answer != await expected(db, now + 1, policy, "day")
    monkeypatch.setattr(rollup, "CHANGE_MARGIN", dt.timedelta(hours=2))
    await same_as_every_call(stored, db, now + 2, policy)


async def test_the_first_look_lets_the_loop_go_between_chunks_of_calls(db, monkeypatch):
    """The first look decodes every call of 48 h (seconds with 100,000 calls): other requests
    are served between chunks of DECODE_CHUNK calls."""
    now = time.time()
    await store(db, calls(now, 1000, hours=40))
    monkeypatch.setattr(rollup, "DECODE_CHUNK", 50)
    decoded = 0

    def counted(row):
        nonlocal decoded
        decoded += 1
        return record_of(row)

    monkeypatch.setattr(rollup, "record_of", counted)
    between: list[int] = []
    look = asyncio.create_task(rollup.StoredMetrics(db, Policy()).dashboard(now, "hour"))
    while not look.done():
        between.append(decoded)
        await asyncio.sleep(0)
    await look
    assert decoded >= 1000
    assert max(b - a for a, b in zip(between, between[1:] + [decoded])) <= 50


async def test_looks_cancelled_or_failing_midway_leave_nothing_half_done(db, monkeypatch):
    """A look whose request goes away (cancelled) or whose database fails at any point leaves
    the tallies and the kept edge calls so that the next look still counts every call once."""
    B = rollup.BUCKET_S
    now = rollup._floor(time.time()) - 5 * B + 100.5
    policy = Policy(alarm_min_offered=1)
    records = calls(now, 1500, hours=50)
    await store(db, records)
    monkeypatch.setattr(rollup, "DECODE_CHUNK", 20)  # more points to be cancelled at
    stored = rollup.StoredMetrics(db, policy)
    reads = rollup.StoredMetrics._calls
    failing_at = [0]

    async def failing(self, *args, **kwargs):
        failing_at[0] -= 1
        if failing_at[0] == 0:
            raise OSError("connection lost")
        return await reads(self, *args, **kwargs)

    monkeypatch.setattr(rollup.StoredMetrics, "_calls", failing)
    await stored.dashboard(now, "hour")
    seed = iter(range(100, 10_000))
    # Looks 100 s apart: every third one crosses into the next bucket (and reads more).
    rounds = [(after, None) for after in (0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064)] + [
        (None, reads) for reads in (1, 2, 3, 4)
    ]
    for k, (after, fail_at) in enumerate(rounds * 2, start=1):
        at = now + 100 * k
        await store(
            db,
            [
                call_at(f"new-{k}", at - 0.5, next(seed)),
                call_at(f"edge-{k}", at - 86400 + 0.5, next(seed)),
                dataclasses.replace(records[k], enter_ts=at - 1),
            ],
        )
        failing_at[0] = fail_at or 0
        look = asyncio.create_task(stored.dashboard(at, "hour"))
        if after is not None:
            await asyncio.sleep(after)
            look.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await look
    failing_at[0] = 0
    await same_as_every_call(stored, db, now + 100 * len(rounds) * 2 + 50, policy)
