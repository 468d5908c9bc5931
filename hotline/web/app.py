"""The app factory: the one place that wires settings, database, security, routes and
background services. Nothing here runs at import time; `create_app` builds, `cleanup_ctx`
starts and stops."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import importlib
import importlib.util
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from hotline.accounts import SESSION_LIFETIME, LoginGuard
from hotline.auth import allow, public
from hotline import bootstrap, logs
from hotline.config import ConfigError, Settings
from hotline.features import FEATURES
from hotline.db import Database, DatabaseBusy, current_revision
from hotline.localtime import SHANGHAI
from hotline.models import Role
from hotline.ports import AMI_HEALTH
from hotline.web import api, openapi, pages
from hotline.web.errors import error_middleware
from hotline.web.keys import DB, PRINCIPAL, REGISTRY, REQUEST_ID, SERVICES, SETTINGS, THROTTLE
from hotline.web.security import auth_middleware, csrf_middleware
from hotline.web.validation import input_middleware

log = logging.getLogger("hotline.app")

# The shell's own templates; each feature's `templates/` folder follows (hotline.features).
SHELL_TEMPLATES = "hotline.web"
HERE = Path(__file__).parent
# On SIGTERM, requests still running after this long are cut (aiohttp waits 60 s by default; a
# restart during a shift should take seconds). Long-lived streams end themselves on_shutdown.
SHUTDOWN_GRACE_S = 10.0


def session_key(settings: Settings) -> bytes:
    """The Fernet key for session cookies: from settings, else persisted in the data dir so a
    restart does not log everybody out."""
    if settings.secret_key:
        key = settings.secret_key.encode()
    else:
        key = _persisted_key(settings.data_dir / "secret.key")
    try:
        if len(base64.urlsafe_b64decode(key)) != 32:
            raise ValueError
    except ValueError:
        raise ConfigError("secret_key must be a Fernet key: 32 bytes, urlsafe base64") from None
    return key


def _persisted_key(path: Path) -> bytes:
    """The key in `path`, made on first start. Processes starting together (`serve --workers`,
    instances on one data dir) agree: the key is written whole to a file of its own and linked
    into place, so the first link wins and the others read the winner's key, never a half."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        os.link(draft, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key


def _metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    requests = Counter(
        "hotline_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "hotline_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )
    return requests, latency


def _observe_middleware(registry: CollectorRegistry) -> Any:
    requests, latency = _metrics(registry)

    @web.middleware
    async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
        request[REQUEST_ID] = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers["X-Request-Id"] = request[REQUEST_ID]
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            requests.labels(request.method, route, str(status)).inc()
            latency.labels(route).observe(time.perf_counter() - started)

    return observe


# Pages load scripts and styles only from our own /static folders (vendored, never a CDN);
# inline style attributes remain in a few templates, inline scripts nowhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects pass through here too
        _harden(request, exc)
        raise
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if not isinstance(getattr(request.match_info.route, "resource", None), web.StaticResource):
        # Pages and API answers carry citizens' names and numbers: no copy in any cache.
        headers["Cache-Control"] = "no-store"


@web.middleware
async def busy_database(request: web.Request, handler: Any) -> web.StreamResponse:
    """A write that could not start in time wrote nothing: 503, send it again."""
    try:
        return await handler(request)
    except DatabaseBusy as exc:
        log.warning(
            "%s %s %s -> 503: %s", request.get(REQUEST_ID), request.method, request.path, exc
        )
        raise web.HTTPServiceUnavailable(
            text="the database is busy; nothing was saved, send the request again",
            headers={"Retry-After": "2"},
        ) from exc


