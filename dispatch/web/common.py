"""Shared by the work-order API and pages: app keys, the progress-lookup limits, route
patterns, role groups and request accessors.
"""

from __future__ import annotations

from aiohttp import web

from dispatch.service import TicketService
from hotline.auth import PairThrottle
from hotline.models import Role


TICKETS = web.AppKey("tickets", TicketService)
PROGRESS_THROTTLE = web.AppKey("progress_throttle", PairThrottle)

PROGRESS_MAX_FAILURES = 10
PROGRESS_WINDOW_SECONDS = 300
# One address sweeping many ticket numbers: every guess fails, so this bounds a scan.
PROGRESS_ADDRESS_MAX_FAILURES = 50
NUMBER = r"{number:\d{8}-\d{4,6}}"

STAFF_READERS = (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.UNIT_HANDLER)
DESK = (Role.AGENT, Role.MANAGER)


def _service(request: web.Request) -> TicketService:
    return request.app[TICKETS]


def _number(request: web.Request) -> str:
    return request.match_info["number"]
