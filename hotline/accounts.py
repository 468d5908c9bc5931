"""Account use cases: create users, log in, resolve sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hotline import audit
from hotline.auth import (
    Principal,
    hash_password,
    new_api_token,
    token_digest,
    validate_new_password,
    verify_password,
)
from hotline.db import Database, utcnow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import ApiToken, Role, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    role: Role
    password: str
    unit_code: str | None = None
    agent_interface: str | None = None
    agent_extension: str | None = None
    agent_member_name: str | None = None


def principal_of(user: User, via_token: bool = False) -> Principal:
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name,
                     role=Role(user.role), unit_code=user.unit_code, via_token=via_token)


async def create_user(db: Database, actor: str, new: NewUser) -> User:
    from dispatch.models import Unit

    if not USERNAME_RE.match(new.username):
        raise InvalidInput("username: 2-64 letters, digits, '_', '.', '-'", field="username")
    if not new.display_name.strip() or len(new.display_name) > 100:
        raise InvalidInput("display_name: 1-100 characters", field="display_name")
    validate_new_password(new.password)
    if (new.role is Role.UNIT_HANDLER) != (new.unit_code is not None):
        raise InvalidInput("a unit handler needs exactly one unit; other roles take none",
                           field="unit_code")
    if new.role is not Role.AGENT and (new.agent_interface or new.agent_member_name):
        raise InvalidInput("only agents have an Asterisk interface", field="agent_interface")
    password_hash = await hash_password(new.password)
    async with db.write() as s:
        if new.unit_code is not None and await s.get(Unit, new.unit_code) is None:
            raise NotFound(f"unit {new.unit_code} does not exist", field="unit_code")
        if await s.scalar(select(User.id).where(User.username == new.username)) is not None:
            raise Conflict(f"user {new.username} already exists", field="username")
        user = User(username=new.username, display_name=new.display_name.strip(),
                    role=new.role.value, unit_code=new.unit_code, password_hash=password_hash,
                    agent_interface=new.agent_interface, agent_extension=new.agent_extension,
                    agent_member_name=new.agent_member_name)
        s.add(user)
        try:
            await s.flush()
        except IntegrityError:
            raise Conflict("user conflicts with an existing one (username or agent interface)")
        audit.record(s, actor, "user.create", "user", user.id,
                     {"username": user.username, "role": user.role, "unit_code": user.unit_code})
    return user


async def set_password(db: Database, actor: str, username: str, password: str) -> None:
    validate_new_password(password)
    password_hash = await hash_password(password)
    async with db.write() as s:
        user = await s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"user {username} does not exist")
        user.password_hash = password_hash
        audit.record(s, actor, "user.set_password", "user", user.id)


async def authenticate(db: Database, username: str, password: str) -> Principal | None:
    async with db.read() as s:
        user = await s.scalar(select(User).where(User.username == username))
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    return principal_of(user)


async def load_principal(db: Database, user_id: int) -> Principal | None:
    async with db.read() as s:
        user = await s.get(User, user_id)
    if user is None or not user.active:
        return None
    return principal_of(user)


async def list_users(db: Database) -> list[User]:
    async with db.read() as s:
        return list(await s.scalars(select(User).order_by(User.role, User.username)))


async def issue_token(db: Database, actor: str, username: str, name: str) -> str:
    """Creates an API token for the user and returns it; it is shown once and stored hashed."""
    if not name.strip() or len(name) > 100:
        raise InvalidInput("token name: 1-100 characters", field="name")
    token, digest, prefix = new_api_token()
    async with db.write() as s:
        user = await s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"user {username} does not exist")
        row = ApiToken(user_id=user.id, name=name.strip(), token_hash=digest, prefix=prefix)
        s.add(row)
        await s.flush()
        audit.record(s, actor, "token.issue", "user", user.id, {"token_id": row.id, "name": name})
    return token


# last_used_at is informational; refreshing it at most hourly keeps reads from becoming writes.
_TOUCH_EVERY = dt.timedelta(hours=1)


async def principal_for_token(db: Database, token: str) -> Principal | None:
    digest = token_digest(token)
    async with db.read() as s:
        row = (await s.execute(
            select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest))).first()
    if row is None:
        return None
    tok, user = row
    if tok.revoked_at is not None or not user.active:
        return None
    now = utcnow()
    if tok.last_used_at is None or now - tok.last_used_at > _TOUCH_EVERY:
        async with db.write() as s:
            await s.execute(update(ApiToken).where(ApiToken.id == tok.id).values(last_used_at=now))
    return principal_of(user, via_token=True)
