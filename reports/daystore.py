"""Past days' call history kept in the database (reports.models.CallDay), under the in-memory
day cache (reports.daycache): a process that starts — after a restart, or each worker of
`serve --workers` — reads a month's history from about thirty rows instead of folding half a
million calls again.

A stored day is trusted only while nothing it was folded from changed: its fingerprint names
the time zone and the policy figures the fold counted with, and the CallHistory port is asked
which calls of its days were stored after the fold began (a recomputation, a call stored
late). Work orders need no such check: they are recorded at the moment they are made, so a
past day's never change. A stale row is folded again and replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from hotline.db import Database
from hotline.policy import Policy
from hotline.ports import CallHistory
from reports.calls import Cell, History, periods
from reports.models import CallDay
from sla.metrics import Tally

log = logging.getLogger(__name__)

Key = tuple[dt.date, str, str | None, str | None]  # day, dimension, queue, agent
# Raised when what a stored fold holds or how it is counted changes (reports.calls).
FOLD_VERSION = 1


def fingerprint(policy: Policy, tz_name: str) -> str:
    parts = (
        FOLD_VERSION,
        tz_name,
        policy.service_level_seconds,
        policy.short_abandon_seconds,
        policy.agent_hangup_quick_seconds,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def encode(part: History) -> str:
    return json.dumps(
        {
            "cells": [[b.timestamp(), k, _cell(c)] for (b, k), c in part.cells.items()],
            "totals": {k: _cell(c) for k, c in part.totals.items()},
            "total": _cell(part.total),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode(body: str, day: dt.date, dimension: str, tz: dt.tzinfo) -> History:
    raw = json.loads(body)
    start = dt.datetime.combine(day, dt.time(), tz)
    cells = {(dt.datetime.fromtimestamp(ts, tz), key): _uncell(c) for ts, key, c in raw["cells"]}
    totals = {k: _uncell(c) for k, c in raw["totals"].items()}
    return History(
        "hour",
        dimension,
        periods(start, start + dt.timedelta(days=1), "hour"),
        sorted(totals),
        cells,
        totals,
        _uncell(raw["total"]),
    )


def _cell(c: Cell) -> dict[str, Any]:
    return dataclasses.asdict(c)


def _uncell(raw: dict[str, Any]) -> Cell:
    return Cell(**{**raw, "tally": Tally(**raw["tally"])})


class DayStore:
    def __init__(self, db: Database, tz: dt.tzinfo, fingerprint: str) -> None:
        self.db = db
        self.tz = tz
        self.fingerprint = fingerprint

    async def load(
        self,
        port: CallHistory,
        days: Iterable[dt.date],
        dimension: str,
        queue: str | None,
        agent: str | None,
    ) -> dict[dt.date, History]:
        """The stored folds of these past days of one view that still hold."""
        wanted = sorted(set(days))
        if not wanted:
            return {}
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(CallDay.day, CallDay.folded_at, CallDay.body).where(
                        CallDay.day >= wanted[0],
                        CallDay.day <= wanted[-1],
                        CallDay.dimension == dimension,
                        CallDay.queue == (queue or ""),
                        CallDay.agent == (agent or ""),
                        CallDay.fingerprint == self.fingerprint,
                    )
                )
            ).all()
        asked = set(wanted)
        rows = [r for r in rows if r.day in asked]
        if not rows:
            return {}
        since = min(r.folded_at for r in rows)
        start = dt.datetime.combine(wanted[0], dt.time(), self.tz)
        end = dt.datetime.combine(wanted[-1] + dt.timedelta(days=1), dt.time(), self.tz)
        # Calls of these days stored after the oldest fold began: their days are folded again.
        changed = {
            dt.datetime.fromtimestamp(ts, self.tz).date()
            for ts in await port.stored_after(start, end, since)
        }
        kept = [r for r in rows if r.day not in changed]
        # A month of per-agent hours is tens of thousands of cells: off the event loop.
        return await asyncio.to_thread(
            lambda: {r.day: decode(r.body, r.day, dimension, self.tz) for r in kept}
        )

    async def save(
        self,
        parts: Mapping[dt.date, History],
        dimension: str,
        queue: str | None,
        agent: str | None,
        folded_at: dt.datetime,
    ) -> None:
        """Keeps these folds (begun at `folded_at`), replacing what the days held. Bodies are
        encoded (in a worker thread) before the write transaction, which only deletes and
        inserts."""
        if not parts:
            return
        q, a = queue or "", agent or ""
        bodies = await asyncio.to_thread(lambda: {day: encode(p) for day, p in parts.items()})
        rows = [
            dict(
                day=day,
                dimension=dimension,
                queue=q,
                agent=a,
                fingerprint=self.fingerprint,
                folded_at=folded_at,
                body=body,
            )
            for day, body in bodies.items()
        ]
        keys = [(day, dimension, q, a) for day in parts]
        try:
            async with self.db.write() as s:
                await s.execute(
                    delete(CallDay).where(
                        tuple_(CallDay.day, CallDay.dimension, CallDay.queue, CallDay.agent).in_(
                            keys
                        )
                    )
                )
                await s.execute(insert(CallDay), rows)
        except IntegrityError:
            # Another instance stored the same days meanwhile: its folds hold as well.
            log.debug("report_call_days: %d day(s) stored meanwhile by another instance", len(rows))
