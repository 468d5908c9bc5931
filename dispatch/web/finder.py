"""Finding any ticket: the search page (工单查询, `/tickets`) and the whole ticket on one page
(`/tickets/{number}`), for every role, each seeing only what it may (`TicketQueries.search`
applies the same rules as the API list: a unit finds no confidential caller by phone or name).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dispatch.tickets import Status, TicketType
from dispatch.views import TicketView
from dispatch.web.common import NUMBER, STAFF_READERS, _number, _service, search_of
from dispatch.web.labels import _page_context
from hotline.auth import allow
from hotline.errors import Conflict, InvalidInput, PermissionDenied
from hotline.localtime import fmt
from hotline.models import Role
from hotline.web.keys import principal
from hotline.web.pages import page
from hotline.web.validation import form_error, form_text, form_version, query_int

routes = web.RouteTableDef()

PAGE_SIZE = 50
FOLLOWUP_LABELS = {
    "ack_overdue": "签收超时提醒",
    "remind": "催办",
    "escalate": "督办",
    "callback_due": "回访提醒",
}
OUTCOME_LABELS = {
    None: "待发出",
    "notified": "已发出",
    "cancelled": "已取消",
    "moot": "无需发出",
    "failed": "发送失败",
}


def deadline_text(workdays_left: int | None, overdue: bool) -> str:
    """How a deadline stands, in working days, as a person reads it."""
    if workdays_left is None:
        return ""
    if overdue:
        late = -workdays_left
        return "已超期" + (f" {late} 个工作日" if late > 0 else "")
    return "今日到期" if workdays_left == 0 else f"剩余 {workdays_left} 个工作日"


@routes.get("/tickets")
@allow(*STAFF_READERS)
async def search_page(request: web.Request) -> web.Response:
    who, service = principal(request), _service(request)
    directory = await service.directory_now()
    context: dict[str, Any] = {
        "q": request.query,
        "statuses": list(Status),
        "types": [t.value for t in TicketType],
        "categories": sorted(directory.vocabulary.categories),
        "districts": sorted(directory.vocabulary.districts),
        "unit_names": directory.names,
        "page_size": PAGE_SIZE,
        "request_query": _with_offset(request),
        "is_agent": who.role is Role.AGENT,
        **_page_context(),
    }
    searched = any(request.query.get(k) for k in request.query if k != "offset")
    try:
        search = search_of(request)
        offset = query_int(request, "offset", 0, 0, 10**6)
        rows = await service.search(who, search, PAGE_SIZE + 1, offset) if searched else []
    except InvalidInput as exc:
        status, message = form_error(exc)
        return await page(
            request,
            "dispatch/tickets.html",
            status=status,
            error=message,
            rows=[],
            more=False,
            offset=0,
            searched=searched,
            **context,
        )
    return await page(
        request,
        "dispatch/tickets.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        offset=offset,
        searched=searched,
        **context,
    )


def _with_offset(request: web.Request) -> Any:
    """The search's query string with another page offset (for the page links)."""

    def query(offset: int) -> str:
        kept = [(k, v) for k, v in request.query.items() if k != "offset"]
        return urlencode(kept + ([("offset", str(offset))] if offset else []))

    return query


DONE = {"created": "工单已受理", "dispatched": "工单已派单"}


@routes.get(f"/tickets/{NUMBER}")
@allow(*STAFF_READERS)
async def ticket_page(request: web.Request) -> web.Response:
    return await _ticket_page(request, done=DONE.get(request.query.get("done", "")))


async def _ticket_page(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    who, service = principal(request), _service(request)
    view: TicketView = await service.get(who, _number(request))
    t, now = view.ticket, service.clock()
    directory = await service.directory_now()
    left = service.deadlines.workdays_left(now, t.due) if t.due else None
    advice = None
    if who.role is Role.AGENT and t.status == Status.CREATED.value:
        # Not dispatched yet: what the agent weighs before choosing the unit.
        advice = await service.advise(
            who, t.content, t.district, t.category, exclude_number=t.number
        )
    return await page(
        request,
        "dispatch/ticket.html",
        status=status,
        error=error,
        done=done,
        view=view,
        t=t,
        unit_names=directory.names,
        advice=advice,
        deadline=deadline_text(left, view.overdue),
        followup_labels=FOLLOWUP_LABELS,
        outcome_labels=OUTCOME_LABELS,
        is_unit=who.role is Role.UNIT_HANDLER,
        is_agent=who.role is Role.AGENT,
        is_manager=who.role is Role.MANAGER,
        printed_at=now,
        detail_text=_detail_text,
        **_page_context(),
    )


@routes.post(f"/tickets/{NUMBER}/dispatch")
@allow(Role.AGENT)
async def dispatch_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    number = _number(request)
    try:
        unit = form_text(form, "unit_code", 32)
        if not unit:
            raise InvalidInput("unit_code is required", field="unit_code", zh="请选择承办单位")
        await _service(request).dispatch(
            principal(request), number, unit, version=form_version(form)
        )
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        status, message = form_error(exc)
        return await _ticket_page(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/tickets/{number}?done=dispatched")


def _detail_text(detail: dict[str, Any] | None, unit_names: dict[str, str]) -> str:
    """An event's detail in words (never a JSON dump with escapes)."""
    if not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if value in (None, "", []):
            continue
        if key == "unit_code":
            parts.append("承办单位：" + unit_names.get(value, value))
        elif key == "assisting_units":
            parts.append("协办：" + "、".join(unit_names.get(v, v) for v in value))
        elif key == "kb_article_id":
            parts.append("知识库条目：" + str(value))
        elif key in ("due", "requested_due"):
            label = "办理时限" if key == "due" else "申请延至"
            try:
                parts.append(f"{label}：" + fmt(dt.datetime.fromisoformat(str(value))))
            except ValueError:
                parts.append(f"{label}：{value}")
        elif key in ("master", "merged"):
            parts.append(("主工单：" if key == "master" else "并入工单：") + str(value))
        elif key == "source":
            continue
        else:
            parts.append(f"{key}：{value}")
    return "；".join(parts)
