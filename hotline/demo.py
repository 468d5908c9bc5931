"""`hotline demo`: a self-contained service on a SQLite file with the sample units, the sample
knowledge base, demo accounts for every role, and an embedded PBX: a recorded Asterisk capture
(package data) replayed in real time, looping, moved to the present, so the live board, screen
pops and missed calls show live traffic. With `ami.enabled` set, the configured PBX is used
instead. The IVR's FastAGI server runs on a free local port with simulated callers (unless
`ivr.enabled` is set: then as configured)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, AsyncIterator

from sqlalchemy import select

from hotline.accounts import NewUser, create_user
from hotline.commands import with_services
from hotline.config import Settings
from hotline.db import Database, upgrade
from hotline.logs import AccessLogger
from hotline.models import Role, User

log = logging.getLogger(__name__)
DEMO_PASSWORD = "demo12345"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    unit_code: str | None = None
    agent_interface: str | None = None
    agent_extension: str | None = None
    agent_member_name: str | None = None


# Agent interfaces and member names match the queue of the recorded Asterisk captures.
DEMO_ACCOUNTS = (
    DemoAccount(
        "agent1",
        "坐席一号",
        Role.AGENT,
        agent_interface="Local/8001@agents/n",
        agent_extension="8001",
        agent_member_name="坐席1",
    ),
    DemoAccount(
        "agent2",
        "坐席二号",
        Role.AGENT,
        agent_interface="Local/8002@agents/n",
        agent_extension="8002",
        agent_member_name="坐席2",
    ),
    DemoAccount(
        "agent3",
        "坐席三号",
        Role.AGENT,
        agent_interface="Local/8003@agents/n",
        agent_extension="8003",
        agent_member_name="坐席3",
    ),
    DemoAccount("rsj", "市人社局经办人", Role.UNIT_HANDLER, unit_code="ZZ-RSJ"),
    DemoAccount("gjj", "公积金中心经办人", Role.UNIT_HANDLER, unit_code="ZZ-GJJ"),
    DemoAccount("manager", "值班长", Role.MANAGER),
    DemoAccount("editor", "知识库编辑", Role.KB_EDITOR),
    DemoAccount("admin", "系统管理员", Role.ADMIN),
)


def sample_units_text() -> str:
    return (resources.files("dispatch") / "data" / "units.json").read_text(encoding="utf-8")


async def prepare(db: Database) -> list[DemoAccount]:
    """Idempotent: loads sample data and creates missing demo accounts. Returns the accounts."""
    from hotline.directory.units import import_units
    from knowledge_base.importer import load_sample_articles

    await upgrade(db)
    await import_units(db, "demo", sample_units_text())
    await load_sample_articles(db)
    async with db.read() as s:
        existing = set(await s.scalars(select(User.username)))
    for acc in DEMO_ACCOUNTS:
        if acc.username not in existing:
            await create_user(
                db,
                "demo",
                NewUser(
                    username=acc.username,
                    display_name=acc.display_name,
                    role=acc.role,
                    password=DEMO_PASSWORD,
                    unit_code=acc.unit_code,
                    agent_interface=acc.agent_interface,
                    agent_extension=acc.agent_extension,
                    agent_member_name=acc.agent_member_name,
                ),
            )
    return list(DEMO_ACCOUNTS)


DEMO_CAPTURE = "demo-busy.ami.raw.gz"  # the shared folder's ami-traces/busy, from Asterisk 22
DEMO_AMI_USER, DEMO_AMI_SECRET = "hotline", "demo-pbx"


def embedded_pbx(settings: Settings) -> tuple[Settings, Any]:
    """Settings pointing call tracking at a replayed capture on a free local port, and the
    cleanup context that serves it while the app runs."""
    from calls.ami.replay import Capture, ReplayServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ami = dataclasses.replace(
        settings.ami,
        host="127.0.0.1",
        port=port,
        username=DEMO_AMI_USER,
        secret=DEMO_AMI_SECRET,
        enabled=True,
    )

    async def pbx_ctx(app: Any) -> AsyncIterator[None]:
        path = resources.files("calls") / "data" / DEMO_CAPTURE
        with resources.as_file(path) as file:
            capture = Capture.load(file).starting_at(time.time())
        server = ReplayServer(
            capture,
            speed=1.0,
            loop=True,
            username=DEMO_AMI_USER,
            secret=DEMO_AMI_SECRET,
            static_members=True,
        )
        await server.start("127.0.0.1", port)
        log.info("embedded demo PBX: replaying %s on 127.0.0.1:%d", DEMO_CAPTURE, port)
        try:
            yield
        finally:
            await server.close()

    return settings.replace(ami=ami), pbx_ctx


def run(settings: Settings, sock: socket.socket | None = None) -> int:
    """Prepares the sample data, then serves on `sock` (bound by the caller, so a port in use
    fails before anything is written) or on settings.host/port."""
    from aiohttp import web

    from hotline.models import ROLE_LABELS_ZH
    from hotline.web.app import SHUTDOWN_GRACE_S, create_app

    accounts = asyncio.run(with_services(settings, lambda services: prepare(services.db)))
    url = f"http://{settings.host}:{settings.port}"
    print(f"\n12345 hotline demo — database {settings.resolved_database_url}")
    print(f"Open {url}/login and sign in with one of these accounts (password {DEMO_PASSWORD}):")
    for acc in accounts:
        extra = acc.unit_code or acc.agent_interface or ""
        print(f"  {acc.username:<10} {ROLE_LABELS_ZH[acc.role]:<8} {acc.display_name} {extra}")
    print()
    settings = settings.replace(upgrade_on_start=False)
    pbx_ctx = None
    if settings.ami.enabled:
        print(f"Calls: following the PBX at {settings.ami.host}:{settings.ami.port} (AMI)")
    else:
        settings, pbx_ctx = embedded_pbx(settings)
        print(
            f"Calls: embedded demo PBX replaying a recorded Asterisk capture on "
            f"127.0.0.1:{settings.ami.port} (live board: manager, screen pop: agent1-3)"
        )
    ivr_ctx = None
    if not settings.ivr.enabled:
        from ivr.demo import embedded_ivr

        settings, ivr_ctx = embedded_ivr(settings)
        print(
            f"IVR: FastAGI on 127.0.0.1:{settings.ivr.port} with simulated callers "
            f"(survey scores on the dashboard; `hotline ivr simulate` plays a call)"
        )
    app = create_app(settings)
    if pbx_ctx is not None:
        app.cleanup_ctx.insert(0, pbx_ctx)
    if ivr_ctx is not None:
        app.cleanup_ctx.append(ivr_ctx)  # after the services context: the server listens
    where: dict[str, Any] = (
        {"sock": sock} if sock else {"host": settings.host, "port": settings.port}
    )
    web.run_app(
        app,
        **where,
        access_log_class=AccessLogger,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        print=lambda _msg: print(f"serving on {url} (Ctrl+C stops)"),
    )
    return 0
