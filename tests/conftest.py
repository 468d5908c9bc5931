"""Test fixtures. Every test gets a clean, fully migrated database on the backend chosen by
HOTLINE_TEST_DATABASE_URL (default: a SQLite file). PostgreSQL runs use a schema of their own
per test session, so concurrent runs on one server do not collide."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from hotline import auth
from hotline.config import Settings
from hotline.db import Base, Database, import_all_models, upgrade

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")
PASSWORD = "correct-horse-battery"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"test data {path} is missing: the tests need the shared folder beside the checkout"
        )
    return path


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        "expect_errors(*loggers): the test provokes ERROR log records on purpose (a "
        "database that goes away, a broken subscriber) from these loggers (any, if none named); "
        "without it any ERROR fails the test",
    )


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_unexpected_errors(request: pytest.FixtureRequest) -> Iterator[_ErrorRecords]:
    """Fails any test during which the service logged an ERROR (a 5xx is logged as one by the
    error middleware, an exception in a handler or a background task too), unless the test is
    marked `expect_errors`. A test that passes while the service breaks behind it is no test."""
    handler = _ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    marker = request.node.get_closest_marker("expect_errors")
    excused = tuple(marker.args) if marker is not None else ()
    unexpected = [
        r for r in handler.records if marker is None or (excused and not r.name.startswith(excused))
    ]
    if unexpected:
        lines = [
            f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
            for r in unexpected[:5]
        ]
        pytest.fail(
            "the service logged ERROR during this test:\n  " + "\n  ".join(lines), pytrace=False
        )


def pytest_report_header(config: Any) -> str:
    return f"hotline test database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite files'}"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    # argon2 defaults cost ~90 ms per hash here; tests hash hundreds of passwords.
    auth.use_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield


@dataclass
class DbTemplate:
    url: str
    connect_args: dict[str, Any]
    sqlite_file: Path | None = None
    schema: str | None = None


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbTemplate]:
    import_all_models()
    if PG_URL:
        schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"

        async def admin_sql(sql: str) -> None:
            admin = Database.from_url(PG_URL)
            async with admin.engine.begin() as conn:
                await conn.execute(text(sql))
            await admin.dispose()

        async def create() -> None:
            await admin_sql(f'CREATE SCHEMA "{schema}"')
            db = Database.from_url(
                PG_URL, connect_args={"server_settings": {"search_path": schema}}
            )
            await upgrade(db)
            await db.dispose()

        _run(create())
        yield DbTemplate(PG_URL, {"server_settings": {"search_path": schema}}, schema=schema)

        _run(admin_sql(f'DROP SCHEMA "{schema}" CASCADE'))
    else:
        path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
        db = Database.from_url(f"sqlite+aiosqlite:///{path}")
        _run(upgrade(db))
        _run(db.dispose())
        yield DbTemplate(f"sqlite+aiosqlite:///{path}", {}, sqlite_file=path)


async def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        # Append-only tables refuse TRUNCATE by trigger; a test reset is not the product, so
        # this session does not fire triggers (the test role is the database superuser).
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(db_template: DbTemplate, tmp_path: Path) -> AsyncIterator[Database]:
    if db_template.sqlite_file is not None:
        path = tmp_path / "test.db"
        shutil.copyfile(db_template.sqlite_file, path)
        database = Database.from_url(f"sqlite+aiosqlite:///{path}")
    else:
        database = Database.from_url(db_template.url, connect_args=db_template.connect_args)
        await _truncate_all(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", login_max_failures=5)


@pytest.fixture
async def units(db: Database) -> None:
    from hotline.directory.units import import_units

    await import_units(db, "test", shared_path("units", "units.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    unit_code: str | None = None


ACCOUNTS = {
    "agent": Account("agent1", "agent"),
    "manager": Account("boss", "manager"),
    "kb_editor": Account("editor", "kb_editor"),
    "admin": Account("root", "admin"),
    "unit": Account("rsj", "unit_handler", "ZZ-RSJ"),
    "unit2": Account("gjj", "unit_handler", "ZZ-GJJ"),
}


@pytest.fixture
async def accounts(db: Database, units: None) -> dict[str, Account]:
    from hotline.accounts import NewUser, create_user
    from hotline.models import Role

    for acc in ACCOUNTS.values():
        await create_user(
            db,
            "test",
            NewUser(
                username=acc.username,
                display_name=acc.username,
                role=Role(acc.role),
                password=PASSWORD,
                unit_code=acc.unit_code,
                agent_interface="Local/8001@agents/n" if acc.role == "agent" else None,
                agent_member_name="坐席1" if acc.role == "agent" else None,
            ),
        )
    return ACCOUNTS


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, db: Database) -> Any:
    from hotline.web.app import create_app

    return await aiohttp_client(create_app(settings, database=db))


CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def login(client: Any, username: str, password: str = PASSWORD) -> str:
    """Logs the client in through the real login form; returns the session's CSRF token."""
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    resp = await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    home = await client.get(resp.headers["Location"])
    assert home.status == 200
    return CSRF_RE.search(await home.text()).group(1)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Real headless Chromium (Debian's; scripts/test installs it). Missing: the test fails
    where a browser is required (HOTLINE_REQUIRE_BROWSER=1, as in scripts/test), else skips."""
    if CHROMIUM is None:
        if os.environ.get("HOTLINE_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (scripts/test installs it) but was not found")
        pytest.skip("chromium is not installed (scripts/test installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def browser_login(browser: Any, base: str, username: str, password: str = PASSWORD) -> Any:
    """A fresh Chromium context logged in through the login form; returns its page (on the
    user's home page)."""
    page = await (await browser.new_context(locale="zh-CN")).new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def wait_until(condition: Any, timeout: float = 10.0, what: str = "the condition") -> None:
    """Polls `condition()` (every 10 ms) until it is true; fails the test after `timeout`.
    Tests wait on what they need, never for a fixed time that is too short under load and
    too long otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def sse_events(resp: Any) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of a Server-Sent Events response, as a browser's EventSource reads them."""
    event, data = "message", []
    async for raw in resp.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