@public
async def healthz(request: web.Request) -> web.Response:
    """Up or down for anyone (load balancers); the database dialect, schema revision and
    calendar warnings only for managers and admins — they help an attacker, not a probe."""
    db = request.app[DB]
    try:
        async with db.read() as s:
            await s.execute(text("SELECT 1"))
        revision = await current_revision(db)
    except Exception as exc:  # the health check reports, it does not raise
        log.error("health check: database unavailable: %s", type(exc).__name__)
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    # Which instance follows each PBX (leader or standby) is for probes and load balancers.
    ami = request.app[SERVICES].get(AMI_HEALTH)
    public: dict[str, object] = {"status": "ok"}
    if ami is not None:
        public["ami"] = ami.health()
    who = request.get(PRINCIPAL)
    if who is None or who.role not in (Role.ADMIN, Role.MANAGER):
        return web.json_response(public)
    # Working-day deadlines need next year's official holiday schedule before it starts.
    missing = request.app[SERVICES].calendar.missing_years(dt.datetime.now(SHANGHAI).date())
    body: dict[str, object] = {
        **public,
        "database": db.engine.dialect.name,
        "schema_revision": revision,
        "calendar_missing_years": missing,
    }
    if missing:
        body["warnings"] = [
            f"working-day calendar has no data for {y}: enter the official "
            f"holiday schedule at /admin/calendar"
            for y in missing
        ]
    return web.json_response(body)


@allow(Role.ADMIN, Role.MANAGER)
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    roles: frozenset[str] = frozenset(bootstrap.ROLES),
) -> web.Application:
    """Build the application. `database` lets tests hand in an already-migrated database;
    otherwise the engine is created (and migrated unless disabled) on startup. The services
    are built once (hotline.bootstrap) and the workers of `roles` run with the app (the web
    role's always)."""
    logs.quiet_client_errors()
    registry = CollectorRegistry()
    # The largest body any route takes (a form with files); JSON is held to max_body_bytes
    # by json_body.
    app = web.Application(
        client_max_size=settings.upload_max_bytes,
        middlewares=[_observe_middleware(registry), security_headers],
    )
    app[SETTINGS] = settings
    app[REGISTRY] = registry

    storage = EncryptedCookieStorage(
        Fernet(session_key(settings)),
        cookie_name="hotline_session",
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    setup_session(app, storage)
    # Inside the session middleware, so an error page still saves the session it touched.
    app.middlewares.append(error_middleware)
    app.middlewares.append(busy_database)
    app.middlewares.append(auth_middleware)
    # Before the CSRF check, which reads forms: a form that cannot be read is a 400 there.
    app.middlewares.append(input_middleware)
    app.middlewares.append(csrf_middleware)

    aiohttp_jinja2.setup(
        app, loader=_template_loader(), autoescape=jinja2.select_autoescape(["html"])
    )

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        # Before every feature's context: they find their services here.
        services = await bootstrap.build(settings, db=database)
        app[SERVICES] = services
        app[DB] = services.db
        app[THROTTLE] = LoginGuard(
            services.db, settings.login_max_failures, settings.login_window_seconds
        )
        log.info("database ready: %s", services.db.engine.dialect.name)
        running = bootstrap.Running()
        try:
            await running.start(bootstrap.workers(services, roles | {"web"}))
            yield
        finally:
            await running.stop()
            await services.close()

    app.cleanup_ctx.append(services_ctx)

    app.router.add_routes(api.routes)
    app[api.NAV_STREAMS_CLOSING] = asyncio.Event()

    async def end_nav_streams(app: web.Application) -> None:
        # on_shutdown runs before the server waits for open requests: end the open streams.
        app[api.NAV_STREAMS_CLOSING].set()

    app.on_shutdown.append(end_nav_streams)
    app.router.add_routes(openapi.routes)
    app.router.add_routes(pages.routes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static", HERE / "static")
    for feature in FEATURES:
        if feature.web:
            importlib.import_module(feature.web).setup(app)
    return app


def _template_loader() -> jinja2.BaseLoader:
    folders = []
    for package in (SHELL_TEMPLATES, *(f.templates for f in FEATURES if f.templates)):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))) / "templates"
            if folder.is_dir():
                folders.append(str(folder))
    return jinja2.FileSystemLoader(folders)
