"""Rescoring of candidate articles: weighted coverage of the query's grams, 0..100.

An exact character match counts fully, a homophone match HOMOPHONE_CREDIT, a match in the
answer BODY_WEIGHT of one in the title, questions or keywords.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from knowledge_base.entries import Entry, Field
from knowledge_base.query import Gram, Query

# Relative weight of a match found only in the answer text (title and questions count 1.0).
BODY_WEIGHT = 0.55
# Credit for a character pair that matches only by sound (公基金 → 公积金).
HOMOPHONE_CREDIT = 0.8
# Score blend, see rescore.
_W_HEAD, _W_TITLE, _W_ANY, _W_RATIO, _W_FOCUS = 0.38, 0.18, 0.28, 0.08, 0.08
# Occurrences in title/questions/keywords after which a term counts as the article's focus.
_FOCUS_SATURATION = 3


def evidence(query: Query, entry: Entry) -> int:
    """Number of specific query grams found anywhere in the article."""
    return sum(
        1
        for gram in query.grams
        if gram.specific and (match(gram, entry.head) or match(gram, entry.body))
    )


def match(gram: Gram, f: Field) -> float:
    if gram.text and gram.text in f.text:
        return 1.0
    if gram.py and gram.py in f.py:
        return HOMOPHONE_CREDIT if gram.homophone else 1.0
    if gram.ini and gram.ini in f.ini:
        return 1.0
    return 0.0


def _count(gram: Gram, f: Field) -> int:
    if gram.text and gram.text in f.text:
        return f.text.count(gram.text)
    if gram.py and gram.py in f.py:
        return f.py.count(gram.py)
    if gram.ini:
        return f.ini.count(gram.ini)
    return 0


def rescore(query: Query, entry: Entry) -> float:
    """0..100 blend of how much of the query the article covers, and where.

    head: weighted share of the query found in title, questions or keywords;
    title: share found in the title alone (field weight);
    any: share found anywhere, answer matches discounted by BODY_WEIGHT;
    focus: how often the matched terms recur in title, questions and keywords (tf, saturating);
    ratio: similarity of the query to the whole title (prefers the exact article).
    """
    head = title = anywhere = focus = 0.0
    for gram in query.grams:
        m_head = match(gram, entry.head)
        if m_head:
            head += gram.weight * m_head
            title += gram.weight * match(gram, entry.title)
            focus += gram.weight * min(_count(gram, entry.head), _FOCUS_SATURATION)
        if m_head < 1.0:
            m_body = match(gram, entry.body) * BODY_WEIGHT
            anywhere += gram.weight * max(m_head, m_body)
        else:
            anywhere += gram.weight
    return _blend(query, entry, head, title, anywhere, focus / _FOCUS_SATURATION)


def _blend(
    query: Query, entry: Entry, head: float, title: float, anywhere: float, focus: float
) -> float:
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
