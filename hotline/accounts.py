"""Account use cases: create users, log in, resolve sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, cast

from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from hotline import audit
from hotline.auth import (
    Principal,
    hash_password,
    lock_remaining,
    retry_seconds,
    new_api_token,
    token_digest,
    validate_new_password,
    verify_password,
)
from hotline.db import Database, utcnow
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import ApiToken, LoginFailure, Role, User, UserSession

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
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        unit_code=user.unit_code,
        via_token=via_token,
    )


def _check_profile(new: NewUser) -> None:
    if not new.display_name.strip() or len(new.display_name) > 100:
        raise InvalidInput(
            "display_name: 1-100 characters", field="display_name", zh="姓名须为 1-100 个字符"
        )
    if (new.role is Role.UNIT_HANDLER) != (new.unit_code is not None):
        raise InvalidInput(
            "a unit handler needs exactly one unit; other roles take none",
            zh="承办单位角色须选择一个单位，其他角色不选单位",
            field="unit_code",
        )
    if new.role is not Role.AGENT and (new.agent_interface or new.agent_member_name):
        raise InvalidInput(
            "only agents have an Asterisk interface",
            field="agent_interface",
            zh="只有坐席可以填写坐席接口",
        )


async def _check_unit(s: Any, unit_code: str | None) -> None:
    from hotline.directory.models import Unit

    if unit_code is not None and await s.get(Unit, unit_code) is None:
        raise NotFound(
            f"unit {unit_code} does not exist", field="unit_code", zh=f"承办单位 {unit_code} 不存在"
        )


async def create_user(db: Database, actor: str, new: NewUser) -> User:
    if not USERNAME_RE.match(new.username):
        raise InvalidInput(
            "username: 2-64 letters, digits, '_', '.', '-'",
            field="username",
            zh="用户名须为 2-64 位字母、数字或 _ . -",
        )
    _check_profile(new)
    validate_new_password(new.password)
    password_hash = await hash_password(new.password)
    async with db.write() as s:
        await _check_unit(s, new.unit_code)
        if await s.scalar(select(User.id).where(User.username == new.username)) is not None:
            raise Conflict(
                f"user {new.username} already exists",
                field="username",
                zh=f"用户名 {new.username} 已存在",
            )
        user = User(
            username=new.username,
            display_name=new.display_name.strip(),
            role=new.role.value,
            unit_code=new.unit_code,
            password_hash=password_hash,
            agent_interface=new.agent_interface,
            agent_extension=new.agent_extension,
            agent_member_name=new.agent_member_name,
        )
        s.add(user)
        try:
            await s.flush()
        except IntegrityError:
            raise Conflict(
                "user conflicts with an existing one (username or agent interface)",
                zh="用户名或坐席接口已被其他用户使用",
            )
        audit.record(
            s,
            actor,
            "user.create",
            "user",
            user.id,
            {"username": user.username, "role": user.role, "unit_code": user.unit_code},
        )
    return user


async def update_user(db: Database, actor: str, changed: NewUser) -> User:
    """A user's name, role, unit and Asterisk identity (`changed.password` is ignored). A new
    role or unit ends the account's sessions and tokens: they carried the old rights."""
    _check_profile(changed)
    async with db.write() as s:
        user = await _user(s, changed.username)
        await _check_unit(s, changed.unit_code)
        before = {"role": user.role, "unit_code": user.unit_code}
        user.display_name = changed.display_name.strip()
        user.role, user.unit_code = changed.role.value, changed.unit_code
        user.agent_interface = changed.agent_interface
        user.agent_extension = changed.agent_extension
        user.agent_member_name = changed.agent_member_name
        try:
            await s.flush()
        except IntegrityError:
            raise Conflict(
                "the agent interface is another user's",
                field="agent_interface",
                zh="坐席接口已被其他用户使用",
            )
        detail: dict[str, Any] = {"role": user.role, "unit_code": user.unit_code}
        if before != {"role": user.role, "unit_code": user.unit_code}:
            detail.update(await _end_all(s, user.id))
        audit.record(s, actor, "user.update", "user", user.id, detail)
    return user


async def set_password(db: Database, actor: str, username: str, password: str) -> None:
    """A new password ends every session and revokes every API token of the account: whoever
    held the old password may have opened them."""
    validate_new_password(password)
    password_hash = await hash_password(password)
    async with db.write() as s:
        user = await _user(s, username)
        user.password_hash = password_hash
        ended = await _end_all(s, user.id)
        audit.record(s, actor, "user.set_password", "user", user.id, ended)


