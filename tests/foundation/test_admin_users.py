"""The admin's user page: edit a user's name, role, unit and agent identity, reset a password;
a new role or password ends the user's sessions on their next request."""

from __future__ import annotations

import re
from typing import Any


from tests.conftest import login


async def test_an_admin_edits_a_user_and_resets_a_password(client: Any, accounts: Any) -> None:
    jar, site = client.session.cookie_jar, client.make_url("/")
    await login(client, "agent1")
    agent_cookies = jar.filter_cookies(site)  # agent1's browser, signed in all along
    jar.clear()
    csrf = await login(client, "root")
    root_cookies = jar.filter_cookies(site)

    async def as_agent(path: str) -> Any:
        jar.clear()
        jar.update_cookies(agent_cookies, site)
        try:
            return await client.get(path, allow_redirects=False)
        finally:
            jar.clear()
            jar.update_cookies(root_cookies, site)

    assert (await as_agent("/desk")).status == 200
    listing = await (await client.get("/admin")).text()
    assert 'href="/admin/users/agent1"' in listing
    page = await client.get("/admin/users/agent1")
    html = await page.text()
    assert page.status == 200 and 'value="Local/8001@agents/n"' in html

    bad = await client.post(
        "/admin/users/agent1",
        data={"_csrf": csrf, "display_name": "王坐席", "role": "unit_handler"},
    )
    assert bad.status == 400 and "承办单位角色须选择一个单位" in await bad.text()
    assert (await as_agent("/desk")).status == 200  # nothing changed, still signed in

    saved = await client.post(
        "/admin/users/agent1",
        allow_redirects=False,
        data={
            "_csrf": csrf,
            "display_name": "王坐席",
            "role": "agent",
            "agent_interface": "Local/8002@agents/n",
            "agent_member_name": "坐席2",
        },
    )
    assert saved.status == 303
    html = await (await client.get(saved.headers["Location"])).text()
    assert "已保存" in html and 'value="王坐席"' in html and 'value="坐席2"' in html
    assert (await as_agent("/desk")).status == 200  # same role: the session goes on

    moved = await client.post(
        "/admin/users/agent1",
        allow_redirects=False,
        data={"_csrf": csrf, "display_name": "王坐席", "role": "manager"},
    )
    assert moved.status == 303
    refused = await as_agent("/dashboard")
    assert refused.status in (302, 303) and "/login" in refused.headers["Location"]

    weak = await client.post("/admin/users/agent1/password", data={"_csrf": csrf, "password": "1"})
    assert weak.status == 400 and re.search(r'role="alert">[^<]*[\u4e00-\u9fff]', await weak.text())
    reset = await client.post(
        "/admin/users/agent1/password",
        allow_redirects=False,
        data={"_csrf": csrf, "password": "another-long-secret"},
    )
    assert reset.status == 303
    assert "已重设密码" in await (await client.get(reset.headers["Location"])).text()
    assert (await client.get("/admin/users/nobody")).status == 404
    jar.clear()
    await login(client, "agent1", "another-long-secret")
