"""Whatever an agent (or a stuck key, or a paste) sends, search answers quickly and never raises."""

from __future__ import annotations

import random

import pytest

from knowledge_base.search import SNIPPET_CHARS, Hit


@pytest.mark.parametrize(
    "query",
    [
        "",
        " ",
        "\t\n",
        "证",  # one character: too little to search
        "a",
        "。，！？",
        "😀😀😀",
        "\x00\x01\x02\x7f",
        "\u200b\u200d\ufeff",
        "————",
        "%%%",
        "' OR 1=1 --",
    ],
)
def test_unusable_queries_return_empty(index, query):
    assert index.search(query) == []


@pytest.mark.parametrize("query", [None, 42, b"\xe6\x8a\xa4\xe7\x85\xa7", ["护照"]])
def test_non_string_query_returns_empty(index, query):
    assert index.search(query) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -3])
def test_non_positive_limit_returns_empty(index, limit):
    assert index.search("护照遗失补发", limit=limit) == []


def test_limit_is_respected(index):
    assert len(index.search("公积金", limit=2)) == 2
    assert len(index.search("公积金", limit=50)) <= 50


def test_control_characters_and_emoji_inside_a_query_are_ignored(index):
    clean = index.search("护照遗失补发", limit=1)
    noisy = index.search("护照\x00遗失😀补\u200b发\x1b[0m", limit=1)
    assert [h.id for h in noisy] == [h.id for h in clean] == ["KB-0045"]


def test_mixed_scripts(index):
    assert [h.id for h in index.search("护照abc😀123遗失补发", limit=3)][:1] == ["KB-0045"]


def test_very_long_query_is_cut_not_slow(index):
    # 10k characters; only the start is read (RAW_QUERY_LIMIT).
    hits = index.search("护照遗失补发" + "啊" * 10_000, limit=3)
    assert hits and hits[0].id == "KB-0045"
    index.search("公积金" * 4000)
    index.search("gjj" * 4000)
    index.search("x" * 10_000)


def _well_formed(hits: list[Hit], limit: int) -> None:
    assert len(hits) <= limit
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    assert len({h.id for h in hits}) == len(hits)
    for h in hits:
        assert all(isinstance(t, str) and isinstance(f, bool) for t, f in h.snippet)
        assert sum(len(t) for t, _ in h.snippet) <= SNIPPET_CHARS + 2


def test_random_input_never_raises(index):
    rng = random.Random(12345)
    alphabets = [
        "护照身份证公积金社保卡驾驶证户口迁出补办提取噪音投诉",
        "護照辦理遷出補領",
        "abcdefghijklmnopqrstuvwxyz",
        "ＡＢＣ１２３",
        "0123456789",
        " \t\n\r\x00\x07\x1b",
        "，。！？、；：“”‘’（）《》【】…—·",
        "😀🚗🏠❤️\u200d\ufe0f",
        "аبحΩ한글ㄱㄴ",
        "\ud7ff\ue000\U0002a6d6\U00020000",
    ]
    for _ in range(400):
        length = rng.choice([1, 2, 3, 5, 8, 20, 300])
        query = "".join(rng.choice(rng.choice(alphabets)) for _ in range(length))
        limit = rng.choice([1, 3, 5])
        _well_formed(index.search(query, limit=limit), limit)
