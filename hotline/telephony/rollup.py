"""Dashboard metrics over the stored call records (a process that does not follow a PBX itself)
without reading 48 hours of calls on every request.

Reading and folding every stored call of the last 48 h on each `GET /api/v1/calls/metrics`
took over a minute with 100,000 calls. Here the calls are tallied once per whole BUCKET_S
bucket of queue-entry time (`sla.metrics.Tally`, per queue) and kept with running sums, so
that any range of whole buckets is one subtraction. A request reads only the calls of the
partial buckets at the edges of its ranges (the start of the 48 h, 24 h and alarm windows,
and the current bucket) and the calls stored or updated since the last request (`stored_at`,
indexed), whose buckets are tallied again. The figures equal
`service.dashboard_metrics` over the same calls, bounded by `now`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from typing import Any, Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.config import Policy
from hotline.db import Database
from hotline.localtime import SHANGHAI
from hotline.telephony.calls import CallRecord
from hotline.telephony.models import CallRow
from hotline.telephony.service import dashboard_json
from hotline.telephony.store import record_of
from sla import metrics
from sla.metrics import BUCKETS, Tally

UTC = dt.timezone.utc
BUCKET_S = 300            # divides 15 min, an hour and a day; China's midnight is on it too
HORIZON_S = 2 * 86400     # per-queue figures cover the last 48 h (as stored_records reads)
# Calls stored up to this long before the last look are read again: a batch stamped before
# it may commit after it (call storage writes a batch in well under a second).
CHANGE_MARGIN = dt.timedelta(seconds=10)
# Enter times are read by the indexed `enter_at`, which rounds `enter_ts` to microseconds:
# ranges are widened by this much and cut by `enter_ts`.
ROUNDING_S = 1.0

SHORT_SPAN = 6 * BUCKET_S  # spans up to this long are added up bucket by bucket

Sums = dict[str, Tally]   # queue -> tally


def _floor(ts: float) -> int:
    return math.floor(ts / BUCKET_S) * BUCKET_S


def _ceil(ts: float) -> int:
    return math.ceil(ts / BUCKET_S) * BUCKET_S


def _at(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, UTC)


class StoredMetrics:
    def __init__(self, db: Database, policy: Policy) -> None:
        self.db = db
        self.policy = policy
        self._lock = asyncio.Lock()
        self._look: _Look | None = None           # the figures of the last look
        self._buckets: dict[int, Sums] = {}      # whole buckets tallied: start -> sums
        self._totals: dict[int, Tally] = {}       # the same, all queues together
        self._where: dict[str, int] = {}          # uniqueid -> bucket its call is tallied in
        self._base: int | None = None             # bucket start of _prefix[0]
        self._prefix: list[Sums] = [{}]           # _prefix[i]: buckets base .. base+(i-1)B
        self._looked: dt.datetime | None = None   # when calls stored were last looked for
        self._seen: dict[str, dt.datetime] = {}   # stamps of the calls stored near the mark

    @property
    def _params(self) -> dict[str, int]:
        return {"service_level_s": self.policy.service_level_seconds,
                "short_abandon_s": self.policy.short_abandon_seconds}

    async def body(self, now: float, bucket: str = "hour") -> bytes:
        """The answer as JSON, worked out at most once a second: the dashboards of every
        manager poll it, and its times are whole seconds. The bucket sizes asked for in one
        second share one look at the calls."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown bucket {bucket}")
        second = math.floor(now)
        look = self._look
        if look is None or look.second != second:
            async with self._lock:  # those asking in the same second wait for the first
                look = self._look
                if look is None or look.second != second:
                    look = await self._refresh(now)
        return look.body(bucket)

    async def dashboard(self, now: float, bucket: str = "hour") -> dict[str, Any]:
        """The same answer as `service.dashboard_metrics(stored_records(db), now, ...)`."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown bucket {bucket}")
        async with self._lock:
            look = self._look
            if look is None or look.now != now:
                look = await self._refresh(now)
            return look.answer(bucket)

    async def _refresh(self, now: float) -> "_Look":
        self._look = None  # its figures are worked out from the tallies about to change
        window_s = self.policy.alarm_window_minutes * 60
        starts = (now - HORIZON_S, now - 86400, now - window_s)
        lo, hi = _ceil(starts[0]), _floor(now)
        async with self.db.read() as s:
            await self._forget_changed(s)
            await self._tally_missing(s, lo, hi)
            edges = await self._records(s, [(x, _ceil(x)) for x in starts] + [(hi, now)])
        self._look = _Look(self, now, starts, edges, hi)
        return self._look

    # --- keeping the tallies ----------------------------------------------------------------

    async def _forget_changed(self, s: AsyncSession) -> None:
        """Drop the tallies of buckets with calls stored since the last look."""
        first = None
        for start in await self._changes(s):
            self._buckets.pop(start, None)
            self._totals.pop(start, None)
            first = start if first is None else min(first, start)
        if first is not None and self._base is not None:
            del self._prefix[max(1, (first - self._base) // BUCKET_S + 1):]

    async def _changes(self, s: AsyncSession) -> list[int]:
        """Buckets of the calls stored since the last look: where they entered, and where
        they were tallied before (a call stored again may say another entry time). A call
        stored a little before the last look may have committed after it: the last
        CHANGE_MARGIN before it is read again, and calls seen with the same stamp passed over.
        """
        looked, self._looked = self._looked, dt.datetime.now(UTC)
        if looked is None:  # the first look: the tallies are all read from now on
            return []
        since = looked - CHANGE_MARGIN
        rows = (await s.execute(select(CallRow.uniqueid, CallRow.enter_ts, CallRow.stored_at)
                                .where(CallRow.stored_at > since))).all()
        changed = []
        for uniqueid, enter_ts, stored_at in rows:
            if self._seen.get(uniqueid) != stored_at:
                self._seen[uniqueid] = stored_at
                changed.append(_floor(enter_ts))
                if uniqueid in self._where:
                    changed.append(self._where[uniqueid])
        self._seen = {u: at for u, at in self._seen.items() if at > since}
        return changed

    async def _tally_missing(self, s: AsyncSession, lo: int, hi: int) -> None:
        if self._base is None or lo - self._base > HORIZON_S:
            # Start the running sums at the horizon again (every two days): older buckets go.
            self._base, self._prefix = lo, [{}]
            self._buckets = {b: sums for b, sums in self._buckets.items() if b >= lo}
            self._totals = {b: t for b, t in self._totals.items() if b >= lo}
            self._where = {u: b for u, b in self._where.items() if b >= lo}
        missing = [b for b in range(lo, hi, BUCKET_S) if b not in self._buckets]
        if not missing:
            return
        # Contiguous runs of missing buckets, one query each.
        runs: list[tuple[int, int]] = []
        for b in missing:
            if runs and runs[-1][1] == b:
                runs[-1] = (runs[-1][0], b + BUCKET_S)
            else:
                runs.append((b, b + BUCKET_S))
        for b in missing:
            self._buckets[b] = {}
            self._totals.pop(b, None)
        for record in await self._records(s, runs):
            self._where[record.uniqueid] = _floor(record.enter_ts)
            sums = self._buckets[_floor(record.enter_ts)]
            tally = sums.get(record.queue)
            if tally is None:
                tally = sums[record.queue] = Tally()
            tally.add(record, **self._params)
        first = (missing[0] - self._base) // BUCKET_S + 1
        del self._prefix[max(1, first):]

    async def _records(self, s: AsyncSession,
                       ranges: Iterable[tuple[float, float]]) -> list[CallRecord]:
        """The stored calls that entered in any of the [start, end) ranges."""
        ranges = [(a, b) for a, b in ranges if a < b]
        if not ranges:
            return []
        rows = await s.execute(select(*CallRow.__table__.c).where(or_(*(
            (CallRow.enter_at >= _at(a - ROUNDING_S)) & (CallRow.enter_at < _at(b + ROUNDING_S))
            for a, b in ranges))))
        return [record for record in map(record_of, rows)
                if any(a <= record.enter_ts < b for a, b in ranges)]

    def _total(self, b: int) -> Tally:
        """All queues of the whole bucket b."""
        total = self._totals.get(b)
        if total is None:
            total = self._totals[b] = Tally()
            for t in self._buckets[b].values():
                total.merge(t)
        return total

    def _sums(self, lo: int, hi: int) -> Sums:
        """Tallies of the whole buckets [lo, hi), by queue: a difference of running sums."""
        assert self._base is not None
        if hi - lo <= SHORT_SPAN:  # cheaper added up than as a difference of all agents' sums
            out: Sums = {}
            for b in range(lo, hi, BUCKET_S):
                for q, t in self._buckets[b].items():
                    out.setdefault(q, Tally()).merge(t)
            return out
        i, j = (lo - self._base) // BUCKET_S, (hi - self._base) // BUCKET_S
        while len(self._prefix) <= j:
            k = len(self._prefix) - 1
            running = {q: t.copy() for q, t in self._prefix[k].items()}
            for q, t in self._buckets[self._base + k * BUCKET_S].items():
                running.setdefault(q, Tally()).merge(t)
            self._prefix.append(running)
        out = {q: t.copy() for q, t in self._prefix[j].items()}
        for q, t in self._prefix[i].items():  # every queue of [i] is in [j]: sums only grow
            out[q].merge(t, -1)
        for q, t in out.items():  # a maximum is not a running sum
            t.longest_wait_s = None
            for b in range(lo, hi, BUCKET_S):
                part = self._buckets[b].get(q)
                if part is not None and part.longest_wait_s is not None and (
                        t.longest_wait_s is None or part.longest_wait_s > t.longest_wait_s):
                    t.longest_wait_s = part.longest_wait_s
        return out


class _Look:
    """The figures at one moment `now`: tallies of [start, end) ranges, whole buckets from the
    running sums and the partial buckets at the ends from the edge calls read for this look.
    The parts every bucket size shares are worked out once; the answer of a bucket size when
    first asked for. Only valid until the next look changes the tallies."""

    def __init__(self, stored: StoredMetrics, now: float, starts: tuple[float, float, float],
                 edges: list[CallRecord], hi: int) -> None:
        self.stored = stored
        self.now = now
        self.second = math.floor(now)
        self.edges = edges
        self.hi = hi
        self.today = metrics.bucket_start(now, "day").timestamp()
        sl = stored.policy.service_level_seconds
        self.rolling_24h = self.total(starts[1], now).metrics(sl)
        self.window = self.total(starts[2], now).metrics(sl)
        self.today_total = self.total(self.today, now)
        self.queues = {q: t.metrics(sl) for q, t in self.span(starts[0], now).items() if t.calls}
        self._bodies: dict[str, bytes] = {}

    def answer(self, bucket: str) -> dict[str, Any]:
        size = BUCKETS[bucket]
        sl = self.stored.policy.service_level_seconds
        buckets = {}
        for start in range(int(self.today), int(self.now) + 1, size):
            end = min(start + size, self.now)
            total = self.today_total if start == self.today and end == self.now \
                else self.total(start, end)
            if total.calls:
                buckets[dt.datetime.fromtimestamp(start, SHANGHAI)] = total.metrics(sl)
        return dashboard_json(self.now, self.stored.policy, bucket, self.rolling_24h,
                              self.window, self.today_total.metrics(sl), buckets, self.queues)

    def body(self, bucket: str) -> bytes:
        body = self._bodies.get(bucket)
        if body is None:
            body = self._bodies[bucket] = json.dumps(self.answer(bucket), ensure_ascii=False,
                                                     default=str).encode()
        return body

    def span(self, start: float, end: float) -> Sums:
        lo, top = _ceil(start), min(_floor(end), self.hi)
        whole = lo < top
        out = self.stored._sums(lo, top) if whole else {}
        for r in self.edges:
            if start <= r.enter_ts < end and not (whole and lo <= r.enter_ts < top):
                tally = out.get(r.queue)
                if tally is None:
                    tally = out[r.queue] = Tally()
                tally.add(r, **self.stored._params)
        return out

    def total(self, start: float, end: float) -> Tally:
        lo, top = _ceil(start), min(_floor(end), self.hi)
        if lo < top and top - lo <= SHORT_SPAN:  # the day's buckets: bucket totals added up
            total = Tally()
            for b in range(lo, top, BUCKET_S):
                total.merge(self.stored._total(b))
            for r in self.edges:
                if start <= r.enter_ts < end and not lo <= r.enter_ts < top:
                    total.add(r, **self.stored._params)
            return total
        total = Tally()
        for t in self.span(start, end).values():
            total.merge(t)
        return total
