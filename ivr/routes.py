"""Where the IVR sent each queued call (ivr.models.RouteRow): the entry number and category
tag, stored when the session hands the call to the queue, read by the call's Uniqueid for the
agent's screen pop (the kernel's IVR_ROUTES port)."""

from __future__ import annotations

import datetime as dt
from typing import Callable, Sequence

from sqlalchemy import select

from hotline.db import Database, upsert, utcnow
from hotline.ports import IvrRoute
from ivr.models import RouteRow


class RouteStore:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def record(self, uniqueid: str, entry: str, category: str, queue: str) -> None:
        """The IVR queued this call; a second run of the IVR on the channel replaces it."""
        values = {
            "uniqueid": uniqueid[:64],
            "entry": entry[:20],
            "category": category[:80],
            "queue": queue[:80],
            "at": self.clock(),
        }
        async with self.db.write() as s:
            await s.execute(
                upsert(
                    s,
                    RouteRow.__table__,
                    values,
                    index_elements=["uniqueid"],
                    set_excluded=("entry", "category", "queue", "at"),
                )
            )

    async def route_of(self, uniqueid: str) -> IvrRoute | None:
        async with self.db.read() as s:
            row = await s.get(RouteRow, uniqueid)
            return None if row is None else _route(row)

    async def routes_of(self, uniqueids: Sequence[str]) -> dict[str, IvrRoute]:
        if not uniqueids:
            return {}
        async with self.db.read() as s:
            rows = (
                await s.execute(select(RouteRow).where(RouteRow.uniqueid.in_(list(uniqueids))))
            ).scalars()
            return {r.uniqueid: _route(r) for r in rows}


def _route(row: RouteRow) -> IvrRoute:
    return IvrRoute(row.uniqueid, row.entry, row.category, row.queue, row.at)
