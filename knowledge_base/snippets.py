"""Snippets of search hits: an excerpt of a question or the answer with the matches marked."""

from __future__ import annotations

import functools
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from operator import sub
from typing import Callable

from knowledge_base.entries import Entry
from knowledge_base.query import Gram, Query
from knowledge_base.synonyms import Synonyms
from knowledge_base.text import FILLER, cjk_syllables, is_cjk, normalize_aligned

SNIPPET_CHARS = 64
# Snippets locate matches in the articles' questions and answers, the same texts search after
# search: their normalised and syllable forms and synonym spans were ~35 % of the cost of a
# search (2.0 -> 1.3 ms per dev query here), so they are prepared once and kept in LRU caches
# of this many texts. Callers only read the cached values.
SNIPPET_CACHE = 8192
# A pair of initials inside running text longer than this is not marked (see _hit_mask).
_INITIALS_MARK_CHARS = 2 * SNIPPET_CHARS // 3


@dataclass(frozen=True, slots=True)
class _Text:
    """A question or answer prepared for locating matches."""

    flat: str  # normalize_aligned(text): one character per character of text
    origin: list[int] | None  # flat[i] comes from text[origin[i]]; None when that is i


def _prepare(text: str) -> _Text:
    flat, origin = normalize_aligned(text)
    return _Text(flat, None if origin == list(range(len(text))) else origin)


def _find_spans(synonyms: Synonyms, flat: str) -> tuple[tuple[int, int, str, str], ...]:
    """Synonym terms found in flat: (start, end, term, its aliases one per line)."""
    return tuple((s.start, s.end, s.term, "\n".join(s.aliases)) for s in synonyms.find(flat))


@dataclass(frozen=True, slots=True)
class _Sounds:
    """Syllable and initial of each character of a flat text, for locating sound-alike and
    typed-pinyin matches. A CJK character's syllable is one token (no space, never empty:
    text.cjk_syllables); any other character is its own syllable, a space included."""

    # " s0 s1 s2 … ": a gram's " a b " starts at the space before a syllable wherever it is
    # found, so one str.find locates it.
    line: str
    starts: list[int]  # line[starts[i]] is the space before syllable i
    initials: str  # one letter (or " ") per character

    def has(self, py: str) -> bool:
        """Whether some characters have the syllables of py (" a b ")."""
        return py in self.line

    def positions(self, py: str) -> list[tuple[int, int]]:
        """(start, end) character ranges whose syllables are those of py (" a b ")."""
        n = py.count(" ") - 1
        out: list[tuple[int, int]] = []
        line, starts = self.line, self.starts
        at = line.find(py)
        while at >= 0:
            i = bisect_left(starts, at)
            out.append((i, i + n))
            at = line.find(py, at + 1)
        return out


_prepared = functools.lru_cache(maxsize=SNIPPET_CACHE)(_prepare)


@functools.lru_cache(maxsize=SNIPPET_CACHE)
def _sounds(flat: str) -> _Sounds:
    syllables: list[str] = []
    run: list[str] = []
    for ch in flat:
        if is_cjk(ch):
            run.append(ch)
            continue
        if run:
            syllables.extend(cjk_syllables("".join(run)))
            run.clear()
        syllables.append(ch)
    if run:
        syllables.extend(cjk_syllables("".join(run)))
    initials = "".join(s[0] if s and s != " " else " " for s in syllables)
    starts = list(accumulate((len(s) + 1 for s in syllables[:-1]), initial=0))
    return _Sounds(" " + " ".join(syllables) + " ", starts, initials)


class Snippets:
    """Snippet maker of one index: its synonyms, and a cache of the texts it prepared."""

    def __init__(self, synonyms: Synonyms) -> None:
        # Every text of a hit is prepared to choose the one to show; synonym spans are only
        # looked for in a chosen text, when a gram of the query could be an alias.
        self._spans = functools.lru_cache(maxsize=SNIPPET_CACHE)(
            functools.partial(_find_spans, synonyms)
        )

    @staticmethod
    def plan(query: Query) -> _Plan:
        """What the snippets of one query's hits look for: per gram of the query, None when
        it is a lone function character (never worth showing), else (text, py, initials,
        weight, lone: only counted, never marked, initials pair: marked in short texts only).
        """
        return tuple(
            None
            if len(g.text) == 1 and g.text in FILLER
            else (g.text, g.py, g.ini, g.weight, _lone(g), len(g.ini) == 2)
            for g in query.grams
        )

    def snippet(self, plan: _Plan, found: list[bool], entry: Entry) -> tuple[tuple[str, bool], ...]:
        """Excerpt of the question or answer that best shows why the article matched.

        plan: Snippets.plan of the query; found: whether each of its grams matched the
        article somewhere (Scorer.found).
        """
        doc = entry.doc
        texts = [t for t in (*doc.questions, doc.answer) if t]
        if not texts:
            return ()
        # Only grams that matched this article somewhere are worth locating.
        grams = [g for g, hit in zip(plan, found) if hit and g is not None]
        prepared = [_prepared(t) for t in texts]
        # Cheap choice first (exact characters only); sound and initials matches are located
        # only in the chosen text, or in all texts when no characters matched anywhere.
        exact_grams = [(g[0], g[3]) for g in grams if g[0]]
        exact = [sum(w for t, w in exact_grams if t in p.flat) for p in prepared]
        best = max(range(len(texts)), key=lambda i: (exact[i], -i))
        if exact[best] > 0:
            order = [best]
        else:
            order = list(range(len(texts)))
        best_mask: list[bool] | None = None
        best_weight = -1.0
        for i in order:
            mask, weight = _hit_mask(grams, texts[i], prepared[i], self._spans)
            if weight > best_weight:
                best, best_mask, best_weight = i, mask, weight
        assert best_mask is not None
        return _excerpt(texts[best], best_mask)


