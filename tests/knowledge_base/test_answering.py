"""Whether a hit answers: spoken forms, concept links, key-term coverage, tiers, cross-check."""

from __future__ import annotations

from importlib import resources

from knowledge_base.answering import DEFAULT_THRESHOLDS, Thresholds, missing_share
from knowledge_base.entries import make_entry
from knowledge_base.evaluation import CROSS_CHECK_GRID, LabelledQuery, cross_check, halves, tune
from knowledge_base.search import ArticleDoc, SearchIndex
from knowledge_base.synonyms import default_synonyms, load_synonyms


def doc(id_: str, title: str, *questions: str, answer: str = "") -> ArticleDoc:
    return ArticleDoc(id_, title, tuple(questions), answer, "测试")


def test_spoken_forms_are_rewritten_longest_first():
    syn = load_synonyms("", spoken="咋 怎么\n咋办 怎么办\n俺 我\n请问 -\n# 注释 行\n坏行\n")
    assert syn.rewrite("请问俺家咋办") == " 我家怎么办"
    assert syn.rewrite("咋申请") == "怎么申请"
    assert syn.rewrite("没有方言") == "没有方言"


def test_concept_links_are_one_way():
    syn = load_synonyms("", concepts="噪音 扰民 : 蹦跶 吵得慌\n# 注释\n坏行没有冒号\n")
    assert set(syn.aliases("噪音")) == {"蹦跶", "吵得慌"}
    assert set(syn.aliases("扰民")) == {"蹦跶", "吵得慌"}
    assert syn.aliases("蹦跶") == ()
    assert syn.aliases("吵得慌") == ()


def test_a_situation_finds_the_service_through_the_concept_vocabulary(articles):
    shipped = resources.files("knowledge_base").joinpath("data", "synonyms.txt")
    plain = SearchIndex.build(articles, load_synonyms(shipped.read_text("utf-8")))
    linked = SearchIndex.build(
        articles,
        load_synonyms(shipped.read_text("utf-8"), concepts="噪音 扰民 : 拖椅子 蹦跶 跺脚"),
    )
    query = "楼上那家天天晚上跺脚蹦跶"  # 邻居及社会生活噪音扰民 (KB-0183)
    assert "KB-0183" not in [h.id for h in plain.search(query)]
    assert [h.id for h in linked.search(query)][:1] == ["KB-0183"]


def test_key_term_left_uncovered_means_related_not_answer(index):
    # 社保卡挂失 mentions 盗刷, but the caller asks about a credit card.
    assert index.search("信用卡被盗刷了怎么办") == []
    # Its own question is answered.
    hits = index.search("社保卡被偷了怕被盗刷怎么办")
    assert hits and hits[0].id == "KB-0003" and hits[0].answers


def test_missing_share_of_a_query_without_key_terms_is_zero(index):
    entry = make_entry(doc("X", "社保卡挂失"), default_synonyms())
    assert missing_share((), entry) == 0.0


def test_answering_hits_come_before_related_ones(index, dev_queries):
    seen_related = False
    for q in dev_queries:
        hits = index.search(q.q, limit=5)
        if not hits:
            continue
        tiers = [h.answers for h in hits]
        assert tiers[0], q.q  # nothing is returned unless something answers
        assert tiers == sorted(tiers, reverse=True), q.q
        seen_related = seen_related or not all(tiers)
    assert seen_related


def test_stricter_thresholds_answer_less(articles):
    index = SearchIndex.build(articles, default_synonyms())
    query = "楼下饭店炒菜的油烟全飘我家窗户里了"
    assert index.search(query)
    index.thresholds = Thresholds(confident=101.0, answer=101.0, max_missing=0.0)
    assert index.search(query) == []
    index.thresholds = DEFAULT_THRESHOLDS
    assert index.search(query)


def test_halves_keep_the_mix_of_kinds():
    queries = [LabelledQuery(f"q{i}", (), kind) for i, kind in enumerate("aabbbcc")]
    first, second = halves(queries)
    assert [q.q for q in first] == ["q0", "q2", "q4", "q5"]
    assert [q.q for q in second] == ["q1", "q3", "q6"]


def test_cross_check_tunes_on_one_half_and_measures_the_other(articles, dev_queries):
    index = SearchIndex.build(articles, default_synonyms())
    checks = cross_check(index, dev_queries[::4])
    assert [c["tuned_on"] for c in checks] == ["first", "second"]
    for check in checks:
        for name, value in check["thresholds"].items():
            assert value in CROSS_CHECK_GRID[name]
        assert check["result"]["overall"]["queries"] > 0
    assert index.thresholds == DEFAULT_THRESHOLDS


def test_tune_keeps_the_middle_of_equally_good_thresholds():
    class Indifferent:
        """Answers the same whatever its thresholds: every grid point is as good."""

        thresholds = DEFAULT_THRESHOLDS

        def search(self, query, *, limit=5, category=None):
            return []

    searcher = Indifferent()
    assert tune(searcher, [LabelledQuery("随便问问", (), "no_answer")]) == DEFAULT_THRESHOLDS
    assert searcher.thresholds == DEFAULT_THRESHOLDS
