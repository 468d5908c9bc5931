"""Editors maintain the search vocabulary in a page: a caller's word linked to an article's
service term finds the article at once, in this process and (by the index's sync) in others;
a malformed line is refused with its line number; two editors do not overwrite each other."""

from __future__ import annotations

import re
from typing import Any

from hotline.accounts import issue_token
from knowledge_base import vocabulary
from knowledge_base.importer import load_sample_articles
from knowledge_base.service import LiveIndex
from tests.conftest import login

WORD = "咕噜卡"  # no article and no vocabulary list knows this word


async def search(client: Any, token: str, q: str) -> list[str]:
    resp = await client.get(
        "/api/v1/kb/search", params={"q": q}, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 200, await resp.text()
    return [h["id"] for h in (await resp.json())["hits"]]


async def test_an_editor_links_a_callers_word_to_an_article(
    client: Any, accounts: Any, db: Any
) -> None:
    await load_sample_articles(db)
    agent = await issue_token(db, "test", "agent1", "t")
    before = await search(client, agent, f"{WORD}丢了怎么补办")
    csrf = await login(client, "editor")
    page = await (await client.get("/kb/vocabulary")).text()
    version = re.search(
        r'data-testid="vocabulary-concepts">\s*<input type="hidden" '
        r'name="_csrf" value="[^"]+"><input type="hidden" name="version" '
        r'value="(\d+)"',
        page,
    ).group(1)
    assert version == "0" and "系统自带" in page
    shipped = (await vocabulary.lists(db))["concepts"].text

    bad = await client.post(
        "/kb/vocabulary/concepts",
        data={"_csrf": csrf, "version": version, "text": shipped + f"\n社保卡 {WORD}\n"},
    )
    text = await bad.text()
    assert bad.status == 400 and "应为“文章用语 : 市民说法”" in text
    assert re.search(r"第 \d+ 行", text) and f"社保卡 {WORD}" in text  # kept for correcting

    saved = await client.post(
        "/kb/vocabulary/concepts",
        allow_redirects=False,
        data={"_csrf": csrf, "version": version, "text": shipped + f"\n社保卡 : {WORD}\n"},
    )
    assert saved.status == 303
    assert "检索已按新词表重建" in await (await client.get(saved.headers["Location"])).text()
    after = await search(client, agent, f"{WORD}丢了怎么补办")
    assert after and after != before
    assert "社保卡" in (await vocabulary.lists(db))["concepts"].text

    # Another process's index takes the saved list on its next sync.
    other = LiveIndex()
    await other.load(db)
    assert [h.id for h in other.search(f"{WORD}丢了怎么补办")][:1] == after[:1]

    stale = await client.post(
        "/kb/vocabulary/concepts", data={"_csrf": csrf, "version": version, "text": shipped}
    )
    assert stale.status == 409 and "已被他人修改" in await stale.text()

    await login(client, "agent1")
    assert (await client.get("/kb/vocabulary")).status == 403
