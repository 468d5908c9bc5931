from __future__ import annotations


def test_category_filter_keeps_only_that_category(index, articles):
    by_id = {a.id: a for a in articles}
    hits = index.search("投诉", limit=10, category="文化旅游")
    assert hits
    assert all(by_id[h.id].category == "文化旅游" for h in hits)


def test_category_filter_finds_matches_outside_the_unfiltered_top(index, articles):
    by_id = {a.id: a for a in articles}
    # 补领 is mostly about certificates; within 民政婚姻 it is the marriage certificate.
    unfiltered = index.search("证件遗失补领", limit=3)
    assert all(by_id[h.id].category != "民政婚姻" for h in unfiltered)
    filtered = index.search("证件遗失补领", limit=3, category="民政婚姻")
    assert filtered and all(by_id[h.id].category == "民政婚姻" for h in filtered)


def test_unknown_category_returns_empty(index):
    assert index.search("护照遗失补发", category="不存在的分类") == []


def test_no_filter_means_all_categories(index):
    assert index.search("护照遗失补发", category=None)[0].id == "KB-0045"
