"""Call tracking over HTTP: the live board and metrics (managers), the screen pop stream and the
missed-call callback list (agents), call records.

API (JSON under /api/v1/calls):
  GET  /api/v1/calls/live                   callers waiting, agents' states (manager, agent)
  GET  /api/v1/calls/metrics?bucket=hour    rolling 24 h, today per 15min|hour|day, alarms (manager)
  GET  /api/v1/calls?caller=&limit=         stored call records, newest first (manager, agent)
  GET  /api/v1/calls/pops                   Server-Sent Events: the agent's own calls (agent)
  GET  /api/v1/calls/missed?status=open     missed callers to call back (agent, manager)
  POST /api/v1/calls/missed/{id}/attempts   {"outcome", "note", "version"} (agent)
Pages: /calls/missed (agents: 未接来电回拨); the manager's /dashboard shows the live board.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp_sse import sse_response

from hotline import localtime
from hotline.auth import allow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import Role, User
from hotline.ports import CALLER_HISTORY
from hotline.telephony import service, wiring
from hotline.telephony.calls import CallRecord
from hotline.telephony.models import CALLBACK_OUTCOMES
from hotline.telephony.rollup import StoredMetrics
from hotline.web.api import ok
from hotline.web.keys import DB, REGISTRY, SERVICES, SETTINGS, principal
from hotline.web.pages import page
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
from sla.metrics import BUCKETS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

CENTER = web.AppKey("call_center", service.CallCenter)
# Without a PBX to follow, the metrics come from the stored call records.
STORED_METRICS = web.AppKey("stored_call_metrics", StoredMetrics)
HERE = Path(__file__).parent
# Keeps proxies and browsers from timing out an idle desk stream.
SSE_PING_S = 15


def center_of(request: web.Request) -> service.CallCenter | None:
    return request.app.get(CENTER)


async def _records(request: web.Request) -> tuple[list[CallRecord], float]:
    center = center_of(request)
    if center is not None:
        return center.records(), center.now()
    return await service.stored_records(request.app[DB]), time.time()


def record_json(r: CallRecord) -> dict[str, Any]:
    return {"uniqueid": r.uniqueid, "queue": r.queue, "caller": r.caller, "dialled": r.dialled,
            "outcome": r.outcome, "enter_at": localtime.ts_iso(r.enter_ts), "end_at": localtime.ts_iso(r.end_ts),
            "connect_at": localtime.ts_iso(r.connect_ts), "agent": r.agent, "hold_s": r.hold_s,
            "ring_s": r.ring_s, "wait_s": r.wait_s, "talk_s": r.talk_s, "ended_by": r.ended_by,
            "exit_reason": r.exit_reason, "in_progress": r.in_progress}


# --- live board and metrics -------------------------------------------------------------------

@routes.get("/api/v1/calls/live")
@allow(Role.MANAGER, Role.AGENT)
async def live(request: web.Request) -> web.Response:
    center = center_of(request)
    if center is None:
        return ok({"enabled": False, "connected": False, "waiting": [], "agents": []})
    return ok(center.board())


@routes.get("/api/v1/calls/metrics")
@allow(Role.MANAGER)
async def call_metrics(request: web.Request) -> web.Response:
    bucket = request.query.get("bucket", "hour")
    if bucket not in BUCKETS:
        raise InvalidInput(f"bucket must be one of {', '.join(BUCKETS)}", field="bucket",
                           zh="统计粒度须为 15 分钟、小时或天")
    center = center_of(request)
    if center is None:
        body = await request.app[STORED_METRICS].body(time.time(), bucket)
        return web.Response(body=body, content_type="application/json", charset="utf-8")
    return ok(service.dashboard_metrics(center.records(), center.now(),
                                        request.app[SETTINGS].policy, bucket))


@routes.get("/api/v1/calls")
@allow(Role.MANAGER, Role.AGENT)
async def list_calls(request: web.Request) -> web.Response:
    caller = (query_text(request, "caller") or "")[:64]
    limit = query_int(request, "limit", 50, 1, 500)
    if caller:
        rows = await service.earlier_calls(request.app[DB], caller, limit=limit)
    else:
        rows = sorted((await _records(request))[0], key=lambda r: r.enter_ts, reverse=True)[:limit]
    return ok({"calls": [record_json(r) for r in rows]})


# --- screen pop -------------------------------------------------------------------------------

async def _agent_keys(request: web.Request) -> tuple[str, str]:
    async with request.app[DB].read() as s:
        user = await s.get(User, principal(request).user_id)
    if user is None or not (user.agent_member_name or user.agent_interface):
        raise Conflict("this agent account has no queue member name or interface configured; "
                       "ask an administrator to set them",
                       zh="此坐席账号未设置队列成员名或分机接口，请联系系统管理员设置")
    return user.agent_member_name or "", user.agent_interface or ""


async def pop_json(request: web.Request, e: service.CallEvent) -> dict[str, Any]:
    """The event with what the agent needs on screen: earlier calls and tickets of the caller."""
    out: dict[str, Any] = {"type": e.kind, "uniqueid": e.uniqueid, "caller": e.caller,
                           "queue": e.queue, "dialled": e.dialled, "agent": e.member,
                           "hold_s": e.hold_s, "ring_s": e.ring_s, "talk_s": e.talk_s,
                           "at": localtime.ts_iso(e.at)}
    if e.kind == "connect":
        earlier = await service.earlier_calls(request.app[DB], e.caller, exclude=e.uniqueid)
        out["earlier_calls"] = [record_json(r) for r in earlier]
        out["tickets"] = await _caller_tickets(request, e.caller)
    return out


async def _caller_tickets(request: web.Request, caller: str) -> list[dict[str, Any]]:
    # Work orders are another feature: asked through the kernel's port, absent without it.
    history = request.app[SERVICES].get(CALLER_HISTORY)
    if history is None:
        return []
    return [{"number": t.number, "status": t.status, "status_label": t.status_label,
             "created_at": localtime.iso(t.created_at, timespec="minutes"),
             "content": t.content}
            for t in await history.tickets_of(principal(request), caller, limit=5)]


@routes.get("/api/v1/calls/pops")
@allow(Role.AGENT)
async def pops(request: web.Request) -> web.StreamResponse:
    center = center_of(request)
    member, interface = await _agent_keys(request)
    async with sse_response(request) as stream:
        if center is None:
            # Nothing will come: say so and end the stream (the page stops listening).
            await stream.send(json.dumps({"type": "status", "enabled": False}), event="status")
            return stream
        queue = center.pops.subscribe(member, interface)
        try:
            await stream.send(json.dumps({"type": "status", "enabled": True,
                                          "connected": center.connected}), event="status")
            current = center.current_call(member, interface)
            if current is not None:
                await stream.send(json.dumps(await pop_json(request, current), ensure_ascii=False),
                                  event="call")
            while stream.is_connected():
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_PING_S)
                except asyncio.TimeoutError:
                    await stream.send(json.dumps({"type": "ping"}), event="ping")
                    continue
                if event is None:  # the service is stopping; the page reconnects by itself
                    break
                await stream.send(json.dumps(await pop_json(request, event), ensure_ascii=False),
                                  event="call")
        except ConnectionResetError:
            # The desk page closed (or reloaded) while we wrote to it: the normal end of a
            # screen-pop stream, not an error.
            log.debug("screen-pop stream of %s closed by the browser", member or interface)
        finally:
            center.pops.unsubscribe(queue)
    return stream


# --- missed-call callbacks -------------------------------------------------------------------

def callback_json(v: service.CallbackView) -> dict[str, Any]:
    return {"id": v.id, "caller": v.caller, "status": v.status, "missed_count": v.missed_count,
            "first_missed_at": v.first_missed_at.isoformat(), "last_missed_at":
            v.last_missed_at.isoformat(), "longest_wait_s": v.longest_wait_s,
            "attempts": v.attempts, "outcome": v.outcome, "closed_by": v.closed_by,
            "closed_at": v.closed_at.isoformat() if v.closed_at else None, "version": v.version}


@routes.get("/api/v1/calls/missed")
@allow(Role.AGENT, Role.MANAGER)
async def missed_list(request: web.Request) -> web.Response:
    rows = await service.list_callbacks(request.app[DB], request.query.get("status", "open"),
                                        query_int(request, "limit", 200, 1, 1000))
    return ok({"missed": [callback_json(v) for v in rows]})


@dataclass(frozen=True)
class AttemptIn:
    outcome: str = field(metadata={"max_len": 20})
    note: str = field(default="", metadata={"max_len": 500})
    version: int | None = None


@routes.post("/api/v1/calls/missed/{id:\\d+}/attempts")
@allow(Role.AGENT)
@body(AttemptIn)
async def missed_attempt(request: web.Request) -> web.Response:
    body = await json_body(request, AttemptIn)
    view = await service.record_callback(
        request.app[DB], principal(request), path_int(request, "id"), body.outcome, body.note,
        body.version, request.app[SETTINGS].policy.callback_max_attempts)
    return ok(callback_json(view))


@routes.get("/calls/missed")
@allow(Role.AGENT)
async def missed_page(request: web.Request) -> web.Response:
    return await _missed_page(request, done=request.query.get("done") or None)


async def _missed_page(request: web.Request, status: int = 200, error: str | None = None,
                       done: str | None = None) -> web.Response:
    db = request.app[DB]
    return await page(request, "calls/missed.html", status=status, error=error, done=done,
                      open=await service.list_callbacks(db, "open"),
                      closed=await service.list_callbacks(db, "closed", limit=20),
                      outcomes=CALLBACK_OUTCOMES)


@routes.post("/calls/missed/{id:\\d+}")
@allow(Role.AGENT)
async def missed_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    callback_id = path_int(request, "id")
    try:
        view = await service.record_callback(
            request.app[DB], principal(request), callback_id, form_text(form, "outcome", 20),
            form_text(form, "note", 500), form_version(form),
            request.app[SETTINGS].policy.callback_max_attempts)
    except (Conflict, InvalidInput, NotFound) as exc:
        status, message = form_error(exc)
        return await _missed_page(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/calls/missed?done={view.caller}")


# --- Prometheus ---------------------------------------------------------------------------------

class CallTrackingCollector:
    """Call tracking's health at scrape time: is the PBX followed, how much is parsed, stored,
    waiting to be stored."""

    def __init__(self, center: service.CallCenter) -> None:
        self.center = center

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        c = self.center
        stats = c.listener.stats
        yield GaugeMetricFamily("hotline_ami_connected", "1 while logged in to the PBX",
                                value=1 if c.connected else 0)
        for name, value, help_ in (
                ("hotline_ami_events", stats.events, "AMI event frames received"),
                ("hotline_ami_parse_errors", stats.parse_errors, "tracked events skipped as malformed"),
                ("hotline_ami_connects", stats.connects, "AMI logins (reconnects included)"),
                ("hotline_call_store_failed_flushes", c.store.failed_flushes, "storage batches refused and kept for retry")):
            yield CounterMetricFamily(name, help_, value=value)
        yield GaugeMetricFamily("hotline_call_store_backlog", "events and records not yet stored",
                                value=c.store.backlog)
        yield GaugeMetricFamily("hotline_calls_waiting", "callers waiting in queues",
                                value=len(c.tracker.live.waiting))


# --- wiring -------------------------------------------------------------------------------------

def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static("/calls/static", HERE / "static")

    async def call_tracking_ctx(app: web.Application) -> AsyncIterator[None]:
        # After the app's services context (hotline.bootstrap): the ami worker, when this
        # process has that role and ami.enabled, is following the PBX by now.
        services = app[SERVICES]
        app[STORED_METRICS] = services[wiring.STORED_METRICS]
        center = services.get(wiring.CENTER)
        if center is None:
            log.info("call tracking: this process does not follow a PBX (ami.enabled = %s); "
                     "the board shows the stored calls", app[SETTINGS].ami.enabled)
            yield
            return
        app[CENTER] = center
        collector = CallTrackingCollector(center)
        app[REGISTRY].register(collector)  # type: ignore[arg-type]
        try:
            yield
        finally:
            app[REGISTRY].unregister(collector)  # type: ignore[arg-type]

    app.cleanup_ctx.append(call_tracking_ctx)

    async def end_streams(app: web.Application) -> None:
        # on_shutdown runs before the server waits for open requests: end the desks' streams.
        center = app.get(CENTER)
        if center is not None:
            center.pops.close()

    app.on_shutdown.append(end_streams)
