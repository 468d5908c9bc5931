"""Smaller hardening: no caching of personal data, a content security policy, an owner-only
SQLite file, no statement parameters, query strings or forged lines in the logs."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from aiohttp.test_utils import make_mocked_request
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from hotline.db import Database
from hotline.logs import AccessLogger, SafeFormatter, escape, setup_logging
from hotline.models import User
from tests.conftest import PG_URL, login


async def test_pages_and_api_answers_are_not_cached_and_carry_a_csp(client, accounts):
    await login(client, "boss")
    for path in ("/dashboard", "/api/v1/me", "/api/v1/tickets", "/login"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.headers["Cache-Control"] == "no-store", path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    resp = await client.get("/static/style.css")
    assert resp.status == 200 and resp.headers.get("Cache-Control") != "no-store"


@pytest.mark.skipif(
    bool(PG_URL), reason="the file mode is SQLite's; PostgreSQL keeps its own files"
)
async def test_the_sqlite_file_is_owner_only(tmp_path):
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'h.db'}")
    async with db.write() as s:
        await s.execute(text("CREATE TABLE callers (phone TEXT)"))
        await s.execute(text("INSERT INTO callers VALUES ('13812345678')"))
    await db.dispose()
    for name in os.listdir(tmp_path / "sub"):
        mode = stat.S_IMODE(os.stat(tmp_path / "sub" / name).st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    loose = tmp_path / "old.db"
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    await Database.from_url(f"sqlite+aiosqlite:///{loose}").dispose()
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600


async def test_failed_statements_never_show_their_parameters(db, caplog):
    secret = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0LXNhbHQ$very-secret-hash"
    row = dict(
        username="dup", display_name="举报人王五", role="admin", password_hash=secret, active=True
    )
    async with db.write() as s:
        await s.execute(insert(User).values(**row))
    with pytest.raises(IntegrityError) as failure:
        async with db.write() as s:
            await s.execute(insert(User).values(**row))
    text = str(failure.value)
    assert secret not in text and "举报人王五" not in text and "hidden" in text


@pytest.fixture
def root_logging():
    """setup_logging replaces the root handlers; put the test run's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_log_lines_cannot_be_forged_and_keep_no_query_strings(capsys, root_logging):
    setup_logging("INFO")
    logging.getLogger("hotline.test").info("article %s not found", "KB-1\r\n2026 INFO forged")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KB-1\\r\\n2026 INFO forged" in err
    assert escape("a\x00b\x1bc") == "a\\x00b\\x1bc" and escape("正常文字") == "正常文字"

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(SafeFormatter("%(message)s").format(record))

    logger = logging.getLogger("aiohttp.access.test")
    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    request = make_mocked_request(
        "GET",
        "/api/v1/tickets?phone=13812345678",
        headers={"Referer": "http://x/tickets/new?phone=13812345678"},
    )

    class Response:
        status = 200

    AccessLogger(logger, "").log(request, Response(), 0.012)  # type: ignore[arg-type]
    assert records and "/api/v1/tickets" in records[0] and "13812345678" not in records[0]


def test_an_unknown_log_level_is_refused(root_logging):
    with pytest.raises(ValueError, match="DEBUG, INFO, WARNING, ERROR, CRITICAL"):
        setup_logging("LOUD")
