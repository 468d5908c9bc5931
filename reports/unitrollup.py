"""The unit ranking's stored rollup (承办单位考核, issue 15: "a month's ranking does not scan
raw rows"): each assignment's facts (reports.accountability.AssignmentFacts) in
report_unit_assignments, their sums per unit and local month in report_unit_months
(reports/models.py).

A month's tallies are its sums per unit plus, per unit, how many pending deadlines of its
undecided assignments have passed `now` (two index range counts): the same counts
`accountability.ranking` folds from every record (tested on both databases against it).

Kept in step with the tickets: triggers (migration 0021) queue a ticket's number in every
transaction that appends to its history or changes its type, urgency or deadlines, whatever
code writes it. Before each ranking the queue is folded here, a chunk per transaction: the
queued tickets are read again through the TicketRecords port, their assignments' facts
replaced and the sums of the months they were and are in moved by the difference, and exactly
the queue rows read are deleted, so a change committed meanwhile stays queued. So a ticket
changed in an old month changes that month's figures at the next read. One folder at a time:
SQLite's write lock, PostgreSQL a transaction advisory lock.

Rebuilt from every ticket (`hotline report rebuild-units`, `UnitRollup.rebuild`) when there
is no state row: on a database that never had it (the triggers queue nothing then), after a
unit's term or the holiday calendar changed (a trigger deletes the row: earlier assignments'
deadlines are worked out again from them), or when the time zone or the deadline policy
differs from the state's fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import Database
from hotline.policy import Policy
from hotline.ports import TicketRecords
from reports.accountability import FIXED, AssignmentFacts, UnitTally, facts, tally_of
from reports.models import UnitAssignmentFacts, UnitMonth, UnitRollupQueue, UnitRollupState
from reports.periods import month_of

# Bumped when the facts are derived differently: a stored rollup of another version is rebuilt.
RULES_VERSION = 1
CHUNK = 1000  # queued tickets folded per transaction (about 0.1 s of SQLite's write lock)
IN_CHUNK = 500
LOCK_SQL = text("SELECT pg_advisory_xact_lock(hashtext('hotline.reports.unit_rollup'))")
MonthUnit = tuple[str, str]
COUNTS = ("assigned", *FIXED)


def fingerprint(policy: Policy, tz_name: str) -> str:
    """What the stored facts depend on besides the tickets, units and calendar (those fire
    triggers): the month boundaries' zone and the deadline numbers (sla.deadlines)."""
    used = (
        RULES_VERSION,
        tz_name,
        policy.default_deadline_workdays,
        policy.acknowledge_hours,
        policy.urgent_deadline_hours,
        policy.office_opens,
        policy.office_closes,
        policy.consult_deadline_workdays,
        policy.help_deadline_workdays,
    )
    return hashlib.sha256(repr(used).encode()).hexdigest()[:32]


