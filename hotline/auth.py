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
from typing import Awaitable, Callable, Sequence, TypeVar

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
        raise InvalidInput(
            "password must have at least 8 characters", field="password", zh="密码至少 8 个字符"
        )
    if len(password) > 256:
        raise InvalidInput(
            "password must have at most 256 characters", field="password", zh="密码最多 256 个字符"
        )


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


# --- throttles ---------------------------------------------------------------------------------


def lock_remaining(
    failures: Sequence[float], now: float, max_failures: int, window: float
) -> float:
    """Seconds a key stays locked, given its failure times (any order): at most `max_failures`
    failures in any sliding `window`, so the lock lifts when the max-th newest one ages out."""
    recent = sorted(t for t in failures if t > now - window)
    if len(recent) < max_failures:
        return 0.0
    return recent[-max_failures] + window - now


def retry_seconds(remaining: float) -> int:
    return int(remaining) + 1 if remaining > 0 else 0


_K = TypeVar("_K")  # a throttle table's key: (address, key) pair or address


class PairThrottle:
    """In-memory throttle keyed by (client address, key), for public lookups where a database
    write per failure would itself be an attack surface.

    Locking the pair, not the key alone, means an attacker guessing at a ticket cannot lock out
    the citizen who owns it (another address); a per-address ceiling stops one address from
    sweeping many keys. Memory stays bounded: each pair keeps only its last `max_failures`
    times, and when there are too many pairs the ones that are not locked are dropped first;
    a pair that is locked is never forgotten before its lock ends."""

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        address_max_failures: int,
        max_pairs: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.address_max = address_max_failures
        self.max_pairs = max_pairs
        self._clock = clock
        self._pairs: dict[tuple[str, str], deque[float]] = {}
        self._addresses: dict[str, deque[float]] = {}

    def retry_after(self, address: str, key: str) -> int:
        now = self._clock()
        pair = self._pairs.get((address, key), ())
        by_address = self._addresses.get(address, ())
        return retry_seconds(
            max(
                lock_remaining(pair, now, self.max_failures, self.window),
                lock_remaining(by_address, now, self.address_max, self.window),
            )
        )

    def failed(self, address: str, key: str) -> None:
        now = self._clock()
        self._pairs.setdefault((address, key), deque(maxlen=self.max_failures)).append(now)
        self._addresses.setdefault(address, deque(maxlen=self.address_max)).append(now)
        if len(self._pairs) > self.max_pairs or len(self._addresses) > self.max_pairs:
            self._prune(now)

    def succeeded(self, address: str, key: str) -> None:
        self._pairs.pop((address, key), None)

    def locked_pairs(self) -> int:
        now = self._clock()
        return sum(
            1
            for q in self._pairs.values()
            if lock_remaining(q, now, self.max_failures, self.window) > 0
        )

    def _prune(self, now: float) -> None:
        self._prune_table(self._pairs, self.max_failures, now)
        self._prune_table(self._addresses, self.address_max, now)

    def _prune_table(self, table: dict[_K, deque[float]], limit: int, now: float) -> None:
        stale = [k for k, q in table.items() if lock_remaining(q, now, limit, self.window) <= 0]
        # Oldest activity first; keep up to half the bound of unlocked entries.
        stale.sort(key=lambda k: table[k][-1])
        excess = len(table) - self.max_pairs // 2
        for k in stale[: max(excess, 0)]:
            del table[k]


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
