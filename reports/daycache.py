"""Histories of whole past days kept in memory, so that a month's call history is merged from
per-day, per-hour figures instead of reading and folding every call again (issue 15: "a
month's history does not scan raw rows").

Each (day, dimension, queue, agent) is folded once, by hour, from the day's stored calls. A
day is forgotten when calls entering on it are stored or stored again: before each history
the cache asks the CallHistory port which calls were stored since its last look (their queue
entry times), as calls.rollup does for the live board. Today is never kept. 15-minute
histories (at most 7 days) are folded from the calls directly. Under the memory, the database
(reports.daystore): a past day this process has not folded is read from there while it holds,
and what it folds is stored there for the next process.

The work orders recorded on a day (for 知识库当场解答占比) are folded with its calls: what
counts of them (when, from which call, answered on the spot) is fixed once they are recorded,
and they are recorded at the moment they are made, so a past day's work orders do not change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from functools import partial
from typing import Sequence

from hotline.db import utcnow
from hotline.policy import Policy
from hotline.ports import CallHistory, TicketRecords
from reports.calls import History, history, regroup
from reports.daystore import DayStore

Key = tuple[dt.date, str, str | None, str | None]  # day, dimension, queue, agent
MAX_DAYS_KEPT = 4000  # about ten years of one view, or a year of ten views


class DayCache:
    def __init__(self, policy: Policy, tz: dt.tzinfo, store: DayStore | None = None) -> None:
        self.policy = policy
        self.tz = tz
        self.store = store
        self._days: OrderedDict[Key, History] = OrderedDict()
        self._mark: dt.datetime | None = None
        # Every queue and agent of the stored calls: read once, then grown by the calls
        # stored since (calls are never deleted).
        self._queues: set[str] | None = None
        self._agents: set[str] = set()

    async def names(self, port: CallHistory) -> tuple[list[str], list[str]]:
        """The queues and agents of the stored calls, up to date (forgets changed days)."""
        if self._queues is None:
            queues, agents = await port.names()
            self._queues, self._agents = set(queues), set(agents)
        await self._forget_changed(port)
        return sorted(self._queues), sorted(self._agents)

    async def history(
        self,
        port: CallHistory,
        start: dt.datetime,
        end: dt.datetime,
        group: str,
        dimension: str,
        queue: str | None,
        agent: str | None,
        today: dt.date,
        fresh: bool = False,
        tickets: TicketRecords | None = None,
    ) -> History:
        """`fresh`: the changed days were just forgotten (`names`)."""
        if group == "15min":
            calls = await port.calls_between(start, end)
            recorded = await tickets.recorded_between(start, end) if tickets else []
            return await asyncio.to_thread(
                partial(history, queue=queue, agent=agent, tickets=recorded),
                calls,
                start,
                end,
                group,
                dimension,
                self.policy,
            )
        if not fresh:
            await self._forget_changed(port)
        days = []
        day = start.date()
        while day < end.date():
            days.append(day)
            day += dt.timedelta(days=1)
        missing = [d for d in days if (d, dimension, queue, agent) not in self._days or d >= today]
        if self.store is not None:
            past = [d for d in missing if d < today]
            stored = await self.store.load(port, past, dimension, queue, agent)
            for d, part in stored.items():
                self._keep((d, dimension, queue, agent), part)
            missing = [d for d in missing if d not in stored]
        folded_at = utcnow()  # before the calls are read: what is stored later is seen
        folded = await self._fold(port, tickets, missing, dimension, queue, agent)
        if self.store is not None:
            past_folds = {d: part for d, part in folded.items() if d < today}
            await self.store.save(past_folds, dimension, queue, agent, folded_at)
        parts = []
        for d in days:
            key = (d, dimension, queue, agent)
            if d in folded:
                parts.append(folded[d])
                if d < today:
                    self._keep(key, folded[d])
            else:
                self._days.move_to_end(key)
                parts.append(self._days[key])
        return regroup(parts, start, end, group)

    async def _forget_changed(self, port: CallHistory) -> None:
        mark, stored = await port.stored_since(self._mark)
        if self._mark is not None and stored:
            changed = {dt.datetime.fromtimestamp(ts, self.tz).date() for ts, _, _ in stored}
            for key in [k for k in self._days if k[0] in changed]:
                del self._days[key]
            if self._queues is not None:
                self._queues.update(q for _, q, _ in stored)
                self._agents.update(a for _, _, a in stored if a)
        self._mark = mark

    async def _fold(
        self,
        port: CallHistory,
        tickets: TicketRecords | None,
        days: Sequence[dt.date],
        dimension: str,
        queue: str | None,
        agent: str | None,
    ) -> dict[dt.date, History]:
        """Each day's history by hour. A day at a time: only one day's calls are held (a
        month of a large hotline is half a million records, and the garbage collector's full
        passes over them stop every thread). Folding runs in a worker thread, so the agents'
        pages, the AMI reader and the IVR of the same process go on meanwhile."""
        out: dict[dt.date, History] = {}
        for day in days:
            start = dt.datetime.combine(day, dt.time(), self.tz)
            end = start + dt.timedelta(days=1)
            calls = await port.calls_between(start, end)
            recorded = await tickets.recorded_between(start, end) if tickets else []
            out[day] = await asyncio.to_thread(
                partial(history, queue=queue, agent=agent, tickets=recorded),
                calls,
                start,
                end,
                "hour",
                dimension,
                self.policy,
            )
        return out

    def _keep(self, key: Key, part: History) -> None:
        self._days[key] = part
        while len(self._days) > MAX_DAYS_KEPT:
            self._days.popitem(last=False)