class UnitRollup:
    def __init__(self, db: Database, tz: dt.tzinfo, tz_name: str) -> None:
        self.db = db
        self.tz = tz
        self.tz_name = tz_name

    def month_key(self, at: dt.datetime) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m")

    # --- reading ----------------------------------------------------------------------------

    async def tallies(
        self,
        port: TicketRecords,
        policy: Policy,
        start: dt.datetime,
        end: dt.datetime,
        now: dt.datetime,
    ) -> dict[str, UnitTally]:
        """Per unit, the tally of its assignments made in [start, end) as of `now`, the
        queued changes folded first. A whole local month reads its sums; any other range sums
        the facts of its assignments."""
        await self.catch_up(port, policy)
        local = start.astimezone(self.tz)
        month = month_of(local.year, local.month, self.tz)
        whole = month.start == start and month.end == end
        f = UnitAssignmentFacts
        key = self.month_key(start)
        where: Any = (f.month == key) if whole else ((f.at >= start) & (f.at < end))
        async with self.db.read() as s:
            if whole:
                sums = await s.execute(
                    select(UnitMonth.unit, *(getattr(UnitMonth, c) for c in COUNTS)).where(
                        UnitMonth.month == key
                    )
                )
            else:
                sums = await s.execute(
                    select(f.unit, func.count(), *(func.sum(getattr(f, c)) for c in FIXED))
                    .where(where)
                    .group_by(f.unit)
                )
            by_unit = {row[0]: dict(zip(COUNTS, (int(v) for v in row[1:]))) for row in sums}
            passed: list[dict[str, int]] = []
            for column in (f.ack_pending, f.due_pending):
                rows = await s.execute(
                    select(f.unit, func.count()).where(where, column < now).group_by(f.unit)
                )
                passed.append({unit: n for unit, n in rows})
        return {
            unit: tally_of(sums_, passed[0].get(unit, 0), passed[1].get(unit, 0))
            for unit, sums_ in by_unit.items()
            if sums_["assigned"]
        }

    # --- keeping it in step -----------------------------------------------------------------

    async def catch_up(self, port: TicketRecords, policy: Policy) -> None:
        """Fold the queued tickets; rebuild first when there is no rollup of these settings."""
        wanted = fingerprint(policy, self.tz_name)
        while True:
            async with self.db.read() as s:
                state = await s.get(UnitRollupState, 1)
                queued = await s.scalar(select(UnitRollupQueue.id).limit(1))
            if state is None or state.fingerprint != wanted or not state.ready:
                await self._start_rebuild(port, wanted)
            elif queued is None:
                return
            else:
                await self._fold_some(port)

    async def rebuild(self, port: TicketRecords, policy: Policy) -> int:
        """Make the rollup again from every ticket; the number of assignments stored."""
        async with self.db.write() as s:
            await self._lock(s)
            await s.execute(delete(UnitRollupState))
        await self.catch_up(port, policy)
        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(UnitAssignmentFacts)) or 0)

    async def _lock(self, s: AsyncSession) -> None:
        """One folder at a time (SQLite: its write lock is held already)."""
        if not self.db.is_sqlite:
            await s.execute(LOCK_SQL)

    async def _start_rebuild(self, port: TicketRecords, wanted: str) -> None:
        # First commit an empty rollup whose state row makes the triggers queue every change
        # from now on; then queue every ticket ever assigned, read after that commit, so that
        # a change is either seen by that read or queued by its trigger.
        async with self.db.write() as s:
            await self._lock(s)
            state = await s.get(UnitRollupState, 1)
            if state is not None and state.fingerprint == wanted and state.ready:
                return  # rebuilt meanwhile by another process
            for table in (UnitAssignmentFacts, UnitMonth, UnitRollupQueue, UnitRollupState):
                await s.execute(delete(table))
            s.add(UnitRollupState(id=1, fingerprint=wanted, ready=False))
        numbers = await port.assigned_numbers()
        async with self.db.write() as s:
            await self._lock(s)
            state = await s.get(UnitRollupState, 1)
            if state is None or state.fingerprint != wanted or state.ready:
                return  # changed meanwhile: the caller looks again
            for i in range(0, len(numbers), CHUNK * 5):
                await s.execute(
                    insert(UnitRollupQueue), [{"ticket": n} for n in numbers[i : i + CHUNK * 5]]
                )
            await s.execute(
                update(UnitRollupState).where(UnitRollupState.id == 1).values(ready=True)
            )

    async def _fold_some(self, port: TicketRecords) -> None:
        async with self.db.write() as s:
            await self._lock(s)
            queued = (
                await s.execute(
                    select(UnitRollupQueue.id, UnitRollupQueue.ticket)
                    .order_by(UnitRollupQueue.id)
                    .limit(CHUNK)
                )
            ).all()
            if not queued:
                return
            numbers = sorted({t for _, t in queued})
            new = [f for r in await port.records_of(numbers) for f in facts(r)]
            old = await self._stored(s, numbers)
            delta = _sums((self.month_key(f.at), f.unit, f) for f in new)
            for key, sums in _sums((m, u, f) for m, u, f in old).items():
                mine = delta.setdefault(key, dict.fromkeys(COUNTS, 0))
                for c in COUNTS:
                    mine[c] -= sums[c]
            for i in range(0, len(numbers), IN_CHUNK):
                await s.execute(
                    delete(UnitAssignmentFacts).where(
                        UnitAssignmentFacts.ticket.in_(numbers[i : i + IN_CHUNK])
                    )
                )
            if new:
                await s.execute(insert(UnitAssignmentFacts), [self._row(f) for f in new])
            await self._move_months(s, {k: d for k, d in delta.items() if any(d.values())})
            ids = [i for i, _ in queued]
            for i in range(0, len(ids), IN_CHUNK):
                await s.execute(
                    delete(UnitRollupQueue).where(UnitRollupQueue.id.in_(ids[i : i + IN_CHUNK]))
                )

    async def _stored(
        self, s: AsyncSession, numbers: Sequence[str]
    ) -> list[tuple[str, str, dict[str, int]]]:
        f = UnitAssignmentFacts
        out = []
        for i in range(0, len(numbers), IN_CHUNK):
            rows = await s.execute(
                select(f.month, f.unit, *(getattr(f, c) for c in FIXED)).where(
                    f.ticket.in_(numbers[i : i + IN_CHUNK])
                )
            )
            for month, unit, *counts in rows:
                out.append((month, unit, dict(zip(FIXED, counts))))
        return out

    async def _move_months(self, s: AsyncSession, delta: dict[MonthUnit, dict[str, int]]) -> None:
        if not delta:
            return
        keys = sorted(delta)
        current: dict[MonthUnit, dict[str, int]] = {}
        for i in range(0, len(keys), IN_CHUNK):
            rows = await s.execute(
                select(
                    UnitMonth.month, UnitMonth.unit, *(getattr(UnitMonth, c) for c in COUNTS)
                ).where(tuple_(UnitMonth.month, UnitMonth.unit).in_(keys[i : i + IN_CHUNK]))
            )
            for month, unit, *counts in rows:
                current[(month, unit)] = dict(zip(COUNTS, counts))
        for key in keys:
            was = current.get(key)
            now = {c: (was[c] if was else 0) + delta[key][c] for c in COUNTS}
            where = (UnitMonth.month == key[0]) & (UnitMonth.unit == key[1])
            if now["assigned"] <= 0:
                await s.execute(delete(UnitMonth).where(where))
            elif was is None:
                await s.execute(insert(UnitMonth).values(month=key[0], unit=key[1], **now))
            else:
                await s.execute(update(UnitMonth).where(where).values(**now))

    def _row(self, f: AssignmentFacts) -> dict[str, Any]:
        return {
            "ticket": f.number,
            "seq": f.seq,
            "unit": f.unit,
            "at": f.at,
            "month": self.month_key(f.at),
            "ack_pending": f.ack_pending,
            "due_pending": f.due_pending,
            **{c: int(getattr(f, c)) for c in FIXED},
        }


def _sums(
    items: Iterable[tuple[str, str, AssignmentFacts | dict[str, int]]],
) -> dict[MonthUnit, dict[str, int]]:
    out: dict[MonthUnit, dict[str, int]] = {}
    for month, unit, f in items:
        sums = out.setdefault((month, unit), dict.fromkeys(COUNTS, 0))
        sums["assigned"] += 1
        for c in FIXED:
            sums[c] += int(f[c] if isinstance(f, dict) else getattr(f, c))
    return out
