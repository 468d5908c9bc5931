"""hotline/auth.py without a database or a server: role declarations, what a unit handler may
see, passwords and tokens, and the sliding-window throttles (pure, fast)."""

from __future__ import annotations

import hashlib
import re

import pytest

from hotline import auth
from hotline.auth import (
    ALL_STAFF,
    PUBLIC,
    PairThrottle,
    Principal,
    allow,
    allowed_roles,
    lock_remaining,
    public,
    retry_seconds,
)
from hotline.errors import InvalidInput
from hotline.models import Role

# --- route permissions ----------------------------------------------------------------------------


def test_allow_marks_exactly_the_roles_listed() -> None:
    async def handler() -> None: ...

    assert allow(Role.MANAGER, Role.ADMIN)(handler) is handler
    assert allowed_roles(handler) == frozenset({Role.MANAGER, Role.ADMIN})


def test_a_route_declaring_no_roles_is_refused_at_import_time() -> None:
    with pytest.raises(ValueError, match=r"^allow\(\) needs at least one role$"):
        allow()


def test_public_and_undeclared_routes_are_told_apart() -> None:
    async def open_page() -> None: ...

    async def forgotten() -> None: ...

    assert public(open_page) is open_page
    assert allowed_roles(open_page) == PUBLIC == "public"
    assert allowed_roles(forgotten) is None  # the middleware refuses it (default deny)


def test_all_staff_is_every_role_admins_included() -> None:
    assert set(ALL_STAFF) == {
        Role.AGENT,
        Role.UNIT_HANDLER,
        Role.MANAGER,
        Role.KB_EDITOR,
        Role.ADMIN,
    }


# --- who sees which unit's tickets ------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER, Role.KB_EDITOR, Role.ADMIN])
def test_staff_other_than_unit_handlers_see_every_unit(role: Role) -> None:
    p = Principal(1, "u", "u", role)
    assert p.can_see_unit("ZZ-RSJ") and p.can_see_unit(None)


def test_a_unit_handler_sees_its_own_unit_only() -> None:
    rsj = Principal(5, "rsj", "rsj", Role.UNIT_HANDLER, "ZZ-RSJ")
    assert rsj.can_see_unit("ZZ-RSJ")
    assert not rsj.can_see_unit("ZZ-GJJ")
    assert not rsj.can_see_unit(None)  # a ticket not yet sent to any unit
    assert not rsj.can_see_unit("zz-rsj")
    # A handler whose unit is missing sees nothing, not the tickets without a unit.
    orphan = Principal(6, "x", "x", Role.UNIT_HANDLER, None)
    assert not orphan.can_see_unit(None) and not orphan.can_see_unit("ZZ-RSJ")


# --- passwords and tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password,problem,zh",
    [
        ("1234567", "password must have at least 8 characters", "密码至少 8 个字符"),
        ("x" * 257, "password must have at most 256 characters", "密码最多 256 个字符"),
    ],
)
def test_new_password_length_rules(password: str, problem: str, zh: str) -> None:
    with pytest.raises(InvalidInput) as info:
        auth.validate_new_password(password)
    assert (info.value.message, info.value.zh, info.value.details) == (
        problem,
        zh,
        {"field": "password"},
    )


def test_new_password_length_bounds_are_inclusive() -> None:
    auth.validate_new_password("12345678")
    auth.validate_new_password("x" * 256)


async def test_password_hash_verifies_only_its_own_password() -> None:
    stored = await auth.hash_password("correct-horse-battery")
    assert stored.startswith("$argon2")
    assert await auth.verify_password(stored, "correct-horse-battery") is True
    assert await auth.verify_password(stored, "correct-horse-batterY") is False
    assert await auth.verify_password("not a hash", "correct-horse-battery") is False


async def test_an_unknown_account_never_verifies_even_with_the_dummys_own_secret(
    monkeypatch,
) -> None:
    # Unknown usernames are checked against a dummy hash (same cost as a wrong password); its
    # random secret must not be a password that works.
    monkeypatch.setattr(auth, "_DUMMY_HASH", None)
    monkeypatch.setattr(auth.secrets, "token_hex", lambda n: "known-dummy-secret")
    assert await auth.verify_password(None, "known-dummy-secret") is False
    first = auth._DUMMY_HASH
    assert first is not None and await auth.verify_password(first, "known-dummy-secret")
    assert await auth.verify_password(None, "anything") is False
    assert auth._DUMMY_HASH == first  # made once, then reused


def test_api_tokens_are_random_prefixed_and_stored_as_their_digest() -> None:
    token, digest, shown = auth.new_api_token()
    assert re.fullmatch(r"hl_[A-Za-z0-9_-]{43}", token)
    assert digest == hashlib.sha256(token.encode()).hexdigest() == auth.token_digest(token)
    assert shown == token[:10] and len(shown) == 10
    assert auth.new_api_token()[0] != token


# --- sliding-window locks -------------------------------------------------------------------------


def test_lock_lasts_until_the_max_th_newest_failure_leaves_the_window() -> None:
    assert lock_remaining([100.0, 110.0, 120.0], 130.0, 3, 60.0) == 30.0
    assert lock_remaining([120.0, 100.0, 110.0], 130.0, 3, 60.0) == 30.0  # any order
    assert lock_remaining([90.0, 100.0, 110.0, 120.0], 130.0, 3, 60.0) == 30.0
    assert lock_remaining([100.0, 120.0], 130.0, 3, 60.0) == 0.0  # too few
    # A failure exactly one window old has left it.
    assert lock_remaining([70.0, 110.0, 120.0], 130.0, 3, 60.0) == 0.0
    assert lock_remaining([70.5, 110.0, 120.0], 130.0, 3, 60.0) == 0.5
    assert lock_remaining([], 130.0, 1, 60.0) == 0.0


