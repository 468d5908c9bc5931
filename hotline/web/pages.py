"""Server-rendered pages (简体中文): login, role homes, units, audit, admin."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from hotline.directory import units as unit_service
from hotline.directory.models import UNIT_KINDS
from hotline import accounts, audit, localtime, workcalendar
from hotline.auth import ALL_STAFF, allow, public
from hotline.errors import DomainError, ImportRejected, InvalidInput, NotFound, RateLimited
from hotline.models import ROLE_LABELS_ZH, Role
from hotline.localtime import SHANGHAI
from hotline.web.keys import DB, PRINCIPAL, SERVICES, SETTINGS, THROTTLE, principal
from hotline.features import panels
from hotline.web.nav import NAV, home_of
from hotline.web.errors import message_zh
from hotline.web.validation import form_error
from hotline.web.security import client_address, csrf_token, end_session, start_session

log = logging.getLogger("hotline.pages")
PANELS = {"desk": panels("desk"), "dashboard": panels("dashboard"), "unit": panels("unit")}
routes = web.RouteTableDef()


async def page(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    who = request.get(PRINCIPAL)
    base = {
        "who": who,
        "nav": NAV[who.role] if who else (),
        "path": request.path,
        "panels": PANELS,
        "role_label": ROLE_LABELS_ZH[who.role] if who else "",
        "csrf": await csrf_token(request),
        # Every time on a page: fmt(moment[, strftime pattern]) in the configured zone.
        "fmt": functools.partial(localtime.fmt, tz=localtime.zone(request.app[SETTINGS].timezone)),
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


async def render_error(
    request: web.Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    response = await page(
        request, "error.html", status=status, http_status=status, title=title, detail=detail
    )
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
        raise RateLimited(
            f"too many failed logins; retry in {wait} s",
            retry_after=wait,
            zh=f"登录失败次数过多，请 {wait} 秒后再试",
        )
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
    # What the last action did, by code (a message in the URL could be written by anyone).
    q, done = request.query, None
    created, _, updated = q.get("imported", "").partition(",")
    if created.isdigit() and updated.isdigit():
        done = f"已导入：新增 {int(created)} 个，更新 {int(updated)} 个承办单位"
    elif q.get("enabled") or q.get("disabled"):
        code = (q.get("enabled") or q.get("disabled") or "")[:32]
        done = f"{'已启用' if q.get('enabled') else '已停用'}承办单位 {code}"
    return await _units_page(request, done=done)


async def _units_page(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    rows: list[str] | None = None,
    text: str = "",
) -> web.Response:
    units = await unit_service.list_units(request.app[DB], principal(request))
    return await page(
        request,
        "units.html",
        status=status,
        error=error,
        done=done,
        row_errors=rows or [],
        text=text,
        units=units,
        kinds=UNIT_KINDS,
        can_edit=principal(request).role is Role.ADMIN,
    )


@routes.post("/units/import")
@allow(Role.ADMIN)
async def units_import_page(request: web.Request) -> web.Response:
    """A units file (uploaded, or pasted) imported all-or-nothing; bad rows are listed by
    line in Chinese and nothing is written."""
    form = await request.post()
    upload = form.get("file")
    raw = upload.file.read() if isinstance(upload, web.FileField) else b""
    pasted = str(form.get("text", ""))
    try:
        text = raw.decode("utf-8") if raw else pasted
    except UnicodeDecodeError:
        return await _units_page(request, 400, "文件不是有效的 UTF-8 编码，未导入", text=pasted)
    if not text.strip():
        return await _units_page(request, 400, "请选择文件或粘贴单位清单", text=pasted)
    try:
        result = await unit_service.import_units(request.app[DB], principal(request).username, text)
    except ImportRejected as exc:
        return await _units_page(
            request,
            400,
            message_zh(exc),
            rows=[e.text_zh for e in exc.errors[:200]],
            text=pasted[:200_000],
        )
    raise web.HTTPSeeOther(f"/units?imported={result.created},{result.updated}")


@routes.post("/units/{code}/active")
@allow(Role.ADMIN)
async def units_set_active(request: web.Request) -> web.Response:
    form = await request.post()
    code = request.match_info["code"][:32]
    active = form.get("active") == "1"
    try:
        unit = await unit_service.set_active(
            request.app[DB], principal(request).username, code, active
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _units_page(request, status, message)
    raise web.HTTPSeeOther(f"/units?{'enabled' if active else 'disabled'}={quote(unit.code)}")


@routes.get("/audit")
@allow(Role.MANAGER, Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    return await page(
        request, "audit.html", entries=await audit.list_entries(request.app[DB], limit=200)
    )


@routes.get("/admin")
@allow(Role.ADMIN)
async def admin_home(request: web.Request) -> web.Response:
    return await _admin_page(request)


async def _admin_page(
    request: web.Request, status: int = 200, error: str | None = None, created: str | None = None
) -> web.Response:
    db = request.app[DB]
    return await page(
        request,
        "admin.html",
        status=status,
        error=error,
        created=created,
        users=await accounts.list_users(db),
        units=await unit_service.list_units(db, principal(request)),
        roles=ROLE_LABELS_ZH,
    )


def _user_of(form: Any, username: str | None = None) -> accounts.NewUser:
    """The account a user form describes (create or edit: the same fields)."""

    def text(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    try:
        role = Role(text("role") or "")
    except ValueError:
        raise InvalidInput("choose a role", field="role", zh="请选择有效的角色") from None
    return accounts.NewUser(
        username=username or text("username") or "",
        display_name=text("display_name") or "",
        role=role,
        password=str(form.get("password", "")),
        unit_code=text("unit_code") if role is Role.UNIT_HANDLER else None,
        agent_interface=text("agent_interface") if role is Role.AGENT else None,
        agent_extension=text("agent_extension") if role is Role.AGENT else None,
        agent_member_name=text("agent_member_name") if role is Role.AGENT else None,
    )


@routes.post("/admin/users")
@allow(Role.ADMIN)
async def admin_create_user(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        user = await accounts.create_user(
            request.app[DB], principal(request).username, _user_of(form)
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _admin_page(request, status=status, error=message)
    return await _admin_page(request, created=user.username)


async def _user_page(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    db, username = request.app[DB], request.match_info["username"]
    user = next((u for u in await accounts.list_users(db) if u.username == username), None)
    if user is None:
        raise NotFound(f"user {username} does not exist", zh=f"用户 {username} 不存在")
    return await page(
        request,
        "admin_user.html",
        status=status,
        error=error,
        done=done,
        user=user,
        units=await unit_service.list_units(db, principal(request)),
        roles=ROLE_LABELS_ZH,
    )


@routes.get("/admin/users/{username}")
@allow(Role.ADMIN)
async def admin_user_page(request: web.Request) -> web.Response:
    done = {"saved": "已保存", "password": "已重设密码，该用户的登录和令牌均已失效"}
    return await _user_page(request, done=done.get(request.query.get("done", "")))


@routes.post("/admin/users/{username}")
@allow(Role.ADMIN)
async def admin_user_save(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    try:
        await accounts.update_user(
            request.app[DB], principal(request).username, _user_of(await request.post(), username)
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _user_page(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/admin/users/{username}?done=saved")


@routes.post("/admin/users/{username}/password")
@allow(Role.ADMIN)
async def admin_user_password(request: web.Request) -> web.Response:
    username, form = request.match_info["username"], await request.post()
    try:
        await accounts.set_password(
            request.app[DB], principal(request).username, username, str(form.get("password", ""))
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _user_page(request, status=status, error=message)
    raise web.HTTPSeeOther(f"/admin/users/{username}?done=password")


@routes.post("/admin/users/{username}/{action:disable|enable}")
@allow(Role.ADMIN)
async def admin_user_active(request: web.Request) -> web.Response:
    username, action = request.match_info["username"], request.match_info["action"]
    try:
        await accounts.set_active(
            request.app[DB], principal(request).username, username, action == "enable"
        )
    except DomainError:
        return await _admin_page(request, status=404, error=f"用户 {username} 不存在")
    raise web.HTTPSeeOther("/admin")


# --- the working-day calendar (法定节假日与调休) ------------------------------------------------


async def _calendar_page(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    services = request.app[SERVICES]
    calendar = services.calendar
    today = dt.datetime.now(SHANGHAI).date()
    entered = {row.year: row for row in await workcalendar.entered(services.db)}
    years = [
        {
            "year": y,
            "entered": entered.get(y),
            "holidays": sum(1 for d in calendar.holidays if d.year == y),
            "workdays": sorted(d for d in calendar.workdays if d.year == y),
        }
        for y in sorted(calendar.years)
    ]
    return await page(
        request,
        "calendar.html",
        status=status,
        error=error,
        done=done,
        years=years,
        missing=calendar.missing_years(today),
        values=values or {"year": str(max(calendar.years) + 1)},
    )


@routes.get("/admin/calendar")
@allow(Role.ADMIN)
async def calendar_page(request: web.Request) -> web.Response:
    saved = request.query.get("saved", "")
    return await _calendar_page(request, done=f"已保存 {saved} 年节假日安排" if saved else None)


@routes.post("/admin/calendar")
@allow(Role.ADMIN)
async def calendar_save(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, ""))[:5000] for k in ("year", "holidays", "workdays", "note")}
    services = request.app[SERVICES]
    try:
        if not values["year"].strip().isdigit() or len(values["year"].strip()) != 4:
            raise InvalidInput("year must be 4 digits", field="year", zh="请填写四位年份")
        year = int(values["year"])
        await workcalendar.save_year(
            services.db,
            principal(request).username,
            year,
            workcalendar.parse_days(values["holidays"], "holidays"),
            workcalendar.parse_days(values["workdays"], "workdays"),
            values["note"].strip()[:200] or None,
            services.calendar,
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _calendar_page(request, status=status, error=message, values=values)
    raise web.HTTPSeeOther(f"/admin/calendar?saved={year}")


@routes.get("/login-locks")
@allow(Role.MANAGER, Role.ADMIN)
async def login_locks_page(request: web.Request) -> web.Response:
    return await _locks_page(request, done=request.query.get("unlocked", "")[:64] or None)


async def _locks_page(
    request: web.Request, status: int = 200, error: str | None = None, done: str | None = None
) -> web.Response:
    locks = await request.app[THROTTLE].locks()
    return await page(
        request, "login_locks.html", status=status, locks=locks, error=error, done=done
    )


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
