"""Whether a hit answers the query, or is only related to it.

A score says how much of the query an article covers, spread over character pairs; a caller's
question is answered only when the article covers each of the question's key terms. "信用卡被盗
刷了怎么办" shares 盗刷 with 社保卡挂失 and scores well there, but 信用卡, half of what was
asked, is nowhere in it: that article is related, it does not answer.

Key terms are the words of the query (rjieba), each weighted by how specific it is in the
index: the inverse document frequency of its rarest character pair (a word no article holds
weighs UNKNOWN_TERM_IDF); words made of question and function characters are dropped or count
little, single characters count SINGLE_CHAR_FACTOR. A term is covered by an article when its
characters occur in it (aliases included: synonyms and concepts are indexed with the article),
less when only its sound does (a typo), partly when some of its pairs do.

The decision (constants below, fitted on the dev queries and checked by halves, see
`hotline kb eval --cross-check`): a hit answers when its score reaches CONFIDENT_SCORE, or when
it reaches ANSWER_SCORE and no single key term left uncovered carries MAX_MISSING_SHARE of the
query's term weight or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

from knowledge_base.entries import Entry
from knowledge_base.text import FILLER, _jieba_cut, cjk_syllables, is_cjk

# A hit scoring this much answers whatever it leaves uncovered (title-like queries, typos).
CONFIDENT_SCORE = 50.0
# Below this score a hit never answers; between the two the key-term check decides.
ANSWER_SCORE = 24.0
# A key term left uncovered that carries this share of the query's term weight means the
# article is about something else.
MAX_MISSING_SHARE = 0.35


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The decision's constants, as one value (the cross-check tunes them on half the queries
    and measures the other half)."""

    confident: float = CONFIDENT_SCORE
    answer: float = ANSWER_SCORE
    max_missing: float = MAX_MISSING_SHARE


DEFAULT_THRESHOLDS = Thresholds()
# Weight of a word no article contains: about as specific as a term of one article in 50.
UNKNOWN_TERM_IDF = 4.0
SINGLE_CHAR_FACTOR = 0.5
# A word holding a function character ("单在", "卡能" — jieba glues them to their neighbours)
# counts this much; a word made only of them is dropped.
FUNCTION_FACTOR = 0.3
FUNCTION_CHARS = FILLER | frozenset("做弄办找从对跟和与及或很才再")
_IDF_CAP = 6.0
# Credit for a term matched by sound only, and the most a term matched by some of its pairs
# gets.
_SOUND_CREDIT = 0.8
_PAIR_CREDIT = 0.7


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    py: str  # " a b c " — the syllables of text, padded by spaces
    pairs: tuple[tuple[str, str], ...]  # (characters, " a b ") of each adjacent pair
    weight: float


def key_terms(
    segments: list[str],
    *,
    n_docs: int,
    key_df: Callable[[str], int],
    char_df: Mapping[str, int],
) -> tuple[Term, ...]:
    """Key terms of a query's normalised segments (see the module docstring)."""
    cut = _jieba_cut()
    terms: dict[str, Term] = {}

    def idf(df: int) -> float:
        return min(math.log(1.0 + n_docs / (df + 1.0)), _IDF_CAP)

    for segment in segments:
        for word in cut(segment):
            if word in terms or not all(map(is_cjk, word)) or FUNCTION_CHARS.issuperset(word):
                continue
            syllables = cjk_syllables(word)
            if len(word) == 1:
                df = char_df.get(word, 0)
                if df:
                    terms[word] = Term(word, f" {syllables[0]} ", (), idf(df) * SINGLE_CHAR_FACTOR)
                continue
            df = min(key_df(f"{a} {b}") for a, b in zip(syllables, syllables[1:]))
            weight = idf(df) if df else UNKNOWN_TERM_IDF
            if not FUNCTION_CHARS.isdisjoint(word):
                weight *= FUNCTION_FACTOR
            pairs = tuple(
                (word[i : i + 2], f" {syllables[i]} {syllables[i + 1]} ")
                for i in range(len(word) - 1)
            )
            terms[word] = Term(word, " " + " ".join(syllables) + " ", pairs, weight)
    return tuple(terms.values())


def _covered(term: Term, text: str, py: str) -> float:
    if term.text in text:
        return 1.0
    if term.py in py:
        return _SOUND_CREDIT
    if len(term.pairs) < 2:
        return 0.0
    found = sum(1.0 if t in text else _SOUND_CREDIT if s in py else 0.0 for t, s in term.pairs)
    return _PAIR_CREDIT * found / len(term.pairs)


def missing_share(terms: tuple[Term, ...], entry: Entry) -> float:
    """The largest share of the query's term weight that one term left uncovered by the
    article carries (0.0 when every term is covered or the query has none)."""
    total = sum(t.weight for t in terms)
    if total <= 0.0:
        return 0.0
    text = entry.head.text + "|" + entry.body.text
    py = entry.head.py + "|" + entry.body.py
    worst = 0.0
    for term in terms:
        missing = term.weight * (1.0 - _covered(term, text, py))
        if missing > worst:
            worst = missing
    return worst / total


def answers(
    score: float,
    terms: tuple[Term, ...],
    entry: Entry,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> bool:
    """Whether a hit with this score answers the query (see the module docstring)."""
    if score >= thresholds.confident:
        return True
    return score >= thresholds.answer and missing_share(terms, entry) < thresholds.max_missing
