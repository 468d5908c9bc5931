"""What work orders add to the services (hotline.bootstrap): the ticket service, and the
follow-up pump as the `pump` role's worker."""

from __future__ import annotations

from dispatch.followups import FollowupPump
from dispatch.service import TicketService
from hotline.bootstrap import Key, Services, Worker

TICKETS: Key[TicketService] = Key("tickets")


async def provide(services: Services) -> None:
    services[TICKETS] = TicketService(services.db, services.policy, calendar=services.calendar,
                                      clock=services.clock)


def workers(services: Services) -> list[Worker]:
    pump = FollowupPump(services.db, interval=services.policy.followup_pump_seconds)

    async def start() -> None:
        pump.start()

    return [Worker("followup-pump", "pump", start, pump.stop)]
