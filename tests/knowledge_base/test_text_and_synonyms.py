from __future__ import annotations

import re

import pytest

from knowledge_base.synonyms import default_synonyms, load_synonyms
from knowledge_base.text import (
    _word_syllables,
    cjk_syllables,
    normalize,
    normalize_aligned,
    readings,
    split_pinyin,
)


def pieces(letters: str) -> list[str]:
    units = split_pinyin(letters)
    assert units is not None
    return [u.syllable or u.initial.upper() for u in units]


@pytest.mark.parametrize(
    "letters, expected",
    [
        ("shebaoka", ["she", "bao", "ka"]),
        ("gjj", ["G", "J", "J"]),
        ("gatxz", ["G", "A", "T", "X", "Z"]),  # mostly letters: read as initials
        ("shebaok", ["she", "bao", "K"]),  # unfinished last syllable
        ("xian", ["xian"]),
        ("lue", ["lve"]),
    ],
)
def test_split_pinyin(letters, expected):
    assert pieces(letters) == expected


def test_split_pinyin_rejects_absurd_length():
    assert split_pinyin("a" * 100) is None


def test_normalize():
    assert normalize("護照辦理") == "护照办理"
    assert normalize("ＩＣ卡，１２３４５！") == "ic卡 12345"
    assert normalize("  \x00😀 ") == ""


def test_normalize_aligned_maps_back_to_original():
    text = "㈠護照（补办）"
    flat, origin = normalize_aligned(text)
    assert len(flat) == len(origin)
    assert flat.replace(" ", "") == "一护照补办"
    for i, ch in enumerate(flat):
        if ch == "护":
            assert text[origin[i]] == "護"


def test_load_synonyms_format():
    syn = load_synonyms(
        "# comment line\n"
        "驾照 驾驶证, 駕駛執照  # trailing comment\n"
        "单独一个\n"
        "\n"
        "户口本、户口簿；户籍簿\n"
        "驾照 驾驶证 駕駛執照\n"
    )
    assert syn.groups == (("驾照", "驾驶证", "驾驶执照"), ("户口本", "户口簿", "户籍簿"))
    assert set(syn.aliases("驾照")) == {"驾驶证", "驾驶执照"}
    assert syn.aliases("单独一个") == ()


def test_synonym_aliases_are_one_hop():
    syn = load_synonyms("甲乙 丙丁\n丙丁 戊己\n")
    assert set(syn.aliases("丙丁")) == {"甲乙", "戊己"}
    assert set(syn.aliases("甲乙")) == {"丙丁"}


def test_synonym_find_prefers_longest_term_at_each_position():
    syn = load_synonyms("公积金 公基\n住房公积金 房基金\n")
    spans = syn.find("提取住房公积金")
    assert [(s.start, s.term) for s in spans] == [(2, "住房公积金"), (4, "公积金")]


def test_default_synonyms_are_broad():
    syn = default_synonyms()
    assert len(syn) >= 100
    assert "驾驶证" in syn.aliases("驾照")
    assert all(len(t) >= 2 for g in syn.groups for t in g if not t.isascii())


def test_syllables_are_single_tokens(articles):
    # The index answers syllable matches from its posting lists, which holds only if every
    # syllable is one token of the space-joined, "|"-separated syllable channel.
    for a in articles[:60]:
        for text in (a.title, a.answer):
            for run in re.findall(r"[\u4e00-\u9fff]+", normalize(text)):
                syllables = cjk_syllables(run)
                assert len(syllables) == len(run)
                assert all(s and s.split() == [s] and "|" not in s for s in syllables)
                # The index rules out articles for a character pair by these readings.
                assert all(s in readings(ch) for ch, s in zip(run, syllables))


def test_a_reading_that_is_not_a_token_falls_back_to_the_character(monkeypatch):
    import pypinyin

    monkeypatch.setattr(pypinyin, "lazy_pinyin", lambda word, **kw: ["", "a b", "x|y", "ka"])
    assert _word_syllables.__wrapped__("甲乙丙卡") == ("甲", "乙", "丙", "ka")
