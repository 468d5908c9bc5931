"""JSON API of the app shell under /api/v1: me, users, tokens, units, audit log.

Handlers validate, call one service, serialize. Feature packages add their own route tables.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response
from hotline.directory import units as unit_service
from hotline.directory.models import Unit
from hotline import accounts, audit
from hotline.auth import ALL_STAFF, allow
from hotline.models import Role, User
from hotline.ports import NAV_COUNTS
from hotline.web.keys import DB, SERVICES, THROTTLE, principal
from hotline.web.security import still_signed_in
from hotline.web.streams import browser_may_leave
from hotline.web.validation import (
    INT32_MAX,
    body,
    bounded_body,
    json_body,
    path_int,
    query_int,
    query_text,
)

routes = web.RouteTableDef()


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str)
    )


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "unit_code": u.unit_code,
        "agent_interface": u.agent_interface,
        "agent_extension": u.agent_extension,
        "agent_member_name": u.agent_member_name,
        "active": u.active,
        "created_at": u.created_at.isoformat(),
    }


def unit_json(u: Unit) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "parent": u.parent_code,
        "district": u.district,
        "categories": u.categories,
        "keywords": u.keywords,
        "contact": u.contact,
        "default_deadline_workdays": u.default_deadline_workdays,
        "active": u.active,
    }


@routes.get("/api/v1/me")
@allow(*ALL_STAFF)
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    return ok(
        {
            "id": who.user_id,
            "username": who.username,
            "display_name": who.display_name,
            "role": who.role.value,
            "unit_code": who.unit_code,
        }
    )


@routes.get("/api/v1/users")
@allow(Role.ADMIN)
async def users_list(request: web.Request) -> web.Response:
    return ok({"users": [user_json(u) for u in await accounts.list_users(request.app[DB])]})


@dataclass(frozen=True)
class UserIn:
    username: str = field(metadata={"max_len": 64})
    display_name: str = field(metadata={"max_len": 100})
    role: Role
    password: str = field(metadata={"max_len": 256})
    unit_code: str | None = field(default=None, metadata={"max_len": 32})
    agent_interface: str | None = field(default=None, metadata={"max_len": 100})
    agent_extension: str | None = field(default=None, metadata={"max_len": 20})
    agent_member_name: str | None = field(default=None, metadata={"max_len": 100})


@routes.post("/api/v1/users")
@allow(Role.ADMIN)
@body(UserIn)
async def users_create(request: web.Request) -> web.Response:
    body = await json_body(request, UserIn)
    user = await accounts.create_user(
        request.app[DB], principal(request).username, accounts.NewUser(**body.__dict__)
    )
    return ok(user_json(user), status=201)


@dataclass(frozen=True)
class TokenIn:
    name: str = field(metadata={"max_len": 100})


@routes.post("/api/v1/users/{username}/tokens")
@allow(Role.ADMIN)
@body(TokenIn)
async def tokens_issue(request: web.Request) -> web.Response:
    body = await json_body(request, TokenIn)
    token = await accounts.issue_token(
        request.app[DB], principal(request).username, request.match_info["username"], body.name
    )
    return ok({"token": token, "note": "shown once; store it now"}, status=201)


@dataclass(frozen=True)
class PasswordIn:
    password: str = field(metadata={"max_len": 256})


@routes.post("/api/v1/users/{username}/password")
@allow(Role.ADMIN)
@body(PasswordIn)
async def users_password(request: web.Request) -> web.Response:
    """Sets a new password; the account's sessions end and its API tokens are revoked."""
    body = await json_body(request, PasswordIn)
    await accounts.set_password(
        request.app[DB], principal(request).username, request.match_info["username"], body.password
    )
    return ok({"username": request.match_info["username"], "sessions_ended": True})


@routes.post("/api/v1/users/{username}/{action:disable|enable}")
@allow(Role.ADMIN)
async def users_active(request: web.Request) -> web.Response:
    active = request.match_info["action"] == "enable"
    await accounts.set_active(
        request.app[DB], principal(request).username, request.match_info["username"], active
    )
    return ok({"username": request.match_info["username"], "active": active})


def token_json(t: accounts.TokenInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
    }


@routes.get("/api/v1/users/{username}/tokens")
@allow(Role.ADMIN)
async def tokens_list(request: web.Request) -> web.Response:
    rows = await accounts.list_tokens(request.app[DB], request.match_info["username"])
    return ok({"tokens": [token_json(t) for t in rows]})


@routes.delete("/api/v1/users/{username}/tokens/{id}")
@allow(Role.ADMIN)
async def tokens_revoke(request: web.Request) -> web.Response:
    await accounts.revoke_token(
        request.app[DB],
        principal(request).username,
        request.match_info["username"],
        path_int(request, "id"),
    )
    return ok({"revoked": True})


@routes.get("/api/v1/login-locks")
@allow(Role.MANAGER, Role.ADMIN)
async def login_locks(request: web.Request) -> web.Response:
    locks = await request.app[THROTTLE].locks()
    return ok(
        {
            "locks": [
                {
                    "address": k.address,
                    "username": k.username,
                    "failures": k.failures,
                    "retry_after": k.retry_after,
                }
                for k in locks
            ]
        }
    )


