"""Work-order use cases: each reads, decides (dispatch/tickets.py), writes, in one transaction.

Every change to a ticket goes through `_apply`: the pure state machine decides, the row takes
the new state, an event is appended to the ticket's history, the follow-ups are re-planned and
the audit log is written — all in the use case's transaction. Tickets are read for change with
a row lock (PostgreSQL `FOR UPDATE`; SQLite takes its write lock at BEGIN IMMEDIATE) and carry
a version column, so of two people acting on one ticket at once one wins and the other gets a
409 from the state machine (or from a stale `version` they sent).

Visibility: a unit handler sees the tickets its unit handles or assists on, nothing else (404,
the same as an unknown number), and never a confidential caller's name or number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import catalogue, duplicates
from dispatch import tickets as domain
from dispatch import followups
from dispatch.models import Ticket, TicketEvent
from dispatch.queries import TicketQueries
from dispatch.routing import RoutingRequest, Suggestion
from dispatch.tickets import OPEN, Resolution, Satisfaction, Status, TicketType, Urgency
# The values and views moved to dispatch.views; they are re-exported here (`__all__`), so
# `from dispatch.service import NewTicket` and the like keep working.
from dispatch.views import (
    MAX_CONTENT,
    MAX_NOTE,
    Created,
    NewTicket,
    Progress,
    TicketView,
    allocate_number,
    mask_phone,
    normalise_phone,
    overdue_clause,
    state_of,
    _store,
    _text,
    view_of,
    _where_visible,
)
from hotline import audit
from hotline.auth import Principal
from hotline.policy import Policy
from hotline.db import Database, utcnow
from hotline.directory.models import Unit
from hotline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hotline.models import Role
from sla.calendar import WorkCalendar
from sla.deadlines import Deadlines

__all__ = [
    "MAX_CONTENT",
    "MAX_NOTE",
    "Created",
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

# --- the service ----------------------------------------------------------------------------------

Decide = Callable[[AsyncSession, Ticket, dt.datetime], Awaitable[domain.Command]]


@dataclass
class TicketService(TicketQueries):
    db: Database
    policy: Policy = field(default_factory=Policy)
    calendar: WorkCalendar | None = None
    clock: Callable[[], dt.datetime] = utcnow
    routers: catalogue.RouterCache | None = None

    def __post_init__(self) -> None:
        self.deadlines = Deadlines(self.calendar or WorkCalendar.default(), self.policy)
        if self.routers is None:
            self.routers = catalogue.RouterCache(self.db)
        self.vocabularies = catalogue.VocabularyCache()
        self.pairs = duplicates.PairCache()

    # --- the one way a ticket changes ---------------------------------------------------------

    async def _apply(self, s: AsyncSession, t: Ticket, command: domain.Command, actor: str,
                     now: dt.datetime, note: str | None = None, *, fresh: bool = False,
                     **detail) -> None:
        """`fresh`: the ticket was inserted in this transaction (it has no follow-up rows)."""
        before = state_of(t)
        after = domain.apply(before, command)
        _store(t, before, after, now)
        s.add(TicketEvent(ticket_id=t.id, at=now, actor=actor, action=command.action,
                          from_status=before.status.value, to_status=after.status.value,
                          note=note, detail=detail))
        await s.flush()
        await followups.sync(s, t, now, self.deadlines, fresh=fresh)
        audit.record(s, actor, f"ticket.{command.action}", "ticket", t.number, detail, note)

    async def _locked(self, s: AsyncSession, who: Principal, number: str) -> Ticket:
        query = _where_visible(select(Ticket).where(Ticket.number == number), who)
        ticket = await s.scalar(query.with_for_update())
        if ticket is None:
            raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
        return ticket

    async def _transition(self, who: Principal, number: str, decide: Decide,
                          note: str | None = None, version: int | None = None,
                          after: Callable[[AsyncSession, Ticket, dt.datetime], Awaitable[None]]
                          | None = None, **detail) -> TicketView:
        note = _text(note, "note", MAX_NOTE)
        now = self.clock()
        async with self.db.write() as s:
            t = await self._locked(s, who, number)
            if version is not None and version != t.version:
                raise Conflict(f"ticket {number} was changed meanwhile (version {t.version}); "
                               "reload it", version=t.version,
                               zh=f"工单 {number} 已被他人修改，请刷新页面后再操作")
            command = await decide(s, t, now)
            await self._apply(s, t, command, who.username, now, note, **detail)
            if after is not None:
                await after(s, t, now)
        return view_of(who, t, now)

    def _unit_of(self, who: Principal) -> str:
        if who.role is not Role.UNIT_HANDLER or not who.unit_code:
            raise PermissionDenied("only a unit handler acts for a unit",
                                   zh="只有承办单位经办人可以办理此操作")
        return who.unit_code

    def _deadlines_for(self, t: Ticket, unit: Unit, now: dt.datetime,
                       due: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
        urgent = t.urgency == Urgency.URGENT
        ack = self.deadlines.acknowledge_due(now, urgent)
        if due is None:
            due = self.deadlines.due(now, TicketType(t.type), unit.default_deadline_workdays, urgent)
        elif due <= now:
            raise InvalidInput("the deadline is in the past", field="due", zh="办理时限已过")
        return min(ack, due), due

    async def _units(self, s: AsyncSession, main: str,
                     assisting: Sequence[str]) -> tuple[Unit, tuple[str, ...]]:
        unit = await catalogue.active_unit(s, main)
        for code in assisting:
            await catalogue.active_unit(s, code, field="assisting_units")
        return unit, tuple(assisting)

    # --- agent: create, dispatch, look up, call back ------------------------------------------

    async def create(self, who: Principal, new: NewTicket) -> Created:
        content = _text(new.content, "content", MAX_CONTENT, required=True)
        assert content is not None
        phone = normalise_phone(new.caller_phone)
        name = _text(new.caller_name, "caller_name", 50)
        address = _text(new.address, "address", 200)
        category = _text(new.category, "category", 50)
        district = _text(new.district, "district", 50)
        call_id = _text(new.call_id, "call_id", 64)
        if new.answered_on_spot and new.unit_code:
            raise InvalidInput("a ticket answered on the spot is not dispatched", field="unit_code",
                               zh="当场解答的工单不派单")
        if new.answered_on_spot and not (new.kb_article_id or "").strip():
            raise InvalidInput("name the knowledge-base article used", field="kb_article_id",
                               zh="请注明所用的知识库条目")
        if new.assisting_units and not new.unit_code:
            raise InvalidInput("assisting units need a main unit", field="assisting_units",
                               zh="有协办单位时须指定主办单位")
        now = self.clock()
        if new.due is not None and new.due <= now:
            raise InvalidInput("the deadline is in the past", field="due", zh="办理时限已过")
        # Reads before the write transaction: held inside it, the similar-ticket scan kept
        # SQLite's write lock (and on PostgreSQL the day's number row) busy for every other
        # creation. A ticket created meanwhile by someone else may be missed as similar.
        # So is the unit lookup: a unit closed meanwhile still gets this one ticket.
        async with self.db.read() as s:
            stamp = await catalogue.directory_stamp(s)
            (await self.vocabularies.get(s, stamp)).check(category, district)
            unit = None
            if new.unit_code:
                unit, assisting = await self._units(s, new.unit_code, new.assisting_units)
            similar = await duplicates.find(s, content, district, category, now, cache=self.pairs)
        suggestions = await self.suggest(RoutingRequest(content, district, category), limit=3,
                                         stamp=stamp)
        async with self.db.write() as s:
            t = Ticket(number=await allocate_number(s, now), source=new.source.value,
                       call_id=call_id, caller_name=name, caller_phone=phone,
                       # 举报: the whistle-blower is always protected.
                       confidential=new.confidential or new.type is TicketType.REPORT,
                       type=new.type.value, category=category, content=content,
                       district=district, address=address, urgency=new.urgency.value,
                       status=Status.CREATED.value, created_by=who.username, created_at=now,
                       updated_at=now, assists=[])
            s.add(t)
            await s.flush()
            s.add(TicketEvent(ticket_id=t.id, at=now, actor=who.username, action="create",
                              from_status=None, to_status=Status.CREATED.value,
                              detail={"source": t.source}))
            audit.record(s, who.username, "ticket.create", "ticket", t.number,
                         {"type": t.type, "category": category, "district": district})
            if new.answered_on_spot:
                await self._apply(s, t, domain.AnswerOnSpot(new.kb_article_id or ""),
                                  who.username, now, fresh=True,
                                  kb_article_id=new.kb_article_id)
            elif unit is not None:
                ack, due = self._deadlines_for(t, unit, now, new.due)
                await self._apply(s, t, domain.Dispatch(unit.code, assisting, ack, due),
                                  who.username, now, fresh=True, unit_code=unit.code,
                                  assisting_units=list(assisting))
        # This process's next similar-ticket search need not read the new text back.
        self.pairs.put(t.id, content)
        return Created(view_of(who, t, now), suggestions, similar)

    async def dispatch(self, who: Principal, number: str, unit_code: str,
                       assisting: Sequence[str] = (), due: dt.datetime | None = None,
                       note: str | None = None, version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            unit, extra = await self._units(s, unit_code, assisting)
            ack, deadline = self._deadlines_for(t, unit, now, due)
            return domain.Dispatch(unit.code, extra, ack, deadline)

        return await self._transition(who, number, decide, note, version, unit_code=unit_code,
                                      assisting_units=list(assisting))

    async def suggest(self, request: RoutingRequest, limit: int = 5,
                      stamp: tuple | None = None) -> list[Suggestion]:
        if not request.text.strip():
            raise InvalidInput("text is required", field="text", zh="请填写诉求内容")
        if len(request.text) > MAX_CONTENT:
            raise InvalidInput(f"text is longer than {MAX_CONTENT} characters", field="text",
                               zh=f"诉求内容不能超过 {MAX_CONTENT} 个字")
        assert self.routers is not None
        return await self.routers.suggest(request, limit, stamp)

    async def similar(self, who: Principal, text: str, district: str | None,
                      category: str | None, exclude_number: str | None = None) -> list[duplicates.Candidate]:
        text = _text(text, "text", MAX_CONTENT, required=True) or ""
        async with self.db.read() as s:
            exclude = []
            if exclude_number:
                own = await s.scalar(select(Ticket.id).where(Ticket.number == exclude_number))
                if own is None:
                    raise NotFound(f"ticket {exclude_number} not found",
                                   zh=f"工单 {exclude_number} 不存在")
                exclude.append(own)
            return await duplicates.find(s, text, district, category, self.clock(), exclude,
                                         cache=self.pairs)

    async def callback(self, who: Principal, number: str, resolution: Resolution,
                       satisfaction: Satisfaction, note: str | None = None,
                       version: int | None = None) -> TicketView:
        """回访. A satisfied citizen closes the ticket; otherwise it waits for a manager, who
        closes it or reopens it (重办)."""
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.CallBack(resolution, satisfaction)

        async def close_if_content(s: AsyncSession, t: Ticket, now: dt.datetime) -> None:
            if not t.review_needed:
                await self._apply(s, t, domain.Close(), who.username, now, "回访满意，办结")

        return await self._transition(who, number, decide, note, version, after=close_if_content,
                                      resolution=resolution.value, satisfaction=satisfaction.value)

    # --- unit handler --------------------------------------------------------------------------

    async def sign(self, who: Principal, number: str, note: str | None = None,
                   version: int | None = None) -> TicketView:
        unit = self._unit_of(who)

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Sign(unit)

        return await self._transition(who, number, decide, note, version)

    async def return_ticket(self, who: Principal, number: str, reason: str,
                            version: int | None = None) -> TicketView:
        unit = self._unit_of(who)
        reason = _text(reason, "reason", MAX_NOTE, required=True) or ""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Return(unit, reason)

        return await self._transition(who, number, decide, reason, version)

    async def request_extension(self, who: Principal, number: str, requested_due: dt.datetime,
                                reason: str, version: int | None = None) -> TicketView:
        unit = self._unit_of(who)
        reason = _text(reason, "reason", MAX_NOTE, required=True) or ""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            if requested_due <= now:
                raise InvalidInput("the requested deadline is in the past", field="requested_due",
                                   zh="申请的延至日期已过")
            return domain.RequestExtension(unit, requested_due, reason, now)

        return await self._transition(who, number, decide, reason, version,
                                      requested_due=requested_due.isoformat())

    async def reply(self, who: Principal, number: str, text: str,
                    version: int | None = None) -> TicketView:
        unit = self._unit_of(who)
        text = _text(text, "text", MAX_CONTENT, required=True) or ""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Reply(unit, text)

        async def answer_merged(s: AsyncSession, t: Ticket, now: dt.datetime) -> None:
            # 并单: the callers of the merged tickets are owed the answer and a call back too.
            children = await s.scalars(select(Ticket).where(
                Ticket.master_id == t.id, Ticket.status == Status.MERGED.value)
                .order_by(Ticket.id).with_for_update())
            for child in children:
                await self._apply(s, child, domain.MasterReplied(text), "system", now,
                                  f"主工单 {t.number} 已答复", master=t.number)

        view = await self._transition(who, number, decide, None, version, after=answer_merged)
        assert self.routers is not None
        self.routers.history_changed()
        return view

    # --- manager -------------------------------------------------------------------------------

    async def redispatch(self, who: Principal, number: str, unit_code: str,
                         assisting: Sequence[str] = (), due: dt.datetime | None = None,
                         note: str | None = None, version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            unit, extra = await self._units(s, unit_code, assisting)
            ack, deadline = self._deadlines_for(t, unit, now, due)
            return domain.Redispatch(unit.code, extra, ack, deadline)

        return await self._transition(who, number, decide, note, version, unit_code=unit_code,
                                      assisting_units=list(assisting))

    async def send_back(self, who: Principal, number: str, note: str | None = None,
                        version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            ack = self.deadlines.acknowledge_due(now, t.urgency == Urgency.URGENT)
            return domain.SendBack(min(ack, t.due) if t.due and t.due > now else ack)

        return await self._transition(who, number, decide, note, version)

    async def approve_extension(self, who: Principal, number: str,
                                due: dt.datetime | None = None, note: str | None = None,
                                version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.ApproveExtension(due, now)

        return await self._transition(who, number, decide, note, version,
                                      due=due.isoformat() if due else None)

    async def refuse_extension(self, who: Principal, number: str, note: str | None = None,
                               version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.RefuseExtension()

        return await self._transition(who, number, decide, note, version)

    async def close(self, who: Principal, number: str, note: str | None = None,
                    version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Close()

        return await self._transition(who, number, decide, note, version)

    async def reopen(self, who: Principal, number: str, unit_code: str | None = None,
                     assisting: Sequence[str] | None = None, due: dt.datetime | None = None,
                     note: str | None = None, version: int | None = None) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            code = unit_code or t.main_unit_code
            if code is None:
                raise InvalidInput("name the unit that handles the reopened ticket",
                                   field="unit_code", zh="请指定重办工单的承办单位")
            extra = t.assisting_units if assisting is None else assisting
            unit, extra = await self._units(s, code, extra)
            ack, deadline = self._deadlines_for(t, unit, now, due)
            return domain.Reopen(unit.code, extra, ack, deadline)

        return await self._transition(who, number, decide, note, version, unit_code=unit_code)

    async def merge(self, who: Principal, number: str, master_number: str,
                    note: str | None = None, version: int | None = None) -> TicketView:
        if number == master_number:
            raise InvalidInput("a ticket cannot be merged into itself", field="master",
                               zh="工单不能并入自身")
        note = _text(note, "note", MAX_NOTE)
        now = self.clock()
        async with self.db.write() as s:
            # The master is locked before the ticket merged into it, as `reply` locks a master
            # before its merged tickets: a merge racing the master's reply cannot deadlock.
            master = await s.scalar(select(Ticket).where(Ticket.number == master_number)
                                    .with_for_update())
            if master is None:
                raise NotFound(f"ticket {master_number} not found",
                               zh=f"工单 {master_number} 不存在")
            t = await s.scalar(select(Ticket).where(Ticket.number == number).with_for_update())
            if t is None:
                raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
            if version is not None and version != t.version:
                raise Conflict(f"ticket {number} was changed meanwhile; reload it",
                               zh=f"工单 {number} 已被他人修改，请刷新页面后再操作")
            if Status(master.status) not in OPEN:
                raise Conflict(f"the master ticket {master_number} is {master.status}; "
                               "merge only into an open ticket",
                               zh=f"主工单 {master_number} 的状态为“{Status(master.status).label}”，"
                                  "只能并入未办结的工单")
            await self._apply(s, t, domain.Merge(master.id), who.username, now, note,
                              master=master_number)
            # Tickets merged into this one follow it to the new master.
            for child in await s.scalars(select(Ticket).where(
                    Ticket.master_id == t.id, Ticket.status == Status.MERGED.value)
                    .with_for_update()):
                child.master_id = master.id
            s.add(TicketEvent(ticket_id=master.id, at=now, actor=who.username, action="merge_in",
                              from_status=master.status, to_status=master.status,
                              note=note, detail={"merged": number}))
        return view_of(who, t, now)
