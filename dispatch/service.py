"""Work-order use cases: each reads, decides (dispatch/tickets.py), writes, in one transaction.
`TicketService` is the one object the web, CLI and workers use: its reads come from
dispatch/queries.py, the changes of an existing ticket from dispatch/changes.py, and here its
creation, with the advice (suggested units, similar tickets) the agent weighs before it.

Visibility: a unit handler sees the tickets its unit handles or assists on, nothing else (404,
the same as an unknown number), and never a confidential caller's name or number.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch import catalogue, duplicates
from dispatch import tickets as domain
from dispatch.models import Ticket, TicketEvent
from dispatch.changes import Decide, TicketChanges
from dispatch.routing import RoutingRequest, Suggestion
from dispatch.tickets import Status, TicketType

# The values and views moved to dispatch.views; they are re-exported here (`__all__`), so
# `from dispatch.service import NewTicket` and the like keep working.
from dispatch.views import (
    MAX_CONTENT,
    MAX_NOTE,
    Advice,
    Change,
    NewTicket,
    Progress,
    TicketView,
    allocate_number,
    mask_phone,
    normalise_phone,
    overdue_clause,
    state_of,
    _change,
    idempotency_key,
    _text,
    view_of,
)
from hotline import audit
from hotline.auth import Principal
from hotline.policy import Policy
from hotline.db import Database, utcnow
from hotline.errors import InvalidInput, NotFound
from sla.calendar import WorkCalendar
from sla.deadlines import Deadlines

__all__ = [
    "MAX_CONTENT",
    "MAX_NOTE",
    "Advice",
    "Decide",
    "NewTicket",
    "Progress",
    "TicketService",
    "TicketView",
    "allocate_number",
    "mask_phone",
    "normalise_phone",
    "overdue_clause",
    "state_of",
    "view_of",
]

log = logging.getLogger(__name__)

# --- the service ----------------------------------------------------------------------------------


@dataclass
class TicketService(TicketChanges):
    db: Database
    policy: Policy = field(default_factory=Policy)
    calendar: WorkCalendar | None = None
    clock: Callable[[], dt.datetime] = utcnow
    routers: catalogue.RouterCache | None = None

    def __post_init__(self) -> None:
        self.deadlines = Deadlines(self.calendar or WorkCalendar.default(), self.policy)
        if self.routers is None:
            self.routers = catalogue.RouterCache(self.db)
        self.directory = catalogue.DirectoryCache()
        self.pairs = duplicates.PairCache()

    # --- agent: create, with the advice that comes before ----------------------------------

    async def create(self, who: Principal, new: NewTicket) -> TicketView:
        content = _text(new.content, "content", MAX_CONTENT, required=True)
        assert content is not None
        phone = normalise_phone(new.caller_phone)
        name = _text(new.caller_name, "caller_name", 50)
        address = _text(new.address, "address", 200)
        category = _text(new.category, "category", 50)
        district = _text(new.district, "district", 50)
        call_id = _text(new.call_id, "call_id", 64)
        key = idempotency_key(new.idempotency_key)
        if key is not None and (earlier := await self._created_with(who, key)) is not None:
            return earlier
        if new.answered_on_spot and new.unit_code:
            raise InvalidInput(
                "a ticket answered on the spot is not dispatched",
                field="unit_code",
                zh="当场解答的工单不派单",
            )
        if new.answered_on_spot and not (new.kb_article_id or "").strip():
            raise InvalidInput(
                "name the knowledge-base article used",
                field="kb_article_id",
                zh="请注明所用的知识库条目",
            )
        if new.assisting_units and not new.unit_code:
            raise InvalidInput(
                "assisting units need a main unit",
                field="assisting_units",
                zh="有协办单位时须指定主办单位",
            )
        now = self.clock()
        if new.due is not None and new.due <= now:
            raise InvalidInput("the deadline is in the past", field="due", zh="办理时限已过")
        # Creation records what the agent decided; the advice the decision rests on (similar
        # tickets, suggested units: `advise`) is asked for before, as the agent types. Computed
        # here it cost two thirds of each creation and came too late to change anything.
        # The directory is checked before the write transaction, to keep its lock short: a
        # unit closed meanwhile still gets this one ticket.
        directory = await self.directory_now()
        directory.vocabulary.check(category, district)
        workdays = None
        if new.unit_code:
            workdays = directory.active_unit(new.unit_code)
            for code in new.assisting_units:
                directory.active_unit(code, field="assisting_units")
        t = Ticket(
            source=new.source.value,
            call_id=call_id,
            caller_name=name,
            caller_phone=phone,
            # 举报: the whistle-blower is always protected.
            confidential=new.confidential or new.type is TicketType.REPORT,
            type=new.type.value,
            category=category,
            content=content,
            district=district,
            address=address,
            urgency=new.urgency.value,
            status=Status.CREATED.value,
            created_by=who.username,
            created_at=now,
            updated_at=now,
            assists=[],
            idempotency_key=key,
            # Read by `_change` before the INSERT would apply the column defaults.
            review_needed=False,
            reopen_count=0,
        )
        # The ticket is inserted as it stands after the agent's decision (one INSERT, no
        # UPDATE); its events say how it got there.
        change: Change | None = None
        detail: dict[str, Any] = {}
        if new.answered_on_spot:
            change = _change(t, domain.AnswerOnSpot(new.kb_article_id or ""), now)
            detail = {"kb_article_id": new.kb_article_id}
        elif new.unit_code and workdays is not None:
            ack, due = self._deadlines_for(t, workdays, now, new.due)
            change = _change(
                t, domain.Dispatch(new.unit_code, tuple(new.assisting_units), ack, due), now
            )
            detail = {"unit_code": new.unit_code, "assisting_units": list(new.assisting_units)}
        # On PostgreSQL the day's number is taken in a transaction of its own, so its row lock
        # is held for one statement rather than the whole creation (which queued every other
        # creation behind it). A creation failing after that leaves a gap in the day's numbers,
        # logged with the number. SQLite serialises writers anyway.
        number = None
        if not self.db.is_sqlite:
            async with self.db.write() as s:
                number = await allocate_number(s, now)
        try:
            await self._insert(who, t, number, change, detail, now)
        except BaseException as exc:
            if number is not None:
                log.warning("ticket number %s was taken but not used: the creation failed", number)
            # The same request sent twice at once: the other one made the ticket.
            if (
                key is not None
                and isinstance(exc, IntegrityError)
                and (earlier := await self._created_with(who, key)) is not None
            ):
                return earlier
            raise
        # This process's next similar-ticket search need not read the new text back.
        self.pairs.put(t.id, content)
        return view_of(who, t, now)

    async def _created_with(self, who: Principal, key: str) -> TicketView | None:
        async with self.db.read() as s:
            t = await s.scalar(
                select(Ticket).where(
                    Ticket.created_by == who.username, Ticket.idempotency_key == key
                )
            )
        return None if t is None else view_of(who, t, self.clock(), replayed=True)

    async def _insert(
        self,
        who: Principal,
        t: Ticket,
        number: str | None,
        change: Change | None,
        detail: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        async with self.db.write() as s:
            t.number = number or await allocate_number(s, now)
            s.add(t)
            await s.flush()
            s.add(
                TicketEvent(
                    ticket_id=t.id,
                    at=now,
                    actor=who.username,
                    action="create",
                    from_status=None,
                    to_status=Status.CREATED.value,
                    detail={"source": t.source},
                )
            )
            audit.record(
                s,
                who.username,
                "ticket.create",
                "ticket",
                t.number,
                {"type": t.type, "category": t.category, "district": t.district},
            )
            if change is not None:
                await self._record(s, t, change, who.username, now, fresh=True, **detail)

    async def suggest(
        self, request: RoutingRequest, limit: int = 5, stamp: tuple | None = None
    ) -> list[Suggestion]:
        if not request.text.strip():
            raise InvalidInput("text is required", field="text", zh="请填写诉求内容")
        if len(request.text) > MAX_CONTENT:
            raise InvalidInput(
                f"text is longer than {MAX_CONTENT} characters",
                field="text",
                zh=f"诉求内容不能超过 {MAX_CONTENT} 个字",
            )
        assert self.routers is not None
        return await self.routers.suggest(request, limit, stamp)

    async def directory_now(self) -> catalogue.Directory:
        """Categories, districts and active units as the directory stands (pick lists)."""
        return await self.directory.get(self.db, await catalogue.current_stamp(self.db))

    async def advise(
        self,
        who: Principal,
        text: str,
        district: str | None,
        category: str | None,
        exclude_number: str | None = None,
        limit: int = 3,
    ) -> Advice:
        """What the agent weighs before recording and dispatching a request: the units
        suggested for it and the earlier tickets that look like the same matter."""
        similar = await self.similar(who, text, district, category, exclude_number)
        return Advice(await self.suggest(RoutingRequest(text, district, category), limit), similar)

    async def similar(
        self,
        who: Principal,
        text: str,
        district: str | None,
        category: str | None,
        exclude_number: str | None = None,
    ) -> list[duplicates.Candidate]:
        text = _text(text, "text", MAX_CONTENT, required=True) or ""
        async with self.db.read() as s:
            exclude = []
            if exclude_number:
                own = await s.scalar(select(Ticket.id).where(Ticket.number == exclude_number))
                if own is None:
                    raise NotFound(
                        f"ticket {exclude_number} not found", zh=f"工单 {exclude_number} 不存在"
                    )
                exclude.append(own)
            return await duplicates.find(
                s, text, district, category, self.clock(), exclude, cache=self.pairs
            )
