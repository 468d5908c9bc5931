"""Work-order routes under /api/v1 (agents, unit handlers, managers, the public progress lookup).

Handlers parse the body into a frozen dataclass, call one service method, serialise.

Public progress lookup: `GET /api/v1/tickets/progress/{number}?phone_last4=1234` answers the
status and dates of a ticket to whoever knows its number and the last four digits of the phone
it was reported from (the IVR knows both from the call). A wrong or unknown pair is a 404;
after PROGRESS_MAX_FAILURES wrong guesses in PROGRESS_WINDOW_SECONDS for one ticket from one
client address (or PROGRESS_ADDRESS_MAX_FAILURES over all tickets), that address gets 429. The
lock is per address, so guessing at a ticket never locks out the citizen who owns it.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from aiohttp import web

from dispatch import catalogue
from dispatch.routing import RoutingRequest
from dispatch.service import NewTicket
from dispatch.tickets import TicketType
from dispatch.views import UNIT_QUEUE
from dispatch.web.common import (
    DESK,
    NUMBER,
    PROGRESS_THROTTLE,
    STAFF_READERS,
    _number,
    _service,
    search_of,
    uploads,
)
from dispatch.web.schemas import (
    ApproveIn,
    CallbackIn,
    DispatchIn,
    ExtensionIn,
    MergeIn,
    NoteIn,
    ReasonIn,
    ReopenIn,
    ReplyIn,
    RouteIn,
    RuleIn,
    TicketIn,
    body_of,
    moment,
)
from dispatch.web.serialize import (
    candidate_json,
    _iso,
    notification_json,
    rule_json,
    suggestion_json,
    ticket_json,
)
from hotline.auth import allow, public
from hotline.errors import RateLimited
from hotline.models import Role
from hotline.web.api import ok
from hotline.web.keys import DB, principal
from hotline.web.security import client_address
from hotline.web.validation import body, form_version, json_body, path_int, query_int


routes = web.RouteTableDef()


# --- agent ----------------------------------------------------------------------------------------


@routes.post("/api/v1/tickets")
@allow(*DESK)
@body(TicketIn)
async def create_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, TicketIn)
    new = NewTicket(
        **{
            **body.__dict__,
            "assisting_units": tuple(body.assisting_units),
            "due": moment(body.due, "due"),
            "idempotency_key": request.headers.get("Idempotency-Key"),
        }
    )
    created = await _service(request).create(principal(request), new)
    if created.replayed:  # the ticket an earlier request with this Idempotency-Key made
        response = ok({"ticket": ticket_json(created)})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return ok({"ticket": ticket_json(created)}, status=201)


@routes.get("/api/v1/tickets/form-options")
@allow(*DESK)
async def form_options(request: web.Request) -> web.Response:
    """What a 受理单 offers: request types, categories, districts and active units by name."""
    directory = await _service(request).directory_now()
    return ok(
        {
            "types": [t.value for t in TicketType],
            "categories": sorted(directory.vocabulary.categories),
            "districts": sorted(directory.vocabulary.districts),
            "units": [{"code": c, "name": n} for c, n in directory.names.items()],
        }
    )


@routes.post("/api/v1/tickets/advice")
@allow(*DESK)
@body(RouteIn)
async def advice(request: web.Request) -> web.Response:
    """Suggested units and similar tickets for a request being typed, in one answer."""
    body = await json_body(request, RouteIn)
    found = await _service(request).advise(
        principal(request),
        body.text,
        body.district or None,
        body.category or None,
        limit=query_int(request, "limit", 3, 1, 20),
    )
    return ok(
        {
            "suggestions": [suggestion_json(s) for s in found.suggestions],
            "similar": [candidate_json(c) for c in found.duplicates],
        }
    )


@routes.post("/api/v1/tickets/suggest-unit")
@allow(*DESK)
@body(RouteIn)
async def suggest_unit(request: web.Request) -> web.Response:
    body = await json_body(request, RouteIn)
    limit = query_int(request, "limit", 5, 1, 20)
    found = await _service(request).suggest(
        RoutingRequest(body.text, body.district or None, body.category or None), limit
    )
    return ok({"suggestions": [suggestion_json(s) for s in found]})


@routes.post("/api/v1/tickets/similar")
@allow(*DESK)
@body(RouteIn)
async def similar_requests(request: web.Request) -> web.Response:
    body = await json_body(request, RouteIn)
    found = await _service(request).similar(
        principal(request), body.text, body.district, body.category
    )
    return ok({"similar": [candidate_json(c) for c in found]})


@routes.get("/api/v1/tickets/callbacks")
@allow(*DESK)
async def callbacks(request: web.Request) -> web.Response:
    rows = await _service(request).callbacks_due(
        principal(request), query_int(request, "limit", 100, 1, 500)
    )
    return ok({"tickets": [ticket_json(v) for v in rows]})


# --- lists ----------------------------------------------------------------------------------------


@routes.get("/api/v1/tickets")
@allow(*STAFF_READERS)
async def list_tickets(request: web.Request) -> web.Response:
    """Tickets the asker may see, newest first (unit handlers: their unit's, overdue first,
    open ones unless statuses are named); filters as `dispatch.web.common.search_of`."""
    who, search = principal(request), search_of(request)
    if who.role is Role.UNIT_HANDLER and not search.statuses:
        search = dataclasses.replace(search, statuses=UNIT_QUEUE)
    rows = await _service(request).search(
        who,
        search,
        limit=query_int(request, "limit", 100, 1, 500),
        offset=query_int(request, "offset", 0, 0, 10**7),
    )
    return ok({"tickets": [ticket_json(v) for v in rows]})


@routes.get("/api/v1/tickets/overdue")
@allow(Role.MANAGER, Role.ADMIN)
async def overdue(request: web.Request) -> web.Response:
    rows = await _service(request).find(
        principal(request), overdue=True, limit=query_int(request, "limit", 200, 1, 1000)
    )
    return ok({"tickets": [ticket_json(v) for v in rows]})


@routes.get("/api/v1/tickets/review")
@allow(Role.MANAGER)
async def review(request: web.Request) -> web.Response:
    queue = await _service(request).review_queue(principal(request))
    return ok({k: [ticket_json(v) for v in rows] for k, rows in queue.items()})


# --- public progress lookup -------------------------------------------------------------------


@routes.get(f"/api/v1/tickets/progress/{NUMBER}")
@public
async def progress(request: web.Request) -> web.Response:
    throttle = request.app[PROGRESS_THROTTLE]
    address, number = client_address(request), _number(request)
    wait = throttle.retry_after(address, number)
    if wait:
        raise RateLimited(f"too many failed lookups; retry in {wait} s", retry_after=wait)
    try:
        p = await _service(request).progress(number, request.query.get("phone_last4", ""))
    except Exception:
        throttle.failed(address, number)
        raise
    return ok(
        {
            "number": p.number,
            "status": p.status.value,
            "status_label": p.status.label,
            "created_at": _iso(p.created_at),
            "due": _iso(p.due),
            "replied_at": _iso(p.replied_at),
            "closed_at": _iso(p.closed_at),
        }
    )


# --- one ticket -----------------------------------------------------------------------------------


@routes.get(f"/api/v1/tickets/{NUMBER}")
@allow(*STAFF_READERS)
async def get_ticket(request: web.Request) -> web.Response:
    return ok(ticket_json(await _service(request).get(principal(request), _number(request))))


@routes.get(f"/api/v1/tickets/{NUMBER}/attachments/{{id}}")
@allow(*STAFF_READERS)
async def attachment_download(request: web.Request) -> web.StreamResponse:
    """A file of a ticket the asker may see, always as a download: never shown inline, never
    sniffed into HTML (dispatch.attachments)."""
    found = await _service(request).attachment(
        principal(request), _number(request), path_int(request, "id", "attachment")
    )
    return web.Response(
        body=found.data,
        content_type=found.content_type,
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(found.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        },
    )


@routes.get(f"/api/v1/tickets/{NUMBER}/similar")
@allow(*DESK)
async def ticket_similar(request: web.Request) -> web.Response:
    service, who = _service(request), principal(request)
    t = (await service.get(who, _number(request))).ticket
    found = await service.similar(who, t.content, t.district, t.category, exclude_number=t.number)
    return ok({"similar": [candidate_json(c) for c in found]})


@routes.post(f"/api/v1/tickets/{NUMBER}/dispatch")
@allow(*DESK)
@body(DispatchIn)
async def dispatch_ticket(request: web.Request) -> web.Response:
    b = await json_body(request, DispatchIn)
    view = await _service(request).dispatch(
        principal(request),
        _number(request),
        b.unit_code,
        b.assisting_units,
        moment(b.due, "due"),
        b.note,
        b.version,
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/callback")
@allow(*DESK)
@body(CallbackIn)
async def callback(request: web.Request) -> web.Response:
    b = await json_body(request, CallbackIn)
    view = await _service(request).callback(
        principal(request), _number(request), b.resolution, b.satisfaction, b.note, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/sign")
@allow(Role.UNIT_HANDLER)
@body(NoteIn, required=False)
async def sign(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).sign(principal(request), _number(request), b.note, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/return")
@allow(Role.UNIT_HANDLER)
@body(ReasonIn)
async def return_ticket(request: web.Request) -> web.Response:
    b = await json_body(request, ReasonIn)
    view = await _service(request).return_ticket(
        principal(request), _number(request), b.reason, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/extension")
@allow(Role.UNIT_HANDLER)
@body(ExtensionIn)
async def request_extension(request: web.Request) -> web.Response:
    b = await json_body(request, ExtensionIn)
    due = moment(b.requested_due, "requested_due")
    assert due is not None
    view = await _service(request).request_extension(
        principal(request), _number(request), due, b.reason, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/reply")
@allow(Role.UNIT_HANDLER)
@body(ReplyIn)
async def reply(request: web.Request) -> web.Response:
    """JSON, or multipart/form-data with `text`, `version` and the attached `files` (the same
    checks as the unit's page: size, count and type, never served inline as HTML)."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        view = await _service(request).reply(
            principal(request),
            _number(request),
            str(form.get("text", "")),  # the service bounds it, as for JSON
            form_version(form),
            files=uploads(form),
        )
        return ok(ticket_json(view))
    b = await json_body(request, ReplyIn)
    view = await _service(request).reply(principal(request), _number(request), b.text, b.version)
    return ok(ticket_json(view))


