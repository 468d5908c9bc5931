"""Snippets: an excerpt of a question or the answer with the matched spans marked."""

from __future__ import annotations

from knowledge_base.search import SNIPPET_CHARS


def text_of(hit) -> str:
    return "".join(t for t, _ in hit.snippet)


def marked(hit) -> str:
    return "".join(t for t, hit_ in hit.snippet if hit_)


def source_texts(articles, article_id):
    a = next(a for a in articles if a.id == article_id)
    return [*a.questions, a.answer]


def test_snippet_is_an_excerpt_with_marks(index, articles):
    hit = index.search("社保卡挂失")[0]
    assert hit.id == "KB-0003"
    body = text_of(hit).strip("…")
    assert any(body in t for t in source_texts(articles, hit.id))
    assert "挂失" in marked(hit)
    # Pieces alternate: consecutive pieces never share the same flag (except around "…").
    flags = [f for t, f in hit.snippet if t != "…"]
    assert all(a != b for a, b in zip(flags, flags[1:]))


def test_long_answer_is_cut_around_the_hits(index):
    hit = index.search("新卡领取后需重新激活", limit=1)[0]
    assert len(text_of(hit)) <= SNIPPET_CHARS + 2
    assert "激活" in marked(hit)


def test_homophone_typo_marks_the_correct_word(index):
    hit = index.search("公基金租房提取")[0]
    assert hit.id == "KB-0023"
    assert "公积金" in marked(hit)


def test_pinyin_query_marks_the_words(index):
    hit = index.search("shebaoka guashi")[0]
    assert hit.id == "KB-0003"
    assert "挂失" in marked(hit)


def test_synonym_marks_the_article_term(index):
    hit = index.search("驾照丢了怎么补")[0]
    assert hit.id == "KB-0122"
    # The article says 驾照 in a question; either it or 驾驶证 must be marked.
    assert "驾照" in marked(hit) or "驾驶证" in marked(hit)


def test_traditional_query_marks_simplified_text(index):
    hit = index.search("護照遺失補發")[0]
    assert hit.id == "KB-0045"
    assert "护照" in marked(hit)
