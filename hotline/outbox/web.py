"""Dead letters (外发通知): the manager's page with 重试 and the JSON API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline.auth import allow
from hotline.errors import NotFound
from hotline.localtime import iso
from hotline.models import Role
from hotline.outbox import EVENTS
from hotline.outbox.store import DeadLetter, OutboxStore
from hotline.outbox.wiring import OUTBOX
from hotline.web.api import ok
from hotline.web.keys import SERVICES, principal
from hotline.web.pages import page
from hotline.web.validation import path_int

routes = web.RouteTableDef()
MANAGERS = (Role.MANAGER, Role.ADMIN)
STATUS_ZH = {"pending": "待发送", "sending": "发送中", "delivered": "已送达", "dead": "发送失败"}


def _store(request: web.Request) -> OutboxStore:
    return request.app[SERVICES][OUTBOX]


def destination_zh(destination: str) -> str:
    if destination == "sms":
        return "短信网关"
    return f"Webhook {destination.split(':', 1)[-1]}"


def error_zh(error: str | None) -> str:
    """The last attempt's error for people: the channels' English reasons in Chinese."""
    if not error:
        return "-"
    if error.startswith("HTTP "):
        return f"对方返回 {error}"
    if error.startswith("no answer within"):
        return "对方超时未应答"
    if "phone number" in error:
        return "通知缺少手机号码或内容"
    return f"无法连接（{error}）"


def _json(d: DeadLetter) -> dict[str, Any]:
    return {
        "id": d.delivery_id,
        "message_id": d.message_id,
        "destination": d.destination,
        "event": d.event,
        "key": d.key,
        "summary": d.summary,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "created_at": iso(d.created_at),
        "dead_at": iso(d.dead_at),
    }


@routes.get("/outbox")
@allow(*MANAGERS)
async def dead_letters_page(request: web.Request) -> web.Response:
    store = _store(request)
    retried = request.query.get("retried", "")[:16]
    return await page(
        request,
        "outbox/dead_letters.html",
        letters=await store.dead_letters(),
        counts=await store.counts(),
        status_zh=STATUS_ZH,
        events=EVENTS,
        destination_zh=destination_zh,
        error_zh=error_zh,
        retried=int(retried) if retried.isdigit() else None,
    )


@routes.post("/outbox/retry")
@allow(*MANAGERS)
async def dead_letters_retry(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ids = [
        int(v)
        for v in map(str, form.getall("delivery_id", []))
        if v.isascii() and v.isdigit() and int(v) < 2**31
    ]
    revived = await _store(request).retry(principal(request).username, ids) if ids else []
    raise web.HTTPSeeOther(f"/outbox?retried={len(revived)}")


@routes.get("/api/v1/outbox/dead-letters")
@allow(*MANAGERS)
async def dead_letters_api(request: web.Request) -> web.Response:
    return ok({"dead_letters": [_json(d) for d in await _store(request).dead_letters()]})


@routes.post("/api/v1/outbox/dead-letters/{id}/retry")
@allow(*MANAGERS)
async def dead_letter_retry_api(request: web.Request) -> web.Response:
    delivery_id = path_int(request, "id")
    revived = await _store(request).retry(principal(request).username, [delivery_id])
    if not revived:
        raise NotFound(
            f"no dead letter {delivery_id}", zh=f"没有编号为 {delivery_id} 的发送失败通知"
        )
    return ok({"retried": revived})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