# --- manager --------------------------------------------------------------------------------------


@routes.post(f"/api/v1/tickets/{NUMBER}/extension/approve")
@allow(Role.MANAGER)
@body(ApproveIn, required=False)
async def approve_extension(request: web.Request) -> web.Response:
    b = await body_of(request, ApproveIn)
    view = await _service(request).approve_extension(
        principal(request), _number(request), moment(b.due, "due"), b.note, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/extension/refuse")
@allow(Role.MANAGER)
@body(NoteIn, required=False)
async def refuse_extension(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).refuse_extension(
        principal(request), _number(request), b.note, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/redispatch")
@allow(Role.MANAGER)
@body(DispatchIn)
async def redispatch(request: web.Request) -> web.Response:
    b = await json_body(request, DispatchIn)
    view = await _service(request).redispatch(
        principal(request),
        _number(request),
        b.unit_code,
        b.assisting_units,
        moment(b.due, "due"),
        b.note,
        b.version,
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/send-back")
@allow(Role.MANAGER)
@body(NoteIn, required=False)
async def send_back(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).send_back(
        principal(request), _number(request), b.note, b.version
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/close")
@allow(Role.MANAGER)
@body(NoteIn, required=False)
async def close(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).close(principal(request), _number(request), b.note, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/reopen")
@allow(Role.MANAGER)
@body(ReopenIn, required=False)
async def reopen(request: web.Request) -> web.Response:
    b = await body_of(request, ReopenIn)
    view = await _service(request).reopen(
        principal(request),
        _number(request),
        b.unit_code,
        b.assisting_units,
        moment(b.due, "due"),
        b.note,
        b.version,
    )
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/merge")
@allow(Role.MANAGER)
@body(MergeIn)
async def merge(request: web.Request) -> web.Response:
    b = await json_body(request, MergeIn)
    view = await _service(request).merge(
        principal(request), _number(request), b.master, b.note, b.version
    )
    return ok(ticket_json(view))


# --- catalogue ------------------------------------------------------------------------------------


@routes.get("/api/v1/dispatch/catalogue")
@allow(Role.AGENT, Role.MANAGER, Role.ADMIN)
async def catalogue_list(request: web.Request) -> web.Response:
    return ok({"rules": [rule_json(r) for r in await catalogue.list_rules(request.app[DB])]})


@routes.post("/api/v1/dispatch/catalogue")
@allow(Role.MANAGER)
@body(RuleIn)
async def catalogue_add(request: web.Request) -> web.Response:
    b = await json_body(request, RuleIn)
    rule = await catalogue.add_rule(
        request.app[DB], principal(request).username, b.category, b.district, b.unit_code, b.note
    )
    return ok(rule_json(rule), status=201)


@routes.delete("/api/v1/dispatch/catalogue/{id}")
@allow(Role.MANAGER)
async def catalogue_delete(request: web.Request) -> web.Response:
    await catalogue.delete_rule(
        request.app[DB], principal(request).username, path_int(request, "id")
    )
    return ok({"deleted": True})


# --- notifications --------------------------------------------------------------------------------


@routes.get("/api/v1/notifications")
@allow(Role.UNIT_HANDLER, Role.MANAGER)
async def notifications(request: web.Request) -> web.Response:
    rows = await _service(request).notifications(
        principal(request),
        unread_only=request.query.get("unread") in ("1", "true"),
        limit=query_int(request, "limit", 100, 1, 500),
    )
    return ok({"notifications": [notification_json(n, number) for n, number in rows]})


@routes.post("/api/v1/notifications/{id}/read")
@allow(Role.UNIT_HANDLER, Role.MANAGER)
async def notification_read(request: web.Request) -> web.Response:
    n = await _service(request).mark_read(principal(request), path_int(request, "id"))
    return ok({"id": n.id, "read_at": _iso(n.read_at)})
