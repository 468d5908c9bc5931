"""Migrations go up, all the way down and up again on both databases; the append-only tables
refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE, and their rows stay as written."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from hotline.db import Base, Database, current_revision, downgrade, import_all_models, upgrade
from tests.conftest import PG_URL

APPEND_ONLY = ("audit_log", "ticket_events", "ami_events", "call_callback_attempts")


@pytest.fixture
async def empty_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema at all (its own PostgreSQL schema, or a new SQLite file)."""
    if not PG_URL:
        db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        yield db
        await db.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:10]}"
    admin = Database.from_url(PG_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database.from_url(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade(empty_db):
    import_all_models()
    model_tables = set(Base.metadata.tables)
    await upgrade(empty_db)
    first = await tables(empty_db)
    assert model_tables <= first
    head = await current_revision(empty_db)
    await downgrade(empty_db, "base")
    assert await tables(empty_db) - {"alembic_version"} == set()
    assert await current_revision(empty_db) is None
    await upgrade(empty_db)
    assert await tables(empty_db) == first
    assert await current_revision(empty_db) == head


async def test_append_only_tables_refuse_update_delete_and_truncate(db, units):
    from dispatch.service import NewTicket, TicketService
    from dispatch.tickets import TicketType
    from hotline.auth import Principal
    from hotline.models import Role
    from calls.models import AmiEventRow, CallbackAttempt, MissedCallback

    agent = Principal(1, "agent1", "agent1", Role.AGENT)
    await TicketService(db).create(
        agent,
        NewTicket(
            content="路灯不亮，晚上走路看不清", type=TicketType.HELP, caller_phone="13812345678"
        ),
    )
    async with db.write() as s:
        s.add(AmiEventRow(source="pbx:5038", received_at=1.0, name="Newchannel", headers="{}"))
        missed = MissedCallback(
            caller="13812345678",
            first_uniqueid="1.1",
            last_uniqueid="1.1",
            first_missed_ts=1.0,
            last_missed_ts=1.0,
            first_missed_at=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc),
        )
        s.add(missed)
        await s.flush()
        s.add(CallbackAttempt(callback_id=missed.id, outcome="no_answer", agent="agent1"))

    async def counts() -> dict[str, int]:
        async with db.read() as s:
            return {t: int(await s.scalar(text(f"SELECT count(*) FROM {t}"))) for t in APPEND_ONLY}

    before = await counts()
    assert all(before.values()), before
    verbs = ["UPDATE {t} SET id = id + 1000", "DELETE FROM {t}"]
    if PG_URL:
        verbs.append("TRUNCATE {t} CASCADE")
    for table in APPEND_ONLY:
        for verb in verbs:
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.write() as s:
                    await s.execute(text(verb.format(t=table)))
    assert await counts() == before
