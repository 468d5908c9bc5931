"""Search over HTTP against the per-process live index: results, bad input, visibility of
publish / edit / retire across two app instances on one database, and what agents record
(answered with, flags, gaps)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from hotline.db import Database
from hotline.web.app import create_app
from knowledge_base import web as kb_web
from knowledge_base import wiring as kb_wiring
from knowledge_base import service
from knowledge_base.importer import load_sample_articles
from tests.conftest import login


@pytest.fixture
async def kb_client(aiohttp_client, settings, db, accounts):
    """The app over a database holding the sample knowledge base (240 published articles)."""
    await load_sample_articles(db)
    return await aiohttp_client(create_app(settings, database=db))


@pytest.fixture
async def other_db(db, db_template):
    """A second engine on the same database, as a second process would have."""
    if db_template.sqlite_file is not None:
        other = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    else:
        other = Database.from_url(db_template.url, connect_args=db_template.connect_args)
    yield other
    await other.dispose()


async def headers_for(client, username):
    return {"X-CSRF-Token": await login(client, username)}


async def search(client, q, **params):
    resp = await client.get("/api/v1/kb/search", params={"q": q, **params})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_search_returns_hits_with_highlighted_snippets(kb_client):
    await login(kb_client, "agent1")
    body = await search(kb_client, "社保卡丢了怎么办", limit=3)
    assert body["hits"][0]["id"] in (
        "KB-0001",
        "KB-0003",
    )  # 补办 / 挂失 of the social security card
    hit = body["hits"][0]
    assert hit["category"] == "社会保障" and hit["version"] == 1 and 0 < hit["score"] <= 100
    assert any(s["hit"] for s in hit["snippet"]) and "".join(s["text"] for s in hit["snippet"])
    assert len(body["hits"]) <= 3 and body["notice"] is None
    # Each hit says whether it answers the question or is only related, in words.
    assert (hit["tier"], hit["tier_label"]) == ("answers", "可直接答复")
    for h in body["hits"]:
        assert (h["tier"], h["tier_label"]) in (("answers", "可直接答复"), ("related", "相关参考"))
    # A typo (homophone) and typed pinyin still find the housing fund articles.
    assert (await search(kb_client, "公基金提取"))["hits"][0]["category"] == "住房公积金"
    assert (await search(kb_client, "gongjijin tiqu"))["hits"][0]["category"] == "住房公积金"
    only = await search(kb_client, "补办", category="户籍身份", limit=10)
    assert only["hits"] and {h["category"] for h in only["hits"]} == {"户籍身份"}
    cats = await (await kb_client.get("/api/v1/kb/categories")).json()
    assert len(cats["categories"]) == 26 and sum(c["count"] for c in cats["categories"]) == 240


async def test_bad_queries_get_a_clear_answer(kb_client):
    await login(kb_client, "agent1")
    assert (await kb_client.get("/api/v1/kb/search")).status == 400
    for q in ("", "   ", "社", "a", "😀😀", "\x00\x01", "？？！"):
        body = await search(kb_client, q)
        assert body["hits"] == [] and body["notice"]["code"] == "too_short", repr(q)
    # Control characters and emoji around real words are ignored.
    assert (await search(kb_client, "\x00社保卡\x07丢了"))["hits"][0]["category"] == "社会保障"
    assert (await search(kb_client, "😀社保卡😀丢了"))["hits"][0]["category"] == "社会保障"
    # A query longer than a URL may be is refused by the HTTP layer with 400, never 500.
    resp = await kb_client.get("/api/v1/kb/search", params={"q": "社保卡" * 3400})
    assert resp.status == 400
    # The same text POSTed is searched on its first 256 characters.
    resp = await kb_client.post(
        "/api/v1/kb/search",
        json={"q": "社保卡丢了" + "啊" * 9995},
        headers={"X-CSRF-Token": await login(kb_client, "agent1")},
    )
    body = await resp.json()
    assert resp.status == 200 and body["truncated"] is True
    resp = await kb_client.post(
        "/api/v1/kb/search",
        json={"q": "x" * 20_001},
        headers={"X-CSRF-Token": await login(kb_client, "agent1")},
    )
    assert resp.status == 400
    resp = await kb_client.post(
        "/api/v1/kb/search",
        json={"q": "\ud800社保卡丢了"},
        headers={"X-CSRF-Token": await login(kb_client, "agent1")},
    )
    assert resp.status == 200 and (await resp.json())["hits"]
    for params in (
        {"q": "社保", "limit": "0"},
        {"q": "社保", "limit": "51"},
        {"q": "社保", "limit": "ten"},
        {"q": "社保", "category": "长" * 51},
    ):
        resp = await kb_client.get("/api/v1/kb/search", params=params)
        assert resp.status == 400, params
        assert (await resp.json())["error"]["code"] == "invalid_input"
    resp = await kb_client.get("/api/v1/kb/search?q=%ff%fe%00%E7%A4%BE%E4%BF%9D")
    assert resp.status == 200


async def test_publish_edit_retire_reach_another_process(
    aiohttp_client, settings, db, other_db, accounts, monkeypatch
):
    monkeypatch.setattr(kb_wiring, "POLL_SECONDS", 0.2)
    editor_app = await aiohttp_client(create_app(settings, database=db))
    agent_app = await aiohttp_client(create_app(settings, database=other_db))
    editor = await headers_for(editor_app, "editor")
    await login(agent_app, "agent1")

    async def agent_sees(q, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            body = await search(agent_app, q, record="0")
            if predicate(body["hits"]):
                return body["hits"]
            assert time.monotonic() < deadline, f"not visible in time: {q} {body['hits']}"
            await asyncio.sleep(0.1)

    resp = await editor_app.post(
        "/api/v1/kb/articles",
        headers=editor,
        json={
            "title": "犬只登记办理",
            "category": "城市管理",
            "questions": ["养狗要去哪里登记"],
            "answer": "城区饲养犬只应当在取得犬只免疫证明后办理犬只登记，领取犬牌。",
        },
    )
    article = await resp.json()
    assert (await search(agent_app, "养狗登记", record="0"))["hits"] == []  # a draft

    await editor_app.post(f"/api/v1/kb/articles/{article['id']}/publish", headers=editor)
    # The editor's own process sees it at once; the other one after its next poll.
    assert (await search(editor_app, "养狗登记"))["hits"][0]["id"] == article["id"]
    hits = await agent_sees("养狗登记", lambda h: bool(h) and h[0]["id"] == article["id"])
    assert hits[0]["version"] == 2

    await editor_app.put(
        f"/api/v1/kb/articles/{article['id']}",
        headers=editor,
        json={
            "title": "犬只登记与年检",
            "category": "城市管理",
            "questions": ["养狗要去哪里登记"],
            "answer": "城区饲养犬只应当办理犬只登记，每年年检一次。",
            "base_version": 2,
        },
    )
    await agent_sees("犬只登记", lambda h: bool(h) and h[0]["title"] == "犬只登记与年检")

    await editor_app.post(f"/api/v1/kb/articles/{article['id']}/retire", headers=editor)
    await agent_sees("犬只登记", lambda h: all(x["id"] != article["id"] for x in h))

    # The agent's own app instance answers with the version it now holds.
    await editor_app.post(f"/api/v1/kb/articles/{article['id']}/publish", headers=editor)
    hits = await agent_sees("犬只登记", lambda h: bool(h) and h[0]["id"] == article["id"])
    assert hits[0]["version"] == 5


async def test_a_second_instance_starts_with_what_is_published(
    aiohttp_client, settings, db, other_db, accounts, monkeypatch
):
    # Only the explicit syncs below: a poll of the first instance in between (the second
    # instance's start can take longer than a poll period on a busy machine) would find
    # nothing left to sync.
    monkeypatch.setattr(kb_wiring, "POLL_SECONDS", 3600.0)
    first = await aiohttp_client(create_app(settings, database=db))
    await load_sample_articles(db)  # written behind the first instance's back
    second = await aiohttp_client(create_app(settings, database=other_db))
    await login(second, "agent1")
    assert (await search(second, "社保卡丢了"))["hits"]
    live = first.server.app[kb_web.LIVE_INDEX]
    assert await live.sync(db) == 240 and len(live.meta) == 240  # one big change: rebuilt
    assert await live.sync(db) == 0


@pytest.mark.expect_errors("hotline.kb")
async def test_poll_errors_are_logged_and_polling_goes_on(monkeypatch, caplog):
    monkeypatch.setattr(kb_wiring, "POLL_SECONDS", 0.01)

    class Flaky:
        calls = 0

        async def sync(self, db):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("database restarting")
            return 0

    with caplog.at_level(logging.ERROR, logger="hotline.kb"):
        task = asyncio.create_task(kb_wiring._poll(Flaky(), None))
        while Flaky.calls < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "applying changes failed" in caplog.text and "database restarting" in caplog.text


# ---------------------------------------------------------------------- answered with


async def test_answered_with_is_recorded_for_the_call(kb_client):
    agent = await headers_for(kb_client, "agent1")
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-0001/answers",
        headers=agent,
        json={"call_id": "1732520000.42", "query": "社保卡丢了\x00怎么办", "version": 1},
    )
    assert resp.status == 201, await resp.text()
    answer = await resp.json()
    assert answer["article_id"] == "KB-0001" and answer["version"] == 1
    assert answer["call_id"] == "1732520000.42" and answer["query"] == "社保卡丢了 怎么办"
    # Without a body: the current version, no call known.
    resp = await kb_client.post("/api/v1/kb/articles/KB-0003/answers", headers=agent)
    assert resp.status == 201 and (await resp.json())["call_id"] is None
    for path, body, status in [
        ("/api/v1/kb/articles/KB-9999/answers", {}, 404),
        ("/api/v1/kb/articles/KB-0001/answers", {"version": 7}, 404),
        ("/api/v1/kb/articles/KB-0001/answers", {"version": "1"}, 400),
        ("/api/v1/kb/articles/KB-0001/answers", {"call_id": "x" * 65}, 400),
    ]:
        resp = await kb_client.post(path, headers=agent, json=body)
        assert resp.status == status, (path, body)
    await kb_client.post("/logout", headers=agent)

    editor = await headers_for(kb_client, "editor")
    resp = await kb_client.post("/api/v1/kb/articles/KB-0001/answers", headers=editor, json={})
    assert resp.status == 403  # only agents answer calls
    await kb_client.post("/api/v1/kb/articles/KB-0003/retire", headers=editor)
    await kb_client.post("/logout", headers=editor)

    agent = await headers_for(kb_client, "agent1")
    resp = await kb_client.post("/api/v1/kb/articles/KB-0003/answers", headers=agent, json={})
    assert resp.status == 409
    assert (await kb_client.get("/api/v1/kb/answers")).status == 403
    await kb_client.post("/logout", headers=agent)

    await login(kb_client, "boss")
    answers = await (await kb_client.get("/api/v1/kb/answers?call_id=1732520000.42")).json()
    assert [a["article_id"] for a in answers["answers"]] == ["KB-0001"]
    counts = await (await kb_client.get("/api/v1/kb/answers/counts")).json()
    assert {c["article_id"]: c["count"] for c in counts["counts"]} == {"KB-0001": 1, "KB-0003": 1}
    counts = await (
        await kb_client.get("/api/v1/kb/answers/counts?since=2099-01-01T00:00:00%2B08:00")
    ).json()
    assert counts["counts"] == []
    assert (await kb_client.get("/api/v1/kb/answers/counts?since=soon")).status == 400


# ---------------------------------------------------------------------- flags


async def test_agents_flag_articles_and_editors_resolve_them(kb_client):
    agent = await headers_for(kb_client, "agent1")
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-0002/flags",
        headers=agent,
        json={"kind": "outdated", "note": "激活已经可以全程网办"},
    )
    assert resp.status == 201
    flag = await resp.json()
    assert flag["version"] == 1 and flag["status"] == "open"
    for body in (
        {"kind": "outdated", "note": "  "},
        {"kind": "boring", "note": "x"},
        {"kind": "wrong"},
    ):
        resp = await kb_client.post("/api/v1/kb/articles/KB-0002/flags", headers=agent, json=body)
        assert resp.status == 400, body
    assert (
        await kb_client.post(
            "/api/v1/kb/articles/KB-9999/flags", headers=agent, json={"kind": "wrong", "note": "x"}
        )
    ).status == 404
    assert (await kb_client.get("/api/v1/kb/flags")).status == 403
    assert (
        await kb_client.post(f"/api/v1/kb/flags/{flag['id']}/resolve", headers=agent, json={})
    ).status == 403
    await kb_client.post("/logout", headers=agent)

    # Unit handlers read published guides and may report them outdated too.
    unit = await headers_for(kb_client, "rsj")
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-0001/flags",
        headers=unit,
        json={"kind": "wrong", "note": "电话已变更"},
    )
    assert resp.status == 201
    await kb_client.post("/logout", headers=unit)

    editor = await headers_for(kb_client, "editor")
    flags = (await (await kb_client.get("/api/v1/kb/flags")).json())["flags"]
    assert [(f["article_id"], f["kind"], f["reporter"]) for f in flags] == [
        ("KB-0001", "wrong", "rsj"),
        ("KB-0002", "outdated", "agent1"),
    ]
    resp = await kb_client.post(
        f"/api/v1/kb/flags/{flag['id']}/resolve",
        headers=editor,
        json={"resolution": "已更新为第2版"},
    )
    assert (await resp.json())["status"] == "resolved"
    resp = await kb_client.post(f"/api/v1/kb/flags/{flag['id']}/resolve", headers=editor)
    assert resp.status == 409
    assert (await kb_client.post("/api/v1/kb/flags/999/resolve", headers=editor)).status == 404
    assert (await kb_client.post("/api/v1/kb/flags/abc/resolve", headers=editor)).status == 404
    open_flags = (await (await kb_client.get("/api/v1/kb/flags")).json())["flags"]
    assert [f["article_id"] for f in open_flags] == ["KB-0001"]
    resolved = (await (await kb_client.get("/api/v1/kb/flags?status=resolved")).json())["flags"]
    assert resolved[0]["resolved_by"] == "editor" and resolved[0]["resolution"] == "已更新为第2版"


# ---------------------------------------------------------------------- gaps


async def test_unanswered_queries_become_gaps(client, accounts):
    # An empty knowledge base answers nothing, whatever the engine's thresholds.
    kb_client = client
    agent = await headers_for(kb_client, "agent1")
    nothing = "火星移民签证怎么办理"
    body = await search(kb_client, nothing, record="0")  # still typing: not counted
    assert body["hits"] == [] and body["gap_recorded"] is False
    assert body["notice"] == {"code": "no_answer", "message": "没有找到可直接答复的文章"}
    body = await search(kb_client, nothing)
    assert body["gap_recorded"] is True
    await search(kb_client, "火星移民簽證怎麼辦理？")  # traditional, punctuation: the same gap
    await search(kb_client, "\x00火星移民签证怎么办理\x00")
    await search(kb_client, "社")  # too short to count
    resp = await kb_client.post(
        "/api/v1/kb/gaps", headers=agent, json={"query": "社保卡丢了在外地能补吗"}
    )
    assert resp.status == 201
    rejected = await resp.json()
    assert rejected["rejected_count"] == 1 and rejected["no_result_count"] == 0
    resp = await kb_client.post("/api/v1/kb/gaps", headers=agent, json={"query": "😀"})
    assert resp.status == 400
    assert (await kb_client.get("/api/v1/kb/gaps")).status == 403
    await kb_client.post("/logout", headers=agent)

    await login(kb_client, "boss")
    gaps = (await (await kb_client.get("/api/v1/kb/gaps")).json())["gaps"]
    assert [(g["query"], g["count"], g["no_result_count"]) for g in gaps] == [
        ("火星移民签证怎么办理", 3, 3),
        ("社保卡丢了在外地能补吗", 1, 0),
    ]
    assert gaps[0]["sample"] == "火星移民签证怎么办理"  # the latest as typed, cleaned
    resp = await kb_client.post(
        f"/api/v1/kb/gaps/{gaps[0]['id']}/resolve",
        headers={"X-CSRF-Token": await login(kb_client, "boss")},
    )
    assert resp.status == 403  # managers see gaps; editors resolve them

    editor = await headers_for(kb_client, "editor")
    resp = await kb_client.post(
        f"/api/v1/kb/gaps/{gaps[0]['id']}/resolve", headers=editor, json={"note": "不属于本市业务"}
    )
    assert resp.status == 200 and (await resp.json())["resolved_by"] == "editor"
    resp = await kb_client.post(
        f"/api/v1/kb/gaps/{gaps[1]['id']}/resolve", headers=editor, json={"article_id": "KB-9999"}
    )
    assert resp.status == 400
    gaps = (await (await kb_client.get("/api/v1/kb/gaps")).json())["gaps"]
    assert [g["query"] for g in gaps] == ["社保卡丢了在外地能补吗"]
    # It comes back when agents keep asking.
    await search(kb_client, nothing)
    gaps = (await (await kb_client.get("/api/v1/kb/gaps")).json())["gaps"]
    assert [(g["query"], g["count"]) for g in gaps][0] == ("火星移民签证怎么办理", 4)


async def test_concurrent_gap_counts_are_not_lost(db):
    await asyncio.gather(
        *(service.record_gap(db, "没有答案的问题", "no_result") for _ in range(20))
    )
    [gap] = await service.list_gaps(db)
    assert gap.count == 20
