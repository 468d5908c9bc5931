"""Query parsing for the knowledge-base search: the grams a query is scored by, and its keys.

A query is normalised and cut into units like article text (knowledge_base.text); a latin run
is a known word of the index or else typed pinyin. Grams are what rescoring looks for in an
article: character pairs (with their syllables, so homophone typos match), typed syllable
pairs, initials pairs and triples, latin and digit words, single characters. Keys are the
index keys the candidates are gathered from, each with its IDF weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, NamedTuple

from knowledge_base.answering import Term, key_terms
from knowledge_base.entries import LITERAL, segments_of
from knowledge_base.text import (
    FILLER,
    QUERY_UNIT_LIMIT,
    RAW_QUERY_LIMIT,
    Unit,
    is_cjk,
    segment_units,
    split_pinyin,
    units,
)

# A pair is specific (counts as evidence, see search.MIN_EVIDENCE) when its IDF is at least
# SPECIFIC_IDF (held by under ~15 % of articles) and it has no function character.
SPECIFIC_IDF = 2.0
# Single characters count less than character pairs: they carry less meaning.
UNIGRAM_FACTOR = 0.35
# A pair made only of function words and fillers (text.FILLER) barely counts.
FILLER_FACTOR = 0.15
# Inverse document frequency is capped so that scores mean the same at 200 and at 100k articles:
# past this rarity (1 document in ~400) a term is simply "specific".
IDF_CAP = 6.0
# Weight of a query pair or character that no article contains (a typo, a filler word, a word
# from another domain): it still lowers every score, but less than a rare known term would.
UNKNOWN_IDF = 3.0
_MIN_QUERY_CHARS = 2


class Gram(NamedTuple):
    text: str  # exact normalised characters to find ("" for typed pinyin)
    py: str  # " s1 s2 " to find in the syllable channel ("" if none)
    ini: str  # initials to find ("" if none)
    weight: float
    homophone: bool  # a py-only match is a sound-alike, not what was typed
    specific: bool  # counts as evidence (see MIN_EVIDENCE)
    bonus: bool = False  # adds to a score when found, not to the query's total weight


@dataclass(frozen=True, slots=True)
class Query:
    grams: tuple[Gram, ...]
    keys: tuple[tuple[str, float], ...]
    total: float
    flat_text: str
    flat_letters: str
    terms: tuple[Term, ...] = ()  # key terms, for whether a hit answers (answering.py)


def parse_query(
    query: str,
    *,
    n_docs: int,
    key_df: Callable[[str], int],
    char_df: Mapping[str, int],
    latin_df: Mapping[str, int],
) -> Query | None:
    """Grams and keys of a query, weighted by the index's document frequencies (n_docs >= 1);
    None when too little of it is left to search."""
    segments = segments_of(query[:RAW_QUERY_LIMIT])
    seg_units: list[list[Unit]] = []
    budget = QUERY_UNIT_LIMIT
    for segment in segments:
        out = list(_units_of_query(segment, latin_df))[:budget]
        budget -= len(out)
        if out:
            seg_units.append(out)
        if budget <= 0:
            break
    n_text = sum(len(u.text) for seg in seg_units for u in seg)
    n_letters = sum(1 for seg in seg_units for u in seg if u.typed_pinyin)
    if n_text + n_letters < _MIN_QUERY_CHARS:
        return None

    grams: dict[tuple[str, str, str], Gram] = {}
    keys: dict[str, float] = {}

    def idf(df: int) -> float:
        if df == 0:
            return UNKNOWN_IDF
        return min(math.log(1.0 + n_docs / (df + 1.0)), IDF_CAP)

    # The first gram of each (text, py, initials) is kept; a key keeps its first place and
    # its last weight.
    for seg in seg_units:
        for a, b in zip(seg, seg[1:]):
            if a.text and b.text:
                key = f"{a.syllable} {b.syllable}"
                text = a.text + b.text
                weight = idf(key_df(key)) * _filler_factor(text)
                if (text, f" {key} ", "") not in grams:
                    specific = weight >= SPECIFIC_IDF and not has_filler(text)
                    gram = Gram(text, f" {key} ", "", weight, True, specific)
                    grams[(text, gram.py, "")] = gram
            elif a.syllable and b.syllable:
                key = f"{a.syllable} {b.syllable}"
                weight = idf(key_df(key))
                if ("", f" {key} ", "") not in grams:
                    gram = Gram("", f" {key} ", "", weight, False, weight >= SPECIFIC_IDF)
                    grams[("", gram.py, "")] = gram
            else:
                key = a.initial + b.initial
                weight = idf(key_df(key))
                if ("", "", key) not in grams:
                    grams[("", "", key)] = Gram("", "", key, weight, False, False)
            keys[key] = weight
        for a, b, c in zip(seg, seg[1:], seg[2:]):
            if (
                len(b.text) == 1
                and b.text in FILLER
                and a.text
                and c.text
                and not has_filler(a.text + c.text)
            ):
                # Colloquial insertions: 改个名, 交了费, 办个证 should still find 改名.
                # Only a bonus: an accidental pair must not lower every score.
                key = f"{a.syllable} {c.syllable}"
                weight = idf(key_df(key))
                text = a.text + c.text
                if (text, f" {key} ", "") not in grams:
                    gram = Gram(text, f" {key} ", "", weight, True, weight >= SPECIFIC_IDF, True)
                    grams[(text, gram.py, "")] = gram
                keys[key] = weight
            if not (a.text and b.text and c.text) and not (
                a.syllable and b.syllable and c.syllable
            ):
                # Runs of typed initials: triples are far more selective than pairs.
                key = a.initial + b.initial + c.initial
                weight = idf(key_df(key))
                if ("", "", key) not in grams:
                    grams[("", "", key)] = Gram("", "", key, weight, False, weight >= SPECIFIC_IDF)
                keys[key] = weight
        for u in seg:
            if len(u.text) > 1:
                # A latin or digit word (app, ktv, 12345) means as much as a character pair.
                key = LITERAL + u.text
                weight = idf(key_df(key))
                if (u.text, "", "") not in grams:
                    grams[(u.text, "", "")] = Gram(
                        u.text, "", "", weight, False, weight >= SPECIFIC_IDF
                    )
                keys[key] = weight
            elif u.text:
                if (u.text, "", "") not in grams:
                    df = char_df.get(u.text, 0)
                    weight = idf(df) * UNIGRAM_FACTOR * _filler_factor(u.text)
                    grams[(u.text, "", "")] = Gram(u.text, "", "", weight, False, False)
            elif u.syllable:
                # No syllable df is kept; a typed lone syllable is weak evidence anyway.
                if ("", f" {u.syllable} ", "") not in grams:
                    gram = Gram("", f" {u.syllable} ", "", UNIGRAM_FACTOR, False, False)
                    grams[("", gram.py, "")] = gram
    if not grams:
        return None
    total = sum(g.weight for g in grams.values() if not g.bonus)
    if total <= 0:
        return None
    flat_text = "".join(u.text for seg in seg_units for u in seg)
    flat_letters = "".join(u.syllable or u.initial for seg in seg_units for u in seg)
    return Query(
        grams=tuple(grams.values()),
        keys=tuple(keys.items()),
        total=total,
        flat_text=flat_text,
        flat_letters=flat_letters,
        terms=key_terms(segments, n_docs=n_docs, key_df=key_df, char_df=char_df),
    )


def _units_of_query(segment: str, latin_df: Mapping[str, int]) -> Iterator[Unit]:
    """Query units: CJK runs get syllables; a latin run is a known word or else typed pinyin."""
    run: list[str] = []
    for u in units(segment):
        if len(u) == 1 and is_cjk(u):
            run.append(u)
            continue
        if run:
            yield from segment_units("".join(run))
            run.clear()
        if u.isdigit() or latin_df.get(u, 0) > 0:
            yield Unit(u, u, u[0])
            continue
        typed = split_pinyin(u)
        if typed is None:
            yield Unit(u, u, u[0])
        else:
            yield from typed
    if run:
        yield from segment_units("".join(run))


def has_filler(text: str) -> bool:
    return not FILLER.isdisjoint(text)


def _filler_factor(text: str) -> float:
    if FILLER.issuperset(text):
        return FILLER_FACTOR
    if FILLER.isdisjoint(text):
        return 1.0
    return 0.6
