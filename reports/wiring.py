"""What reports add to the services: the report service, over the ports other features
provide (hotline.ports). No workers: reports read what is stored."""

from __future__ import annotations

from hotline.bootstrap import Key, Services
from reports.service import ReportService

REPORTS: Key[ReportService] = Key("reports")


async def provide(services: Services) -> None:
    services[REPORTS] = ReportService(services)
