"""Reading work orders: what `TicketService` answers without changing a ticket."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Sequence

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import undefer

from dispatch.models import Followup, Notification, Ticket, TicketAttachment, TicketEvent
from dispatch.tickets import Status
from dispatch.views import (
    Progress,
    UNIT_QUEUE,
    TicketSearch,
    TicketView,
    overdue_clause,
    search_clauses,
    view_of,
    _where_visible,
)
from hotline.auth import Principal
from hotline.db import Database
from hotline.errors import InvalidInput, NotFound
from hotline.models import Role


class TicketQueries:
    """The reading side of `TicketService`: lists, one ticket, the public progress lookup and
    notifications. A base class of `TicketService`, whose `db` and `clock` it uses."""

    db: Database
    clock: Callable[[], dt.datetime]

    # --- reading -------------------------------------------------------------------------------

    async def get(self, who: Principal, number: str) -> TicketView:
        async with self.db.read() as s:
            t = await s.scalar(_where_visible(select(Ticket).where(Ticket.number == number), who))
            if t is None:
                raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
            events = list(
                await s.scalars(
                    select(TicketEvent)
                    .where(TicketEvent.ticket_id == t.id)
                    .order_by(TicketEvent.id)
                )
            )
            master = None
            if t.master_id is not None:
                master = await s.scalar(select(Ticket.number).where(Ticket.id == t.master_id))
            merged = list(
                await s.scalars(
                    select(Ticket.number).where(Ticket.master_id == t.id).order_by(Ticket.id)
                )
            )
            chased = list(
                await s.scalars(
                    select(Followup)
                    .where(Followup.ticket_id == t.id)
                    .order_by(Followup.due_at, Followup.id)
                )
            )
            files = list(
                await s.scalars(
                    select(TicketAttachment)
                    .where(TicketAttachment.ticket_id == t.id)
                    .order_by(TicketAttachment.id)
                )
            )
        return view_of(
            who,
            t,
            self.clock(),
            events=events,
            master_number=master,
            merged_numbers=merged,
            followups=chased,
            attachments=files,
        )

    async def attachment(self, who: Principal, number: str, attachment_id: int) -> TicketAttachment:
        """One file of a ticket the asker may see, with its data."""
        async with self.db.read() as s:
            found = await s.scalar(
                _where_visible(select(TicketAttachment).join(Ticket), who)
                .where(Ticket.number == number, TicketAttachment.id == attachment_id)
                .options(undefer(TicketAttachment.data))
            )
        if found is None:
            raise NotFound(
                f"attachment {attachment_id} of ticket {number} not found", zh="附件不存在"
            )
        return found

    async def find(
        self,
        who: Principal,
        *,
        statuses: Sequence[Status] = (),
        unit_code: str | None = None,
        phone: str | None = None,
        overdue: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TicketView]:
        """Unit handlers get their open tickets unless they name statuses."""
        if who.role is Role.UNIT_HANDLER and not statuses:
            statuses = UNIT_QUEUE
        return await self.search(
            who,
            TicketSearch(
                statuses=tuple(statuses), unit_code=unit_code, phone=phone, overdue=overdue
            ),
            limit,
            offset,
        )

    async def search(
        self, who: Principal, search: TicketSearch, limit: int = 100, offset: int = 0
    ) -> list[TicketView]:
        """Newest first, except for units and the overdue list: most overdue first."""
        now = self.clock()
        query = _where_visible(select(Ticket), who).where(*search_clauses(who, search, now))
        if who.role is Role.UNIT_HANDLER or search.overdue:
            late = case((Ticket.due < now, 0), else_=1)
            query = query.order_by(late, Ticket.due.is_(None), Ticket.due, Ticket.id)
        else:
            query = query.order_by(Ticket.id.desc())
        async with self.db.read() as s:
            rows = await s.scalars(query.limit(limit).offset(offset))
            return [view_of(who, t, now) for t in rows]

    async def callbacks_due(self, who: Principal, limit: int = 100) -> list[TicketView]:
        """回访 list: answered tickets (merged ones included) oldest reply first."""
        now = self.clock()
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Ticket)
                .where(Ticket.status == Status.REPLIED.value)
                .order_by(Ticket.replied_at, Ticket.id)
                .limit(limit)
            )
            return [view_of(who, t, now) for t in rows]

    async def review_queue(self, who: Principal, limit: int = 200) -> dict[str, list[TicketView]]:
        """What waits for a manager: returns, extension requests, unhappy citizens."""
        now = self.clock()
        async with self.db.read() as s:

            async def rows(*where) -> list[TicketView]:
                found = await s.scalars(
                    select(Ticket).where(*where).order_by(Ticket.updated_at, Ticket.id).limit(limit)
                )
                return [view_of(who, t, now) for t in found]

            return {
                "returned": await rows(Ticket.status == Status.RETURNED.value),
                "extensions": await rows(
                    Ticket.status == Status.SIGNED.value,
                    Ticket.extension_requested_due.is_not(None),
                ),
                "unsatisfied": await rows(
                    Ticket.status == Status.CALLED_BACK.value, Ticket.review_needed.is_(True)
                ),
            }

    async def progress(self, number: str, phone_last4: str) -> Progress:
        """Public lookup (IVR, citizens): status and dates only. The caller proves the ticket
        is theirs with the last four digits of the phone number they called from."""
        if not re.fullmatch(r"\d{4}", phone_last4 or ""):
            raise InvalidInput(
                "phone_last4 must be the last 4 digits of the caller's phone",
                field="phone_last4",
                zh="请输入来电号码的后 4 位",
            )
        async with self.db.read() as s:
            t = await s.scalar(select(Ticket).where(Ticket.number == number))
        if t is None or not t.caller_phone or not t.caller_phone.endswith(phone_last4):
            raise NotFound(f"ticket {number} not found", zh=f"工单 {number} 不存在")
        return Progress(t.number, Status(t.status), t.created_at, t.due, t.replied_at, t.closed_at)

    # --- notifications -------------------------------------------------------------------------

    async def notifications(
        self, who: Principal, unread_only: bool = False, limit: int = 100
    ) -> list[tuple[Notification, str]]:
        query = select(Notification, Ticket.number).join(
            Ticket, Ticket.id == Notification.ticket_id
        )
        if who.role is Role.UNIT_HANDLER:
            query = query.where(Notification.unit_code == who.unit_code)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        async with self.db.read() as s:
            return [
                (n, number)
                for n, number in await s.execute(
                    query.order_by(Notification.id.desc()).limit(limit)
                )
            ]

    async def mark_read(self, who: Principal, notification_id: int) -> Notification:
        async with self.db.write() as s:
            n = await s.get(Notification, notification_id, with_for_update=True)
            if n is None or (who.role is Role.UNIT_HANDLER and n.unit_code != who.unit_code):
                raise NotFound(
                    f"notification {notification_id} not found", zh=f"通知 {notification_id} 不存在"
                )
            if n.read_at is None:
                n.read_at = self.clock()
        return n

    async def waiting(self, who: Principal) -> dict[str, int]:
        """What waits for `who` per page of the navigation bar (hotline.ports.NavCounts)."""
        now = self.clock()
        async with self.db.read() as s:

            async def count(query: Any) -> int:
                return int(await s.scalar(query) or 0)

            tickets = select(func.count()).select_from(Ticket)
            if who.role is Role.UNIT_HANDLER:
                unread = (
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.unit_code == who.unit_code, Notification.read_at.is_(None))
                )
                return {
                    "/unit/tickets": await count(unread),
                    "/unit": await count(
                        _where_visible(tickets, who).where(
                            Ticket.status.in_([st.value for st in UNIT_QUEUE])
                        )
                    ),
                }
            if who.role is Role.AGENT:
                return {
                    "/tickets/callbacks": await count(
                        tickets.where(Ticket.status == Status.REPLIED.value)
                    )
                }
            if who.role is Role.MANAGER:
                review = tickets.where(
                    or_(
                        Ticket.status == Status.RETURNED.value,
                        and_(
                            Ticket.status == Status.SIGNED.value,
                            Ticket.extension_requested_due.is_not(None),
                        ),
                        and_(
                            Ticket.status == Status.CALLED_BACK.value,
                            Ticket.review_needed.is_(True),
                        ),
                    )
                )
                return {
                    "/tickets/review": await count(review),
                    "/tickets?overdue=1": await count(tickets.where(overdue_clause(now))),
                }
        return {}

    async def overdue_count(self, who: Principal) -> int:
        query = _where_visible(select(func.count()).select_from(Ticket), who).where(
            overdue_clause(self.clock())
        )
        async with self.db.read() as s:
            return int(await s.scalar(query) or 0)