_PlanRow = tuple[str, str, str, float, bool, bool]
_Plan = tuple[_PlanRow | None, ...]


def _hit_mask(
    grams: list[_PlanRow],
    text: str,
    prepared: _Text,
    spans_of: Callable[[str], tuple[tuple[int, int, str, str], ...]],
) -> tuple[list[bool], float]:
    """Which characters of text match the query, and the query weight they account for.

    spans_of: the synonym spans of a flat text (asked only when a gram could be an alias).
    """
    mask = [False] * len(text)
    flat, origin = prepared.flat, prepared.origin
    spans: tuple[tuple[int, int, str, str], ...] | None = None
    sounds: _Sounds | None = None
    # A pair of initials inside running text is not marked (see below).
    long_text = len(text) > _INITIALS_MARK_CHARS
    matched = 0.0
    for gt, py, ini, weight, lone, initials_pair in grams:
        if lone:
            # A lone character or syllable found here and there says little: it counts for
            # the choice of text but is not marked, so finding one occurrence is enough.
            if gt and gt in flat:
                matched += weight
                continue
            if py or ini:
                if sounds is None:
                    sounds = _sounds(flat)
                if (py and sounds.has(py)) or (ini and ini in sounds.initials):
                    matched += weight
            continue
        positions: list[tuple[int, int]] = []
        if gt:
            positions = _find_all(flat, gt)
            if len(gt) > 1:
                if spans is None:
                    spans = spans_of(flat)
                for start, end, term, aliases in spans:
                    if gt in aliases and gt not in term:
                        positions.append((start, end))
        if not positions and (py or ini):
            if sounds is None:
                sounds = _sounds(flat)
            if py:
                positions = sounds.positions(py)
            if not positions and ini:
                positions = _find_all(sounds.initials, ini)
        if not positions:
            continue
        matched += weight
        if initials_pair and long_text:
            # A pair of initials inside running text is mostly an accident: marking it is noise.
            continue
        if origin is None:
            for start, end in positions:
                mask[start:end] = [True] * (end - start)
        else:
            for start, end in positions:
                for p in range(start, end):
                    mask[origin[p]] = True
    return mask, matched


def _lone(gram: Gram) -> bool:
    """A single CJK character or a single typed syllable."""
    if gram.text:
        return len(gram.text) == 1 and is_cjk(gram.text)
    return bool(gram.py) and gram.py.count(" ") == 2


def _find_all(haystack: str, needle: str) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of needle, overlapping ones included."""
    out: list[tuple[int, int]] = []
    n = len(needle)
    start = haystack.find(needle)
    while start >= 0:
        out.append((start, start + n))
        start = haystack.find(needle, start + 1)
    return out


def _excerpt(text: str, mask: list[bool]) -> tuple[tuple[str, bool], ...]:
    """At most SNIPPET_CHARS characters around the densest run of hits, as (text, hit) pieces."""
    n = len(text)
    start = 0
    if n > SNIPPET_CHARS:
        # Hits in each window of SNIPPET_CHARS characters; the first densest window wins.
        prefix = list(accumulate(mask, initial=0))
        counts = list(map(sub, prefix[SNIPPET_CHARS:], prefix[: n - SNIPPET_CHARS + 1]))
        best = max(counts)
        start = counts.index(best)
        if best > 0:
            # Start a little before the first hit of the window so it reads in context, as
            # far as that keeps the window's last hit.
            first = mask.index(True, start, start + SNIPPET_CHARS)
            last = start + SNIPPET_CHARS - 1 - mask[start : start + SNIPPET_CHARS][::-1].index(True)
            start = max(0, min(start, first - 8), last - SNIPPET_CHARS + 1)
    end = min(n, start + SNIPPET_CHARS)
    pieces: list[tuple[str, bool]] = []
    if start > 0:
        pieces.append(("…", False))
    # Runs of equal flags become one piece each, except that a piece which is a lone "…"
    # (as the text itself may hold) is never extended, like the leading ellipsis.
    i = start
    while i < end:
        flag = mask[i]
        try:
            j = mask.index(not flag, i, end)
        except ValueError:
            j = end
        k = i
        while k < j - 1 and text[k] == "…":
            pieces.append(("…", flag))
            k += 1
        pieces.append((text[k:j], flag))
        i = j
    if end < n:
        pieces.append(("…", False))
    return tuple(pieces)
