"""`hotline demo`: a self-contained service on a SQLite file with the sample units, demo
accounts for every role, and (as features land) the sample knowledge base and replayed calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select

from hotline.accounts import NewUser, create_user
from hotline.config import Settings
from hotline.db import Database, upgrade
from hotline.models import Role, User

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
    DemoAccount("agent1", "坐席一号", Role.AGENT, agent_interface="Local/8001@agents/n",
                agent_extension="8001", agent_member_name="坐席1"),
    DemoAccount("agent2", "坐席二号", Role.AGENT, agent_interface="Local/8002@agents/n",
                agent_extension="8002", agent_member_name="坐席2"),
    DemoAccount("agent3", "坐席三号", Role.AGENT, agent_interface="Local/8003@agents/n",
                agent_extension="8003", agent_member_name="坐席3"),
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
    from dispatch.units import import_units
    from knowledge_base.importer import load_sample_articles

    await upgrade(db)
    await import_units(db, "demo", sample_units_text())
    await load_sample_articles(db)
    async with db.read() as s:
        existing = set(await s.scalars(select(User.username)))
    for acc in DEMO_ACCOUNTS:
        if acc.username not in existing:
            await create_user(db, "demo", NewUser(
                username=acc.username, display_name=acc.display_name, role=acc.role,
                password=DEMO_PASSWORD, unit_code=acc.unit_code,
                agent_interface=acc.agent_interface, agent_extension=acc.agent_extension,
                agent_member_name=acc.agent_member_name))
    return list(DEMO_ACCOUNTS)


def run(settings: Settings) -> int:
    from aiohttp import web

    from hotline.models import ROLE_LABELS_ZH
    from hotline.web.app import create_app

    async def setup() -> list[DemoAccount]:
        db = Database.from_url(settings.resolved_database_url)
        try:
            return await prepare(db)
        finally:
            await db.dispose()

    accounts = asyncio.run(setup())
    url = f"http://{settings.host}:{settings.port}"
    print(f"\n12345 hotline demo — database {settings.resolved_database_url}")
    print(f"Open {url}/login and sign in with one of these accounts (password {DEMO_PASSWORD}):")
    for acc in accounts:
        extra = acc.unit_code or acc.agent_interface or ""
        print(f"  {acc.username:<10} {ROLE_LABELS_ZH[acc.role]:<8} {acc.display_name} {extra}")
    print()
    web.run_app(create_app(settings.replace(upgrade_on_start=False)), host=settings.host,
                port=settings.port, print=lambda _msg: print(f"serving on {url} (Ctrl+C stops)"))
    return 0
