"""The per-request point reads (hotline.hotreads): same rows as the engine, see every commit at
once, and survive a kept connection that died."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, select, text, update

from hotline import accounts
from hotline.accounts import NewUser, create_user, issue_token
from hotline.db import Database, utcnow
from hotline.models import ApiToken, Role, User

ROW = (
    select(ApiToken.id, ApiToken.created_at, ApiToken.revoked_at, User.active, User.role)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


async def _token(db: Database) -> str:
    await create_user(
        db,
        "test",
        NewUser(
            username="a1", display_name="坐席一", role=Role.AGENT, password="correct-horse-battery"
        ),
    )
    return await issue_token(db, "test", "a1", "bench")


async def test_rows_equal_the_engine_with_types_converted(db: Database) -> None:
    token = await _token(db)
    digest = accounts.token_digest(token)
    hot = await db.first(ROW, digest=digest)
    async with db.engine.connect() as conn:
        engine = (await conn.execute(ROW, {"digest": digest})).first()
    assert tuple(hot) == tuple(engine)
    assert hot.created_at.tzinfo is not None and hot.created_at.utcoffset() == dt.timedelta(0)
    assert hot.active is True and hot.revoked_at is None
    assert await db.first(ROW, digest="no such digest") is None
    with pytest.raises(TypeError, match="unknown parameters"):
        await db.first(ROW, digets=digest)


async def test_a_commit_is_seen_by_the_next_read(db: Database) -> None:
    token = await _token(db)
    assert await accounts.principal_for_token(db, token) is not None
    async with db.write() as s:
        await s.execute(update(ApiToken).values(revoked_at=utcnow()))
    assert await accounts.principal_for_token(db, token) is None
    async with db.write() as s:
        await s.execute(update(ApiToken).values(revoked_at=None))
        await s.execute(update(User).values(active=False))
    assert await accounts.principal_for_token(db, token) is None


async def test_a_dead_kept_connection_is_replaced(db: Database) -> None:
    token = await _token(db)
    assert await accounts.principal_for_token(db, token) is not None
    hot = db._hot
    if db.is_sqlite:
        assert hot._sqlite is not None
        hot._sqlite.close()  # the next statement on it raises sqlite3.ProgrammingError
    else:
        assert hot._driver is not None
        pid = hot._driver.get_server_pid()
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    who = await accounts.principal_for_token(db, token)  # answered through the engine
    assert who is not None and who.username == "a1"
    assert (hot._sqlite if db.is_sqlite else hot._driver) is None
    assert await accounts.principal_for_token(db, token) is not None  # a fresh kept connection
    assert (hot._sqlite if db.is_sqlite else hot._driver) is not None
