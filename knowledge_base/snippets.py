"""Snippets of search hits: an excerpt of a question or the answer with the matches marked."""

from __future__ import annotations

import functools
from typing import Iterator

from knowledge_base.entries import Entry
from knowledge_base.query import FILLER, Gram, Query
from knowledge_base.scoring import match
from knowledge_base.synonyms import Synonyms, SynonymSpan
from knowledge_base.text import cjk_syllables, is_cjk, normalize_aligned

SNIPPET_CHARS = 64


def snippet(query: Query, entry: Entry, synonyms: Synonyms) -> tuple[tuple[str, bool], ...]:
    """Excerpt of the question or answer that best shows why the article matched."""
    doc = entry.doc
    texts = [t for t in (*doc.questions, doc.answer) if t]
    if not texts:
        return ()
    # Only grams that matched this article somewhere are worth locating.
    grams = [
        g
        for g in query.grams
        if not (len(g.text) == 1 and g.text in FILLER)
        and (match(g, entry.head) or match(g, entry.body))
    ]
    aligned = [_aligned(t) for t in texts]
    # Cheap choice first (exact characters only); sound and initials matches are located
    # only in the chosen text, or in all texts when no characters matched anywhere.
    exact = [sum(g.weight for g in grams if g.text and g.text in flat) for flat, _ in aligned]
    best = max(range(len(texts)), key=lambda i: (exact[i], -i))
    if exact[best] > 0:
        order = [best]
    else:
        order = list(range(len(texts)))
    best_mask: list[bool] | None = None
    best_weight = -1.0
    for i in order:
        mask, weight = _hit_mask(synonyms, grams, texts[i], *aligned[i])
        if weight > best_weight:
            best, best_mask, best_weight = i, mask, weight
    assert best_mask is not None
    return _excerpt(texts[best], best_mask)


def _hit_mask(
    synonyms: Synonyms, grams: list[Gram], text: str, flat: str, origin: list[int]
) -> tuple[list[bool], float]:
    """Which characters of text match the query, and the query weight they account for."""
    mask = [False] * len(text)
    syllables: list[str] | None = None
    initials = ""
    spans = _spans(synonyms, flat)
    matched = 0.0
    for gram in grams:
        positions: list[tuple[int, int]] = []
        if gram.text:
            positions.extend(_find_all(flat, gram.text))
            if len(gram.text) > 1:
                for span in spans:
                    if gram.text not in span.term and any(gram.text in a for a in span.aliases):
                        positions.append((span.start, span.end))
        if not positions and (gram.py or gram.ini):
            if syllables is None:
                syllables = _char_syllables(flat)
                initials = "".join(s[0] if s and s != " " else " " for s in syllables)
            if gram.py:
                wanted = gram.py.split()
                n = len(wanted)
                positions.extend(
                    (i, i + n)
                    for i in range(len(syllables) - n + 1)
                    if syllables[i : i + n] == wanted
                )
            if not positions and gram.ini:
                positions.extend(_find_all(initials, gram.ini))
        if not positions:
            continue
        matched += gram.weight
        if _lone(gram) or (len(gram.ini) == 2 and len(text) > 2 * SNIPPET_CHARS // 3):
            # A lone character or syllable found here and there says little, and so does a
            # pair of initials inside running text; marking them is noise.
            continue
        for start, end in positions:
            for p in range(start, end):
                mask[origin[p]] = True
    return mask, matched


def _lone(gram: Gram) -> bool:
    """A single CJK character or a single typed syllable."""
    if gram.text:
        return len(gram.text) == 1 and is_cjk(gram.text)
    return bool(gram.py) and gram.py.count(" ") == 2


# Snippets locate matches in the articles' questions and answers, the same texts search after
# search: their normalised and syllable forms and synonym spans were ~35 % of the cost of a
# search (2.0 -> 1.3 ms per dev query here). Callers only read the cached lists.
SNIPPET_CACHE = 8192
_aligned = functools.lru_cache(maxsize=SNIPPET_CACHE)(normalize_aligned)


@functools.lru_cache(maxsize=SNIPPET_CACHE)
def _spans(synonyms: Synonyms, flat: str) -> list[SynonymSpan]:
    return synonyms.find(flat)


@functools.lru_cache(maxsize=SNIPPET_CACHE)
def _char_syllables(flat: str) -> list[str]:
    out: list[str] = []
    run: list[str] = []
    for ch in flat:
        if is_cjk(ch):
            run.append(ch)
            continue
        if run:
            out.extend(cjk_syllables("".join(run)))
            run.clear()
        out.append(ch)
    if run:
        out.extend(cjk_syllables("".join(run)))
    return out


def _find_all(haystack: str, needle: str) -> Iterator[tuple[int, int]]:
    start = haystack.find(needle)
    while start >= 0:
        yield start, start + len(needle)
        start = haystack.find(needle, start + 1)


def _excerpt(text: str, mask: list[bool]) -> tuple[tuple[str, bool], ...]:
    """At most SNIPPET_CHARS characters around the densest run of hits, as (text, hit) pieces."""
    n = len(text)
    start = 0
    if n > SNIPPET_CHARS:
        best = -1
        hits_prefix = [0]
        for flag in mask:
            hits_prefix.append(hits_prefix[-1] + flag)
        for s in range(0, n - SNIPPET_CHARS + 1):
            count = hits_prefix[s + SNIPPET_CHARS] - hits_prefix[s]
            if count > best:
                best, start = count, s
        # Start a little before the first hit of the window so it reads in context, as far
        # as that keeps the window's last hit.
        window = [i for i in range(start, start + SNIPPET_CHARS) if mask[i]]
        if window:
            start = max(0, min(start, window[0] - 8), window[-1] - SNIPPET_CHARS + 1)
    end = min(n, start + SNIPPET_CHARS)
    pieces: list[tuple[str, bool]] = []
    if start > 0:
        pieces.append(("…", False))
    for i in range(start, end):
        flag = mask[i]
        if pieces and pieces[-1][1] == flag and pieces[-1][0] != "…":
            pieces[-1] = (pieces[-1][0] + text[i], flag)
        else:
            pieces.append((text[i], flag))
    if end < n:
        pieces.append(("…", False))
    return tuple(pieces)

