"""Who is calling, may they, and did the form come from our own page.

- Browser sessions: aiohttp-session cookie, encrypted and authenticated (Fernet), HttpOnly,
  SameSite=Lax, Secure when configured; it carries a random session id and a CSRF token. The
  session id is checked against `user_sessions` on every request, so logout, a password change
  or a disabled account end it at once, on every instance.
- Integrations: `Authorization: Bearer hl_...` API tokens (stored hashed). An `Authorization`
  header is a bearer token or absent: any other value, empty included, is refused (401).
- Every route declares its roles with `hotline.auth.allow` / `public`; undeclared = refused.
- Every unsafe method from a browser session must echo the session's CSRF token (form field
  `_csrf` or header `X-CSRF-Token`). Bearer-token calls carry no cookies and are exempt.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import get_session, new_session

from hotline import accounts
from hotline.auth import PUBLIC, Principal, allowed_roles
from hotline.errors import PermissionDenied, Unauthenticated
from hotline.web.keys import DB, PRINCIPAL, SETTINGS

log = logging.getLogger("hotline.security")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Read by machines (Prometheus): no login page redirect, the JSON error shape instead.
MACHINE_PATHS = frozenset({"/metrics"})
SESSION_ID = "sid"
SESSION_CSRF = "csrf"


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(24)
        session[SESSION_CSRF] = token
    return token


async def start_session(request: web.Request, who: Principal, address: str | None) -> None:
    # A fresh session on login defeats session fixation; the CSRF token is renewed too.
    session_id = await accounts.open_session(request.app[DB], who, address)
    session = await new_session(request)
    session[SESSION_ID] = session_id
    session[SESSION_CSRF] = secrets.token_urlsafe(24)


async def end_session(request: web.Request) -> None:
    session = await get_session(request)
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        await accounts.close_session(request.app[DB], session_id)
    session.invalidate()


async def _principal(request: web.Request) -> Principal | None:
    db = request.app[DB]
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "Authorization must be 'Bearer <token>'", zh="Authorization 头须为 Bearer 令牌"
            )
        who = await accounts.principal_for_token(db, token.strip())
        if who is None:
            raise Unauthenticated("invalid or revoked API token", zh="API 令牌无效或已被吊销")
        return who
    session = await get_session(request)
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str):
        return None
    who = await accounts.principal_for_session(db, session_id)
    if who is None:
        session.invalidate()
    return who


async def still_signed_in(request: web.Request, who: Principal) -> bool:
    """For a response that lasts (a live stream): whether `who`'s session or API token is
    still valid, so that logout, a password change or a disabled account end it too. Reads
    only (the response is sent already: nothing may be written to the session now)."""
    db = request.app[DB]
    header = request.headers.get("Authorization")
    if header is not None:
        now = await accounts.principal_for_token(db, header.strip().partition(" ")[2].strip())
    else:
        session_id = (await get_session(request)).get(SESSION_ID)
        if not isinstance(session_id, str):
            return False
        now = await accounts.principal_for_session(db, session_id)
    return now is not None and now.user_id == who.user_id


def _trusted(address: str, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request) -> str:
    """The client's address, for throttles and logs. Behind a configured trusted proxy it is
    the nearest X-Forwarded-For hop that is not itself a trusted proxy; hops further out were
    written by the client and are not believed."""
    peer = request.remote or "?"
    networks = request.app[SETTINGS].trusted_networks
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [
        h.strip()
        for h in ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def _is_static(request: web.Request) -> bool:
    route = request.match_info.route
    return isinstance(getattr(route, "resource", None), web.StaticResource)


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    match = request.match_info
    if match.http_exception is not None or _is_static(request):
        return await handler(request)
    declared = allowed_roles(match.handler)
    who = await _principal(request)
    if who is not None:
        request[PRINCIPAL] = who
    if declared == PUBLIC:
        return await handler(request)
    if declared is None:
        log.error("route %s %s declares no roles; refused", request.method, request.path)
        raise PermissionDenied("this route is not open to anyone", zh="此地址不对任何角色开放")
    if who is None:
        if (
            request.path.startswith("/api/")
            or request.path in MACHINE_PATHS
            or request.method not in SAFE_METHODS
        ):
            raise Unauthenticated("log in or send an API token", zh="请先登录")
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
    if who.role not in declared:
        log.warning(
            "user %s (role %s) refused %s %s",
            who.username,
            who.role.value,
            request.method,
            request.path,
        )
        raise PermissionDenied(
            f"role {who.role.value} may not do this", zh="您的角色无权执行此操作"
        )
    return await handler(request)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    # Only a request authenticated by a valid bearer token is exempt: a browser never sends one
    # on its own, while a cookie rides along with any cross-site form.
    who = request.get(PRINCIPAL)
    if (
        request.method in SAFE_METHODS
        or (who is not None and who.via_token)
        or request.match_info.http_exception is not None
    ):
        return await handler(request)
    session = await get_session(request)
    expected = session.get(SESSION_CSRF)
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("_csrf")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        log.warning("CSRF check failed for %s %s", request.method, request.path)
        raise PermissionDenied(
            "missing or wrong CSRF token; reload the page and try again",
            zh="页面已过期或表单来源不明，请刷新页面后重试",
        )
    return await handler(request)
