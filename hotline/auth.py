"""Authentication and authorisation primitives: passwords, principals, API tokens, login throttle.

One role-check mechanism serves every route: handlers declare the roles allowed with
`@allow(...)` (or `@public`), and `hotline.web.security.auth_middleware` enforces it; a
route that declares nothing is refused (default deny).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hotline.models import Role

_hasher = PasswordHasher()


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (the test suite uses cheap ones; production keeps defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher, _DUMMY_HASH = hasher, None

# Measured here: argon2 hash/verify take ~90 ms; run them off the event loop.
# A fixed dummy hash lets unknown usernames cost the same time as wrong passwords.
_DUMMY_HASH: str | None = None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if stored_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = await asyncio.to_thread(_hasher.hash, secrets.token_hex(8))
        stored_hash = _DUMMY_HASH
        password = password + "\x00never"

    def check() -> bool:
        try:
            return _hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def validate_new_password(password: str) -> None:
    from hotline.errors import InvalidInput

    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    if len(password) > 256:
        raise InvalidInput("password must have at most 256 characters", field="password")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request. A unit handler always carries its unit code."""

    user_id: int
    username: str
    display_name: str
    role: Role
    unit_code: str | None = None
    via_token: bool = False

    def can_see_unit(self, unit_code: str | None) -> bool:
        if self.role is Role.UNIT_HANDLER:
            return unit_code is not None and unit_code == self.unit_code
        return True


# --- API tokens --------------------------------------------------------------------------------

TOKEN_PREFIX = "hl_"


def new_api_token() -> tuple[str, str, str]:
    """Returns (token shown once to the user, its SHA-256 hex stored, display prefix)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token), token[:10]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- login throttle ----------------------------------------------------------------------------

class LoginThrottle:
    """At most `max_failures` failed logins per (client address) and per (username) in a
    sliding window. In memory: per process, which is what a brute-force attempt hits."""

    def __init__(self, max_failures: int, window_seconds: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _keys(self, address: str, username: str) -> tuple[str, str]:
        return f"ip:{address}", f"user:{username.lower()}"

    def retry_after(self, address: str, username: str) -> int:
        now = self._clock()
        worst = 0.0
        for key in self._keys(address, username):
            q = self._failures.get(key)
            if not q:
                continue
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.max_failures:
                worst = max(worst, q[0] + self.window - now)
        return int(worst) + 1 if worst > 0 else 0

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        for key in self._keys(address, username):
            self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > 100_000:  # bound memory under a spray of usernames
            self._failures.clear()

    def succeeded(self, address: str, username: str) -> None:
        self._failures.pop(self._keys(address, username)[1], None)


# --- route permissions -------------------------------------------------------------------------

H = TypeVar("H", bound=Callable[..., Awaitable[object]])
PUBLIC = "public"


def allow(*roles: Role) -> Callable[[H], H]:
    """Declare which roles may call a handler. Admins are not implied: list them explicitly."""
    if not roles:
        raise ValueError("allow() needs at least one role")

    def mark(handler: H) -> H:
        handler.__hotline_roles__ = frozenset(roles)  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    handler.__hotline_roles__ = PUBLIC  # type: ignore[attr-defined]
    return handler


def allowed_roles(handler: object) -> frozenset[Role] | str | None:
    return getattr(handler, "__hotline_roles__", None)


ALL_STAFF: tuple[Role, ...] = tuple(Role)
