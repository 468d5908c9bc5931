"""Work-order routes under /api/v1 (agents, unit handlers, managers, the public progress lookup)
and `setup(app)`, which also runs the follow-up pump for the life of the app.

Handlers parse the body into a frozen dataclass, call one service method, serialise.

Public progress lookup: `GET /api/v1/tickets/progress/{number}?phone_last4=1234` answers the
status and dates of a ticket to whoever knows its number and the last four digits of the phone
it was reported from (the IVR knows both from the call). A wrong or unknown pair is a 404;
after PROGRESS_MAX_FAILURES wrong guesses in PROGRESS_WINDOW_SECONDS for one ticket from one
client address (or PROGRESS_ADDRESS_MAX_FAILURES over all tickets), that address gets 429. The
lock is per address, so guessing at a ticket never locks out the citizen who owns it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from aiohttp import web

from dispatch import catalogue, duplicates, wiring
from hotline.directory import units as unit_service
from dispatch.models import CatalogueEntry, Notification
from hotline.directory.models import UNIT_KINDS
from dispatch.routing import RoutingRequest, Suggestion
from dispatch.service import MAX_CONTENT, NewTicket, TicketService, TicketView
from dispatch.tickets import (
    FIELD_LABELS,
    Resolution,
    Satisfaction,
    Source,
    Status,
    TicketType,
    Urgency,
)
from hotline.auth import PairThrottle, allow, public
from hotline.errors import Conflict, InvalidInput, PermissionDenied, RateLimited
from hotline.localtime import SHANGHAI, iso
from hotline.models import Role
from hotline.web.api import ok
from hotline.web.keys import DB, SERVICES, SETTINGS, principal
from hotline.web.pages import page
from hotline.web.security import client_address
from hotline.web.validation import (
    body,
    form_error,
    form_text,
    form_version,
    json_body,
    path_int,
    query_int,
    query_text,
)
from sla.calendar import end_of_day

TICKETS = web.AppKey("tickets", TicketService)
PROGRESS_THROTTLE = web.AppKey("progress_throttle", PairThrottle)

PROGRESS_MAX_FAILURES = 10
PROGRESS_WINDOW_SECONDS = 300
# One address sweeping many ticket numbers: every guess fails, so this bounds a scan.
PROGRESS_ADDRESS_MAX_FAILURES = 50
NUMBER = r"{number:\d{8}-\d{4,6}}"

routes = web.RouteTableDef()
STAFF_READERS = (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.UNIT_HANDLER)
DESK = (Role.AGENT, Role.MANAGER)


# --- parsing ------------------------------------------------------------------------------------

def moment(value: str | None, name: str) -> dt.datetime | None:
    """ISO date (= the end of that day in Asia/Shanghai) or datetime (naive = Asia/Shanghai)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return end_of_day(dt.date.fromisoformat(value))
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO date or date-time", field=name,
                           zh=f"{FIELD_LABELS.get(name, name)}须为日期（如 2026-12-31）"
                              "或日期时间") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


async def body_of(request: web.Request, cls: type) -> Any:
    """Actions without required fields accept an empty body."""
    if not request.body_exists:
        return cls()
    return await json_body(request, cls)


def _iso(value: dt.datetime | None) -> str | None:
    # One offset for every instant (the city's), whether it was just computed or read back.
    return iso(value)


# --- serialising ----------------------------------------------------------------------------------

def ticket_json(view: TicketView) -> dict[str, Any]:
    t = view.ticket
    status = Status(t.status)
    data = {
        "id": t.id, "number": t.number, "status": status.value, "status_label": status.label,
        "version": t.version, "source": t.source, "call_id": view.call_id,
        "caller_name": view.caller_name, "caller_phone": view.caller_phone,
        "confidential": t.confidential, "type": t.type, "category": t.category,
        "content": t.content, "district": t.district, "address": t.address,
        "urgency": t.urgency, "main_unit": t.main_unit_code,
        "assisting_units": list(t.assisting_units),
        "acknowledge_due": _iso(t.acknowledge_due), "due": _iso(t.due),
        "overdue": view.overdue,
        "extension": None if t.extension_requested_due is None else {
            "requested_due": _iso(t.extension_requested_due), "reason": t.extension_reason,
            "requested_at": _iso(t.extension_requested_at)},
        "returned_by": t.returned_by, "return_reason": t.return_reason,
        "reply": t.reply_text, "signed_at": _iso(t.signed_at), "replied_at": _iso(t.replied_at),
        "closed_at": _iso(t.closed_at), "resolution": t.resolution,
        "satisfaction": t.satisfaction, "review_needed": t.review_needed,
        "kb_article_id": t.kb_article_id, "reopen_count": t.reopen_count,
        "created_by": t.created_by, "created_at": _iso(t.created_at),
        "updated_at": _iso(t.updated_at),
    }
    if view.events or view.master_number or view.merged_numbers:
        data["master"] = view.master_number
        data["merged"] = list(view.merged_numbers)
    if view.events:
        data["events"] = [{"at": _iso(e.at), "actor": e.actor, "action": e.action,
                           "from": e.from_status, "to": e.to_status, "note": e.note,
                           "detail": e.detail} for e in view.events]
    return data


def suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {"unit_code": s.unit_code, "score": s.score, "reasons": list(s.reasons)}


def candidate_json(c: duplicates.Candidate) -> dict[str, Any]:
    t = c.ticket
    return {"number": t.number, "score": c.score, "status": t.status, "content": t.content,
            "district": t.district, "category": t.category, "created_at": _iso(t.created_at)}


def rule_json(r: CatalogueEntry) -> dict[str, Any]:
    return {"id": r.id, "category": r.category, "district": r.district,
            "unit_code": r.unit_code, "note": r.note, "created_by": r.created_by,
            "created_at": _iso(r.created_at)}


def notification_json(n: Notification, number: str) -> dict[str, Any]:
    return {"id": n.id, "ticket": number, "unit_code": n.unit_code, "kind": n.kind,
            "message": n.message, "created_at": _iso(n.created_at), "read_at": _iso(n.read_at)}


# --- bodies ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TicketIn:
    content: str = field(metadata={"max_len": MAX_CONTENT})
    type: TicketType
    category: str | None = field(default=None, metadata={"max_len": 50})
    district: str | None = field(default=None, metadata={"max_len": 50})
    address: str | None = field(default=None, metadata={"max_len": 200})
    caller_name: str | None = field(default=None, metadata={"max_len": 50})
    caller_phone: str | None = field(default=None, metadata={"max_len": 30})
    call_id: str | None = field(default=None, metadata={"max_len": 64})
    source: Source = Source.PHONE
    confidential: bool = False
    urgency: Urgency = Urgency.NORMAL
    unit_code: str | None = field(default=None, metadata={"max_len": 32})
    assisting_units: list[str] = field(default_factory=list, metadata={"max_len": 32})
    answered_on_spot: bool = False
    kb_article_id: str | None = field(default=None, metadata={"max_len": 64})
    due: str | None = field(default=None, metadata={"max_len": 40})


@dataclass(frozen=True)
class RouteIn:
    text: str = field(metadata={"max_len": MAX_CONTENT})
    district: str | None = field(default=None, metadata={"max_len": 50})
    category: str | None = field(default=None, metadata={"max_len": 50})


