"""Rescoring of candidate articles: weighted coverage of the query's grams, 0..100.

An exact character match counts fully, a homophone match HOMOPHONE_CREDIT, a match in the
answer BODY_WEIGHT of one in the title, questions or keywords.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import AbstractSet, Collection, Mapping

from rapidfuzz import fuzz

from knowledge_base.entries import Entry, Field
from knowledge_base.query import Query
from knowledge_base.text import is_cjk, readings

# Relative weight of a match found only in the answer text (title and questions count 1.0).
BODY_WEIGHT = 0.55
# Credit for a character pair that matches only by sound (公基金 → 公积金).
HOMOPHONE_CREDIT = 0.8
# Score blend, see Scorer.
_W_HEAD, _W_TITLE, _W_ANY, _W_RATIO, _W_FOCUS = 0.38, 0.18, 0.28, 0.08, 0.08
# Occurrences in title/questions/keywords after which a term counts as the article's focus.
_FOCUS_SATURATION = 3


class Scorer:
    """Scores candidate articles against one query.

    A match of a gram in a field is tried channel by channel: its exact characters, else its
    syllables (HOMOPHONE_CREDIT when the gram was typed as characters), else its initials.

    Syllable pairs and initials are index keys, and a field's syllable channel holds a pair
    exactly when its posting list holds the article (syllables are whole tokens of that
    channel; see knowledge_base.entries.keys_of). So those channels are answered from the
    posting lists, restricted once per query to the candidates: searching the syllable
    strings of every candidate (four to five times longer than its text) cost more than
    everything else in rescoring.

    Characters are searched for, since the same characters may read differently in another
    context; but a field holding the characters "ab" holds one of the pairs of their readings
    (text.readings) as a key, so a pair of characters is only searched for in the articles
    whose posting lists of those keys have them.
    """

    __slots__ = ("_query", "_rows", "_specific")

    def __init__(
        self,
        query: Query,
        candidates: Collection[int],
        post_head: Mapping[str, list[int]],
        post_body: Mapping[str, list[int]],
    ) -> None:
        self._query = query
        among = set(candidates)
        # Candidates holding each key: head, answer but not head (a key may serve several grams).
        holders: dict[str, tuple[AbstractSet[int], AbstractSet[int]]] = {}

        def held(key: str) -> tuple[AbstractSet[int], AbstractSet[int]]:
            sets = holders.get(key)
            if sets is None:
                sets = (_among(post_head.get(key), among), _among(post_body.get(key), among))
                holders[key] = sets
            return sets

        rows = []
        for g in query.grams:
            credit = HOMOPHONE_CREDIT if g.homophone else 1.0
            text_head: AbstractSet[int] | None = None
            text_body: AbstractSet[int] | None = None
            in_head: AbstractSet[int] | None
            in_body: AbstractSet[int] | None
            if len(g.text) == 2 and is_cjk(g.text[0]) and is_cjk(g.text[1]):
                pairs = [held(f"{x} {y}") for x in readings(g.text[0]) for y in readings(g.text[1])]
                if len(pairs) == 1:
                    text_head = pairs[0][0]
                    text_body = pairs[0][0] | pairs[0][1]
                elif pairs:
                    text_head = set().union(*(h for h, _ in pairs))
                    text_body = text_head.union(*(b for _, b in pairs))
            if g.py and g.py.count(" ") == 3:
                sound, is_py = g.py, True
                in_head, in_body = held(g.py[1:-1])  # " a b " → "a b"
            elif g.ini:
                # Initials are indexed for the head only; the answer has no initials channel.
                sound, is_py = g.ini, False
                in_head, in_body = held(g.ini)[0], _NONE
            else:
                # A lone typed syllable (not a key) is searched for; "" when there is no sound.
                sound, is_py = g.py, True
                in_head = in_body = None
            rows.append(
                (g.text, text_head, text_body, sound, is_py, in_head, in_body, g.weight, credit)
            )
        # text: characters to find, and the candidates whose head / head or answer may hold
        # them (None: any); sound: py or initials, whether it is py, the candidates whose head
        # has it and whose answer but not head has it (None: search); the gram's weight and
        # the credit of a sound match.
        self._rows = tuple(rows)
        self._specific = tuple(g.specific for g in query.grams)

    def score(self, slot: int, entry: Entry) -> float:
        """0..100 blend of how much of the query the article covers, and where.

        head: weighted share of the query found in title, questions or keywords;
        title: share found in the title alone (field weight);
        any: share found anywhere, answer matches discounted by BODY_WEIGHT;
        focus: how often the matched terms recur in title, questions and keywords (tf,
        saturating);
        ratio: similarity of the query to the whole title (prefers the exact article).
        """
        h, t, b = entry.head, entry.title, entry.body
        h_text = h.text
        head = title = anywhere = focus = 0.0
        for (
            text,
            text_head,
            text_body,
            sound,
            is_py,
            in_head,
            in_body,
            weight,
            credit,
        ) in self._rows:
            # A gram is in a field iff it occurs at least once: count() answers both.
            if text and (text_head is None or slot in text_head) and (n := h_text.count(text)):
                m = 1.0
            elif sound and (
                slot in in_head if in_head is not None else sound in (h.py if is_py else h.ini)
            ):
                m = credit
                n = (h.py if is_py else h.ini).count(sound)
            else:
                m = 0.0
            if m:
                head += weight * m
                if text and text in t.text:
                    title += weight
                elif sound and sound in (t.py if is_py else t.ini):
                    title += weight * credit
                focus += weight * (n if n < _FOCUS_SATURATION else _FOCUS_SATURATION)
                if m >= 1.0:
                    anywhere += weight
                elif m >= BODY_WEIGHT:
                    # No answer match (at most BODY_WEIGHT) can beat it.
                    anywhere += weight * m
                else:
                    # The answer's posting lists leave out keys the head has: search.
                    anywhere += weight * max(m, self._body_match(text, sound, is_py, credit, b))
                continue
            if text and (text_body is None or slot in text_body) and text in b.text:
                anywhere += weight * (1.0 * BODY_WEIGHT)
            elif sound and (
                slot in in_body if in_body is not None else sound in (b.py if is_py else b.ini)
            ):
                anywhere += weight * (credit * BODY_WEIGHT)
        return self._blend(entry, head, title, anywhere, focus / _FOCUS_SATURATION)

    @staticmethod
    def _body_match(text: str, sound: str, is_py: bool, credit: float, b: Field) -> float:
        if text and text in b.text:
            return 1.0 * BODY_WEIGHT
        if sound and sound in (b.py if is_py else b.ini):
            return credit * BODY_WEIGHT
        return 0.0

    def _blend(
        self, entry: Entry, head: float, title: float, anywhere: float, focus: float
    ) -> float:
        query = self._query
        total = query.total
        if query.flat_text:
            ratio = fuzz.ratio(query.flat_text, entry.title_plain) / 100.0
        else:
            ratio = (
                max(
                    fuzz.ratio(query.flat_letters, entry.title_letters),
                    fuzz.ratio(query.flat_letters, entry.title_initials),
                )
                / 100.0
            )
        return 100.0 * min(
            1.0,
            (_W_HEAD * head + _W_TITLE * title + _W_ANY * anywhere + _W_FOCUS * focus) / total
            + _W_RATIO * ratio,
        )

    def found(self, slot: int, entry: Entry) -> list[bool]:
        """For each gram of the query, whether it matches the article anywhere."""
        h, b = entry.head, entry.body
        return [
            bool(
                (
                    text
                    and (text_body is None or slot in text_body)
                    and (text in h.text or text in b.text)
                )
                or (
                    sound
                    and (
                        slot in in_head or slot in in_body
                        if in_head is not None and in_body is not None
                        else sound in h.py or sound in b.py
                        if is_py
                        else sound in h.ini or sound in b.ini
                    )
                )
            )
            for text, _, text_body, sound, is_py, in_head, in_body, _, _ in self._rows
        ]

    def evidence(self, found: list[bool]) -> int:
        """Number of specific query grams found anywhere in the article (found: see found())."""
        return sum(1 for specific, hit in zip(self._specific, found) if specific and hit)


_NONE: frozenset[int] = frozenset()


def _among(postings: list[int] | None, candidates: set[int]) -> AbstractSet[int]:
    """The candidates in a posting list (sorted by slot)."""
    if not postings:
        return _NONE
    # An intersection walks the list in C; a binary search per candidate costs about ten
    # steps of that walk (measured at 20k articles).
    if len(postings) <= 10 * len(candidates):
        return candidates.intersection(postings)
    n = len(postings)
    return {s for s in candidates if (i := bisect_left(postings, s)) < n and postings[i] == s}
