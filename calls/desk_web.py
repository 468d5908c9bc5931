"""The agent's desk over HTTP: the screen-pop stream (the agent's calls with the caller's
earlier calls, their summaries and tickets, the IVR's route, and the agent's queue state), the
queue state the agent asks the PBX for (示闲 / 示忙 / 话后整理), and the after-call summary (小结).

  GET  /api/v1/calls/pops                   Server-Sent Events (agent)
  GET  /api/v1/calls/me/state               the agent's queue state and the 示忙 reasons (agent)
  POST /api/v1/calls/me/state               {"state": available|busy|wrap_up, "reason"}: QueuePause
                                            to the PBX, 202; the change arrives on the stream (agent)
  PUT  /api/v1/calls/{uniqueid}/summary     {"text"} (agent)
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from calls import records, summaries, wiring
from calls.agents import PAUSE_REASONS, WRAP_UP_REASON
from calls.ami.listener import ActionRefused, ConnectionLost
from calls.center import AgentState, CallEvent
from calls.http_common import center_of, record_json
from hotline import localtime
from hotline.auth import allow
from hotline.errors import Conflict, InvalidInput
from hotline.models import Role, User
from hotline.ports import CALLER_HISTORY, IVR_ROUTES
from hotline.web.api import ok
from hotline.web.keys import DB, SERVICES, principal
from hotline.web.security import still_signed_in
from hotline.web.streams import browser_may_leave
from hotline.web.validation import body, json_body

log = logging.getLogger("calls.web")
routes = web.RouteTableDef()

# Keeps proxies and browsers from timing out an idle desk stream.
SSE_PING_S = 15


# --- screen pop -------------------------------------------------------------------------------


async def _agent_keys(request: web.Request) -> tuple[str, str]:
    async with request.app[DB].read() as s:
        user = await s.get(User, principal(request).user_id)
    if user is None or not (user.agent_member_name or user.agent_interface):
        raise Conflict(
            "this agent account has no queue member name or interface configured; "
            "ask an administrator to set them",
            zh="此坐席账号未设置队列成员名或分机接口，请联系系统管理员设置",
        )
    return user.agent_member_name or "", user.agent_interface or ""


async def pop_json(request: web.Request, e: CallEvent) -> dict[str, Any]:
    """The event with what the agent needs on screen: earlier calls and tickets of the caller."""
    out: dict[str, Any] = {
        "type": e.kind,
        "uniqueid": e.uniqueid,
        "caller": e.caller,
        "queue": e.queue,
        "dialled": e.dialled,
        "agent": e.member,
        "hold_s": e.hold_s,
        "ring_s": e.ring_s,
        "talk_s": e.talk_s,
        "at": localtime.ts_iso(e.at),
    }
    if e.kind == "connect":
        # How the IVR handed the call over (another feature, asked through the kernel's port):
        # the entry number dialled and the category it or the caller's key gave.
        routes = request.app[SERVICES].get(IVR_ROUTES)
        route = await routes.route_of(e.uniqueid) if routes is not None else None
        out["ivr_entry"] = route.entry if route is not None else ""
        out["ivr_category"] = route.category if route is not None else ""
        db = request.app[DB]
        earlier = await records.earlier_calls(db, e.caller, exclude=e.uniqueid)
        notes = await summaries.of_calls(db, [e.uniqueid, *(r.uniqueid for r in earlier)])
        out["summary"] = notes.get(e.uniqueid, "")
        out["earlier_calls"] = [
            dict(record_json(r), summary=notes.get(r.uniqueid, "")) for r in earlier
        ]
        out["tickets"] = await _caller_tickets(request, e.caller)
    return out


@dataclass(frozen=True)
class SummaryIn:
    text: str = field(metadata={"max_len": summaries.MAX_LEN})


@routes.put("/api/v1/calls/{uniqueid:[0-9A-Za-z._-]{1,64}}/summary")
@allow(Role.AGENT)
@body(SummaryIn)
async def save_summary(request: web.Request) -> web.Response:
    """The after-call summary (小结) of a call the agent answered: the current call or a
    stored one."""
    wanted = await json_body(request, SummaryIn)
    uniqueid = request.match_info["uniqueid"]
    member, interface = await _agent_keys(request)
    center = center_of(request)
    current = center.current_call(member, interface) if center is not None else None
    saved = await summaries.save(
        request.app[DB],
        principal(request),
        uniqueid,
        wanted.text,
        member=member,
        interface=interface,
        on_call_now=current is not None and current.uniqueid == uniqueid,
    )
    return ok(
        {
            "uniqueid": saved.uniqueid,
            "text": saved.text,
            "updated_at": localtime.iso(saved.updated_at, timespec="seconds"),
        }
    )


async def _caller_tickets(request: web.Request, caller: str) -> list[dict[str, Any]]:
    # Work orders are another feature: asked through the kernel's port, absent without it.
    history = request.app[SERVICES].get(CALLER_HISTORY)
    if history is None:
        return []
    return [
        {
            "number": t.number,
            "status": t.status,
            "status_label": t.status_label,
            "created_at": localtime.iso(t.created_at, timespec="minutes"),
            "content": t.content,
        }
        for t in await history.tickets_of(principal(request), caller, limit=5)
    ]


def agent_state_json(state: AgentState | None) -> dict[str, Any]:
    if state is None:
        return {"type": "state", "known": False}
    return {
        "type": "state",
        "known": True,
        "state": state.state,
        "paused": state.paused,
        "pause_reason": state.pause_reason,
        "wrap_up": state.paused and state.pause_reason == WRAP_UP_REASON,
        "since": localtime.ts_iso(state.since) if state.since else None,
    }


# 示闲 / 示忙 / 话后整理 as the desk offers them -> (paused, reason) for QueuePause.
QUEUE_STATES = ("available", "busy", "wrap_up")


@routes.get("/api/v1/calls/me/state")
@allow(Role.AGENT)
async def my_state(request: web.Request) -> web.Response:
    center = center_of(request)
    member, interface = await _agent_keys(request)
    out: dict[str, Any] = {"enabled": center is not None, "reasons": list(PAUSE_REASONS)}
    if center is not None:
        out["connected"] = center.connected
        out.update(agent_state_json(center.agent_state(member, interface)))
    return ok(out)


@dataclass(frozen=True)
class QueueStateIn:
    state: str = field(metadata={"max_len": 20})
    reason: str = field(default="", metadata={"max_len": 20})


@routes.post("/api/v1/calls/me/state")
@allow(Role.AGENT)
@body(QueueStateIn)
async def set_my_state(request: web.Request) -> web.Response:
    """Asks the PBX for the agent's queue state; 202: the change shows once the PBX's events
    report it (the desk's stream), not from this answer."""
    wanted = await json_body(request, QueueStateIn)
    state, reason = wanted.state, wanted.reason
    if state not in QUEUE_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(QUEUE_STATES)}", zh="请选择示闲、示忙或话后整理"
        )
    if state == "busy" and reason not in PAUSE_REASONS:
        raise InvalidInput(
            f"a busy state needs a reason: one of {', '.join(PAUSE_REASONS)}",
            zh=f"示忙须选择原因：{'、'.join(PAUSE_REASONS)}",
        )
    relay = request.app[SERVICES].get(wiring.DESK_RELAY)
    if relay is None:
        raise Conflict("no PBX is followed", zh="未接入话务系统，无法设置示闲/示忙")
    member, interface = await _agent_keys(request)
    if not interface:
        raise Conflict(
            "this agent account has no queue interface configured",
            zh="此坐席账号未设置分机接口，请联系系统管理员设置",
        )
    paused = state != "available"
    why = WRAP_UP_REASON if state == "wrap_up" else (reason if paused else "")
    try:
        via = await relay.set_queue_state(member, interface, paused, why)
    except ActionRefused as exc:
        log.warning("QueuePause for %s refused: %s", interface, exc)
        raise Conflict(
            f"the PBX refused: {exc}", zh="话务系统拒绝：此分机不在任何队列中，请联系系统管理员"
        ) from None
    except ConnectionLost as exc:
        log.warning("QueuePause for %s not sent: %s", interface, exc)
        raise Conflict(
            f"the PBX did not answer: {exc}", zh="话务系统暂时无法连接，请稍后再试"
        ) from None
    return ok({"requested": state, "reason": why, "via": via}, status=202)


