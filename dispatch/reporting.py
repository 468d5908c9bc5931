"""hotline.ports.TicketRecords: work orders and their history as reports read them, with the
deadlines in force after each step.

The history (ticket_events) says who did what when; the deadlines of the current assignment
are the row's. Those of earlier assignments (a ticket returned and sent elsewhere, or reopened)
are worked out again from the step's time as the service worked them out (`Deadlines`, the
unit's term): an explicit deadline an agent typed for an earlier assignment is not kept, the
computed one stands in for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import func, select

from dispatch.models import Ticket, TicketEvent
from dispatch.tickets import OPEN, Status, Urgency, is_overdue
from hotline.db import Database
from hotline.directory.models import Unit
from hotline.ports import OpenTicket, RecordedTicket, TicketCounts, TicketRecord, TicketStep
from sla.deadlines import Deadlines

# Steps that hand the ticket to a unit, with fresh deadlines.
ASSIGNING = frozenset({"dispatch", "redispatch", "reopen"})
# Steps that set the acknowledgement deadline, and those that set the processing deadline.
_SETS_ACK = ASSIGNING | {"send_back"}
_SETS_DUE = ASSIGNING | {"approve_extension"}
IN_CHUNK = 500
TICKET_COLUMNS = (
    Ticket.id,
    Ticket.number,
    Ticket.created_at,
    Ticket.type,
    Ticket.category,
    Ticket.district,
    Ticket.urgency,
    Ticket.status,
    Ticket.main_unit_code,
    Ticket.acknowledge_due,
    Ticket.due,
    Ticket.content,
)
EVENT_COLUMNS = (
    TicketEvent.ticket_id,
    TicketEvent.at,
    TicketEvent.action,
    TicketEvent.to_status,
    TicketEvent.detail,
)
SUMMARY_CHARS = 60


def _moment(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    moment = dt.datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _lasts(events: Sequence[Any]) -> tuple[int, int]:
    """The indexes of the last step setting the acknowledgement deadline and of the last
    setting the deadline (-1: none)."""
    last_ack = last_due = -1
    for i, e in enumerate(events):
        if e.action in _SETS_ACK:
            last_ack = i
        if e.action in _SETS_DUE:
            last_due = i
    return last_ack, last_due


def history(
    t: Any, events: Sequence[Any], deadlines: Deadlines, workdays: dict[str, int]
) -> tuple[TicketStep, ...]:
    """The ticket's steps, oldest first, each with the unit and deadlines in force after it.
    `t` and `events` are rows of `tickets` and `ticket_events` (ORM objects or plain rows)."""
    urgent = t.urgency == Urgency.URGENT.value
    last_ack, last_due = _lasts(events)
    unit: str | None = None
    ack: dt.datetime | None = None
    due: dt.datetime | None = None
    requested: dt.datetime | None = None
    steps = []
    for i, e in enumerate(events):
        detail: dict[str, Any] = e.detail or {}
        if e.action in ASSIGNING:
            # Worked out again only where the row does not hold them (an earlier assignment).
            unit = detail.get("unit_code") or unit
            due = (
                t.due
                if i == last_due
                else deadlines.due(e.at, t.type, workdays.get(unit or ""), urgent)
            )
            if i != last_ack:
                ack = deadlines.acknowledge_due(e.at, urgent)
                if due is not None:
                    ack = min(ack, due)
        elif e.action == "send_back" and i != last_ack:
            ack = deadlines.acknowledge_due(e.at, urgent)
            if due is not None and due > e.at:
                ack = min(ack, due)
        elif e.action == "request_extension":
            requested = _moment(detail.get("requested_due"))
        elif e.action == "approve_extension":
            due = _moment(detail.get("due")) or requested or due
        if i == last_ack:
            ack = t.acknowledge_due
        if i == last_due:
            due = t.due
        callback = e.action == "callback"
        steps.append(
            TicketStep(
                e.at,
                e.action,
                e.to_status,
                unit,
                ack,
                due,
                resolution=detail.get("resolution") if callback else None,
                satisfaction=detail.get("satisfaction") if callback else None,
            )
        )
    return tuple(steps)


class TicketRecordsOfDispatch:
    """hotline.ports.TicketRecords over the tickets and their append-only history."""

    def __init__(
        self, db: Database, deadlines: Deadlines, clock: Callable[[], dt.datetime]
    ) -> None:
        self.db = db
        self.deadlines = deadlines
        self.clock = clock

    async def assigned_between(self, start: dt.datetime, end: dt.datetime) -> list[TicketRecord]:
        ids = (
            select(TicketEvent.ticket_id)
            .where(
                TicketEvent.action.in_(sorted(ASSIGNING)),
                TicketEvent.at >= start,
                TicketEvent.at < end,
            )
            .distinct()
        )
        return await self._records(ids)

    async def created_between(self, start: dt.datetime, end: dt.datetime) -> list[TicketRecord]:
        return await self._records(
            select(Ticket.id).where(Ticket.created_at >= start, Ticket.created_at < end)
        )

    async def recorded_between(self, start: dt.datetime, end: dt.datetime) -> list[RecordedTicket]:
        # kb_article_id is set by AnswerOnSpot alone (dispatch.tickets), so it tells 当场解答
        # without reading the history.
        async with self.db.read() as s:
            rows = await s.execute(
                select(Ticket.created_at, Ticket.call_id, Ticket.kb_article_id.is_not(None))
                .where(Ticket.created_at >= start, Ticket.created_at < end)
                .order_by(Ticket.id)
            )
            return [RecordedTicket(at, call, bool(spot)) for at, call, spot in rows]

    async def counted_between(self, start: dt.datetime, end: dt.datetime) -> TicketCounts:
        recorded = (Ticket.created_at >= start, Ticket.created_at < end)
        counts: list[dict[str | None, int]] = []
        async with self.db.read() as s:
            for column in (Ticket.category, Ticket.district, Ticket.main_unit_code):
                rows = await s.execute(
                    select(column, func.count()).where(*recorded).group_by(column)
                )
                counts.append({key: n for key, n in rows})
        return TicketCounts(sum(counts[0].values()), *counts)

    async def records_of(self, numbers: Sequence[str]) -> list[TicketRecord]:
        return await self._records(select(Ticket.id).where(Ticket.number.in_(sorted(numbers))))

    async def assigned_numbers(self) -> list[str]:
        async with self.db.read() as s:
            return list(
                await s.scalars(
                    select(Ticket.number).where(
                        Ticket.id.in_(
                            select(TicketEvent.ticket_id).where(
                                TicketEvent.action.in_(sorted(ASSIGNING))
                            )
                        )
                    )
                )
            )

    async def open_tickets(self) -> list[OpenTicket]:
        now = self.clock()
        async with self.db.read() as s:
            rows = await s.execute(
                select(
                    Ticket.number,
                    Ticket.status,
                    Ticket.created_at,
                    Ticket.main_unit_code,
                    Ticket.due,
                )
                .where(Ticket.status.in_(sorted(st.value for st in OPEN)))
                .order_by(Ticket.created_at, Ticket.id)
            )
            return [
                OpenTicket(
                    number,
                    status,
                    Status(status).label,
                    created,
                    unit,
                    due,
                    is_overdue(status, due, now),
                )
                for number, status, created, unit, due in rows
            ]

    async def _records(self, ids_query: Any) -> list[TicketRecord]:
        # Plain rows, not ORM objects: a month of tickets is tens of thousands of rows, and
        # building mapped objects (with their assisting units) was most of the time.
        async with self.db.read() as s:
            ids = sorted(await s.scalars(ids_query))
            workdays = {
                code: days
                for code, days in await s.execute(select(Unit.code, Unit.default_deadline_workdays))
            }
            out: list[TicketRecord] = []
            for i in range(0, len(ids), IN_CHUNK):
                chunk = ids[i : i + IN_CHUNK]
                tickets = (
                    await s.execute(
                        select(*TICKET_COLUMNS).where(Ticket.id.in_(chunk)).order_by(Ticket.id)
                    )
                ).all()
                events: dict[int, list[Any]] = {}
                for e in await s.execute(
                    select(*EVENT_COLUMNS)
                    .where(TicketEvent.ticket_id.in_(chunk))
                    .order_by(TicketEvent.id)
                ):
                    events.setdefault(e.ticket_id, []).append(e)
                out.extend(self._record(t, events.get(t.id, ()), workdays) for t in tickets)
            return out

    def _record(self, t: Any, events: Iterable[Any], workdays: dict[str, int]) -> TicketRecord:
        steps = history(t, list(events), self.deadlines, workdays)
        return TicketRecord(
            t.number,
            t.created_at,
            t.type,
            t.category,
            t.district,
            t.urgency == Urgency.URGENT.value,
            t.status,
            t.main_unit_code,
            any(s.action == "answer_on_spot" for s in steps),
            steps,
            summary=(t.content or "")[:SUMMARY_CHARS],
            status_label=Status(t.status).label,
        )
