"""Login throttle: a guessing address locks only its own (address, account) pair, a manager
unlocks, a trusted proxy's X-Forwarded-For names the client, state stays bounded without
forgetting an active lock; the public progress lookup never locks out the ticket's owner."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.auth import PairThrottle
from tests.conftest import CSRF_RE, PASSWORD, login


@pytest.fixture
async def proxied(aiohttp_client: Any, settings: Any, db: Any) -> Any:
    """The app behind a reverse proxy on 127.0.0.1 (the test client's address)."""
    from hotline.web.app import create_app

    return await aiohttp_client(
        create_app(settings.replace(trusted_proxies="127.0.0.1"), database=db)
    )


async def attempt(client: Any, username: str, password: str, address: str | None) -> int:
    client.session.cookie_jar.clear()
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    headers = {"X-Forwarded-For": f"203.0.113.9, {address}"} if address else {}
    resp = await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": csrf},
        headers=headers,
        allow_redirects=False,
    )
    return resp.status


async def test_a_guessing_address_locks_the_account_only_for_itself(proxied, accounts):
    attacker, owner = "198.51.100.66", "198.51.100.1"
    for _ in range(5):
        assert await attempt(proxied, "root", "wrong-password", attacker) == 401
    assert await attempt(proxied, "root", PASSWORD, attacker) == 429
    # The owner, elsewhere, and a colleague behind the attacker's address are not locked out.
    assert await attempt(proxied, "root", PASSWORD, owner) == 303
    assert await attempt(proxied, "boss", PASSWORD, attacker) == 303

    await login(proxied, "boss")
    locks = (await (await proxied.get("/api/v1/login-locks")).json())["locks"]
    assert [(k["username"], k["address"], k["failures"]) for k in locks] == [("root", attacker, 5)]
    page = await (await proxied.get("/login-locks")).text()
    assert attacker in page and "解锁" in page
    csrf = CSRF_RE.search(page).group(1)
    resp = await proxied.post(
        "/login-locks/unlock", data={"_csrf": csrf, "username": "root", "address": attacker}
    )
    assert resp.status == 200 and "已解锁 root" in await resp.text()
    assert (await (await proxied.get("/api/v1/login-locks")).json())["locks"] == []
    assert await attempt(proxied, "root", PASSWORD, attacker) == 303


async def test_without_a_trusted_proxy_forwarded_for_is_ignored(client, accounts):
    # Rotating a forged X-Forwarded-For does not escape the lock.
    for i in range(5):
        assert await attempt(client, "root", "wrong-password", f"192.0.2.{i}") == 401
    assert await attempt(client, "root", PASSWORD, "192.0.2.200") == 429
    assert await attempt(client, "root", PASSWORD, None) == 429


async def test_the_unlock_api_is_for_managers_and_admins(proxied, accounts):
    for _ in range(5):
        await attempt(proxied, "editor", "wrong-password", "198.51.100.7")
    assert await attempt(proxied, "editor", PASSWORD, "198.51.100.7") == 429
    csrf = await login(proxied, "agent1")
    resp = await proxied.post(
        "/api/v1/login-locks/unlock", json={"username": "editor"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 403
    csrf = await login(proxied, "root")
    resp = await proxied.post(
        "/api/v1/login-locks/unlock", json={"username": "editor"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 200 and (await resp.json())["failures_forgotten"] == 5
    assert await attempt(proxied, "editor", PASSWORD, "198.51.100.7") == 303


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pair_throttle_stays_bounded_and_never_forgets_a_lock():
    clock = Clock()
    throttle = PairThrottle(3, 300, 10_000, max_pairs=100, clock=clock)
    for _ in range(3):
        throttle.failed("10.0.0.1", "20261123-0001")
    assert throttle.retry_after("10.0.0.1", "20261123-0001") > 0
    # A flood of single failures from other addresses would overflow the table many times.
    for i in range(5000):
        clock.now += 0.01
        throttle.failed(f"10.1.{i // 250}.{i % 250}", f"k{i}")
    assert len(throttle._pairs) <= 100 + 1
    assert throttle.retry_after("10.0.0.1", "20261123-0001") > 0
    clock.now += 301
    assert throttle.retry_after("10.0.0.1", "20261123-0001") == 0


def test_pair_throttle_locks_a_sweeping_address():
    clock = Clock()
    throttle = PairThrottle(5, 300, 20, clock=clock)
    for i in range(20):
        throttle.failed("10.0.0.9", f"20261123-{i:04d}")
    assert throttle.retry_after("10.0.0.9", "20261123-9999") > 0
    assert throttle.retry_after("10.0.0.8", "20261123-0001") == 0
