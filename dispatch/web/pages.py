"""HTML pages of work orders: the unit portal (承办单位) and the agent and manager pages
(坐席 / 管理). Forms post back to the same pages; errors re-render the page with a message.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from dispatch.service import MAX_CONTENT, NewTicket
from dispatch.tickets import Resolution, Satisfaction, Status, TicketType, Urgency
from dispatch.web.common import NUMBER, _number, _service, uploads
from dispatch.web.labels import _page_context
from dispatch.web.schemas import moment
from hotline.auth import allow
from hotline.directory import units as unit_service
from hotline.directory.models import UNIT_KINDS
from hotline.errors import Conflict, InvalidInput, PermissionDenied
from hotline.models import Role
from hotline.web.keys import DB, principal
from hotline.web.pages import page
from hotline.web.validation import form_error, form_text, form_version, path_int


routes = web.RouteTableDef()


# --- unit portal pages (承办单位) ------------------------------------------------------------------

DONE_LABELS = {
    "sign": "已签收",
    "reply": "已提交答复",
    "extension": "已提交延期申请",
    "return": "已退回热线",
}


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
    return await page(
        request,
        "dispatch/unit_tickets.html",
        unit=unit,
        kinds=UNIT_KINDS,
        tickets=rows,
        show_all=show_all,
        notices=notices,
        **_page_context(),
    )


async def _unit_ticket(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    view = await _service(request).get(principal(request), _number(request))
    return await page(
        request,
        "dispatch/unit_ticket.html",
        status=status,
        view=view,
        t=view.ticket,
        overdue=view.overdue,
        error=error,
        done=done,
        **_page_context(),
    )


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
            await service.reply(who, number, text("text"), version=version, files=uploads(form))
        elif action == "return":
            await service.return_ticket(who, number, text("reason"), version=version)
        else:
            due = moment(text("requested_due") or None, "requested_due")
            if due is None:
                raise InvalidInput(
                    "requested_due is required", field="requested_due", zh="请填写延至日期"
                )
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


async def _agent_new(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> web.Response:
    q = request.query
    values = (
        values
        if values is not None
        else {"call_id": q.get("call_id", "")[:64], "caller_phone": q.get("phone", "")[:30]}
    )
    # A fresh key per form shown: the same form submitted twice makes one ticket.
    values.setdefault("idempotency_key", uuid.uuid4().hex)
    directory = await _service(request).directory_now()
    return await page(
        request,
        "dispatch/agent_new.html",
        status=status,
        error=error,
        values=values,
        types=[t.value for t in TicketType],
        categories=sorted(directory.vocabulary.categories),
        districts=sorted(directory.vocabulary.districts),
        unit_names=directory.names,
        **_page_context(),
    )


@routes.get("/tickets/new")
@allow(Role.AGENT)
async def agent_new_page(request: web.Request) -> web.Response:
    return await _agent_new(request)


NEW_TICKET_FIELDS = (
    "caller_phone",
    "caller_name",
    "type",
    "category",
    "district",
    "address",
    "content",
    "call_id",
    "unit_code",
    "idempotency_key",
)


def new_ticket_of(form: Any) -> tuple[NewTicket, dict[str, Any]]:
    """The ticket a 受理单 form asks for, and its values to show back if it is refused."""
    texts = {k: _field(form, k) for k in NEW_TICKET_FIELDS}
    urgent, confidential = bool(form.get("urgent")), bool(form.get("confidential"))
    values: dict[str, Any] = {**texts, "urgent": urgent, "confidential": confidential}
    try:
        kind = TicketType(texts["type"])
    except ValueError:
        raise InvalidInput(
            "type must be one of the request types", field="type", zh="请选择诉求类型"
        ) from None
    return NewTicket(
        content=texts["content"],
        type=kind,
        category=texts["category"] or None,
        district=texts["district"] or None,
        address=texts["address"] or None,
        caller_name=texts["caller_name"] or None,
        caller_phone=texts["caller_phone"] or None,
        call_id=texts["call_id"] or None,
        confidential=confidential,
        urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
        unit_code=texts["unit_code"] or None,
        idempotency_key=texts["idempotency_key"] or None,
    ), values


@routes.post("/tickets/new")
@allow(Role.AGENT)
async def agent_new_submit(request: web.Request) -> web.StreamResponse:
    """Created and, with a unit chosen, dispatched in one step; then the ticket's own page
    (a reload there repeats nothing). Sent twice, the form's key answers the first ticket."""
    form = await request.post()
    values: dict[str, Any] = {k: _field(form, k) for k in NEW_TICKET_FIELDS}
    try:
        new, values = new_ticket_of(form)
        view = await _service(request).create(principal(request), new)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _agent_new(request, status=status, error=message, values=values)
    raise web.HTTPSeeOther(f"/tickets/{view.ticket.number}?done=created")


async def _callbacks(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    rows = await _service(request).callbacks_due(principal(request), 200)
    return await page(
        request,
        "dispatch/agent_callbacks.html",
        status=status,
        tickets=rows,
        error=error,
        done=done,
        resolutions=[r.value for r in Resolution],
        satisfactions=[s.value for s in Satisfaction],
        **_page_context(),
    )


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
            raise InvalidInput(
                "resolution and satisfaction are required",
                field="resolution",
                zh="请选择是否解决和满意度",
            ) from None
        await _service(request).callback(
            principal(request),
            number,
            resolution,
            satisfaction,
            _field(form, "note", 2000) or None,
            form_version(form),
        )
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _callbacks(request, status=status, error=f"工单 {number}：{message}")
    raise web.HTTPSeeOther(f"/tickets/callbacks?done={number}")


REVIEW_DONE = {
    "redispatch": "已改派",
    "send-back": "已驳回退单",
    "approve": "已同意延期",
    "refuse": "已不同意延期",
    "reopen": "已重办",
    "close": "已办结",
}


async def _review(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    queue = await _service(request).review_queue(principal(request))
    units = await unit_service.list_units(request.app[DB], principal(request))
    return await page(
        request,
        "dispatch/manager_review.html",
        status=status,
        queue=queue,
        units=units,
        error=error,
        done=done,
        **_page_context(),
    )


@routes.get("/tickets/review")
@allow(Role.MANAGER)
async def manager_review_page(request: web.Request) -> web.Response:
    number, action = request.query.get("number", ""), request.query.get("done", "")
    label = REVIEW_DONE.get(action)
    return await _review(request, done=f"工单 {number} {label}" if label and number else None)


@routes.post(
    f"/tickets/{NUMBER}/review/{{action:redispatch|send-back|approve|refuse|reopen|close}}"
)
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
            await service.redispatch(
                who, number, unit, (), moment(_field(form, "due") or None, "due"), note, version
            )
        elif action == "send-back":
            await service.send_back(who, number, note, version)
        elif action == "approve":
            await service.approve_extension(
                who, number, moment(_field(form, "due") or None, "due"), note, version
            )
        elif action == "refuse":
            await service.refuse_extension(who, number, note, version)
        elif action == "reopen":
            await service.reopen(
                who,
                number,
                _field(form, "unit_code", 32) or None,
                None,
                moment(_field(form, "due") or None, "due"),
                note,
                version,
            )
        else:
            await service.close(who, number, note, version)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _review(request, status=status, error=f"工单 {number}：{message}")
    raise web.HTTPSeeOther(f"/tickets/review?done={action}&number={number}")
