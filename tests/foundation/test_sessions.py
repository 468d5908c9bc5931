"""Sessions end server-side: logout, a password change, a disabled account and a revoked token
take effect on the very next request. An Authorization header is a bearer token or absent."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from hotline import accounts as account_service
from hotline.models import UserSession
from tests.conftest import CSRF_RE, PASSWORD, login

COOKIE_RE = re.compile(r"hotline_session=([^;]+)")


async def login_cookie(client: Any, username: str) -> tuple[str, str]:
    """Logs in through the form; returns (session cookie value, CSRF token) as an attacker
    who copied them from the browser would hold them."""
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    resp = await client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "_csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = COOKIE_RE.search(resp.headers["Set-Cookie"]).group(1)
    home = await (await client.get(resp.headers["Location"])).text()
    return cookie, CSRF_RE.search(home).group(1)


async def as_copy(
    client: Any, method: str, path: str, cookie: str, csrf: str, **kwargs: Any
) -> int:
    """A request carrying only the copied cookie (the client's own jar is emptied first)."""
    client.session.cookie_jar.clear()
    headers = {"Cookie": f"hotline_session={cookie}", "X-CSRF-Token": csrf}
    resp = await client.request(method, path, headers=headers, allow_redirects=False, **kwargs)
    return resp.status


async def test_a_copied_cookie_dies_with_logout(client, accounts):
    cookie, csrf = await login_cookie(client, "root")
    assert await as_copy(client, "GET", "/api/v1/me", cookie, csrf) == 200
    assert await as_copy(client, "POST", "/logout", cookie, csrf) == 303
    assert await as_copy(client, "GET", "/api/v1/me", cookie, csrf) == 401
    assert (
        await as_copy(
            client, "POST", "/api/v1/users/root/tokens", cookie, csrf, json={"name": "after logout"}
        )
        == 401
    )


async def test_logout_ends_only_that_session(client, accounts):
    first, csrf1 = await login_cookie(client, "boss")
    second, csrf2 = await login_cookie(client, "boss")
    assert await as_copy(client, "POST", "/logout", first, csrf1) == 303
    assert await as_copy(client, "GET", "/api/v1/me", first, csrf1) == 401
    assert await as_copy(client, "GET", "/api/v1/me", second, csrf2) == 200


async def test_password_change_ends_sessions_and_revokes_tokens(client, db, accounts):
    cookie, csrf = await login_cookie(client, "agent1")
    token = await account_service.issue_token(db, "test", "agent1", "desk integration")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=bearer)).status == 200
    await account_service.set_password(db, "cli", "agent1", "a-brand-new-password")
    assert await as_copy(client, "GET", "/api/v1/me", cookie, csrf) == 401
    client.session.cookie_jar.clear()
    assert (await client.get("/api/v1/me", headers=bearer)).status == 401
    # The new password works and opens a fresh session.
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    resp = await client.post(
        "/login",
        data={"username": "agent1", "password": "a-brand-new-password", "_csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status == 303


async def test_admin_disables_a_user_and_revokes_a_token_over_the_api(client, db, accounts):
    victim_cookie, victim_csrf = await login_cookie(client, "agent1")
    token = await account_service.issue_token(db, "test", "agent1", "desk")
    other = await account_service.issue_token(db, "test", "boss", "board")
    csrf = await login(client, "root")
    admin = {"X-CSRF-Token": csrf}

    listed = await (await client.get("/api/v1/users/boss/tokens")).json()
    assert [t["name"] for t in listed["tokens"]] == ["board"]
    resp = await client.delete(
        f"/api/v1/users/boss/tokens/{listed['tokens'][0]['id']}", headers=admin
    )
    assert resp.status == 200
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"})
    ).status == 401
    resp = await client.delete("/api/v1/users/boss/tokens/999999", headers=admin)
    assert resp.status == 404

    resp = await client.post("/api/v1/users/agent1/disable", headers=admin)
    assert resp.status == 200 and (await resp.json())["active"] is False
    admin_cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    assert await as_copy(client, "GET", "/api/v1/me", victim_cookie, victim_csrf) == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status == 401
    client.session.cookie_jar.update_cookies(admin_cookie)
    resp = await client.post("/api/v1/users/agent1/enable", headers=admin)
    assert resp.status == 200
    # Enabling does not bring the old session or token back.
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status == 401
    assert await as_copy(client, "GET", "/api/v1/me", victim_cookie, victim_csrf) == 401


async def test_admin_page_disables_a_user(client, accounts):
    victim_cookie, victim_csrf = await login_cookie(client, "editor")
    csrf = await login(client, "root")
    resp = await client.post("/admin/users/editor/disable", data={"_csrf": csrf})
    assert resp.status == 200 and "停用" in await resp.text()
    assert await as_copy(client, "GET", "/api/v1/me", victim_cookie, victim_csrf) == 401


async def test_an_empty_or_blank_authorization_header_is_not_a_way_around_csrf(
    client, db, accounts
):
    await login(client, "root")
    for value in ("", "   ", "Bearer", "Bearer   ", "Basic cm9vdDp4"):
        resp = await client.post(
            "/api/v1/users/root/tokens", json={"name": "forged"}, headers={"Authorization": value}
        )
        assert resp.status == 401, (value, await resp.text())
        assert (await resp.json())["error"]["code"] == "unauthenticated"
    assert await account_service.list_tokens(db, "root") == []


async def test_a_wrong_csrf_token_is_refused(client, db, accounts):
    csrf = await login(client, "root")
    for wrong in ("x", csrf[:-1] + ("A" if csrf[-1] != "A" else "B"), csrf + "x"):
        resp = await client.post(
            "/api/v1/users/root/tokens", json={"name": "forged"}, headers={"X-CSRF-Token": wrong}
        )
        assert resp.status == 403
    resp = await client.post("/logout", data={"_csrf": "not-the-token"})
    assert resp.status == 403
    assert (await client.get("/api/v1/me")).status == 200
    assert await account_service.list_tokens(db, "root") == []


async def test_refusals_speak_chinese_on_pages_and_in_message_zh(client, accounts):
    csrf = await login(client, "root")
    resp = await client.post("/logout", data={"_csrf": "stale"})
    assert resp.status == 403 and "页面已过期" in await resp.text()
    resp = await client.post(
        "/api/v1/users/root/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "stale"}
    )
    assert (await resp.json())["error"]["message_zh"].startswith("页面已过期")
    resp = await client.post(
        "/admin/users",
        data={
            "_csrf": csrf,
            "username": "x",
            "display_name": "新人",
            "password": "long-enough-1",
            "role": "agent",
        },
    )
    assert resp.status == 400 and "用户名须为 2-64 位" in await resp.text()
    await login(client, "agent1")
    resp = await client.get("/api/v1/users")
    assert (await resp.json())["error"]["message_zh"] == "您的角色无权执行此操作"


@pytest.mark.parametrize(
    "header,message,zh",
    [
        (
            "Basic cm9vdDpzZWNyZXQ=",
            "Authorization must be 'Bearer <token>'",
            "Authorization 头须为 Bearer 令牌",
        ),
        ("Bearer   ", "Authorization must be 'Bearer <token>'", "Authorization 头须为 Bearer 令牌"),
        (
            "hl_token-without-scheme",
            "Authorization must be 'Bearer <token>'",
            "Authorization 头须为 Bearer 令牌",
        ),
        ("Bearer hl_not-a-token", "invalid or revoked API token", "API 令牌无效或已被吊销"),
    ],
    ids=["basic", "bearer-blank", "no-scheme", "unknown-token"],
)
async def test_a_refused_authorization_header_says_why(client, accounts, header, message, zh):
    resp = await client.get("/api/v1/me", headers={"Authorization": header})
    assert resp.status == 401
    error = (await resp.json())["error"]
    assert (error["code"], error["message"], error["message_zh"]) == (
        "unauthenticated",
        message,
        zh,
    )


async def test_a_bearer_token_may_follow_more_than_one_space(client, db, accounts):
    # RFC 6750: "Bearer" 1*SP token.
    token = await account_service.issue_token(db, "test", "boss", "board")
    resp = await client.get("/api/v1/me", headers={"Authorization": f"bearer  {token} "})
    assert resp.status == 200


async def test_a_session_records_the_address_it_was_opened_from(client, db, accounts):
    await login(client, "boss")
    async with db.read() as s:
        addresses = (await s.execute(select(UserSession.address))).scalars().all()
    assert addresses == ["127.0.0.1"]
