"""The knowledge-base pages as a browser submits them: editor list and forms, version diff,
flags, gaps, the read-only article page, and the search box on the agent desk."""

from __future__ import annotations

import re

from tests.conftest import CSRF_RE, login

FORM = {
    "title": "公租房申请条件",
    "category": "住房保障",
    "answer": "家庭人均收入低于标准的可申请。",
    "unit": "市住房保障中心",
    "time_limit": "20个工作日",
    "fee": "不收费",
    "contact": "0371-11112222",
    "basis": "《公共租赁住房管理办法》",
    "materials": "身份证\n户口簿\n\n收入证明",
    "questions": "公租房怎么申请\n租公租房要什么条件",
    "keywords": "公租房、廉租房",
    "policy_changed_at": "",
    "note": "首版",
}


async def editor_session(client):
    return await login(client, "editor")


async def test_editor_creates_edits_publishes_and_retires_through_forms(client, accounts):
    csrf = await editor_session(client)
    home = await client.get("/kb/editor")
    assert home.status == 200 and "新建文章" in await home.text()

    resp = await client.post("/kb/editor/new", data={**FORM, "title": "", "_csrf": csrf})
    assert resp.status == 400
    text = await resp.text()
    assert "请填写标题" in text and "家庭人均收入低于标准的可申请" in text  # kept

    resp = await client.post("/kb/editor/new", data={**FORM, "_csrf": csrf}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/kb/editor/KB-0001?saved=created"
    page = await (await client.get("/kb/editor/KB-0001?saved=created")).text()
    assert "已创建草稿" in page and "草稿" in page and "收入证明" in page
    assert 'name="base_version" value="1"' in page

    data = {
        **FORM,
        "fee": "免费",
        "base_version": "1",
        "note": "口径调整",
        "_csrf": csrf,
        "policy_changed_at": "2026-03-02T09:30",
    }
    resp = await client.post("/kb/editor/KB-0001", data=data, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].endswith("saved=saved")
    # The same form again (stale base version): a conflict, the editor's text kept.
    resp = await client.post("/kb/editor/KB-0001", data={**data, "fee": "另一个"})
    assert resp.status == 409
    text = await resp.text()
    assert (
        "请刷新后重新修改" in text
        and 'value="另一个"' in text
        and 'name="base_version" value="2"' in text
    )

    resp = await client.post(
        "/kb/editor/KB-0001/publish", data={"_csrf": csrf, "note": "上线"}, allow_redirects=False
    )
    assert resp.status == 303
    resp = await client.post("/kb/editor/KB-0001/publish", data={"_csrf": csrf})
    assert resp.status == 409 and "已是“已发布”状态" in await resp.text()
    page = await (await client.get("/kb/editor/KB-0001")).text()
    assert "已发布" in page and "与上一版对比" in page and "口径调整" in page
    # Published late for a policy change on 2026-03-02: flagged on the editor's list.
    home = await (await client.get("/kb/editor")).text()
    assert "超时更新" in home
    late = await (await client.get("/kb/editor?update=late")).text()
    assert "KB-0001" in late

    diff = await client.get("/kb/editor/KB-0001/diff?from=1&to=2")
    text = await diff.text()
    assert diff.status == 200
    assert '<del class="kb-diff">不收</del><ins class="kb-diff">免</ins>费' in text
    assert '<ins class="kb-diff">2026-03-02T09:30:00+08:00</ins>' in text  # policy change

    resp = await client.post(
        "/kb/editor/KB-0001/retire", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    article = await (await client.get("/kb/articles/KB-0001")).text()
    assert "本文已停用" in article and "公租房申请条件" in article

    resp = await client.post("/kb/editor/KB-0001/retire", data={})  # no CSRF token
    assert resp.status == 403


async def test_flags_and_gaps_on_the_pages(client, accounts):
    csrf = await editor_session(client)
    await client.post("/kb/editor/new", data={**FORM, "_csrf": csrf})
    await client.post("/kb/editor/KB-0001/publish", data={"_csrf": csrf})
    await client.post("/logout", data={"_csrf": csrf})

    agent = {"X-CSRF-Token": await login(client, "agent1")}
    await client.post(
        "/api/v1/kb/articles/KB-0001/flags",
        headers=agent,
        json={"kind": "wrong", "note": "电话<script>已换</script>"},
    )
    await client.post("/api/v1/kb/gaps", headers=agent, json={"query": "人才公寓怎么申请"})
    await client.post("/logout", headers=agent)

    csrf = await editor_session(client)
    home = await (await client.get("/kb/editor")).text()
    assert "电话&lt;script&gt;已换&lt;/script&gt;" in home  # escaped
    assert "人才公寓怎么申请" in home
    flag_id = re.search(r"/kb/editor/flags/(\d+)/resolve", home).group(1)
    resp = await client.post(
        f"/kb/editor/flags/{flag_id}/resolve",
        data={"_csrf": csrf, "resolution": "已核实", "back": "article"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/kb/editor/KB-0001"
    page = await (await client.get("/kb/editor/KB-0001")).text()
    assert "已处理：已核实" in page

    gaps = await (await client.get("/kb/gaps")).text()
    gap_id = re.search(r"/kb/gaps/(\d+)/resolve", gaps).group(1)
    resp = await client.post(
        f"/kb/gaps/{gap_id}/resolve",
        data={"_csrf": csrf, "article_id": "KB-0001", "note": "见公租房"},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert "人才公寓怎么申请" not in await (await client.get("/kb/gaps")).text()
    assert "KB-0001" in await (await client.get("/kb/gaps?all=1")).text()
    await client.post("/logout", data={"_csrf": csrf})

    # Managers see the gaps without the resolve form; agents do not see them at all.
    await login(client, "boss")
    page = await (await client.get("/kb/gaps?all=1")).text()
    assert "人才公寓怎么申请" in page and "/resolve" not in page
    assert (await client.get("/kb/editor")).status == 403
    await login(client, "agent1")
    assert (await client.get("/kb/gaps")).status == 403
    assert (await client.get("/kb/editor/new")).status == 403


async def test_desk_has_the_search_box(client, accounts):
    await login(client, "agent1")
    desk = await (await client.get("/desk")).text()
    assert 'id="kb-desk"' in desk and "/kb/static/kb.js" in desk and "用此答复" in desk
    assert CSRF_RE.search(desk)
    script = await client.get("/kb/static/kb.js")
    assert script.status == 200 and "DEBOUNCE_MS = 150" in await script.text()
    assert (await client.get("/kb/static/kb.css")).status == 200
