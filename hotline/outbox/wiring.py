"""What the outbox adds to the services (hotline.bootstrap): its store (dead letters for the
pages and API) and the delivery worker in the `pump` role."""

from __future__ import annotations

from hotline.bootstrap import Key, Services, Worker
from hotline.outbox.courier import Courier
from hotline.outbox.store import OutboxStore

OUTBOX: Key[OutboxStore] = Key("outbox")


async def provide(services: Services) -> None:
    services[OUTBOX] = OutboxStore(services.db, services.settings.outbox, services.clock)


def workers(services: Services) -> list[Worker]:
    courier = Courier(services.db, services.settings.outbox, clock=services.clock)
    return [Worker("outbox-courier", "pump", courier.start, courier.stop)]
