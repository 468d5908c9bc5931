"""Recompute: the stored raw AMI events folded again, with the same parser and state machine as
the live path (its records equal the stored ones); also what the restart restores from."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Iterable, Iterator, Mapping

from sqlalchemy import func, select

from calls import calls
from calls.ami import events as ev
from calls.ami import parse as ami_parse
from calls.calls import CallRecord, CallState
from calls.models import AmiEventRow, CallRow
from hotline.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    name: str
    headers: Mapping[str, str]
    received_at: float


def typed_events(raw: Iterable[StoredEvent]) -> Iterator[ev.AmiEvent]:
    """Typed events from raw events in arrival order, exactly as the listener handed them to
    its subscribers (list answers gathered into Resyncs; malformed ones skipped, as then)."""
    lists = ev.ResyncLists(auto=True)
    skipped = 0
    for item in raw:
        try:
            event = ami_parse.parse(item.name, item.headers, item.received_at)
        except ev.ParseError:
            skipped += 1
            continue
        if event is None:
            continue
        action_id = item.headers.get("ActionID")
        if lists.wants(action_id, event):
            event = lists.collect(action_id, event)  # type: ignore[arg-type]
            if event is None:
                continue
        yield event
    if skipped:
        log.info("%d stored events did not parse (as when received)", skipped)


def fold_raw(raw: Iterable[StoredEvent]) -> tuple[CallState, list[CallRecord]]:
    """The call state and finished records from raw events in arrival order."""
    return calls.fold(typed_events(raw))


async def stored_events(
    db: Database, source: str | None = None, since: float | None = None, chunk: int = 20_000
) -> AsyncIterator[StoredEvent]:
    """The stored raw events in arrival order, read in chunks (bounded memory); with `since`,
    from the first one received at or after that PBX time."""
    last = 0
    if since is not None:
        first = select(func.min(AmiEventRow.id)).where(AmiEventRow.received_at >= since)
        if source is not None:
            first = first.where(AmiEventRow.source == source)
        async with db.read() as s:
            start = (await s.execute(first)).scalar_one_or_none()
        if start is None:
            return
        last = start - 1
    async for _, event in events_after(db, last, source, chunk):
        yield event


async def events_after(
    db: Database, last: int = 0, source: str | None = None, chunk: int = 20_000
) -> AsyncIterator[tuple[int, StoredEvent]]:
    """(row id, event) of the stored raw events after row `last`, in arrival order, a chunk
    per read transaction."""
    while True:
        query = select(
            AmiEventRow.id, AmiEventRow.name, AmiEventRow.headers, AmiEventRow.received_at
        ).where(AmiEventRow.id > last)
        if source is not None:
            query = query.where(AmiEventRow.source == source)
        async with db.read() as s:
            rows = (await s.execute(query.order_by(AmiEventRow.id).limit(chunk))).all()
        if not rows:
            return
        for row in rows:
            yield row.id, StoredEvent(row.name, json.loads(row.headers), row.received_at)
        last = rows[-1].id


async def latest_received(db: Database, source: str) -> float | None:
    """PBX time of the last stored event of `source`."""
    async with db.read() as s:
        return (
            await s.execute(
                select(func.max(AmiEventRow.received_at)).where(AmiEventRow.source == source)
            )
        ).scalar_one_or_none()


async def recompute(
    db: Database, source: str | None = None, archive: Path | None = None
) -> list[CallRecord]:
    """Finished call records rebuilt from the stored raw events, and with `archive` those
    archived to that folder (calls.archive) before them."""
    if archive is not None:
        from calls.archive import all_events  # it builds on StoredEvent, defined here

        collected = await all_events(db, archive, source)
    else:
        collected = [e async for e in stored_events(db, source)]
    _, records = fold_raw(collected)
    return records


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as s:
        events = (await s.execute(select(func.count()).select_from(AmiEventRow))).scalar_one()
        records = (await s.execute(select(func.count()).select_from(CallRow))).scalar_one()
    return {"events": events, "calls": records}
