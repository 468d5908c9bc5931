"""Server-rendered pages (简体中文): login, role homes, units, audit, admin."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from hotline.directory import units as unit_service
from hotline.directory.models import UNIT_KINDS
from hotline import accounts, audit, localtime
from hotline.auth import ALL_STAFF, allow, public
from hotline.errors import DomainError, RateLimited
from hotline.models import ROLE_LABELS_ZH, Role
from hotline.web.keys import DB, PRINCIPAL, SETTINGS, THROTTLE, principal
from hotline.features import panels
from hotline.web.nav import NAV, home_of
from hotline.web.validation import form_error
from hotline.web.security import client_address, csrf_token, end_session, start_session

log = logging.getLogger("hotline.pages")
PANELS = {"desk": panels("desk"), "dashboard": panels("dashboard")}
routes = web.RouteTableDef()


async def page(request: web.Request, template: str, status: int = 200,
               **context: Any) -> web.Response:
    who = request.get(PRINCIPAL)
    base = {"who": who, "nav": NAV[who.role] if who else (), "path": request.path,
            "panels": PANELS,
            "role_label": ROLE_LABELS_ZH[who.role] if who else "", "csrf": await csrf_token(request),
            # Every time on a page: fmt(moment[, strftime pattern]) in the configured zone.
            "fmt": functools.partial(localtime.fmt,
                                     tz=localtime.zone(request.app[SETTINGS].timezone))}
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


async def render_error(request: web.Request, status: int, title: str, detail: str,
                       headers: dict[str, str] | None = None) -> web.Response:
    response = await page(request, "error.html", status=status, http_status=status, title=title,
                          detail=detail)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def _safe_next(target: str | None, fallback: str) -> str:
    # Only same-site relative paths: an open redirect after login is a phishing aid.
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else fallback


@routes.get("/login")
@public
async def login_form(request: web.Request) -> web.Response:
    return await page(request, "login.html", next=request.query.get("next", ""), error=None)


@routes.post("/login")
@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))[:64].strip()
    password = str(form.get("password", ""))[:256]
    nxt = str(form.get("next", ""))
    guard = request.app[THROTTLE]
    address = client_address(request)
    wait = await guard.retry_after(address, username)
    if wait:
        log.warning("login throttled for %r from %s", username, address)
        raise RateLimited(f"too many failed logins; retry in {wait} s", retry_after=wait,
                          zh=f"登录失败次数过多，请 {wait} 秒后再试")
    delay = await guard.spray_delay(address)
    if delay:
        await asyncio.sleep(delay)
    who = await accounts.authenticate(request.app[DB], username, password)
    if who is None:
        await guard.failed(address, username)
        log.info("failed login for %r from %s", username, address)
        return await page(request, "login.html", status=401, next=nxt, error="用户名或密码错误")
    await guard.succeeded(address, username)
    await start_session(request, who, address)
    log.info("user %s logged in from %s", who.username, address)
    raise web.HTTPSeeOther(_safe_next(nxt, home_of(who.role)))


@routes.post("/logout")
@allow(*ALL_STAFF)
async def logout(request: web.Request) -> web.StreamResponse:
    await end_session(request)
    raise web.HTTPSeeOther("/login")


@routes.get("/")
@allow(*ALL_STAFF)
async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(home_of(principal(request).role))


@routes.get("/desk")
@allow(Role.AGENT)
async def agent_desk(request: web.Request) -> web.Response:
    return await page(request, "desk.html")


@routes.get("/unit")
@allow(Role.UNIT_HANDLER)
async def unit_portal(request: web.Request) -> web.Response:
    who = principal(request)
    unit = await unit_service.get_unit(request.app[DB], who, who.unit_code or "")
    return await page(request, "unit.html", unit=unit, kinds=UNIT_KINDS)


@routes.get("/dashboard")
@allow(Role.MANAGER)
async def dashboard(request: web.Request) -> web.Response:
    return await page(request, "dashboard.html", policy=request.app[SETTINGS].policy)


@routes.get("/units")
@allow(Role.AGENT, Role.MANAGER, Role.ADMIN)
async def units_page(request: web.Request) -> web.Response:
    rows = await unit_service.list_units(request.app[DB], principal(request))
    return await page(request, "units.html", units=rows, kinds=UNIT_KINDS)


@routes.get("/audit")
@allow(Role.MANAGER, Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    return await page(request, "audit.html",
                      entries=await audit.list_entries(request.app[DB], limit=200))


@routes.get("/admin")
@allow(Role.ADMIN)
async def admin_home(request: web.Request) -> web.Response:
    return await _admin_page(request)


async def _admin_page(request: web.Request, status: int = 200, error: str | None = None,
                      created: str | None = None) -> web.Response:
    db = request.app[DB]
    return await page(request, "admin.html", status=status, error=error, created=created,
                      users=await accounts.list_users(db),
                      units=await unit_service.list_units(db, principal(request)),
                      roles=ROLE_LABELS_ZH)


@routes.post("/admin/users")
@allow(Role.ADMIN)
async def admin_create_user(request: web.Request) -> web.Response:
    form = await request.post()

    def text(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    try:
        role = Role(text("role") or "")
        new = accounts.NewUser(
            username=text("username") or "", display_name=text("display_name") or "",
            role=role, password=str(form.get("password", "")),
            unit_code=text("unit_code") if role is Role.UNIT_HANDLER else None,
            agent_interface=text("agent_interface") if role is Role.AGENT else None,
            agent_extension=text("agent_extension") if role is Role.AGENT else None,
            agent_member_name=text("agent_member_name") if role is Role.AGENT else None)
        user = await accounts.create_user(request.app[DB], principal(request).username, new)
    except ValueError:
        return await _admin_page(request, status=400, error="请选择有效的角色")
    except DomainError as exc:
        status, message = form_error(exc)
        return await _admin_page(request, status=status, error=message)
    return await _admin_page(request, created=user.username)


@routes.post("/admin/users/{username}/{action:disable|enable}")
@allow(Role.ADMIN)
async def admin_user_active(request: web.Request) -> web.Response:
    username, action = request.match_info["username"], request.match_info["action"]
    try:
        await accounts.set_active(request.app[DB], principal(request).username, username,
                                  action == "enable")
    except DomainError:
        return await _admin_page(request, status=404, error=f"用户 {username} 不存在")
    raise web.HTTPSeeOther("/admin")


@routes.get("/login-locks")
@allow(Role.MANAGER, Role.ADMIN)
async def login_locks_page(request: web.Request) -> web.Response:
    return await _locks_page(request, done=request.query.get("unlocked", "")[:64] or None)


async def _locks_page(request: web.Request, status: int = 200, error: str | None = None,
                      done: str | None = None) -> web.Response:
    locks = await request.app[THROTTLE].locks()
    return await page(request, "login_locks.html", status=status, locks=locks, error=error,
                      done=done)


@routes.post("/login-locks/unlock")
@allow(Role.MANAGER, Role.ADMIN)
async def login_unlock_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    address = str(form.get("address", "")).strip()[:64] or None
    if not username:
        return await _locks_page(request, status=400, error="请填写要解锁的用户名")
    await request.app[THROTTLE].unlock(principal(request).username, username, address)
    raise web.HTTPSeeOther(f"/login-locks?unlocked={quote(username)}")
