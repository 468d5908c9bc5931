"""upsert / remove make a published, edited or retired article visible at the next search."""

from __future__ import annotations

import dataclasses

import pytest

from knowledge_base.search import ArticleDoc, SearchIndex
from knowledge_base.synonyms import default_synonyms

QUERIES = ["护照遗失补发", "gjj tq", "驾照丢了", "楼上邻居太吵", "公积金", "身分证补办"]


@pytest.fixture()
def fresh(articles) -> SearchIndex:
    return SearchIndex.build(articles, default_synonyms())


NEW = ArticleDoc(
    id="KB-9001",
    title="电动自行车登记上牌",
    questions=("电动车在哪里上牌", "电瓶车上牌要带什么"),
    answer="新购电动自行车应在购车之日起30日内到公安交管部门指定的登记点办理登记上牌。",
    category="交通出行",
)


def test_upsert_new_article_is_found(fresh):
    assert "KB-9001" not in [h.id for h in fresh.search("电动车上牌")]
    fresh.upsert(NEW)
    assert fresh.search("电动车上牌")[0].id == "KB-9001"
    assert fresh.search("ddc sp")[0].id == "KB-9001"
    assert "KB-9001" in fresh and len(fresh) == 241


def test_edit_replaces_old_text(fresh, articles):
    old = next(a for a in articles if a.id == "KB-0045")
    assert fresh.search("补发收费120元")[0].id == "KB-0045"
    fresh.upsert(
        dataclasses.replace(old, title="普通护照挂失补办", questions=(), answer="见窗口说明。")
    )
    assert len(fresh) == 240
    hits = fresh.search("护照挂失补办")
    assert hits[0].id == "KB-0045" and hits[0].title == "普通护照挂失补办"
    # Only the old answer gave the fee.
    assert "KB-0045" not in [h.id for h in fresh.search("补发收费120元", limit=10)]


def test_remove_hides_article(fresh):
    assert fresh.search("护照遗失补发")[0].id == "KB-0045"
    fresh.remove("KB-0045")
    assert "KB-0045" not in [h.id for h in fresh.search("护照遗失补发", limit=10)]
    assert "KB-0045" not in fresh and len(fresh) == 239
    fresh.remove("KB-0045")  # unknown now: ignored
    fresh.remove("no-such-id")


def test_upsert_then_remove_restores_previous_results(fresh):
    before = {q: fresh.search(q) for q in QUERIES}
    fresh.upsert(NEW)
    fresh.upsert(dataclasses.replace(NEW, title="电动自行车登记上牌（修订）"))
    fresh.remove("KB-9001")
    assert {q: fresh.search(q) for q in QUERIES} == before


def test_remove_then_reinsert_equals_fresh_build(fresh, articles, index):
    for a in articles[:30]:
        fresh.remove(a.id)
    for a in articles[:30]:
        fresh.upsert(a)
    for q in QUERIES:
        # Equal scores may come in another order (ties keep insertion order).
        assert [h.score for h in fresh.search(q)] == [h.score for h in index.search(q)]


def test_empty_index(articles):
    empty = SearchIndex.build([], default_synonyms())
    assert empty.search("护照遗失补发") == []
    empty.upsert(articles[0])
    assert empty.search(articles[0].title)[0].id == articles[0].id


def test_queries_parsed_before_a_change_are_weighted_by_the_index_after_it(fresh, articles):
    # Parsed queries are cached; their weights come from document frequencies.
    for q in QUERIES:
        fresh.search(q)
    for a in articles[:30]:
        fresh.remove(a.id)
    rebuilt = SearchIndex.build(articles[30:], default_synonyms())
    assert {q: fresh.search(q) for q in QUERIES} == {q: rebuilt.search(q) for q in QUERIES}
    fresh.upsert(NEW)
    rebuilt.upsert(NEW)
    assert {q: fresh.search(q) for q in QUERIES} == {q: rebuilt.search(q) for q in QUERIES}
