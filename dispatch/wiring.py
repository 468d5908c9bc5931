"""What work orders add to the services (hotline.bootstrap): the ticket service, the caller
history port (hotline.ports) the screen pop asks, and the follow-up pump as the `pump` role's
worker."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.followups import FollowupPump
from dispatch.service import TicketService
from dispatch.tickets import Status
from hotline.auth import Principal
from hotline.bootstrap import Key, Services, Worker
from hotline.errors import InvalidInput
from hotline.ports import CALLER_HISTORY, CallerTicket

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
        return [CallerTicket(v.ticket.number, v.ticket.status, Status(v.ticket.status).label,
                             v.ticket.created_at, (v.ticket.content or "")[:80]) for v in views]


async def provide(services: Services) -> None:
    services[TICKETS] = TicketService(services.db, services.policy, calendar=services.calendar,
                                      clock=services.clock)
    services[CALLER_HISTORY] = TicketHistory(services[TICKETS])


def workers(services: Services) -> list[Worker]:
    pump = FollowupPump(services.db, interval=services.policy.followup_pump_seconds)

    async def start() -> None:
        pump.start()

    return [Worker("followup-pump", "pump", start, pump.stop)]
