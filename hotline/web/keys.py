"""Typed application keys: the one registry of what the app factory puts on the app."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from hotline.accounts import LoginGuard
from hotline.auth import Principal
from hotline.bootstrap import Services
from hotline.config import Settings
from hotline.db import Database

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
THROTTLE = web.AppKey("login_guard", LoginGuard)
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
SERVICES = web.AppKey("services", Services)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)


def principal(request: web.Request) -> Principal:
    """The authenticated caller. The auth middleware guarantees it on non-public routes."""
    return request[PRINCIPAL]