@pytest.mark.parametrize(
    "remaining,seconds",
    [
        (0.0, 0),
        (-3.0, 0),
        (0.2, 1),
        (1.0, 2),
        (29.9, 30),
    ],
)
def test_retry_after_is_whole_seconds_never_too_early(remaining: float, seconds: int) -> None:
    assert retry_seconds(remaining) == seconds


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pair_throttle_locks_the_pair_not_the_owner_elsewhere() -> None:
    clock = Clock()
    throttle = PairThrottle(3, 300, 10, clock=clock)
    assert throttle.retry_after("10.0.0.1", "T-1") == 0
    for _ in range(2):
        throttle.failed("10.0.0.1", "T-1")
        clock.now += 10
    assert throttle.retry_after("10.0.0.1", "T-1") == 0 and throttle.locked_pairs() == 0
    throttle.failed("10.0.0.1", "T-1")  # third failure at 1020
    assert throttle.retry_after("10.0.0.1", "T-1") == 281  # until 1300, from 1020, rounded up
    assert throttle.locked_pairs() == 1
    assert throttle.retry_after("10.0.0.2", "T-1") == 0  # the owner, elsewhere
    assert throttle.retry_after("10.0.0.1", "T-2") == 0  # another key, same address
    clock.now = 1300.0
    assert throttle.retry_after("10.0.0.1", "T-1") == 0 and throttle.locked_pairs() == 0


def test_pair_throttle_success_forgets_the_pair_but_not_the_address() -> None:
    clock = Clock()
    throttle = PairThrottle(2, 300, 4, clock=clock)
    throttle.failed("10.0.0.1", "T-1")
    throttle.failed("10.0.0.1", "T-2")
    throttle.succeeded("10.0.0.1", "T-1")
    throttle.succeeded("10.0.0.9", "T-9")  # never failed: nothing to forget
    throttle.failed("10.0.0.1", "T-1")
    assert throttle.retry_after("10.0.0.1", "T-1") == 0  # one failure of the pair since
    throttle.failed("10.0.0.1", "T-3")  # the address's fourth failure
    assert throttle.retry_after("10.0.0.1", "T-4") == 301
    assert throttle.locked_pairs() == 0


def test_pair_throttle_keeps_only_the_last_failures_it_needs() -> None:
    clock = Clock()
    throttle = PairThrottle(2, 300, 3, clock=clock)
    for i in range(5):
        throttle.failed("10.0.0.1", "T-1")
        clock.now += 1
    assert list(throttle._pairs[("10.0.0.1", "T-1")]) == [1003.0, 1004.0]
    assert list(throttle._addresses["10.0.0.1"]) == [1002.0, 1003.0, 1004.0]


def test_pair_throttle_prunes_the_oldest_unlocked_pairs_first() -> None:
    clock = Clock()
    throttle = PairThrottle(3, 300, 100, max_pairs=4, clock=clock)
    for _ in range(3):
        throttle.failed("10.0.0.1", "locked")
    for i in range(1, 5):  # the 5th pair overflows the bound
        clock.now += 1
        throttle.failed(f"10.0.1.{9 - i}", f"k{i}")  # names sort against their age
    # Down to half the bound of unlocked pairs, the newest kept; the lock is never dropped.
    assert set(throttle._pairs) == {("10.0.0.1", "locked"), ("10.0.1.5", "k4")}
    assert set(throttle._addresses) == {"10.0.1.6", "10.0.1.5"}
    assert throttle.retry_after("10.0.0.1", "locked") == 297  # locked at 1000, now 1004


def test_pair_throttle_prunes_addresses_when_only_they_overflow() -> None:
    clock = Clock()
    throttle = PairThrottle(3, 300, 100, max_pairs=2, clock=clock)
    for i in range(1, 4):
        clock.now += 1
        throttle.failed(f"10.0.2.{i}", "T")
        if i < 3:
            throttle.succeeded(f"10.0.2.{i}", "T")
    assert set(throttle._pairs) == {("10.0.2.3", "T")}
    assert set(throttle._addresses) == {"10.0.2.3"}


def test_pair_throttle_never_prunes_a_locked_address() -> None:
    clock = Clock()
    throttle = PairThrottle(100, 300, 2, max_pairs=2, clock=clock)
    throttle.failed("10.0.3.1", "a")
    throttle.failed("10.0.3.1", "b")  # address locked
    clock.now += 1
    throttle.failed("10.0.3.2", "c")  # 3 pairs > 2: prune
    assert "10.0.3.1" in throttle._addresses
    assert throttle.retry_after("10.0.3.1", "z") == 300


def test_a_lock_in_its_last_second_still_counts_and_is_not_pruned() -> None:
    clock = Clock()
    throttle = PairThrottle(2, 300, 100, max_pairs=2, clock=clock)
    throttle.failed("10.0.4.1", "T")
    throttle.failed("10.0.4.1", "T")
    clock.now += 299.5  # half a second of the lock left
    assert throttle.locked_pairs() == 1
    throttle.failed("10.0.4.2", "a")
    throttle.failed("10.0.4.3", "b")  # 3 pairs > 2: prune
    assert ("10.0.4.1", "T") in throttle._pairs
    assert throttle.retry_after("10.0.4.1", "T") == 1
