"""Learning from the agents: phrasings answered with become searchable (accepted by an editor
or by count), unanswered queries grouped by meaning, per-article usage for editors."""

from __future__ import annotations

import datetime as dt

import pytest

from hotline.web.app import create_app
from knowledge_base import learning, service
from knowledge_base import web as kb_web
from knowledge_base.importer import load_sample_articles
from knowledge_base.models import Gap
from tests.conftest import login

PHRASING = "给毛孩子上个牌"  # how callers ask for 犬只登记办理 (KB-0221); no article says so


@pytest.fixture
async def kb_client(aiohttp_client, settings, db, accounts):
    await load_sample_articles(db)
    return await aiohttp_client(create_app(settings, database=db))


async def ids_for(client, q):
    resp = await client.get("/api/v1/kb/search", params={"q": q, "record": "0"})
    assert resp.status == 200
    return [h["id"] for h in (await resp.json())["hits"]]


async def answer(client, csrf, article_id, query):
    resp = await client.post(
        f"/api/v1/kb/articles/{article_id}/answers",
        headers={"X-CSRF-Token": csrf},
        json={"query": query},
    )
    assert resp.status == 201, await resp.text()


async def test_an_editor_accepts_a_phrasing_and_search_finds_the_article_by_it(kb_client, db):
    agent = await login(kb_client, "agent1")
    assert "KB-0221" not in (await ids_for(kb_client, PHRASING))[:1]
    await answer(kb_client, agent, "KB-0221", PHRASING)
    await answer(kb_client, agent, "KB-0221", f"{PHRASING}！")  # the same once normalised
    await answer(kb_client, agent, "KB-0221", "犬只登记")  # already the article's title
    assert (await kb_client.get("/api/v1/kb/phrasings")).status == 403

    editor = await login(kb_client, "editor")
    body = await (await kb_client.get("/api/v1/kb/phrasings")).json()
    [suggestion] = [p for p in body["phrasings"] if p["article_id"] == "KB-0221"]
    assert (suggestion["uses"], suggestion["agents"]) == (2, 1)
    page = await (await kb_client.get("/kb/learning")).text()
    assert PHRASING in page and "采纳" in page

    resp = await kb_client.post(
        "/kb/learning/KB-0221/phrasings",
        data={"_csrf": editor, "phrasing": suggestion["phrasing"]},
        allow_redirects=False,
    )
    assert resp.status == 303
    article = await service.get_article(db, _editor_principal(), "KB-0221")
    assert suggestion["phrasing"] in article.keywords and article.version == 2
    [latest, *_] = await service.list_versions(db, "KB-0221")
    assert latest.note.startswith("采纳坐席问法") and latest.author == "editor"
    assert (await ids_for(kb_client, PHRASING))[:1] == ["KB-0221"]
    body = await (await kb_client.get("/api/v1/kb/phrasings")).json()
    assert all(p["article_id"] != "KB-0221" for p in body["phrasings"])
    # Accepting again changes nothing; bad phrasings are a 400 in the one error shape.
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-0221/phrasings",
        headers={"X-CSRF-Token": editor},
        json={"phrasing": PHRASING},
    )
    assert resp.status == 200 and (await resp.json())["changed"] is False
    for bad in ("狗", "长" * 51):
        resp = await kb_client.post(
            "/api/v1/kb/articles/KB-0221/phrasings",
            headers={"X-CSRF-Token": editor},
            json={"phrasing": bad},
        )
        assert resp.status == 400 and (await resp.json())["error"]["message_zh"]
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-9999/phrasings",
        headers={"X-CSRF-Token": editor},
        json={"phrasing": PHRASING},
    )
    assert resp.status == 404


def _editor_principal():
    from hotline.auth import Principal
    from hotline.models import Role

    return Principal(user_id=0, username="editor", role=Role.KB_EDITOR, display_name="editor")


