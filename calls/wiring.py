"""What call tracking adds to the services (hotline.bootstrap): dashboard metrics over the
stored call records for every process, and, when `ami.enabled`, the `ami` role's worker that
follows the PBX (AMI ingest, call records, live board, screen pops)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Iterable, Sequence

from sqlalchemy import Row, select

from hotline.bootstrap import Key, Services, Worker
from hotline.db import Database, distinct_values
from calls.rollup import CHANGE_MARGIN, StoredMetrics
from calls.calls import CallRecord
from calls.center import CallCenter
from calls.leader import AdvisoryLock, AlwaysLeader, LeaderGroup, Lock, SourceLeader
from calls.ivr_ports import CallbackList, LiveQueueWait
from calls.boards import BoardWriter
from calls.missed import MissedToCallBack
from calls.relay import DeskRelay
from calls.models import CallRow
from calls.records import record_of
from hotline.config import AmiSettings
from hotline.ports import AMI_HEALTH, CALL_HISTORY, CALLBACK_REQUESTS, NAV_COUNTS, QUEUE_WAIT

log = logging.getLogger(__name__)

STORED_METRICS: Key[StoredMetrics] = Key("stored_call_metrics")
CENTER: Key[CallCenter] = Key("call_center")  # present while the ami worker runs
DESK_RELAY: Key[DeskRelay] = Key("desk_relay")  # with AMI enabled: pops from any instance


READ_SPAN = dt.timedelta(hours=1)


def _decoded(rows: Iterable[Row[Any]]) -> list[CallRecord]:
    return [record_of(r) for r in rows]


class StoredCallHistory:
    """hotline.ports.CallHistory (reports): the stored call records of a range."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def calls_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[CallRecord]:
        # A month of a large hotline is half a million rows: seconds of CPU that, on the event
        # loop, would stop the agents' pages, the AMI reader and the IVR meanwhile. So rows are
        # read as plain Core rows whose processing and decoding (record_of, as calls.rollup
        # reads them) happen in a worker thread, an hour of calls per query: asyncpg builds a
        # query's rows on the loop (7 us a row here, 20 ms for a busy hour of 3,000 calls).
        out: list[CallRecord] = []
        async with self.db.read() as s:
            connection = await s.connection()
            lo = start
            while lo < end:
                hi = min(lo + READ_SPAN, end)
                result = await connection.execute(
                    select(*CallRow.__table__.c)
                    .where(CallRow.enter_at >= lo, CallRow.enter_at < hi)
                    .order_by(CallRow.enter_ts)
                )
                out.extend(await asyncio.to_thread(_decoded, result))
                lo = hi
        return out

    async def stored_since(
        self, mark: dt.datetime | None
    ) -> tuple[dt.datetime, list[tuple[float, str, str | None]]]:
        now = dt.datetime.now(dt.timezone.utc)
        if mark is None:
            return now, []
        async with self.db.read() as s:
            rows = await s.execute(
                select(CallRow.enter_ts, CallRow.queue, CallRow.agent).where(
                    CallRow.stored_at > mark - CHANGE_MARGIN,
                    CallRow.stored_at <= now + CHANGE_MARGIN,
                )
            )
            return now, [(ts, queue, agent) for ts, queue, agent in rows]

    async def stored_after(
        self, start: dt.datetime, end: dt.datetime, since: dt.datetime
    ) -> list[float]:
        async with self.db.read() as s:
            return list(
                await s.scalars(
                    select(CallRow.enter_ts).where(
                        CallRow.enter_at >= start,
                        CallRow.enter_at < end,
                        CallRow.stored_at > since - CHANGE_MARGIN,
                    )
                )
            )

    async def names(self) -> tuple[list[str], list[str]]:
        async with self.db.read() as s:
            queues = sorted(await s.scalars(distinct_values(CallRow.queue)))
            agents = sorted(a for a in await s.scalars(distinct_values(CallRow.agent)) if a)
        return queues, agents


async def provide(services: Services) -> None:
    services[STORED_METRICS] = StoredMetrics(services.db, services.policy)
    services[CALLBACK_REQUESTS] = CallbackList(services.db, services.clock)
    services[QUEUE_WAIT] = LiveQueueWait(lambda: services.get(CENTER))
    services[CALL_HISTORY] = StoredCallHistory(services.db)
    services[NAV_COUNTS] = [*(services.get(NAV_COUNTS) or []), MissedToCallBack(services.db)]
    if services.settings.ami.enabled:
        services[DESK_RELAY] = DeskRelay(services.db)


def workers(services: Services) -> list[Worker]:
    """The `ami` role: one leader per configured source (calls.leader). On PostgreSQL each
    source's advisory lock decides which instance follows it; on SQLite this one does."""
    ami = services.settings.ami
    if not ami.enabled:
        return []
    db, policy = services.db, services.policy

    def on_change() -> None:
        center = group.first_center()
        if center is None:
            services.forget(CENTER)
        else:
            services[CENTER] = center

    relay = services[DESK_RELAY]

    def center_of(source: AmiSettings) -> CallCenter:
        center = CallCenter.from_source(db, source, policy)
        center.pops.tap(relay.publish)  # its desk events reach the desks on every instance
        return center

    def leader(source: AmiSettings) -> SourceLeader:
        lock: Lock = AlwaysLeader() if db.is_sqlite else AdvisoryLock(db, source.source_name)
        return SourceLeader(
            source.source_name, lambda: center_of(source), lock, on_change=on_change
        )

    group = LeaderGroup([leader(source) for source in ami.all_sources()])
    relay.centers = lambda: [l.center for l in group.leaders if l.center is not None]
    writer = BoardWriter(db, relay.centers)  # the boards of the PBXs led here, for the others

    async def start() -> None:
        names = ", ".join(l.name for l in group.leaders)
        if db.is_sqlite:
            log.info(
                "AMI: SQLite serves one process, so this instance is the leader of every "
                "source (%s) and there is no fail-over; run PostgreSQL for standby "
                "instances",
                names,
            )
        else:
            log.info(
                "AMI: sources %s; this instance leads those whose PostgreSQL advisory "
                "lock it holds and stands by for the others",
                names,
            )
        services[AMI_HEALTH] = group
        await group.start()

    async def stop() -> None:
        services.forget(AMI_HEALTH)
        await group.stop()
        services.forget(CENTER)

    return [
        # The desks (web) hear the events, the centers (ami) send them: either role runs it.
        Worker("desk-relay", "web", relay.start, relay.stop),
        Worker("desk-relay-sender", "ami", relay.start, relay.stop),
        Worker("ami-ingest", "ami", start, stop),
        Worker("board-writer", "ami", writer.start, writer.stop),
    ]
