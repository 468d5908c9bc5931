"""What rescoring relies on to answer matches from the posting lists instead of searching text.

knowledge_base.scoring.Scorer reads a syllable pair or initials match from the posting lists,
and searches for a pair of characters only in articles listed under one of their reading
pairs. Both are exact only if the index keeps these properties, checked here on the sample
articles.
"""

from __future__ import annotations

import re

from knowledge_base.text import readings

_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")


def _sound_keys(py: str) -> set[str]:
    keys = set()
    for seg in py.split("|"):
        syl = seg.split()
        keys.update(f"{a} {b}" for a, b in zip(syl, syl[1:]))
    return keys


def test_a_syllable_pair_is_in_a_field_exactly_when_its_posting_list_has_the_article(index):
    head_lists, body_lists = index._post_head, index._post_body
    for slot, entry in enumerate(index._entries):
        head = _sound_keys(entry.head.py)
        body = _sound_keys(entry.body.py)
        for key in head | body:
            assert (f" {key} " in entry.head.py) == (key in head)
            assert (slot in head_lists.get(key, ())) == (key in head)
            assert (slot in body_lists.get(key, ())) == (key in body and key not in head)
    for key, slots in head_lists.items():
        if " " in key:
            assert all(f" {key} " in index._entries[s].head.py for s in slots)
        elif not key.startswith("="):
            assert all(key in index._entries[s].head.ini for s in slots)


def test_an_article_holding_two_characters_is_listed_under_a_pair_of_their_readings(index):
    head_lists, body_lists = index._post_head, index._post_body
    for slot, entry in enumerate(index._entries):
        # The answer's lists leave out keys the head has.
        fields = ((entry.head.text, (head_lists,)), (entry.body.text, (head_lists, body_lists)))
        for text, lists in fields:
            for pair in set(_CJK_PAIR.findall(text)):
                keys = [f"{x} {y}" for x in readings(pair[0]) for y in readings(pair[1])]
                listed = any(slot in pl.get(k, ()) for pl in lists for k in keys)
                assert listed, (entry.doc.id, pair)
