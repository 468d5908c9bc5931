"""Call tracking over HTTP: the live board and metrics (managers), the missed-call callback list
(agents), call records; the agent's desk (screen pops, queue state, 小结) is calls.desk_web.

API (JSON under /api/v1/calls):
  GET  /api/v1/calls/live                   callers waiting, agents' states (manager, agent)
  GET  /api/v1/calls/live/stream            Server-Sent Events: the same, as it changes
  GET  /api/v1/calls/metrics?bucket=hour    rolling 24 h, today per 15min|hour|day, alarms (manager)
  GET  /api/v1/calls?caller=&limit=         stored call records, newest first (manager, agent)
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
from typing import Any, AsyncIterator, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from hotline.auth import allow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import Role
from hotline.ports import SURVEY_SCORES
from calls import boards, dashboard, desk_web, missed, records, survey_figures, wiring
from hotline.db import utcnow
from calls.center import CallCenter
from calls.http_common import center_of, record_json
from calls.calls import CallRecord
from calls.models import CALLBACK_OUTCOMES, reason_text
from calls.rollup import StoredMetrics
from hotline.web.api import ok
from hotline.web.keys import DB, REGISTRY, SERVICES, SETTINGS, principal
from hotline.web.pages import page
from hotline.web.security import still_signed_in
from hotline.web.streams import browser_may_leave
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

CENTER = web.AppKey("call_center", CallCenter)
# Without a PBX to follow, the metrics come from the stored call records.
STORED_METRICS = web.AppKey("stored_call_metrics", StoredMetrics)
HERE = Path(__file__).parent


async def _records(request: web.Request) -> tuple[list[CallRecord], float]:
    center = center_of(request)
    if center is not None:
        return center.records(), center.now()
    return await records.stored_records(request.app[DB]), time.time()


# --- live board and metrics -------------------------------------------------------------------


@routes.get("/api/v1/calls/live")
@allow(Role.MANAGER, Role.AGENT)
async def live(request: web.Request) -> web.Response:
    return ok(await _board(request))


# A board stream sends at most this often (a burst of events is one board) and at least this
# often (the seconds in state move on), and checks the session every SESSION_CHECK_S.
BOARD_MIN_S = 0.1
BOARD_MAX_S = 1.0
BOARD_SESSION_CHECK_S = 5.0
STREAMS_CLOSING = web.AppKey("call_streams_closing", asyncio.Event)


async def _board(request: web.Request) -> dict[str, Any]:
    center = center_of(request)
    if center is not None:
        return center.board()
    if request.app[SERVICES].get(wiring.DESK_RELAY) is not None:  # AMI on: another leads
        stored = await boards.read(request.app[DB], utcnow())
        if stored is not None:
            return stored
        return {"enabled": True, "connected": False, "waiting": [], "agents": []}
    return {"enabled": False, "connected": False, "waiting": [], "agents": []}


@routes.get("/api/v1/calls/live/stream")
@allow(Role.MANAGER, Role.AGENT)
@browser_may_leave
async def live_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the live board (as /api/v1/calls/live) as soon as an AMI event
    changes it on the instance that follows the PBX (at most every 0.1 s), else every second
    from the board that instance stores."""
    closing = request.app[STREAMS_CLOSING]
    who, loop = principal(request), asyncio.get_running_loop()
    checked = loop.time()
    async with sse_response(request) as stream:
        try:
            while stream.is_connected() and not closing.is_set():
                center = center_of(request)
                seen = center.board_version if center is not None else 0
                board = await _board(request)
                await stream.send(json.dumps(board, ensure_ascii=False), event="board")
                if not board["enabled"]:
                    break  # no PBX is followed: nothing will change
                await asyncio.sleep(BOARD_MIN_S)
                if center is not None:
                    await center.board_change(seen, BOARD_MAX_S - BOARD_MIN_S)
                else:
                    await asyncio.sleep(BOARD_MAX_S - BOARD_MIN_S)
                if loop.time() - checked >= BOARD_SESSION_CHECK_S:
                    if not await still_signed_in(request, who):
                        break
                    checked = loop.time()
        except ConnectionResetError:
            log.debug("live board stream closed by the browser")
    return stream


@routes.get("/api/v1/calls/metrics")
@allow(Role.MANAGER)
async def call_metrics(request: web.Request) -> web.Response:
    bucket = request.query.get("bucket", "hour")
    if bucket not in BUCKETS:
        raise InvalidInput(
            f"bucket must be one of {', '.join(BUCKETS)}",
            field="bucket",
            zh="统计粒度须为 15 分钟、小时或天",
        )
    center = center_of(request)
    now = time.time() if center is None else center.now()
    # The citizens' scores over the same periods (the IVR's port; None without the IVR).
    surveys = await survey_figures.of(request.app[SERVICES].get(SURVEY_SCORES), now)
    if center is None:
        body = await request.app[STORED_METRICS].body(now, bucket)
        return web.Response(
            body=survey_figures.with_surveys(body, surveys),
            content_type="application/json",
            charset="utf-8",
        )
    answer = dashboard.dashboard_metrics(
        center.records(), now, request.app[SETTINGS].policy, bucket
    )
    return ok({**answer, "surveys": surveys})


