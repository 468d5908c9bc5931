"""Rescoring of candidate articles: weighted coverage of the query's grams, 0..100.

An exact character match counts fully, a homophone match HOMOPHONE_CREDIT, a match in the
answer BODY_WEIGHT of one in the title, questions or keywords.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from knowledge_base.entries import Entry
from knowledge_base.query import Query

# Relative weight of a match found only in the answer text (title and questions count 1.0).
BODY_WEIGHT = 0.55
# Credit for a character pair that matches only by sound (公基金 → 公积金).
HOMOPHONE_CREDIT = 0.8
# Score blend, see Scorer.
_W_HEAD, _W_TITLE, _W_ANY, _W_RATIO, _W_FOCUS = 0.38, 0.18, 0.28, 0.08, 0.08
# Occurrences in title/questions/keywords after which a term counts as the article's focus.
_FOCUS_SATURATION = 3


class Scorer:
    """Scores articles against one query.

    A match of a gram in a field is tried channel by channel: its exact characters, else its
    syllables (HOMOPHONE_CREDIT when the gram was typed as characters), else its initials.
    Rescoring runs a few dozen times per search and was most of its cost, so the grams are
    unpacked into tuples once per query and the loop works on plain locals.
    """

    __slots__ = ("_query", "_rows", "_specific")

    def __init__(self, query: Query) -> None:
        self._query = query
        # (text, py, ini, weight, credit of a syllable match)
        self._rows = tuple(
            (g.text, g.py, g.ini, g.weight, HOMOPHONE_CREDIT if g.homophone else 1.0)
            for g in query.grams
        )
        self._specific = tuple(g.specific for g in query.grams)

    def score(self, entry: Entry) -> float:
        """0..100 blend of how much of the query the article covers, and where.

        head: weighted share of the query found in title, questions or keywords;
        title: share found in the title alone (field weight);
        any: share found anywhere, answer matches discounted by BODY_WEIGHT;
        focus: how often the matched terms recur in title, questions and keywords (tf,
        saturating);
        ratio: similarity of the query to the whole title (prefers the exact article).
        """
        h_text, h_py, h_ini = entry.head.text, entry.head.py, entry.head.ini
        head = title = anywhere = focus = 0.0
        for text, py, ini, weight, credit in self._rows:
            # A gram is in a field iff it occurs at least once: count() answers both.
            if text and (n := h_text.count(text)):
                m = 1.0
            elif py and (n := h_py.count(py)):
                m = credit
            elif ini and (n := h_ini.count(ini)):
                m = 1.0
            else:
                m = 0.0
            if m:
                head += weight * m
                t = entry.title
                if text and text in t.text:
                    title += weight
                elif py and py in t.py:
                    title += weight * credit
                elif ini and ini in t.ini:
                    title += weight
                focus += weight * min(n, _FOCUS_SATURATION)
                if m >= 1.0:
                    anywhere += weight
                    continue
                if m >= BODY_WEIGHT:
                    # No answer match (at most BODY_WEIGHT) can beat it.
                    anywhere += weight * m
                    continue
            b = entry.body
            if text and text in b.text:
                m_body = 1.0 * BODY_WEIGHT
            elif py and py in b.py:
                m_body = credit * BODY_WEIGHT
            elif ini and ini in b.ini:
                m_body = 1.0 * BODY_WEIGHT
            else:
                m_body = 0.0
            anywhere += weight * max(m, m_body)
        return self._blend(entry, head, title, anywhere, focus / _FOCUS_SATURATION)

    def _blend(
        self, entry: Entry, head: float, title: float, anywhere: float, focus: float
    ) -> float:
        query = self._query
        total = query.total
        if query.flat_text:
            ratio = fuzz.ratio(query.flat_text, entry.title_plain) / 100.0
        else:
            ratio = max(
                fuzz.ratio(query.flat_letters, entry.title_letters),
                fuzz.ratio(query.flat_letters, entry.title_initials),
            ) / 100.0
        return 100.0 * min(
            1.0,
            (_W_HEAD * head + _W_TITLE * title + _W_ANY * anywhere + _W_FOCUS * focus) / total
            + _W_RATIO * ratio,
        )

    def found(self, entry: Entry) -> list[bool]:
        """For each gram of the query, whether it matches the article anywhere."""
        h, b = entry.head, entry.body
        return [
            bool(
                (text and (text in h.text or text in b.text))
                or (py and (py in h.py or py in b.py))
                or (ini and (ini in h.ini or ini in b.ini))
            )
            for text, py, ini, _, _ in self._rows
        ]

    def evidence(self, found: list[bool]) -> int:
        """Number of specific query grams found anywhere in the article (found: see found())."""
        return sum(1 for specific, hit in zip(self._specific, found) if specific and hit)
