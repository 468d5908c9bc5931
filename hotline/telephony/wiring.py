"""What call tracking adds to the services (hotline.bootstrap): dashboard metrics over the
stored call records for every process, and, when `ami.enabled`, the `ami` role's worker that
follows the PBX (AMI ingest, call records, live board, screen pops)."""

from __future__ import annotations

from hotline.bootstrap import Key, Services, Worker
from hotline.telephony.rollup import StoredMetrics
from hotline.telephony.service import CallCenter

STORED_METRICS: Key[StoredMetrics] = Key("stored_call_metrics")
CENTER: Key[CallCenter] = Key("call_center")  # present while the ami worker runs


async def provide(services: Services) -> None:
    services[STORED_METRICS] = StoredMetrics(services.db, services.policy)


def workers(services: Services) -> list[Worker]:
    if not services.settings.ami.enabled:
        return []
    center = CallCenter.from_settings(services.db, services.settings)

    async def start() -> None:
        await center.start()
        services[CENTER] = center

    async def stop() -> None:
        services.forget(CENTER)
        await center.stop()

    return [Worker("ami-ingest", "ami", start, stop)]
