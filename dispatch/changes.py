"""Changing a work order: every change goes through `_apply` — the pure state machine decides
(dispatch/tickets.py), the row takes the new state, an event is appended to the ticket's
history, the follow-ups are re-planned and the audit log is written, all in the use case's
transaction. Tickets are read for change with a row lock (PostgreSQL `FOR UPDATE`; SQLite takes
its write lock at BEGIN IMMEDIATE) and carry a version column, so of two people acting on one
ticket at once one wins and the other gets a 409 from the state machine (or from a stale
`version` they sent).

`TicketChanges` holds the changes of a ticket that exists (dispatch, 回访, the unit's and the
manager's actions); `TicketService` (dispatch/service.py) adds its creation.
"""

from __future__ import annotations

import datetime as dt
from typing import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import attachments, catalogue
from dispatch import followups
from dispatch import tickets as domain
from dispatch.models import Ticket, TicketAttachment, TicketEvent
from dispatch.queries import TicketQueries
from dispatch.tickets import OPEN, Resolution, Satisfaction, Status, TicketType, Urgency
from dispatch.views import MAX_CONTENT, MAX_NOTE, Change, TicketView, _change, _text, view_of
from dispatch.views import _where_visible
from hotline import audit
from hotline.auth import Principal
from hotline.directory.models import Unit
from hotline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hotline.models import Role
from sla.deadlines import Deadlines

Decide = Callable[[AsyncSession, Ticket, dt.datetime], Awaitable[domain.Command]]


