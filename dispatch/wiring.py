"""What work orders add to the services (hotline.bootstrap): the ticket service, the caller
history port (hotline.ports) the screen pop asks, and the follow-up pump as the `pump` role's
worker."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.followups import FollowupPump
from dispatch.reporting import TicketRecordsOfDispatch
from dispatch.service import TicketService
from dispatch.tickets import Status
from hotline.auth import Principal
from hotline.bootstrap import Key, Services, Worker
from hotline.errors import InvalidInput
from hotline.auth import PairThrottle
from hotline.errors import NotFound
from hotline.ports import (
    CALLER_HISTORY,
    NAV_COUNTS,
    PROGRESS_LOOKUP,
    TICKET_RECORDS,
    CallerTicket,
    ProgressLocked,
    PublicProgress,
)

TICKETS: Key[TicketService] = Key("tickets")


@dataclass(frozen=True)
class TicketHistory:
    """hotline.ports.CallerHistory over the work orders, seen as `who` may see them."""

    tickets: TicketService

    async def tickets_of(self, who: Principal, phone: str, limit: int = 5) -> list[CallerTicket]:
        if not phone:
            return []
        try:
            views = await self.tickets.find(who, phone=phone, limit=limit)
        except InvalidInput:  # not a number a caller's ticket can hold
            return []
        return [
            CallerTicket(
                v.ticket.number,
                v.ticket.status,
                Status(v.ticket.status).label,
                v.ticket.created_at,
                (v.ticket.content or "")[:80],
            )
            for v in views
        ]


class ProgressForCallers:
    """hotline.ports.ProgressLookup (the IVR's self-service): `TicketService.progress` behind
    the web lookup's lock-out rules (dispatch.web.common), with the caller in place of the
    client address."""

    def __init__(self, tickets: TicketService) -> None:
        from dispatch.web.common import (
            PROGRESS_ADDRESS_MAX_FAILURES,
            PROGRESS_MAX_FAILURES,
            PROGRESS_WINDOW_SECONDS,
        )

        self.tickets = tickets
        self.throttle = PairThrottle(
            PROGRESS_MAX_FAILURES, PROGRESS_WINDOW_SECONDS, PROGRESS_ADDRESS_MAX_FAILURES
        )

    async def progress(self, number: str, phone_last4: str, client: str) -> PublicProgress | None:
        wait = self.throttle.retry_after(client, number)
        if wait:
            raise ProgressLocked(wait)
        try:
            p = await self.tickets.progress(number, phone_last4)
        except (NotFound, InvalidInput):
            self.throttle.failed(client, number)
            return None
        return PublicProgress(p.number, p.status.value, p.status.label, p.due)


@dataclass(frozen=True)
class WaitingTickets:
    """hotline.ports.NavCounts: unread 催办/督办 and the open queue for units, call-backs due
    for agents, the review queue and the overdue list for managers."""

    tickets: TicketService

    async def counts(self, who: Principal) -> dict[str, int]:
        return await self.tickets.waiting(who)


async def provide(services: Services) -> None:
    services[TICKETS] = TicketService(
        services.db, services.policy, calendar=services.calendar, clock=services.clock
    )
    services[CALLER_HISTORY] = TicketHistory(services[TICKETS])
    services[PROGRESS_LOOKUP] = ProgressForCallers(services[TICKETS])
    services[TICKET_RECORDS] = TicketRecordsOfDispatch(
        services.db, services[TICKETS].deadlines, services.clock
    )
    services[NAV_COUNTS] = [*(services.get(NAV_COUNTS) or []), WaitingTickets(services[TICKETS])]


def workers(services: Services) -> list[Worker]:
    pump = FollowupPump(services.db, interval=services.policy.followup_pump_seconds)

    async def start() -> None:
        pump.start()

    return [Worker("followup-pump", "pump", start, pump.stop)]
