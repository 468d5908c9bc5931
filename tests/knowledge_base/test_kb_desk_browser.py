"""The agent desk in real headless Chromium: the agent types a query with a typo, sees the
right article with highlighted snippets as they type, opens it and answers with it (用此答复)."""

from __future__ import annotations

import pytest

from hotline.web.app import create_app
from knowledge_base import service
from knowledge_base.importer import load_sample_articles
from tests.conftest import browser_login


@pytest.fixture
async def kb_server(aiohttp_client, settings, db, accounts):
    await load_sample_articles(db)
    return await aiohttp_client(create_app(settings, database=db))


async def test_agent_finds_a_typoed_query_and_answers_with_the_article(
    kb_server, db, browser, tmp_path
):
    from playwright.async_api import expect

    base = str(kb_server.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    assert page.url == base + "/desk"

    # 身份正 for 身份证: the agent mistyped; results come while typing.
    await page.locator("[data-testid=kb-q]").press_sequentially("身份正丢了", delay=60)
    first = page.locator("[data-testid=kb-hit]").first
    await expect(first).to_contain_text("居民身份证补领", timeout=5000)
    await expect(first.locator("mark").first).to_be_visible()
    await expect(first.locator("[data-testid=kb-tier]")).to_have_text("可直接答复")
    # Searches while typing are not counted as knowledge gaps.
    assert await service.list_gaps(db) == []

    await first.click()
    article = page.locator("[data-testid=kb-article]")
    await expect(article).to_be_visible()
    await expect(article).to_contain_text("办理单位")
    await expect(page.locator("#kb-a-id")).to_have_text("KB-0032")
    assert (await page.locator("#kb-a-materials li").count()) >= 1

    await page.click("[data-testid=kb-use]")
    await expect(page.locator("[data-testid=kb-use-status]")).to_contain_text("已记录")
    await page.screenshot(path=str(tmp_path / "desk.png"), full_page=True)

    [answer] = await service.list_answers(db)
    assert (answer.article_id, answer.version, answer.query) == ("KB-0032", 1, "身份正丢了")


async def test_agent_is_told_when_no_article_answers(kb_server, browser):
    from playwright.async_api import expect

    base = str(kb_server.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "agent1")
    # 社保卡挂失 mentions 盗刷, but nothing in the knowledge base is about credit cards.
    await page.locator("[data-testid=kb-q]").fill("信用卡被盗刷了怎么办")
    await expect(page.locator("#kb-status")).to_contain_text(
        "没有找到可直接答复的文章", timeout=5000
    )
    assert await page.locator("[data-testid=kb-hit]").count() == 0
