"""Shared by the work-order API and pages: app keys, the progress-lookup limits, route
patterns, role groups and request accessors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp.web_request import FileField

from dispatch.attachments import Upload
from dispatch.service import TicketService
from dispatch.tickets import Status
from dispatch.views import TicketSearch
from hotline.auth import PairThrottle
from hotline.errors import InvalidInput
from hotline.models import Role
from hotline.web.keys import principal
from hotline.web.validation import query_date, query_text


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


def statuses_of(request: web.Request) -> tuple[Status, ...]:
    raw = request.query.getall("status", [])
    try:
        return tuple(Status(part) for value in raw for part in value.split(",") if part)
    except ValueError:
        raise InvalidInput(
            "status must be one of " + ", ".join(s.value for s in Status),
            field="status",
            zh="工单状态参数无效",
        ) from None


def search_of(request: web.Request) -> TicketSearch:
    """The ticket search a query string asks for (the API's list and the search page):
    q, status (repeated or comma-separated), unit, category, district, phone, from, to
    (local days), overdue=1, mine=1 (tickets the asker created)."""
    flag = ("1", "true", "on")
    return TicketSearch(
        text=query_text(request, "q"),
        statuses=statuses_of(request),
        unit_code=query_text(request, "unit"),
        category=query_text(request, "category"),
        district=query_text(request, "district"),
        phone=query_text(request, "phone"),
        created_from=query_date(request, "from"),
        created_to=query_date(request, "to"),
        created_by=principal(request).username if request.query.get("mine") in flag else None,
        overdue=request.query.get("overdue") in flag,
    )


def uploads(form: Any) -> list[Upload]:
    """The files of a multipart form's `files` fields (the reply's attachments). Browsers send
    the name as UTF-8; some clients percent-encode it (filename*=)."""
    return [
        Upload(unquote(f.filename or ""), f.file.read())
        for f in form.getall("files", [])
        if isinstance(f, FileField)
    ]