async def test_a_phrasing_used_often_enough_is_accepted_by_count(kb_client, db, monkeypatch):
    monkeypatch.setattr(learning, "AUTO_ACCEPT_USES", 2)
    agent = await login(kb_client, "agent1")
    await answer(kb_client, agent, "KB-0221", PHRASING)
    assert (await service.list_versions(db, "KB-0221"))[0].version == 1
    await answer(kb_client, agent, "KB-0221", PHRASING)
    [latest, *_] = await service.list_versions(db, "KB-0221")
    assert (latest.version, latest.author) == (2, learning.AUTO_ACTOR)
    # This process applied its own change at once.
    assert (await ids_for(kb_client, PHRASING))[:1] == ["KB-0221"]
    await answer(kb_client, agent, "KB-0221", PHRASING)  # already a keyword: no new version
    assert (await service.list_versions(db, "KB-0221"))[0].version == 2


def _gap(id_: int, sample: str, count: int) -> Gap:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    return Gap(
        id=id_,
        query=sample,
        sample=sample,
        count=count,
        no_result_count=count,
        rejected_count=0,
        first_seen=now,
        last_seen=now,
    )


def test_gaps_are_grouped_by_meaning():
    groups = learning.group_gaps(
        [
            _gap(1, "电动自行车上牌去哪里办", 3),
            _gap(2, "彩票中奖了去哪里兑奖", 2),
            _gap(3, "电动车上牌在哪办", 4),
            _gap(4, "俺家电动自行车咋上牌", 1),
            _gap(5, "彩票兑奖地点", 1),
            _gap(6, "郑州马拉松怎么报名", 1),
        ]
    )
    assert [[g.id for g in group.gaps] for group in groups] == [[3, 1, 4], [2, 5], [6]]
    assert (groups[0].count, groups[0].sample) == (8, "电动车上牌在哪办")


async def test_editors_see_usage_per_article_and_the_weekly_share(kb_client, db):
    agent = await login(kb_client, "agent1")
    # Settled searches (record) count as reaching the articles shown first; typing does not.
    for q, record in (("身份证丢了", "1"), ("身份证丢了怎么补", "1"), ("身份证丢", "0")):
        resp = await kb_client.get("/api/v1/kb/search", params={"q": q, "record": record})
        assert (await resp.json())["hits"][0]["id"] == "KB-0032"
    nothing = await kb_client.get("/api/v1/kb/search", params={"q": "火星移民签证怎么办理"})
    assert (await nothing.json())["gap_recorded"] is True
    resp = await kb_client.post(
        "/api/v1/kb/gaps", headers={"X-CSRF-Token": agent}, json={"query": "社保卡丢了在外地能补吗"}
    )
    assert resp.status == 201
    assert await kb_client.server.app[kb_web.LIVE_INDEX].flush_reached(db) >= 1
    await answer(kb_client, agent, "KB-0032", "身份证丢了")
    await answer(kb_client, agent, "KB-0032", "身份证丢了怎么补")
    resp = await kb_client.post(
        "/api/v1/kb/articles/KB-0032/flags",
        headers={"X-CSRF-Token": agent},
        json={"kind": "outdated", "note": "工本费已调整"},
    )
    assert resp.status == 201
    assert (await kb_client.get("/api/v1/kb/usage")).status == 403
    assert (await kb_client.get("/kb/learning")).status == 403

    await login(kb_client, "boss")  # managers read, editors also accept
    body = await (await kb_client.get("/api/v1/kb/usage")).json()
    top = body["articles"][0]
    assert (
        top["article_id"],
        top["reached"],
        top["reached_week"],
        top["answers"],
        top["answers_week"],
        top["flags"],
        top["open_flags"],
    ) == ("KB-0032", 2, 2, 2, 2, 1, 1)
    this_week = body["weeks"][0]
    assert (this_week["answered"], this_week["unanswered"]) == (2, 2)
    assert this_week["share"] == 0.5 and len(body["weeks"]) == 8
    assert body["weeks"][1]["share"] is None
    page = await (await kb_client.get("/kb/learning")).text()
    assert "现场答复率" in page and "50.0%" in page
    assert "文章使用情况" in page and "KB-0032" in page and '<button type="submit">采纳' not in page
    groups = await (await kb_client.get("/api/v1/kb/gaps/groups")).json()
    assert [g["sample"] for g in groups["groups"]] == [
        "火星移民签证怎么办理",
        "社保卡丢了在外地能补吗",
    ]
