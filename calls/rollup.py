"""Dashboard metrics over the stored call records (a process that does not follow a PBX itself)
without reading 48 hours of calls on every request.

Reading and folding every stored call of the last 48 h on each `GET /api/v1/calls/metrics`
took over a minute with 100,000 calls. Here the calls are tallied once per whole BUCKET_S
bucket of queue-entry time (`sla.metrics.Tally`, per queue) and kept with running sums, so
that any range of whole buckets is one subtraction. The partial buckets at the edges of the
ranges (the start of the 48 h, 24 h and alarm windows, and the current bucket) are added up
from their calls, kept in memory from one look to the next. A look, at most once a second
and shared by the three bucket sizes, reads only the calls stored or updated since the last
one (`stored_at`, indexed): their buckets are tallied again, and the kept edge calls replaced
by them. The edge buckets move every BUCKET_S; then the new ones are read, and the last
current bucket is tallied from its kept calls. The figures equal `dashboard.dashboard_metrics`
over the same calls, bounded by `now`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import Database
from hotline.localtime import SHANGHAI
from hotline.policy import Policy
from calls.calls import CallRecord
from calls.models import CallRow
from calls.dashboard import dashboard_json
from calls.records import record_of
from sla import metrics
from sla.metrics import BUCKETS, Tally

UTC = dt.timezone.utc
BUCKET_S = 300  # divides 15 min, an hour and a day; China's midnight is on it too
HORIZON_S = 2 * 86400  # per-queue figures cover the last 48 h (as stored_records reads)
# Calls stored up to this long before the last look are read again: a batch stamped before
# it may commit after it (call storage writes a batch in well under a second).
CHANGE_MARGIN = dt.timedelta(seconds=10)
# Enter times are read by the indexed `enter_at`, which rounds `enter_ts` to microseconds:
# ranges are widened by this much and cut by `enter_ts`.
ROUNDING_S = 1.0

# Calls changed in a kept edge bucket are read again by uniqueid, this many a query.
IN_CHUNK = 500
# Rows decoded between two turns of the event loop (about 10 ms of work).
DECODE_CHUNK = 250

# While a look is under way, an answer this many seconds old may be sent instead of waiting.
STALE_S = 1
SHORT_SPAN = 6 * BUCKET_S  # spans up to this long are added up bucket by bucket

Sums = dict[str, Tally]  # queue -> tally


def _floor(ts: float) -> int:
    return math.floor(ts / BUCKET_S) * BUCKET_S


def _ceil(ts: float) -> int:
    return math.ceil(ts / BUCKET_S) * BUCKET_S


def _at(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, UTC)


def _runs(buckets: list[int]) -> list[tuple[int, int]]:
    """Ascending bucket starts as [start, end) ranges of contiguous buckets (a query each)."""
    runs: list[tuple[int, int]] = []
    for b in buckets:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + BUCKET_S)
        else:
            runs.append((b, b + BUCKET_S))
    return runs


class StoredMetrics:
    def __init__(self, db: Database, policy: Policy) -> None:
        self.db = db
        self.policy = policy
        self._lock = asyncio.Lock()
        self._look: _Look | None = None  # the figures of the last look
        self._served: dict[str, tuple[int, bytes]] = {}  # bucket -> (second, answer) last sent
        self._buckets: dict[int, Sums] = {}  # whole buckets tallied: start -> sums
        self._totals: dict[int, Tally] = {}  # the same, all queues together
        self._where: dict[str, int] = {}  # uniqueid -> bucket its call is tallied in
        self._base: int | None = None  # bucket start of _prefix[0]
        self._prefix: list[Sums] = [{}]  # _prefix[i]: buckets base .. base+(i-1)B
        self._looked: dt.datetime | None = None  # when calls stored were last looked for
        self._seen: dict[str, dt.datetime] = {}  # stamps of the calls stored near the mark
        # The calls of the buckets at the edges of the last look's ranges (the start of the
        # 48 h, 24 h and alarm windows, the current bucket): start -> uniqueid -> call.
        self._edges: dict[int, dict[str, CallRecord]] = {}

    @property
    def _params(self) -> dict[str, int]:
        return {
            "service_level_s": self.policy.service_level_seconds,
            "short_abandon_s": self.policy.short_abandon_seconds,
        }

    async def body(self, now: float, bucket: str = "hour") -> bytes:
        """The answer as JSON, worked out at most once a second: the dashboards of every
        manager poll it, and its times are whole seconds. The bucket sizes asked for in one
        second share one look at the calls."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown bucket {bucket}")
        second = math.floor(now)
        look = self._look
        if look is None or look.second != second:
            served = self._served.get(bucket)
            if self._lock.locked() and served is not None and second - served[0] <= STALE_S:
                # A look is under way: the answer of a second ago rather than a wait for it
                # (the boards poll every few seconds; waiting was most of the p95).
                return served[1]
            async with self._lock:  # those asking in the same second wait for the first
                look = self._look
                if look is None or look.second != second:
                    look = await self._refresh(now)
        body = look.body(bucket)
        self._served[bucket] = (look.second, body)
        return body

    async def dashboard(self, now: float, bucket: str = "hour") -> dict[str, Any]:
        """The same answer as `dashboard.dashboard_metrics(records.stored_records(db), now, ...)`."""
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
        edges = {_floor(x) for x in starts} | {hi}
        async with self.db.read() as s:
            await self._forget_changed(s)
            await self._keep_edges(s, edges)
            await self._tally_missing(s, lo, hi)
        # After the tallying: the current bucket of the last look, whole now, was tallied
        # from its kept calls.
        self._edges = {b: self._edges[b] for b in edges}
        self._look = _Look(self, now, starts, hi)
        return self._look

    # --- keeping the tallies ----------------------------------------------------------------
    # Each step reads first and changes the state only once all is read, without awaiting in
    # between: a look that fails (the database) or is cancelled (the client went away) leaves
    # the state as the last whole step left it, and the next look goes on from there.

    async def _forget_changed(self, s: AsyncSession) -> None:
        """Drop the tallies of buckets with calls stored since the last look, and put those
        calls in the kept edge buckets as they are now. A call stored a little before the last
        look may have committed after it: the last CHANGE_MARGIN before it is read again, and
        calls seen with the same stamp passed over."""
        looked = dt.datetime.now(UTC)
        # The first look reads all tallies after this; the calls it finds are marked seen, so
        # that the next look does not take the calls stored just before it for changes.
        since = (self._looked or looked) - CHANGE_MARGIN
        # Bounded above too: without statistics (a table just filled, not analyzed yet)
        # PostgreSQL guesses `stored_at > since` matches much of the table and scans all of it
        # (50 ms with 100,000 calls), a range bounded on both sides a few rows, read by the
        # index. A call stamped later than the bound (a writer's clock ahead) is read by the
        # first look whose bound reaches it: the lower bound stays below it until then.
        until = looked + CHANGE_MARGIN
        rows = (
            await s.execute(
                select(CallRow.uniqueid, CallRow.enter_ts, CallRow.stored_at).where(
                    CallRow.stored_at > since, CallRow.stored_at <= until
                )
            )
        ).all()
        changed = {u: (_floor(enter_ts), at) for u, enter_ts, at in rows if self._seen.get(u) != at}
        wanted = [u for u, (start, _) in changed.items() if start in self._edges]
        fresh = []
        for i in range(0, len(wanted), IN_CHUNK):
            # Read again in full: the call may have been stored again since (its next stamp
            # makes it a change of the next look), so it goes where its row now says.
            fresh += await self._calls(s, CallRow.uniqueid.in_(wanted[i : i + IN_CHUNK]))
        self._looked = looked
        first = None
        for uniqueid, (start, at) in changed.items():
            self._seen[uniqueid] = at
            for b in (start, self._where.get(uniqueid)):
                if b is not None:
                    self._buckets.pop(b, None)
                    self._totals.pop(b, None)
                    first = b if first is None else min(first, b)
            for kept in self._edges.values():
                kept.pop(uniqueid, None)
        self._seen = {u: at for u, at in self._seen.items() if at > since}
        if first is not None and self._base is not None:
            del self._prefix[max(1, (first - self._base) // BUCKET_S + 1) :]
        for record in fresh:
            bucket = self._edges.get(_floor(record.enter_ts))
            if bucket is not None:
                bucket[record.uniqueid] = record

    async def _keep_edges(self, s: AsyncSession, edges: set[int]) -> None:
        """Read the calls of the edge buckets not kept yet (those of the last look are kept
        up to date by `_forget_changed`)."""
        missing = sorted(b for b in edges if b not in self._edges)
        kept: dict[int, dict[str, CallRecord]] = {b: {} for b in missing}
        for record in await self._records(s, _runs(missing)):
            kept[_floor(record.enter_ts)][record.uniqueid] = record
        self._edges.update(kept)

    async def _tally_missing(self, s: AsyncSession, lo: int, hi: int) -> None:
        if self._base is None or lo - self._base > HORIZON_S:
            # Start the running sums at the horizon again (every two days): older buckets go.
            self._base, self._prefix = lo, [{}]
            self._buckets = {b: sums for b, sums in self._buckets.items() if b >= lo}
            self._totals = {b: t for b, t in self._totals.items() if b >= lo}
            self._where = {u: b for u, b in self._where.items() if b >= lo}
        # From the base: the running sums are built from there, and a bucket below lo whose
        # calls were stored again was dropped too.
        missing = [b for b in range(self._base, hi, BUCKET_S) if b not in self._buckets]
        if not missing:
            return
        records = await self._records(s, _runs([b for b in missing if b not in self._edges]))
        for b in missing:
            records.extend(self._edges.get(b, {}).values())
        fresh: dict[int, Sums] = {b: {} for b in missing}
        where = {}
        params = self._params
        for i, record in enumerate(records):
            if i and not i % (8 * DECODE_CHUNK):  # a tally costs about an eighth of a decode
                await asyncio.sleep(0)
            where[record.uniqueid] = b = _floor(record.enter_ts)
            tally = fresh[b].get(record.queue)
            if tally is None:
                tally = fresh[b][record.queue] = Tally()
            tally.add(record, **params)
        self._buckets.update(fresh)
        for b in missing:
            self._totals.pop(b, None)
        self._where.update(where)
        del self._prefix[max(1, (missing[0] - self._base) // BUCKET_S + 1) :]

    async def _records(
        self, s: AsyncSession, ranges: Sequence[tuple[float, float]]
    ) -> list[CallRecord]:
        """The stored calls that entered in any of the [start, end) ranges."""
        if not ranges:
            return []
        return await self._calls(
            s,
            or_(
                *(
                    (CallRow.enter_at >= _at(a - ROUNDING_S))
                    & (CallRow.enter_at < _at(b + ROUNDING_S))
                    for a, b in ranges
                )
            ),
            lambda r: any(a <= r.enter_ts < b for a, b in ranges),
        )

    async def _calls(
        self, s: AsyncSession, where: Any, keep: Callable[[CallRecord], bool] | None = None
    ) -> list[CallRecord]:
        """The stored calls `where` (and `keep`) says, decoded DECODE_CHUNK rows at a time
        with the loop let go in between: the first look decodes 48 h of calls, seconds of work
        that would hold every other request."""
        result = await s.execute(select(*CallRow.__table__.c).where(where))
        out: list[CallRecord] = []
        for i, rows in enumerate(result.partitions(DECODE_CHUNK)):
            if i:
                await asyncio.sleep(0)
            out.extend(filter(keep, map(record_of, rows)))
        return out

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
                if (
                    part is not None
                    and part.longest_wait_s is not None
                    and (t.longest_wait_s is None or part.longest_wait_s > t.longest_wait_s)
                ):
                    t.longest_wait_s = part.longest_wait_s
        return out


class _Look:
    """The figures at one moment `now`: tallies of [start, end) ranges (end <= now), whole
    buckets from the running sums and the partial buckets at the ends from the kept edge calls.
    The parts every bucket size shares are worked out once; the answer of a bucket size when
    first asked for. Only valid until the next look changes the tallies."""

    def __init__(
        self, stored: StoredMetrics, now: float, starts: tuple[float, float, float], hi: int
    ) -> None:
        self.stored = stored
        self.now = now
        self.second = math.floor(now)
        self.edges = stored._edges
        self.hi = hi
        self.params = stored._params
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
            total = (
                self.today_total
                if start == self.today and end == self.now
                else self.total(start, end)
            )
            if total.calls:
                buckets[dt.datetime.fromtimestamp(start, SHANGHAI)] = total.metrics(sl)
        return dashboard_json(
            self.now,
            self.stored.policy,
            bucket,
            self.rolling_24h,
            self.window,
            self.today_total.metrics(sl),
            buckets,
            self.queues,
        )

    def body(self, bucket: str) -> bytes:
        body = self._bodies.get(bucket)
        if body is None:
            body = self._bodies[bucket] = json.dumps(
                self.answer(bucket), ensure_ascii=False, default=str
            ).encode()
        return body

    def _partial(self, start: float, end: float, lo: int, top: int) -> Iterator[CallRecord]:
        """The calls of [start, end) outside its whole buckets [lo, top): all are in the
        buckets of `start` and of `end`, edge buckets of this look."""
        for b in {_floor(start), top}:
            if b < end and not lo <= b < top:
                for r in self.edges[b].values():
                    if start <= r.enter_ts < end and not lo <= r.enter_ts < top:
                        yield r

    def span(self, start: float, end: float) -> Sums:
        lo, top = _ceil(start), min(_floor(end), self.hi)
        out = self.stored._sums(lo, top) if lo < top else {}
        for r in self._partial(start, end, lo, top):
            tally = out.get(r.queue)
            if tally is None:
                tally = out[r.queue] = Tally()
            tally.add(r, **self.params)
        return out

    def total(self, start: float, end: float) -> Tally:
        lo, top = _ceil(start), min(_floor(end), self.hi)
        if lo < top and top - lo <= SHORT_SPAN:  # the day's buckets: bucket totals added up
            total = Tally()
            for b in range(lo, top, BUCKET_S):
                total.merge(self.stored._total(b))
            for r in self._partial(start, end, lo, top):
                total.add(r, **self.params)
            return total
        total = Tally()
        for t in self.span(start, end).values():
            total.merge(t)
        return total
