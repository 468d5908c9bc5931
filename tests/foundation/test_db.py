import asyncio
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from hotline import audit
from hotline.db import Base, Database
from hotline.models import AuditEntry
from hotline.directory.models import Unit


async def test_migrations_match_the_models(db: Database):
    def diff(sync_conn):
        # PostgreSQL partitions (ami_events by month, calls/partitions.py) are the parent
        # table's storage, made at run time: the parent is what the models describe.
        partitions = set()
        if sync_conn.dialect.name == "postgresql":
            partitions = set(
                sync_conn.execute(text("SELECT relname FROM pg_class WHERE relispartition"))
                .scalars()
                .all()
            )

        def include_name(name, type_, parent_names):
            return not (type_ == "table" and name in partitions)

        ctx = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "include_name": include_name}
        )
        return compare_metadata(ctx, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_audit_log_is_append_only(db: Database):
    async with db.write() as s:
        audit.record(s, "tester", "thing.do", "thing", 1, {"a": 1})
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.write() as s:
            await s.execute(update(AuditEntry).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.write() as s:
            await s.execute(text("DELETE FROM audit_log"))
    async with db.read() as s:
        rows = list(await s.scalars(select(AuditEntry)))
    assert [(r.actor, r.action, r.detail) for r in rows] == [("tester", "thing.do", {"a": 1})]
    assert rows[0].at.tzinfo is not None


async def test_concurrent_read_then_write_loses_no_update(db: Database):
    # Measured here: without BEGIN IMMEDIATE (SQLite) / row locks (PostgreSQL) most are lost.
    async with db.write() as s:
        s.add(Unit(code="X", name="x", kind="municipal_bureau", default_deadline_workdays=0))

    async def increment() -> None:
        async with db.write() as s:
            query = select(Unit).where(Unit.code == "X")
            if not db.is_sqlite:
                query = query.with_for_update()
            unit = await s.scalar(query)
            await asyncio.sleep(0)
            unit.default_deadline_workdays += 1

    await asyncio.gather(*(increment() for _ in range(20)))
    async with db.read() as s:
        assert (await s.get(Unit, "X")).default_deadline_workdays == 20


async def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(db: Database):
    async with db.write() as s:
        s.add(
            Unit(
                code="T",
                name="t",
                kind="municipal_bureau",
                created_at=dt.datetime(
                    2026, 10, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))
                ),
            )
        )
    async with db.read() as s:
        unit = await s.get(Unit, "T")
    assert unit.created_at == dt.datetime(2026, 10, 1, 0, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(Exception, match="naive datetime"):
        async with db.write() as s:
            s.add(
                Unit(
                    code="N",
                    name="n",
                    kind="municipal_bureau",
                    created_at=dt.datetime(2026, 10, 1, 8, 0),
                )
            )


async def test_foreign_keys_are_enforced(db: Database):
    with pytest.raises(Exception):
        async with db.write() as s:
            s.add(Unit(code="C", name="c", kind="street_office", parent_code="NO-SUCH-UNIT"))
    async with db.read() as s:
        assert await s.get(Unit, "C") is None


async def test_distinct_values_are_those_of_distinct_without_nulls(db: Database):
    """The loose index scan (hotline.db.distinct_values) over an indexed column with repeats,
    NULLs and no rows at all, on the database the suite runs against."""
    from hotline.db import distinct_values

    async with db.read() as s:
        assert list(await s.scalars(distinct_values(Unit.district))) == []
    async with db.write() as s:
        for i in range(30):
            district = None if i % 4 else f"区{i % 3}"
            s.add(Unit(code=f"U{i:02d}", name=f"单位{i}", kind="部门", district=district))
    async with db.read() as s:
        got = list(await s.scalars(distinct_values(Unit.district)))
        expected = sorted(
            v for v in await s.scalars(select(Unit.district).distinct()) if v is not None
        )
    assert got == expected == ["区0", "区1", "区2"]