@dataclass(frozen=True)
class UnlockIn:
    username: str = field(metadata={"max_len": 64})
    address: str | None = field(default=None, metadata={"max_len": 64})


@routes.post("/api/v1/login-locks/unlock")
@allow(Role.MANAGER, Role.ADMIN)
@body(UnlockIn)
async def login_unlock(request: web.Request) -> web.Response:
    body = await json_body(request, UnlockIn)
    forgotten = await request.app[THROTTLE].unlock(
        principal(request).username, body.username, body.address
    )
    return ok({"username": body.username, "failures_forgotten": forgotten})


@routes.get("/api/v1/units")
@allow(*ALL_STAFF)
async def units_list(request: web.Request) -> web.Response:
    rows = await unit_service.list_units(request.app[DB], principal(request))
    return ok({"units": [unit_json(u) for u in rows]})


@routes.get("/api/v1/units/{code}")
@allow(*ALL_STAFF)
async def units_get(request: web.Request) -> web.Response:
    unit = await unit_service.get_unit(
        request.app[DB], principal(request), request.match_info["code"]
    )
    return ok(unit_json(unit))


@routes.post("/api/v1/units/import")
@allow(Role.ADMIN)
@body(
    media_type="application/x-ndjson",
    description="units.json (a JSON array of units) or JSON Lines, one unit per line",
)
async def units_import(request: web.Request) -> web.Response:
    partial = request.query.get("partial") in ("1", "true")
    raw = await bounded_body(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        from hotline.errors import InvalidInput

        raise InvalidInput("the file is not valid UTF-8", zh="文件不是有效的 UTF-8 编码") from None
    result = await unit_service.import_units(
        request.app[DB], principal(request).username, text, partial=partial
    )
    return ok(
        {
            "created": result.created,
            "updated": result.updated,
            "skipped": [{"line": e.line, "message": e.message} for e in result.skipped],
        }
    )


async def _counts(request: web.Request) -> dict[str, int]:
    who, totals = principal(request), dict[str, int]()
    for source in request.app[SERVICES].get(NAV_COUNTS) or ():
        for path, n in (await source.counts(who)).items():
            totals[path] = totals.get(path, 0) + n
    return totals


@routes.get("/api/v1/nav/counts")
@allow(*ALL_STAFF)
async def nav_counts(request: web.Request) -> web.Response:
    """What waits for the asker per page of their navigation bar (the unread badges), summed
    over the features that provide hotline.ports.NAV_COUNTS."""
    return ok({"counts": await _counts(request)})


# The stream looks again this often and tells the page only of a change. Counts are read
# from the database, so a change made on any instance arrives within this time.
NAV_STREAM_CHECK_S = 5.0
# A stream ends after this long and the browser reopens it (EventSource reconnects by
# itself); the session is checked at every look, so a revoked one stops receiving at once.
NAV_STREAM_LIFETIME_S = 600.0
NAV_STREAM_PING_S = 15.0
NAV_STREAMS_CLOSING = web.AppKey("nav_streams_closing", asyncio.Event)


@routes.get("/api/v1/nav/stream")
@allow(*ALL_STAFF)
@browser_may_leave
async def nav_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `counts` (as /api/v1/nav/counts) when the page opens and whenever
    they change, so lists and badges update without a reload."""
    closing = request.app[NAV_STREAMS_CLOSING]
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + NAV_STREAM_LIFETIME_S
    async with sse_response(request) as stream:
        shown: dict[str, int] | None = None
        quiet_since = loop.time()
        try:
            while stream.is_connected() and not closing.is_set() and loop.time() < ends_at:
                if not await still_signed_in(request, principal(request)):
                    break  # logged out, password changed or disabled since the stream opened
                counts = await _counts(request)
                if counts != shown:
                    await stream.send(json.dumps({"counts": counts}), event="counts")
                    shown, quiet_since = counts, loop.time()
                elif loop.time() - quiet_since >= NAV_STREAM_PING_S:
                    await stream.send("{}", event="ping")
                    quiet_since = loop.time()
                try:
                    await asyncio.wait_for(closing.wait(), NAV_STREAM_CHECK_S)
                except asyncio.TimeoutError:
                    pass
        except ConnectionResetError:
            pass  # the page closed: the normal end of a stream
    return stream


@routes.get("/api/v1/audit")
@allow(Role.ADMIN, Role.MANAGER)
async def audit_list(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 100, 1, 1000)
    before = query_int(request, "before", 0, 0, INT32_MAX)
    filters = {
        k: v
        for k in ("actor", "action", "target_type", "target_id")
        if (v := query_text(request, k))
    }
    rows = await audit.list_entries(request.app[DB], limit=limit, before=before, filters=filters)
    return ok(
        {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target_type": e.target_type,
                    "target_id": e.target_id,
                    "detail": e.detail,
                    "note": e.note,
                }
                for e in rows
            ]
        }
    )
