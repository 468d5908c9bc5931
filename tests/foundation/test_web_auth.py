import re

import pytest

from tests.conftest import ACCOUNTS, CSRF_RE, PASSWORD, login

NAV_EXPECTED = {
    "agent": (
        "/desk",
        ["坐席工作台", "新建工单", "我的工单", "回访", "工单查询", "未接回拨", "承办单位"],
    ),
    "unit": ("/unit", ["本单位工单", "工单办理", "工单查询"]),
    "manager": (
        "/dashboard",
        [
            "运行监控",
            "工单审核",
            "工单查询",
            "超期督办",
            "承办单位",
            "派单目录",
            "知识缺口",
            "审计日志",
            "话务历史",
            "单位考核",
            "热点诉求",
            "排班建议",
            "月度报告",
            "外发通知",
            "登录锁定",
        ],
    ),
    "kb_editor": ("/kb/editor", ["知识库编辑", "知识缺口", "检索词表"]),
    "admin": ("/admin", ["系统管理", "承办单位", "审计日志", "登录锁定", "节假日安排", "语音导航"]),
}


@pytest.mark.parametrize("who", sorted(NAV_EXPECTED))
async def test_each_role_logs_in_to_its_home_with_its_navigation(client, accounts, who):
    home, labels = NAV_EXPECTED[who]
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    resp = await client.post(
        "/login",
        data={"username": ACCOUNTS[who].username, "password": PASSWORD, "_csrf": csrf},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == home
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    body = await (await client.get(home)).text()
    nav = re.search(r'<nav aria-label="主导航">(.*?)</nav>', body, re.S).group(1)
    assert re.findall(r">([^<]+)</a>", nav) == labels


async def test_wrong_password_is_refused_and_throttled(client, accounts):
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)
    for _ in range(5):
        resp = await client.post(
            "/login", data={"username": "root", "password": "wrong-pass", "_csrf": csrf}
        )
        assert resp.status == 401
        assert "用户名或密码错误" in await resp.text()
    resp = await client.post(
        "/login", data={"username": "root", "password": PASSWORD, "_csrf": csrf}
    )
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0


async def test_login_without_csrf_token_is_refused(client, accounts):
    await client.get("/login")
    resp = await client.post(
        "/login", data={"username": "root", "password": PASSWORD}, allow_redirects=False
    )
    assert resp.status == 403
    assert (await client.get("/api/v1/me")).status == 401


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client, accounts):
    page = await client.get("/login")
    csrf = CSRF_RE.search(await page.text()).group(1)

    async def answer(username: str) -> tuple[int, str]:
        resp = await client.post(
            "/login", data={"username": username, "password": "x" * 10, "_csrf": csrf}
        )
        # The page differs only by the CSRF token it embeds (it is the session's, not the user's).
        return resp.status, CSRF_RE.sub("", await resp.text())

    unknown, known = await answer("nobody"), await answer("root")
    assert unknown[0] == 401 and "用户名或密码错误" in unknown[1]
    assert unknown == known


async def test_pages_redirect_anonymous_users_to_login_and_refuse_wrong_roles(client, accounts):
    resp = await client.get("/admin", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] in (
        "/login?next=/admin",
        "/login?next=%2Fadmin",
    )
    await login(client, "agent1")
    resp = await client.get("/admin")
    assert resp.status == 403
    assert "没有权限" in await resp.text()


async def test_login_never_redirects_off_site(client, accounts):
    page = await client.get("/login?next=//evil.example/x")
    csrf = CSRF_RE.search(await page.text()).group(1)
    resp = await client.post(
        "/login",
        data={"username": "root", "password": PASSWORD, "_csrf": csrf, "next": "//evil.example/x"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/admin"


async def test_logout_needs_csrf_and_ends_the_session(client, accounts):
    csrf = await login(client, "boss")
    assert (await client.post("/logout", data={})).status == 403
    assert (await client.get("/api/v1/me")).status == 200
    resp = await client.post("/logout", data={"_csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/api/v1/me")).status == 401


async def test_admin_creates_a_unit_handler_through_the_form(client, accounts):
    csrf = await login(client, "root")
    resp = await client.post(
        "/admin/users",
        data={
            "_csrf": csrf,
            "username": "newbie",
            "display_name": "新人",
            "password": "long-enough-1",
            "role": "unit_handler",
            "unit_code": "ZZ-GJJ",
        },
    )
    assert resp.status == 200 and "已创建用户 newbie" in await resp.text()
    resp = await client.post(
        "/admin/users",
        data={
            "_csrf": csrf,
            "username": "newbie2",
            "display_name": "新人",
            "password": "long-enough-1",
            "role": "unit_handler",
            "unit_code": "",
        },
    )
    assert resp.status == 400 and "承办单位角色须选择一个单位" in await resp.text()