async def set_active(db: Database, actor: str, username: str, active: bool) -> None:
    """Disabling an account ends its sessions and revokes its tokens on the next request;
    enabling it again does not bring them back."""
    async with db.write() as s:
        user = await _user(s, username)
        user.active = active
        detail = {} if active else await _end_all(s, user.id)
        audit.record(s, actor, "user.enable" if active else "user.disable", "user", user.id, detail)


async def _user(s, username: str) -> User:
    user = await s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username} does not exist", zh=f"用户 {username} 不存在")
    return user


async def _end_all(s, user_id: int) -> dict[str, int]:
    sessions = await s.execute(delete(UserSession).where(UserSession.user_id == user_id))
    tokens = await s.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return {"sessions_ended": sessions.rowcount or 0, "tokens_revoked": tokens.rowcount or 0}


async def authenticate(db: Database, username: str, password: str) -> Principal | None:
    async with db.read() as s:
        user = await s.scalar(select(User).where(User.username == username))
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    return principal_of(user)


# --- browser sessions ------------------------------------------------------------------------
# One working shift and a half; the session cookie has the same life.
SESSION_LIFETIME = dt.timedelta(hours=12)


async def open_session(db: Database, who: Principal, address: str | None) -> str:
    """Records a new browser session and returns its id (for the cookie, never stored)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.write() as s:
        # Expired rows are never read again; dropping them here keeps the table small.
        await s.execute(delete(UserSession).where(UserSession.expires_at <= now))
        s.add(
            UserSession(
                id_hash=token_digest(session_id),
                user_id=who.user_id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
                address=(address or "")[:64],
            )
        )
    return session_id


async def principal_for_session(db: Database, session_id: str) -> Principal | None:
    row = await db.first(_SESSION_PRINCIPAL, digest=token_digest(session_id), now=utcnow())
    return None if row is None else _principal_from(row)


async def close_session(db: Database, session_id: str) -> None:
    async with db.write() as s:
        await s.execute(delete(UserSession).where(UserSession.id_hash == token_digest(session_id)))


async def list_users(db: Database) -> list[User]:
    async with db.read() as s:
        return list(await s.scalars(select(User).order_by(User.role, User.username)))


async def issue_token(db: Database, actor: str, username: str, name: str) -> str:
    """Creates an API token for the user and returns it; it is shown once and stored hashed."""
    if not name.strip() or len(name) > 100:
        raise InvalidInput(
            "token name: 1-100 characters", field="name", zh="令牌名称须为 1-100 个字符"
        )
    token, digest, prefix = new_api_token()
    async with db.write() as s:
        user = await _user(s, username)
        row = ApiToken(user_id=user.id, name=name.strip(), token_hash=digest, prefix=prefix)
        s.add(row)
        await s.flush()
        audit.record(s, actor, "token.issue", "user", user.id, {"token_id": row.id, "name": name})
    return token


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


async def list_tokens(db: Database, username: str) -> list[TokenInfo]:
    async with db.read() as s:
        user = await _user(s, username)
        rows = await s.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
        return [
            TokenInfo(t.id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at)
            for t in rows
        ]


async def revoke_token(db: Database, actor: str, username: str, token_id: int) -> None:
    async with db.write() as s:
        user = await _user(s, username)
        tok = await s.scalar(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
        )
        if tok is None:
            raise NotFound(f"token {token_id} of {username} does not exist", zh="该令牌不存在")
        if tok.revoked_at is None:
            tok.revoked_at = utcnow()
            audit.record(s, actor, "token.revoke", "user", user.id, {"token_id": tok.id})


# last_used_at is informational; refreshing it at most hourly keeps reads from becoming writes.
_TOUCH_EVERY = dt.timedelta(hours=1)


# What a request's principal is made of: read with Core on every request (no ORM objects).
_PRINCIPAL = (User.id, User.username, User.display_name, User.role, User.unit_code, User.active)
# The reads every request makes, compiled once (Database.first).
_SESSION_PRINCIPAL = (
    select(*_PRINCIPAL)
    .join(UserSession, UserSession.user_id == User.id)
    .where(UserSession.id_hash == bindparam("digest"), UserSession.expires_at > bindparam("now"))
)
_TOKEN_PRINCIPAL = (
    select(ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at, *_PRINCIPAL)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def _principal_from(row: Any, via_token: bool = False) -> Principal | None:
    user_id, username, display_name, role, unit_code, active = row[-6:]
    if not active:
        return None
    return Principal(
        user_id=user_id,
        username=username,
        display_name=display_name,
        role=Role(role),
        unit_code=unit_code,
        via_token=via_token,
    )


async def principal_for_token(db: Database, token: str) -> Principal | None:
    row = await db.first(_TOKEN_PRINCIPAL, digest=token_digest(token))
    if row is None or row.revoked_at is not None:
        return None
    who = _principal_from(row, via_token=True)
    now = utcnow()
    if who is not None and (row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY):
        async with db.write() as s:
            await s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return who


# --- login throttle ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginLock:
    address: str
    username: str
    failures: int
    retry_after: int


@dataclass
class LoginGuard:
    """Failed logins, kept in the database for the window so every instance sees the same locks
    and a manager's unlock works everywhere.

    - A (client address, username) pair with `max_failures` failures in the window is locked:
      an attacker locks a known account only for the attacker's own address, not for its owner
      elsewhere, and not for colleagues behind the same address (each has their own username).
    - An address that fails more than `spray_failures` times in the window across usernames
      (password spraying) is slowed by a delay that grows with its failures, never locked out:
      a whole call centre may sit behind that address.
    - Rows older than the window are deleted as new failures come, so the table stays bounded
      by what the window can hold; a lock is never forgotten while it is active."""

    db: Database
    max_failures: int
    window_seconds: int
    spray_failures: int = 50
    clock: Callable[[], dt.datetime] = utcnow

    def _now(self) -> dt.datetime:
        return self.clock()

    async def retry_after(self, address: str, username: str) -> int:
        now = self._now()
        since = now - dt.timedelta(seconds=self.window_seconds)
        async with self.db.read() as s:
            times = list(
                await s.scalars(
                    select(LoginFailure.at)
                    .where(
                        LoginFailure.address == address,
                        LoginFailure.username == username.lower(),
                        LoginFailure.at > since,
                    )
                    .order_by(LoginFailure.at.desc())
                    .limit(self.max_failures)
                )
            )
        stamps = [t.timestamp() for t in times]
        return retry_seconds(
            lock_remaining(stamps, now.timestamp(), self.max_failures, self.window_seconds)
        )

    async def spray_delay(self, address: str) -> float:
        """Seconds to wait before answering this address: 0 until it passes the spray ceiling,
        then doubling every further 10 failures, at most 8 s."""
        since = self._now() - dt.timedelta(seconds=self.window_seconds)
        async with self.db.read() as s:
            count = int(
                await s.scalar(
                    select(func.count())
                    .select_from(LoginFailure)
                    .where(LoginFailure.address == address, LoginFailure.at > since)
                )
                or 0
            )
        if count < self.spray_failures:
            return 0.0
        return min(0.25 * 2 ** ((count - self.spray_failures) // 10), 8.0)

    async def failed(self, address: str, username: str) -> None:
        now = self._now()
        async with self.db.write() as s:
            await s.execute(
                delete(LoginFailure).where(
                    LoginFailure.at <= now - dt.timedelta(seconds=self.window_seconds)
                )
            )
            s.add(LoginFailure(address=address[:64], username=username.lower()[:64], at=now))

    async def succeeded(self, address: str, username: str) -> None:
        async with self.db.write() as s:
            await s.execute(
                delete(LoginFailure).where(
                    LoginFailure.address == address, LoginFailure.username == username.lower()
                )
            )

    async def locks(self) -> list[LoginLock]:
        now = self._now()
        since = now - dt.timedelta(seconds=self.window_seconds)
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(LoginFailure.address, LoginFailure.username, LoginFailure.at).where(
                        LoginFailure.at > since
                    )
                )
            ).all()
        by_pair: dict[tuple[str, str], list[float]] = {}
        for address, username, at in rows:
            by_pair.setdefault((address, username), []).append(at.timestamp())
        out = []
        for (address, username), stamps in sorted(by_pair.items()):
            wait = retry_seconds(
                lock_remaining(stamps, now.timestamp(), self.max_failures, self.window_seconds)
            )
            if wait:
                out.append(LoginLock(address, username, len(stamps), wait))
        return out

    async def unlock(self, actor: str, username: str, address: str | None = None) -> int:
        """Forgets the failures of `username` (from one address, or from all); returns how many."""
        where = [LoginFailure.username == username.lower()]
        if address:
            where.append(LoginFailure.address == address)
        async with self.db.write() as s:
            # A DELETE's result is a CursorResult (it has `rowcount`); execute() is typed as Result.
            result = cast(CursorResult[Any], await s.execute(delete(LoginFailure).where(*where)))
            audit.record(
                s,
                actor,
                "login.unlock",
                "user",
                username.lower()[:64],
                {"address": address, "failures_forgotten": result.rowcount or 0},
            )
        return result.rowcount or 0
