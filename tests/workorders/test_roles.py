"""Process roles (hotline.bootstrap, `hotline run --role`): which workers a process runs, and a
follow-up pump running alone in its own process, without the web service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch.models import Followup
from dispatch.service import TicketService
from hotline import bootstrap
from hotline.config import AmiSettings, Policy, Settings
from hotline.db import Database
from tests.conftest import shared_path

from .conftest import AGENT, Clock, wages_ticket

ROOT = Path(__file__).resolve().parents[2]


def test_roles_are_parsed_and_unknown_ones_named():
    assert bootstrap.parse_roles("all") == frozenset(bootstrap.ROLES)
    assert bootstrap.parse_roles("web, pump") == {"web", "pump"}
    with pytest.raises(ValueError, match="unknown role 'prot'"):
        bootstrap.parse_roles("web,prot")


async def test_each_role_has_its_workers(db: Database, settings: Settings):
    services = await bootstrap.build(settings, db=db)
    names = lambda roles: [w.name for w in bootstrap.workers(services, roles)]  # noqa: E731
    assert names({"pump"}) == ["followup-pump", "outbox-courier"]
    assert names({"web"}) == ["calendar-refresh", "kb-index"]
    assert names({"ami"}) == []  # ami.enabled is off
    with_pbx = await bootstrap.build(settings.replace(ami=AmiSettings(enabled=True)), db=db)
    assert [w.name for w in bootstrap.workers(with_pbx, bootstrap.ROLES)] == [
        "calendar-refresh",
        "kb-index",
        "followup-pump",
        "desk-relay",  # the desks on any instance hear the PBX's leader (calls.relay)
        "desk-relay-sender",  # an ami-only process still sends (one relay, started once)
        "ami-ingest",
        "board-writer",
        "outbox-courier",
    ]
    assert [w.name for w in bootstrap.workers(with_pbx, {"web"})] == [
        "calendar-refresh",
        "kb-index",
        "desk-relay",
    ]
    await services.close()  # the test's database: not disposed by services that do not own it
    async with db.read() as s:
        assert await s.scalar(select(1)) == 1


def _cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


async def test_a_pump_only_process_acts_on_due_follow_ups(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }
    _cli(env, "db", "upgrade")
    _cli(env, "units", "import", str(shared_path("units", "units.json")))
    db = Database.from_url(url)
    try:
        # Dispatched on Monday 2026-11-23: its signing deadline has long passed.
        await TicketService(db, Policy(), clock=Clock()).create(AGENT, wages_ticket())
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "run", "--role", "pump"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:

            async def fired() -> bool:
                async with db.read() as s:
                    row = await s.scalar(select(Followup).where(Followup.kind == "ack_overdue"))
                    return row is not None and row.outcome == "notified"

            for _ in range(300):
                if await fired() or proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert await fired(), "the pump process did not act on the due follow-up"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "hotline running followup-pump" in out
        assert "serving on" not in out and "ERROR" not in out and "Traceback" not in out
    finally:
        await db.dispose()