class TicketChanges(TicketQueries):
    """The changes of an existing ticket. A base class of `TicketService`, whose deadlines and
    routers it uses."""

    deadlines: Deadlines
    routers: catalogue.RouterCache | None

    # --- the one way a ticket changes ---------------------------------------------------------

    async def _apply(
        self,
        s: AsyncSession,
        t: Ticket,
        command: domain.Command,
        actor: str,
        now: dt.datetime,
        note: str | None = None,
        **detail,
    ) -> None:
        change = _change(t, command, now)
        await s.flush()
        await self._record(s, t, change, actor, now, note, **detail)

    async def _record(
        self,
        s: AsyncSession,
        t: Ticket,
        change: Change,
        actor: str,
        now: dt.datetime,
        note: str | None = None,
        *,
        fresh: bool = False,
        **detail,
    ) -> None:
        """The event, follow-ups and audit entry of a change stored in `t` (`_change`).
        `fresh`: the ticket was inserted in this transaction (it has no follow-up rows)."""
        command, before, after = change
        s.add(
            TicketEvent(
                ticket_id=t.id,
                at=now,
                actor=actor,
                action=command.action,
                from_status=before.status.value,
                to_status=after.status.value,
                note=note,
                detail=detail,
            )
        )
        await followups.sync(s, t, now, self.deadlines, fresh=fresh)
        audit.record(s, actor, f"ticket.{command.action}", "ticket", t.number, detail, note)

    async def _locked(self, s: AsyncSession, who: Principal, number: str) -> Ticket:
        query = _where_visible(select(Ticket).where(Ticket.number == number), who)
        ticket = await s.scalar(query.with_for_update())
        if ticket is None:
            raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
        return ticket

    async def _transition(
        self,
        who: Principal,
        number: str,
        decide: Decide,
        note: str | None = None,
        version: int | None = None,
        after: Callable[[AsyncSession, Ticket, dt.datetime], Awaitable[None]] | None = None,
        **detail,
    ) -> TicketView:
        note = _text(note, "note", MAX_NOTE)
        now = self.clock()
        async with self.db.write() as s:
            t = await self._locked(s, who, number)
            if version is not None and version != t.version:
                raise Conflict(
                    f"ticket {number} was changed meanwhile (version {t.version}); reload it",
                    version=t.version,
                    zh=f"工单 {number} 已被他人修改，请刷新页面后再操作",
                )
            command = await decide(s, t, now)
            await self._apply(s, t, command, who.username, now, note, **detail)
            if after is not None:
                await after(s, t, now)
        return view_of(who, t, now)

    def _unit_of(self, who: Principal) -> str:
        if who.role is not Role.UNIT_HANDLER or not who.unit_code:
            raise PermissionDenied(
                "only a unit handler acts for a unit", zh="只有承办单位经办人可以办理此操作"
            )
        return who.unit_code

    def _deadlines_for(
        self, t: Ticket, workdays: int, now: dt.datetime, due: dt.datetime | None = None
    ) -> tuple[dt.datetime, dt.datetime]:
        """`workdays`: the unit's default deadline."""
        urgent = t.urgency == Urgency.URGENT
        ack = self.deadlines.acknowledge_due(now, urgent)
        if due is None:
            due = self.deadlines.due(now, TicketType(t.type), workdays, urgent)
        elif due <= now:
            raise InvalidInput("the deadline is in the past", field="due", zh="办理时限已过")
        return min(ack, due), due

    async def _units(
        self, s: AsyncSession, main: str, assisting: Sequence[str]
    ) -> tuple[Unit, tuple[str, ...]]:
        unit = await catalogue.active_unit(s, main)
        for code in assisting:
            await catalogue.active_unit(s, code, field="assisting_units")
        return unit, tuple(assisting)

    # --- agent: dispatch and call back -----------------------------------------------------

    async def dispatch(
        self,
        who: Principal,
        number: str,
        unit_code: str,
        assisting: Sequence[str] = (),
        due: dt.datetime | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        return await self._to_unit(
            domain.Dispatch, who, number, unit_code, assisting, due, note, version
        )

    async def _to_unit(
        self,
        command: Callable[..., domain.Command],
        who: Principal,
        number: str,
        unit_code: str,
        assisting: Sequence[str],
        due: dt.datetime | None,
        note: str | None,
        version: int | None,
    ) -> TicketView:
        """派单 or 改派: the unit (and assisting ones) checked in the transaction, deadlines from
        the unit's term unless `due` is given."""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            unit, extra = await self._units(s, unit_code, assisting)
            ack, deadline = self._deadlines_for(t, unit.default_deadline_workdays, now, due)
            return command(unit.code, extra, ack, deadline)

        return await self._transition(
            who, number, decide, note, version, unit_code=unit_code, assisting_units=list(assisting)
        )

    async def callback(
        self,
        who: Principal,
        number: str,
        resolution: Resolution,
        satisfaction: Satisfaction,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        """回访. A satisfied citizen closes the ticket; otherwise it waits for a manager, who
        closes it or reopens it (重办)."""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.CallBack(resolution, satisfaction)

        async def close_if_content(s: AsyncSession, t: Ticket, now: dt.datetime) -> None:
            if not t.review_needed:
                await self._apply(s, t, domain.Close(), who.username, now, "回访满意，办结")

        return await self._transition(
            who,
            number,
            decide,
            note,
            version,
            after=close_if_content,
            resolution=resolution.value,
            satisfaction=satisfaction.value,
        )

    # --- unit handler --------------------------------------------------------------------------

    async def sign(
        self, who: Principal, number: str, note: str | None = None, version: int | None = None
    ) -> TicketView:
        unit = self._unit_of(who)

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Sign(unit)

        return await self._transition(who, number, decide, note, version)

    async def return_ticket(
        self, who: Principal, number: str, reason: str, version: int | None = None
    ) -> TicketView:
        unit = self._unit_of(who)
        reason = _text(reason, "reason", MAX_NOTE, required=True) or ""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Return(unit, reason)

        return await self._transition(who, number, decide, reason, version)

    async def request_extension(
        self,
        who: Principal,
        number: str,
        requested_due: dt.datetime,
        reason: str,
        version: int | None = None,
    ) -> TicketView:
        unit = self._unit_of(who)
        reason = _text(reason, "reason", MAX_NOTE, required=True) or ""

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            if requested_due <= now:
                raise InvalidInput(
                    "the requested deadline is in the past",
                    field="requested_due",
                    zh="申请的延至日期已过",
                )
            return domain.RequestExtension(unit, requested_due, reason, now)

        return await self._transition(
            who, number, decide, reason, version, requested_due=requested_due.isoformat()
        )

    async def reply(
        self,
        who: Principal,
        number: str,
        text: str,
        version: int | None = None,
        files: Sequence[attachments.Upload] = (),
    ) -> TicketView:
        """The unit's answer, with the files that show it (checked before the transaction)."""
        unit = self._unit_of(who)
        text = _text(text, "text", MAX_CONTENT, required=True) or ""
        accepted = attachments.accept(files)

        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Reply(unit, text)

        async def answer_merged(s: AsyncSession, t: Ticket, now: dt.datetime) -> None:
            # 并单: the callers of the merged tickets are owed the answer and a call back too.
            children = await s.scalars(
                select(Ticket)
                .where(Ticket.master_id == t.id, Ticket.status == Status.MERGED.value)
                .order_by(Ticket.id)
                .with_for_update()
            )
            for child in children:
                await self._apply(
                    s,
                    child,
                    domain.MasterReplied(text),
                    "system",
                    now,
                    f"主工单 {t.number} 已答复",
                    master=t.number,
                )
            for a in accepted:
                s.add(
                    TicketAttachment(
                        ticket_id=t.id,
                        name=a.name,
                        content_type=a.content_type,
                        size=len(a.data),
                        sha256=a.sha256,
                        data=a.data,
                        uploaded_by=who.username,
                        uploaded_at=now,
                    )
                )

        view = await self._transition(who, number, decide, None, version, after=answer_merged)
        assert self.routers is not None
        self.routers.history_changed()
        return view

    # --- manager -------------------------------------------------------------------------------

    async def redispatch(
        self,
        who: Principal,
        number: str,
        unit_code: str,
        assisting: Sequence[str] = (),
        due: dt.datetime | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        return await self._to_unit(
            domain.Redispatch, who, number, unit_code, assisting, due, note, version
        )

    async def send_back(
        self, who: Principal, number: str, note: str | None = None, version: int | None = None
    ) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            ack = self.deadlines.acknowledge_due(now, t.urgency == Urgency.URGENT)
            return domain.SendBack(min(ack, t.due) if t.due and t.due > now else ack)

        return await self._transition(who, number, decide, note, version)

    async def approve_extension(
        self,
        who: Principal,
        number: str,
        due: dt.datetime | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.ApproveExtension(due, now)

        return await self._transition(
            who, number, decide, note, version, due=due.isoformat() if due else None
        )

    async def refuse_extension(
        self, who: Principal, number: str, note: str | None = None, version: int | None = None
    ) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.RefuseExtension()

        return await self._transition(who, number, decide, note, version)

    async def close(
        self, who: Principal, number: str, note: str | None = None, version: int | None = None
    ) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            return domain.Close()

        return await self._transition(who, number, decide, note, version)

    async def reopen(
        self,
        who: Principal,
        number: str,
        unit_code: str | None = None,
        assisting: Sequence[str] | None = None,
        due: dt.datetime | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        async def decide(s: AsyncSession, t: Ticket, now: dt.datetime) -> domain.Command:
            code = unit_code or t.main_unit_code
            if code is None:
                raise InvalidInput(
                    "name the unit that handles the reopened ticket",
                    field="unit_code",
                    zh="请指定重办工单的承办单位",
                )
            extra = t.assisting_units if assisting is None else assisting
            unit, extra = await self._units(s, code, extra)
            ack, deadline = self._deadlines_for(t, unit.default_deadline_workdays, now, due)
            return domain.Reopen(unit.code, extra, ack, deadline)

        return await self._transition(who, number, decide, note, version, unit_code=unit_code)

    async def merge(
        self,
        who: Principal,
        number: str,
        master_number: str,
        note: str | None = None,
        version: int | None = None,
    ) -> TicketView:
        if number == master_number:
            raise InvalidInput(
                "a ticket cannot be merged into itself", field="master", zh="工单不能并入自身"
            )
        note = _text(note, "note", MAX_NOTE)
        now = self.clock()
        async with self.db.write() as s:
            # The master is locked before the ticket merged into it, as `reply` locks a master
            # before its merged tickets: a merge racing the master's reply cannot deadlock.
            master = await s.scalar(
                select(Ticket).where(Ticket.number == master_number).with_for_update()
            )
            if master is None:
                raise NotFound(
                    f"ticket {master_number} not found", zh=f"工单 {master_number} 不存在"
                )
            t = await s.scalar(select(Ticket).where(Ticket.number == number).with_for_update())
            if t is None:
                raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
            if version is not None and version != t.version:
                raise Conflict(
                    f"ticket {number} was changed meanwhile; reload it",
                    zh=f"工单 {number} 已被他人修改，请刷新页面后再操作",
                )
            if Status(master.status) not in OPEN:
                raise Conflict(
                    f"the master ticket {master_number} is {master.status}; "
                    "merge only into an open ticket",
                    zh=f"主工单 {master_number} 的状态为“{Status(master.status).label}”，"
                    "只能并入未办结的工单",
                )
            await self._apply(
                s, t, domain.Merge(master.id), who.username, now, note, master=master_number
            )
            # Tickets merged into this one follow it to the new master.
            for child in await s.scalars(
                select(Ticket)
                .where(Ticket.master_id == t.id, Ticket.status == Status.MERGED.value)
                .with_for_update()
            ):
                child.master_id = master.id
            s.add(
                TicketEvent(
                    ticket_id=master.id,
                    at=now,
                    actor=who.username,
                    action="merge_in",
                    from_status=master.status,
                    to_status=master.status,
                    note=note,
                    detail={"merged": number},
                )
            )
        return view_of(who, t, now)