@routes.get("/api/v1/calls")
@allow(Role.MANAGER, Role.AGENT)
async def list_calls(request: web.Request) -> web.Response:
    caller = (query_text(request, "caller") or "")[:64]
    limit = query_int(request, "limit", 50, 1, 500)
    if caller:
        rows = await records.earlier_calls(request.app[DB], caller, limit=limit)
    else:
        rows = sorted((await _records(request))[0], key=lambda r: r.enter_ts, reverse=True)[:limit]
    return ok({"calls": [record_json(r) for r in rows]})


# --- missed-call callbacks -------------------------------------------------------------------


def callback_json(v: missed.CallbackView) -> dict[str, Any]:
    return {
        "id": v.id,
        "caller": v.caller,
        "status": v.status,
        "missed_count": v.missed_count,
        "first_missed_at": v.first_missed_at.isoformat(),
        "last_missed_at": v.last_missed_at.isoformat(),
        "longest_wait_s": v.longest_wait_s,
        "reason": v.reason,
        "attempts": v.attempts,
        "outcome": v.outcome,
        "closed_by": v.closed_by,
        "closed_at": v.closed_at.isoformat() if v.closed_at else None,
        "version": v.version,
    }


@routes.get("/api/v1/calls/missed")
@allow(Role.AGENT, Role.MANAGER)
async def missed_list(request: web.Request) -> web.Response:
    rows = await missed.list_callbacks(
        request.app[DB],
        request.query.get("status", "open"),
        query_int(request, "limit", 200, 1, 1000),
    )
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
    view = await missed.record_callback(
        request.app[DB],
        principal(request),
        path_int(request, "id"),
        body.outcome,
        body.note,
        body.version,
        request.app[SETTINGS].policy.callback_max_attempts,
    )
    return ok(callback_json(view))


@routes.get("/calls/missed")
@allow(Role.AGENT)
async def missed_page(request: web.Request) -> web.Response:
    return await _missed_page(request, done=request.query.get("done") or None)


async def _missed_page(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    db = request.app[DB]
    return await page(
        request,
        "calls/missed.html",
        status=status,
        error=error,
        done=done,
        open=await missed.list_callbacks(db, "open"),
        closed=await missed.list_callbacks(db, "closed", limit=20),
        outcomes=CALLBACK_OUTCOMES,
        reason_text=reason_text,
    )


@routes.post("/calls/missed/{id:\\d+}")
@allow(Role.AGENT)
async def missed_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    callback_id = path_int(request, "id")
    try:
        view = await missed.record_callback(
            request.app[DB],
            principal(request),
            callback_id,
            form_text(form, "outcome", 20),
            form_text(form, "note", 500),
            form_version(form),
            request.app[SETTINGS].policy.callback_max_attempts,
        )
    except (Conflict, InvalidInput, NotFound) as exc:
        status, message = form_error(exc)
        return await _missed_page(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/calls/missed?done={view.caller}")


# --- Prometheus ---------------------------------------------------------------------------------


class CallTrackingCollector:
    """Call tracking's health at scrape time: is the PBX followed, how much is parsed, stored,
    waiting to be stored."""

    def __init__(self, center: Callable[[], CallCenter | None]) -> None:
        self.center = center

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        c = self.center()
        if c is None:  # not following a PBX now (standby, or no ami role here)
            return
        stats = c.listener.stats
        yield GaugeMetricFamily(
            "hotline_ami_connected", "1 while logged in to the PBX", value=1 if c.connected else 0
        )
        for name, value, help_ in (
            ("hotline_ami_events", stats.events, "AMI event frames received"),
            ("hotline_ami_parse_errors", stats.parse_errors, "tracked events skipped as malformed"),
            ("hotline_ami_connects", stats.connects, "AMI logins (reconnects included)"),
            (
                "hotline_call_store_failed_flushes",
                c.store.failed_flushes,
                "storage batches refused and kept for retry",
            ),
        ):
            yield CounterMetricFamily(name, help_, value=value)
        yield GaugeMetricFamily(
            "hotline_call_store_backlog", "events and records not yet stored", value=c.store.backlog
        )
        yield GaugeMetricFamily(
            "hotline_calls_waiting", "callers waiting in queues", value=len(c.tracker.live.waiting)
        )


# --- wiring -------------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_routes(desk_web.routes)
    app.router.add_static("/calls/static", HERE / "static")

    async def call_tracking_ctx(app: web.Application) -> AsyncIterator[None]:
        # After the app's services context (hotline.bootstrap): the ami worker, when this
        # process has that role and ami.enabled, is following the PBX by now.
        services = app[SERVICES]
        app[STORED_METRICS] = services[wiring.STORED_METRICS]
        center = services.get(wiring.CENTER)
        if center is None:
            log.info(
                "call tracking: this process does not follow a PBX now (ami.enabled = %s); "
                "the board shows the stored calls",
                app[SETTINGS].ami.enabled,
            )
        else:
            app[CENTER] = center
        collector = CallTrackingCollector(lambda: services.get(wiring.CENTER))
        app[REGISTRY].register(collector)
        try:
            yield
        finally:
            app[REGISTRY].unregister(collector)

    app.cleanup_ctx.append(call_tracking_ctx)

    async def end_streams(app: web.Application) -> None:
        # on_shutdown runs before the server waits for open requests: end the desks' streams.
        relay = app[SERVICES].get(wiring.DESK_RELAY)
        if relay is not None:
            relay.hub.close()
        app[STREAMS_CLOSING].set()

    app[STREAMS_CLOSING] = asyncio.Event()
    app.on_shutdown.append(end_streams)