@routes.get("/api/v1/calls/pops")
@allow(Role.AGENT)
@browser_may_leave
async def pops(request: web.Request) -> web.StreamResponse:
    """The agent's desk events from whichever instance follows the agent's PBX (calls.relay):
    the calls connected to the agent and the agent's queue state."""
    relay = request.app[SERVICES].get(wiring.DESK_RELAY)
    center = center_of(request)  # this instance's, when it leads: the state right now
    member, interface = await _agent_keys(request)
    async with sse_response(request) as stream:
        if relay is None:
            # No PBX is followed: say so and end the stream (the page stops listening).
            await stream.send(json.dumps({"type": "status", "enabled": False}), event="status")
            return stream
        queue = relay.hub.subscribe(member, interface)
        who = principal(request)
        try:
            connected = center.connected if center is not None else None
            await stream.send(
                json.dumps({"type": "status", "enabled": True, "connected": connected}),
                event="status",
            )
            if center is not None:
                state = center.agent_state(member, interface)
                await stream.send(
                    json.dumps(agent_state_json(state), ensure_ascii=False), event="state"
                )
                current = center.current_call(member, interface)
                if current is not None:
                    await stream.send(
                        json.dumps(await pop_json(request, current), ensure_ascii=False),
                        event="call",
                    )
            while stream.is_connected():
                try:
                    event = await asyncio.wait_for(queue.get(), SSE_PING_S)
                except asyncio.TimeoutError:
                    if not await still_signed_in(request, who):
                        break  # logged out or disabled since the desk opened
                    await stream.send(json.dumps({"type": "ping"}), event="ping")
                    continue
                if event is None:  # the service is stopping; the page reconnects by itself
                    break
                if isinstance(event, AgentState):
                    await stream.send(
                        json.dumps(agent_state_json(event), ensure_ascii=False), event="state"
                    )
                    continue
                await stream.send(
                    json.dumps(await pop_json(request, event), ensure_ascii=False), event="call"
                )
        except ConnectionResetError:
            # The desk page closed (or reloaded) while we wrote to it: the normal end of a
            # screen-pop stream, not an error.
            log.debug("screen-pop stream of %s closed by the browser", member or interface)
        finally:
            relay.hub.unsubscribe(queue)
    return stream