@dataclass(frozen=True)
class NoteIn:
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class DispatchIn:
    unit_code: str = field(metadata={"max_len": 32})
    assisting_units: list[str] = field(default_factory=list, metadata={"max_len": 32})
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReopenIn:
    unit_code: str | None = field(default=None, metadata={"max_len": 32})
    assisting_units: list[str] | None = field(default=None, metadata={"max_len": 32})
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReasonIn:
    reason: str = field(metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ExtensionIn:
    requested_due: str = field(metadata={"max_len": 40})
    reason: str = field(metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ApproveIn:
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReplyIn:
    text: str = field(metadata={"max_len": MAX_CONTENT})
    version: int | None = None


@dataclass(frozen=True)
class CallbackIn:
    resolution: Resolution
    satisfaction: Satisfaction
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class MergeIn:
    master: str = field(metadata={"max_len": 20})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class RuleIn:
    category: str = field(metadata={"max_len": 50})
    unit_code: str = field(metadata={"max_len": 32})
    district: str | None = field(default=None, metadata={"max_len": 50})
    note: str | None = field(default=None, metadata={"max_len": 200})


def _service(request: web.Request) -> TicketService:
    return request.app[TICKETS]


def _number(request: web.Request) -> str:
    return request.match_info["number"]


# --- agent ----------------------------------------------------------------------------------------

@routes.post("/api/v1/tickets")
@allow(*DESK)
@body(TicketIn)
async def create_ticket(request: web.Request) -> web.Response:
    body = await json_body(request, TicketIn)
    new = NewTicket(**{**body.__dict__, "assisting_units": tuple(body.assisting_units),
                       "due": moment(body.due, "due")})
    created = await _service(request).create(principal(request), new)
    return ok({"ticket": ticket_json(created.view),
               "suggestions": [suggestion_json(s) for s in created.suggestions],
               "similar": [candidate_json(c) for c in created.duplicates]}, status=201)


@routes.post("/api/v1/tickets/suggest-unit")
@allow(*DESK)
@body(RouteIn)
async def suggest_unit(request: web.Request) -> web.Response:
    body = await json_body(request, RouteIn)
    limit = query_int(request, "limit", 5, 1, 20)
    found = await _service(request).suggest(
        RoutingRequest(body.text, body.district or None, body.category or None), limit)
    return ok({"suggestions": [suggestion_json(s) for s in found]})


@routes.post("/api/v1/tickets/similar")
@allow(*DESK)
@body(RouteIn)
async def similar_requests(request: web.Request) -> web.Response:
    body = await json_body(request, RouteIn)
    found = await _service(request).similar(principal(request), body.text, body.district,
                                            body.category)
    return ok({"similar": [candidate_json(c) for c in found]})


@routes.get("/api/v1/tickets/callbacks")
@allow(*DESK)
async def callbacks(request: web.Request) -> web.Response:
    rows = await _service(request).callbacks_due(principal(request),
                                                 query_int(request, "limit", 100, 1, 500))
    return ok({"tickets": [ticket_json(v) for v in rows]})


# --- lists ----------------------------------------------------------------------------------------

def _statuses(request: web.Request) -> list[Status]:
    raw = request.query.get("status", "")
    try:
        return [Status(part) for part in raw.split(",") if part]
    except ValueError:
        raise InvalidInput("status must be one of " + ", ".join(s.value for s in Status),
                           field="status", zh="工单状态参数无效") from None


@routes.get("/api/v1/tickets")
@allow(*STAFF_READERS)
async def list_tickets(request: web.Request) -> web.Response:
    """Agents and managers: all tickets, newest first (filters status, unit, phone — the
    caller's earlier tickets). Unit handlers: their unit's, overdue first."""
    q = request.query
    rows = await _service(request).find(
        principal(request), statuses=_statuses(request), unit_code=query_text(request, "unit"),
        phone=query_text(request, "phone"), overdue=q.get("overdue") in ("1", "true"),
        limit=query_int(request, "limit", 100, 1, 500),
        offset=query_int(request, "offset", 0, 0, 10**7))
    return ok({"tickets": [ticket_json(v) for v in rows]})


@routes.get("/api/v1/tickets/overdue")
@allow(Role.MANAGER, Role.ADMIN)
async def overdue(request: web.Request) -> web.Response:
    rows = await _service(request).find(principal(request), overdue=True,
                                        limit=query_int(request, "limit", 200, 1, 1000))
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
    return ok({"number": p.number, "status": p.status.value, "status_label": p.status.label,
               "created_at": _iso(p.created_at), "due": _iso(p.due),
               "replied_at": _iso(p.replied_at), "closed_at": _iso(p.closed_at)})


# --- one ticket -----------------------------------------------------------------------------------

@routes.get(f"/api/v1/tickets/{NUMBER}")
@allow(*STAFF_READERS)
async def get_ticket(request: web.Request) -> web.Response:
    return ok(ticket_json(await _service(request).get(principal(request), _number(request))))


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
    view = await _service(request).dispatch(principal(request), _number(request), b.unit_code,
                                            b.assisting_units, moment(b.due, "due"), b.note,
                                            b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/callback")
@allow(*DESK)
@body(CallbackIn)
async def callback(request: web.Request) -> web.Response:
    b = await json_body(request, CallbackIn)
    view = await _service(request).callback(principal(request), _number(request), b.resolution,
                                            b.satisfaction, b.note, b.version)
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
    view = await _service(request).return_ticket(principal(request), _number(request),
                                                  b.reason, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/extension")
@allow(Role.UNIT_HANDLER)
@body(ExtensionIn)
async def request_extension(request: web.Request) -> web.Response:
    b = await json_body(request, ExtensionIn)
    due = moment(b.requested_due, "requested_due")
    assert due is not None
    view = await _service(request).request_extension(principal(request), _number(request), due,
                                                     b.reason, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/reply")
@allow(Role.UNIT_HANDLER)
@body(ReplyIn)
async def reply(request: web.Request) -> web.Response:
    b = await json_body(request, ReplyIn)
    view = await _service(request).reply(principal(request), _number(request), b.text, b.version)
    return ok(ticket_json(view))


# --- manager --------------------------------------------------------------------------------------

@routes.post(f"/api/v1/tickets/{NUMBER}/extension/approve")
@allow(Role.MANAGER)
@body(ApproveIn, required=False)
async def approve_extension(request: web.Request) -> web.Response:
    b = await body_of(request, ApproveIn)
    view = await _service(request).approve_extension(principal(request), _number(request),
                                                     moment(b.due, "due"), b.note, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/extension/refuse")
@allow(Role.MANAGER)
@body(NoteIn, required=False)
async def refuse_extension(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).refuse_extension(principal(request), _number(request),
                                                    b.note, b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/redispatch")
@allow(Role.MANAGER)
@body(DispatchIn)
async def redispatch(request: web.Request) -> web.Response:
    b = await json_body(request, DispatchIn)
    view = await _service(request).redispatch(principal(request), _number(request), b.unit_code,
                                              b.assisting_units, moment(b.due, "due"), b.note,
                                              b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/send-back")
@allow(Role.MANAGER)
@body(NoteIn, required=False)
async def send_back(request: web.Request) -> web.Response:
    b = await body_of(request, NoteIn)
    view = await _service(request).send_back(principal(request), _number(request), b.note,
                                             b.version)
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
    view = await _service(request).reopen(principal(request), _number(request), b.unit_code,
                                          b.assisting_units, moment(b.due, "due"), b.note,
                                          b.version)
    return ok(ticket_json(view))


@routes.post(f"/api/v1/tickets/{NUMBER}/merge")
@allow(Role.MANAGER)
@body(MergeIn)
async def merge(request: web.Request) -> web.Response:
    b = await json_body(request, MergeIn)
    view = await _service(request).merge(principal(request), _number(request), b.master,
                                         b.note, b.version)
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
    rule = await catalogue.add_rule(request.app[DB], principal(request).username, b.category,
                                    b.district, b.unit_code, b.note)
    return ok(rule_json(rule), status=201)


@routes.delete("/api/v1/dispatch/catalogue/{id}")
@allow(Role.MANAGER)
async def catalogue_delete(request: web.Request) -> web.Response:
    await catalogue.delete_rule(request.app[DB], principal(request).username,
                                path_int(request, "id"))
    return ok({"deleted": True})


# --- notifications --------------------------------------------------------------------------------

@routes.get("/api/v1/notifications")
@allow(Role.UNIT_HANDLER, Role.MANAGER)
async def notifications(request: web.Request) -> web.Response:
    rows = await _service(request).notifications(
        principal(request), unread_only=request.query.get("unread") in ("1", "true"),
        limit=query_int(request, "limit", 100, 1, 500))
    return ok({"notifications": [notification_json(n, number) for n, number in rows]})


@routes.post("/api/v1/notifications/{id}/read")
@allow(Role.UNIT_HANDLER, Role.MANAGER)
async def notification_read(request: web.Request) -> web.Response:
    n = await _service(request).mark_read(principal(request), path_int(request, "id"))
    return ok({"id": n.id, "read_at": _iso(n.read_at)})


# --- unit portal pages (承办单位) ------------------------------------------------------------------

ACTION_LABELS = {
    "create": "受理", "dispatch": "派单", "sign": "签收", "return": "退单", "redispatch": "改派",
    "send_back": "退单驳回", "request_extension": "申请延期", "approve_extension": "同意延期",
    "refuse_extension": "不同意延期", "reply": "答复", "master_replied": "主工单答复",
    "callback": "回访", "close": "办结", "reopen": "重办", "merge": "并单", "merge_in": "并入工单",
    "answer_on_spot": "当场解答", "ack_overdue": "签收超时", "remind": "催办", "escalate": "督办",
    "callback_due": "待回访",
}
DONE_LABELS = {"sign": "已签收", "reply": "已提交答复", "extension": "已提交延期申请",
               "return": "已退回热线"}


def _page_context() -> dict[str, Any]:
    return {"labels": {s.value: s.label for s in Status}, "actions": ACTION_LABELS}


@routes.get("/unit/tickets")
@allow(Role.UNIT_HANDLER)
async def unit_tickets_page(request: web.Request) -> web.Response:
    who, service = principal(request), _service(request)
    show_all = request.query.get("all") in ("1", "true")
    rows = await service.find(who, statuses=list(Status) if show_all else (), limit=500)
    if show_all:  # overdue first, then the rest newest first
        rows.sort(key=lambda v: (not v.overdue, -v.ticket.id))
    unit = await unit_service.get_unit(request.app[DB], who, who.unit_code or "")
    notices = await service.notifications(who, unread_only=True, limit=50)
    return await page(request, "dispatch/unit_tickets.html", unit=unit, kinds=UNIT_KINDS,
                      tickets=rows, show_all=show_all, notices=notices, **_page_context())


async def _unit_ticket(request: web.Request, status: int = 200, error: str | None = None,
                       done: str | None = None) -> web.Response:
    view = await _service(request).get(principal(request), _number(request))
    return await page(request, "dispatch/unit_ticket.html", status=status, view=view,
                      t=view.ticket, overdue=view.overdue, error=error,
                      done=done, **_page_context())


@routes.get(f"/unit/tickets/{NUMBER}")
@allow(Role.UNIT_HANDLER)
async def unit_ticket_page(request: web.Request) -> web.Response:
    return await _unit_ticket(request, done=DONE_LABELS.get(request.query.get("done", "")))


@routes.post(f"/unit/tickets/{NUMBER}/{{action:sign|reply|extension|return}}")
@allow(Role.UNIT_HANDLER)
async def unit_ticket_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action, number = request.match_info["action"], _number(request)
    who, service = principal(request), _service(request)

    def text(name: str) -> str:
        return str(form.get(name, ""))[:MAX_CONTENT]

    try:
        version = form_version(form)
        if action == "sign":
            await service.sign(who, number, version=version)
        elif action == "reply":
            await service.reply(who, number, text("text"), version=version)
        elif action == "return":
            await service.return_ticket(who, number, text("reason"), version=version)
        else:
            due = moment(text("requested_due") or None, "requested_due")
            if due is None:
                raise InvalidInput("requested_due is required", field="requested_due",
                                   zh="请填写延至日期")
            await service.request_extension(who, number, due, text("reason"), version=version)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _unit_ticket(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/unit/tickets/{number}?done={action}")


@routes.post("/unit/notifications/{id}/read")
@allow(Role.UNIT_HANDLER)
async def unit_notification_read(request: web.Request) -> web.StreamResponse:
    await _service(request).mark_read(principal(request), path_int(request, "id"))
    raise web.HTTPSeeOther("/unit/tickets")


# --- agent and manager pages (坐席 / 管理) --------------------------------------------------------

def _field(form: Any, name: str, limit: int = MAX_CONTENT) -> str:
    return form_text(form, name, limit)


async def _agent_new(request: web.Request, status: int = 200, error: str | None = None,
                     values: dict[str, Any] | None = None, created: Any = None,
                     done: str | None = None) -> web.Response:
    q = request.query
    values = values if values is not None else {"call_id": q.get("call_id", "")[:64],
                                                "caller_phone": q.get("phone", "")[:30]}
    return await page(request, "dispatch/agent_new.html", status=status, error=error,
                      values=values, types=[t.value for t in TicketType], created=created,
                      done=done, **_page_context())


@routes.get("/tickets/new")
@allow(Role.AGENT)
async def agent_new_page(request: web.Request) -> web.Response:
    number = request.query.get("dispatched", "")
    return await _agent_new(request, done=f"工单 {number} 已派单" if number else None)


@routes.post("/tickets/new")
@allow(Role.AGENT)
async def agent_new_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: _field(form, k) for k in ("caller_phone", "caller_name", "type", "category",
                                            "district", "address", "content", "call_id")}
    values["urgent"] = bool(form.get("urgent"))
    values["confidential"] = bool(form.get("confidential"))
    try:
        try:
            kind = TicketType(values["type"])
        except ValueError:
            raise InvalidInput("type must be one of the request types", field="type",
                               zh="请选择诉求类型") from None
        new = NewTicket(content=values["content"], type=kind,
                        category=values["category"] or None, district=values["district"] or None,
                        address=values["address"] or None,
                        caller_name=values["caller_name"] or None,
                        caller_phone=values["caller_phone"] or None,
                        call_id=values["call_id"] or None, confidential=values["confidential"],
                        urgency=Urgency.URGENT if values["urgent"] else Urgency.NORMAL)
        created = await _service(request).create(principal(request), new)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _agent_new(request, status=status, error=message, values=values)
    return await _agent_new(request, status=201, values=values, created=created,
                            done=f"工单 {created.view.ticket.number} 已受理，请确认派单")


@routes.post(f"/tickets/{NUMBER}/dispatch")
@allow(Role.AGENT)
async def agent_dispatch_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    number = _number(request)
    try:
        unit = _field(form, "unit_code", 32)
        if not unit:
            raise InvalidInput("unit_code is required", field="unit_code", zh="请选择承办单位")
        await _service(request).dispatch(principal(request), number, unit,
                                         version=form_version(form))
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _agent_new(request, status=status, error=f"工单 {number}：{message}",
                                values={})
    raise web.HTTPSeeOther(f"/tickets/new?dispatched={number}")


async def _callbacks(request: web.Request, status: int = 200, error: str | None = None,
                     done: str | None = None) -> web.Response:
    rows = await _service(request).callbacks_due(principal(request), 200)
    return await page(request, "dispatch/agent_callbacks.html", status=status, tickets=rows,
                      error=error, done=done, resolutions=[r.value for r in Resolution],
                      satisfactions=[s.value for s in Satisfaction], **_page_context())


@routes.get("/tickets/callbacks")
@allow(Role.AGENT)
async def agent_callbacks_page(request: web.Request) -> web.Response:
    number = request.query.get("done", "")
    return await _callbacks(request, done=f"工单 {number} 已回访" if number else None)


@routes.post(f"/tickets/{NUMBER}/callback")
@allow(Role.AGENT)
async def agent_callback_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    number = _number(request)
    try:
        try:
            resolution = Resolution(_field(form, "resolution"))
            satisfaction = Satisfaction(_field(form, "satisfaction"))
        except ValueError:
            raise InvalidInput("resolution and satisfaction are required", field="resolution",
                               zh="请选择是否解决和满意度") from None
        await _service(request).callback(principal(request), number, resolution, satisfaction,
                                         _field(form, "note", 2000) or None, form_version(form))
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _callbacks(request, status=status, error=f"工单 {number}：{message}")
    raise web.HTTPSeeOther(f"/tickets/callbacks?done={number}")


REVIEW_DONE = {"redispatch": "已改派", "send-back": "已驳回退单", "approve": "已同意延期",
               "refuse": "已不同意延期", "reopen": "已重办", "close": "已办结"}


async def _review(request: web.Request, status: int = 200, error: str | None = None,
                  done: str | None = None) -> web.Response:
    queue = await _service(request).review_queue(principal(request))
    units = await unit_service.list_units(request.app[DB], principal(request))
    return await page(request, "dispatch/manager_review.html", status=status, queue=queue,
                      units=units, error=error, done=done, **_page_context())


@routes.get("/tickets/review")
@allow(Role.MANAGER)
async def manager_review_page(request: web.Request) -> web.Response:
    number, action = request.query.get("number", ""), request.query.get("done", "")
    label = REVIEW_DONE.get(action)
    return await _review(request, done=f"工单 {number} {label}" if label and number else None)


@routes.post(f"/tickets/{NUMBER}/review/"
             "{action:redispatch|send-back|approve|refuse|reopen|close}")
@allow(Role.MANAGER)
async def manager_review_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action, number = request.match_info["action"], _number(request)
    who, service = principal(request), _service(request)
    note, version = _field(form, "note", 2000) or None, form_version(form)
    try:
        if action == "redispatch":
            unit = _field(form, "unit_code", 32)
            if not unit:
                raise InvalidInput("unit_code is required", field="unit_code", zh="请选择承办单位")
            await service.redispatch(who, number, unit, (), moment(_field(form, "due") or None,
                                                                  "due"), note, version)
        elif action == "send-back":
            await service.send_back(who, number, note, version)
        elif action == "approve":
            await service.approve_extension(who, number, moment(_field(form, "due") or None,
                                                                "due"), note, version)
        elif action == "refuse":
            await service.refuse_extension(who, number, note, version)
        elif action == "reopen":
            await service.reopen(who, number, _field(form, "unit_code", 32) or None, None,
                                 moment(_field(form, "due") or None, "due"), note, version)
        else:
            await service.close(who, number, note, version)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _review(request, status=status, error=f"工单 {number}：{message}")
    raise web.HTTPSeeOther(f"/tickets/review?done={action}&number={number}")


# --- wiring ---------------------------------------------------------------------------------------

def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app[PROGRESS_THROTTLE] = PairThrottle(PROGRESS_MAX_FAILURES, PROGRESS_WINDOW_SECONDS,
                                          PROGRESS_ADDRESS_MAX_FAILURES)

    async def work_orders(app: web.Application) -> AsyncIterator[None]:
        # After the app's services context (hotline.bootstrap).
        app[TICKETS] = app[SERVICES][wiring.TICKETS]
        yield

    app.cleanup_ctx.append(work_orders)
