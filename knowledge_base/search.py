"""In-memory knowledge-base search for agents typing on live calls.

Pure and synchronous: no database, no I/O except the explicit package-data loaders.

How it works
------------
Every field is normalised (NFKC, case-folded, traditional → simplified) and cut into units: one
CJK character, or one latin / digit word. Each unit carries its toneless syllable (pypinyin, in
word context) and its initial. Synonym terms found in a field add their aliases to that field
(document-side expansion, so synonyms also work through pinyin and typos).

Index: inverted lists keyed by syllable pairs ("gong ji") for all fields, and by initials pairs
and triples ("gj", "gjj") for title, questions and keywords. Syllable keys cover exact text,
homophone typos (公基金) and typed full pinyin with one lookup.

Query: candidates are accumulated from the inverted lists (IDF-weighted, title/questions above
answer text), the best few dozen are rescored by weighted coverage of the query's character
pairs and characters: an exact character match counts fully, a homophone match less, a match in
the answer less than one in the title or questions. Scores are 0..100.

No answer: a hit is returned only if it scores CONFIDENT_SCORE, or at least MIN_SCORE with
MIN_EVIDENCE specific terms of the query found in the article (see those constants), so a query
that matches nothing well returns an empty list rather than the least bad article.

Bad input never raises: non-string, empty, one-character or symbol-only queries return [];
queries are cut to RAW_QUERY_LIMIT characters before any processing.
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Iterator, Mapping

from rapidfuzz import fuzz

from knowledge_base.synonyms import Synonyms, SynonymSpan
from knowledge_base.text import (
    QUERY_UNIT_LIMIT,
    RAW_QUERY_LIMIT,
    Unit,
    cjk_syllables,
    is_cjk,
    normalize,
    normalize_aligned,
    segment_columns,
    segment_units,
    split_pinyin,
    units,
)

# Which hits are returned (calibrated on the dev queries; see the module docstring):
# a hit scoring CONFIDENT_SCORE or more always; one scoring MIN_SCORE or more only if at least
# MIN_EVIDENCE distinct specific character pairs of the query occur in the article. A pair is
# specific when its IDF is at least SPECIFIC_IDF (held by under ~15 % of articles) and it has
# no function character. Off-topic questions typically share one such pair with some article
# (周末, 股票, 外卖), colloquial descriptions of a real case two or more.
MIN_SCORE = 8.0
CONFIDENT_SCORE = 30.0
MIN_EVIDENCE = 2
SPECIFIC_IDF = 2.0

# Relative weight of a match found only in the answer text (title and questions count 1.0).
BODY_WEIGHT = 0.55
# Credit for a character pair that matches only by sound (公基金 → 公积金).
HOMOPHONE_CREDIT = 0.8
# Single characters count less than character pairs: they carry less meaning.
UNIGRAM_FACTOR = 0.35
# Function words and colloquial fillers: a pair made only of these barely counts.
FILLER_FACTOR = 0.15
_FILLER = frozenset("的了吗呢啊吧呀么嘛呗啦哦哈咋啥俺我你他她它们这那哪谁就都也还又是个一怎样什该得着过儿")
# Inverse document frequency is capped so that scores mean the same at 200 and at 100k articles:
# past this rarity (1 document in ~400) a term is simply "specific".
IDF_CAP = 6.0
# Weight of a query pair or character that no article contains (a typo, a filler word, a word
# from another domain): it still lowers every score, but less than a rare known term would.
UNKNOWN_IDF = 3.0
# Candidates rescored per query; each costs a few dozen substring tests.
CANDIDATES = 48
# A key held by more than this share of documents is skipped when gathering candidates
# (it is still scored): it would touch most of the index and separates nothing.
COMMON_KEY_SHARE = 0.15
# Articles gathered from the rarer keys after which common keys only add to them, and the cost
# of one binary search relative to one step through a posting list (see _candidates).
_POOL = 8 * CANDIDATES
_PROBE_COST = 4
# Score blend, see _rescore.
_W_HEAD, _W_TITLE, _W_ANY, _W_RATIO, _W_FOCUS = 0.38, 0.18, 0.28, 0.08, 0.08
# Occurrences in title/questions/keywords after which a term counts as the article's focus.
_FOCUS_SATURATION = 3
_MIN_QUERY_CHARS = 2
SNIPPET_CHARS = 64


@dataclass(frozen=True)
class ArticleDoc:
    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    category: str | None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    title: str
    # Excerpt of a question or of the answer; (text, highlighted) pieces in reading order.
    snippet: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class _Field:
    """Matchable form of one field group; segments are separated by "|" in every channel."""

    text: str  # normalised characters
    py: str  # " she bao ka | diu le " — syllables padded by spaces
    ini: str  # "sbk|dl"


@dataclass(frozen=True, slots=True)
class _Entry:
    doc: ArticleDoc
    title: _Field
    head: _Field  # title, questions, keywords (+ aliases)
    body: _Field  # category, answer (+ aliases)
    title_plain: str
    title_letters: str  # title syllables run together, for typed-pinyin queries
    title_initials: str


@dataclass(frozen=True, slots=True)
class _Gram:
    text: str  # exact normalised characters to find ("" for typed pinyin)
    py: str  # " s1 s2 " to find in the syllable channel ("" if none)
    ini: str  # initials to find ("" if none)
    weight: float
    homophone: bool  # a py-only match is a sound-alike, not what was typed
    specific: bool  # counts as evidence (see MIN_EVIDENCE)
    bonus: bool = False  # adds to a score when found, not to the query's total weight


@dataclass(frozen=True, slots=True)
class _Query:
    grams: tuple[_Gram, ...]
    keys: tuple[tuple[str, float], ...]
    total: float
    flat_text: str
    flat_letters: str


def _segments_of(text: str) -> list[str]:
    return [s for s in normalize(text).split(" ") if s]


_Columns = list[tuple[list[str], list[str]]]


def _columns(segments: list[str]) -> _Columns:
    """(unit texts, syllables) of each non-empty segment."""
    return [cols for cols in map(segment_columns, segments) if cols[0]]


def _field(columns: _Columns, *, initials: bool = True) -> _Field:
    text = "|".join("".join(texts) for texts, _ in columns)
    py = "|".join(" " + " ".join(syls) + " " for _, syls in columns)
    # Initials of long answer text would match almost any short initials query.
    ini = "|".join("".join(s[0] for s in syls) for _, syls in columns) if initials else ""
    return _Field(text, py, ini)


class SearchIndex:
    """Search over knowledge-base articles; see the module docstring for the method."""

    def __init__(self, synonyms: Synonyms) -> None:
        self._synonyms = synonyms
        self._entries: list[_Entry | None] = []
        self._slot_by_id: dict[str, int] = {}
        self._post_head: dict[str, list[int]] = {}
        self._post_body: dict[str, list[int]] = {}
        self._char_df: Counter[str] = Counter()
        self._latin_df: Counter[str] = Counter()
        self._live = 0

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, docs: Iterable[ArticleDoc], synonyms: Synonyms) -> "SearchIndex":
        index = cls(synonyms)
        for doc in docs:
            index.upsert(doc)
        return index

    def __len__(self) -> int:
        return self._live

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._slot_by_id

    def upsert(self, doc: ArticleDoc) -> None:
        """Add or replace an article; visible to the next search."""
        if doc.id in self._slot_by_id:
            self.remove(doc.id)
        entry = self._make_entry(doc)
        slot = len(self._entries)
        self._entries.append(entry)
        self._slot_by_id[doc.id] = slot
        self._live += 1
        head_keys, body_keys = _keys_of(entry)
        # Slots only grow, so every posting list stays sorted (remove() relies on it).
        for key in head_keys:
            self._post_head.setdefault(key, []).append(slot)
        for key in body_keys:
            self._post_body.setdefault(key, []).append(slot)
        chars, latin = _vocabulary_of(entry)
        self._char_df.update(chars)
        self._latin_df.update(latin)

    def remove(self, article_id: str) -> None:
        """Forget an article (retired or unpublished). Unknown ids are ignored."""
        slot = self._slot_by_id.pop(article_id, None)
        if slot is None:
            return
        entry = self._entries[slot]
        assert entry is not None
        self._entries[slot] = None
        self._live -= 1
        head_keys, body_keys = _keys_of(entry)
        for postings, keys in ((self._post_head, head_keys), (self._post_body, body_keys)):
            for key in keys:
                plist = postings[key]
                del plist[bisect_left(plist, slot)]
                if not plist:
                    del postings[key]
        chars, latin = _vocabulary_of(entry)
        self._char_df.subtract(chars)
        self._latin_df.subtract(latin)
        for counter, items in ((self._char_df, chars), (self._latin_df, latin)):
            for item in items:
                if counter[item] <= 0:
                    del counter[item]

    def _make_entry(self, doc: ArticleDoc) -> _Entry:
        title_segs = self._expand(_segments_of(doc.title))
        head_segs = list(title_segs)
        for text in (*doc.questions, *doc.keywords):
            head_segs.extend(self._expand(_segments_of(text)))
        body_segs = self._expand(_segments_of(doc.category or "") + _segments_of(doc.answer))
        title_cols = _columns(title_segs)
        plain = _columns(_segments_of(doc.title))
        return _Entry(
            doc=doc,
            title=_field(title_cols),
            head=_field(title_cols + _columns(head_segs[len(title_segs) :])),
            body=_field(_columns(body_segs), initials=False),
            title_plain="".join("".join(texts) for texts, _ in plain),
            title_letters="".join("".join(syls) for _, syls in plain),
            title_initials="".join(s[0] for _, syls in plain for s in syls),
        )

    def _expand(self, segments: list[str]) -> list[str]:
        """Segments followed by the aliases of the synonym terms they contain."""
        aliases: list[str] = []
        for seg in segments:
            for span in self._synonyms.find(seg):
                aliases.extend(a for a in span.aliases if a not in aliases)
        return segments + [a for a in aliases if a not in segments]

    # ------------------------------------------------------------------ querying

    def search(self, query: str, *, limit: int = 5, category: str | None = None) -> list[Hit]:
        """Best hits first, scores 0..100; [] when nothing matches well or input is unusable.

        At most min(limit, CANDIDATES) hits. `category` keeps only articles whose category is
        exactly that string.
        """
        if not isinstance(query, str) or not isinstance(limit, int) or limit <= 0:
            return []
        parsed = self._parse(query)
        if parsed is None:
            return []
        candidates = self._candidates(parsed, category)
        scored: list[tuple[float, int]] = []
        for slot in candidates:
            entry = self._entries[slot]
            if entry is None:
                continue
            score = _rescore(parsed, entry)
            if score >= MIN_SCORE:
                scored.append((score, slot))
        # Ties keep index order (older articles first) so results are stable.
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits: list[Hit] = []
        for score, slot in scored:
            if len(hits) >= limit:
                break
            entry = self._entries[slot]
            assert entry is not None
            if score < CONFIDENT_SCORE and _evidence(parsed, entry) < MIN_EVIDENCE:
                continue
            hits.append(
                Hit(
                    id=entry.doc.id,
                    score=round(score, 1),
                    title=entry.doc.title,
                    snippet=self._snippet(parsed, entry),
                )
            )
        return hits

    def _parse(self, query: str) -> _Query | None:
        segments = _segments_of(query[:RAW_QUERY_LIMIT])
        seg_units: list[list[Unit]] = []
        budget = QUERY_UNIT_LIMIT
        for seg in segments:
            out = list(_units_of_query(seg, self._latin_df))[:budget]
            budget -= len(out)
            if out:
                seg_units.append(out)
            if budget <= 0:
                break
        n_text = sum(len(u.text) for seg in seg_units for u in seg)
        n_letters = sum(1 for seg in seg_units for u in seg if u.typed_pinyin)
        if n_text + n_letters < _MIN_QUERY_CHARS:
            return None

        n_docs = max(self._live, 1)
        grams: dict[tuple[str, str, str], _Gram] = {}
        keys: dict[str, float] = {}

        def idf(df: int) -> float:
            if df == 0:
                return UNKNOWN_IDF
            return min(math.log(1.0 + n_docs / (df + 1.0)), IDF_CAP)

        def key_df(key: str) -> int:
            return len(self._post_head.get(key, ())) + len(self._post_body.get(key, ()))

        for seg in seg_units:
            for a, b in zip(seg, seg[1:]):
                if a.text and b.text:
                    key = f"{a.syllable} {b.syllable}"
                    weight = idf(key_df(key)) * _filler_factor(a.text + b.text)
                    specific = weight >= SPECIFIC_IDF and not _has_filler(a.text + b.text)
                    gram = _Gram(a.text + b.text, f" {key} ", "", weight, True, specific)
                elif a.syllable and b.syllable:
                    key = f"{a.syllable} {b.syllable}"
                    weight = idf(key_df(key))
                    gram = _Gram("", f" {key} ", "", weight, False, weight >= SPECIFIC_IDF)
                else:
                    key = a.initial + b.initial
                    weight = idf(key_df(key))
                    gram = _Gram("", "", key, weight, False, False)
                grams.setdefault((gram.text, gram.py, gram.ini), gram)
                keys[key] = weight
            for a, b, c in zip(seg, seg[1:], seg[2:]):
                if (
                    len(b.text) == 1
                    and b.text in _FILLER
                    and a.text
                    and c.text
                    and not _has_filler(a.text + c.text)
                ):
                    # Colloquial insertions: 改个名, 交了费, 办个证 should still find 改名.
                    # Only a bonus: an accidental pair must not lower every score.
                    key = f"{a.syllable} {c.syllable}"
                    weight = idf(key_df(key))
                    gram = _Gram(
                        a.text + c.text, f" {key} ", "", weight, True, weight >= SPECIFIC_IDF, True
                    )
                    grams.setdefault((gram.text, gram.py, gram.ini), gram)
                    keys[key] = weight
                if not (a.text and b.text and c.text) and not (a.syllable and b.syllable and c.syllable):
                    # Runs of typed initials: triples are far more selective than pairs.
                    key = a.initial + b.initial + c.initial
                    weight = idf(key_df(key))
                    gram = _Gram("", "", key, weight, False, weight >= SPECIFIC_IDF)
                    grams.setdefault(("", "", key), gram)
                    keys[key] = weight
            for u in seg:
                if len(u.text) > 1:
                    # A latin or digit word (app, ktv, 12345) means as much as a character pair.
                    key = _LITERAL + u.text
                    weight = idf(key_df(key))
                    gram = _Gram(u.text, "", "", weight, False, weight >= SPECIFIC_IDF)
                    grams.setdefault((u.text, "", ""), gram)
                    keys[key] = weight
                elif u.text:
                    df = self._char_df.get(u.text, 0)
                    weight = idf(df) * UNIGRAM_FACTOR * _filler_factor(u.text)
                    grams.setdefault((u.text, "", ""), _Gram(u.text, "", "", weight, False, False))
                elif u.syllable:
                    # No syllable df is kept; a typed lone syllable is weak evidence anyway.
                    gram = _Gram("", f" {u.syllable} ", "", UNIGRAM_FACTOR, False, False)
                    grams.setdefault((gram.text, gram.py, gram.ini), gram)
        if not grams:
            return None
        total = sum(g.weight for g in grams.values() if not g.bonus)
        if total <= 0:
            return None
        flat_text = "".join(u.text for seg in seg_units for u in seg)
        flat_letters = "".join(u.syllable or u.initial for seg in seg_units for u in seg)
        return _Query(
            grams=tuple(grams.values()),
            keys=tuple(keys.items()),
            total=total,
            flat_text=flat_text,
            flat_letters=flat_letters,
        )

    def _candidates(self, query: _Query, category: str | None) -> list[int]:
        """Slots of the CANDIDATES articles with the most IDF-weighted key matches."""
        limit_df = COMMON_KEY_SHARE * max(self._live, 1)
        sized = sorted(
            (len(self._post_head.get(key, ())) + len(self._post_body.get(key, ())), key, w)
            for key, w in query.keys
        )
        keys = [(df, key, w) for df, key, w in sized if df <= limit_df] or sized
        acc: dict[int, float] = {}
        get = acc.get
        # Rarest keys first. Once enough articles are gathered, a long list is no longer walked:
        # only the gathered articles are looked up in it (a list is sorted by slot), which
        # costs len(acc) binary searches instead of len(list) steps.
        for df, key, weight in keys:
            for postings, w in ((self._post_head, weight), (self._post_body, weight * BODY_WEIGHT)):
                plist = postings.get(key)
                if not plist:
                    continue
                if len(acc) >= _POOL and len(plist) > _PROBE_COST * len(acc):
                    n = len(plist)
                    for slot in list(acc):
                        i = bisect_left(plist, slot)
                        if i < n and plist[i] == slot:
                            acc[slot] += w
                else:
                    for slot in plist:
                        acc[slot] = get(slot, 0.0) + w
        if category is not None:
            entries = self._entries
            acc = {
                slot: s
                for slot, s in acc.items()
                if (e := entries[slot]) is not None and e.doc.category == category
            }
        if len(acc) <= CANDIDATES:
            return list(acc)
        return heapq.nlargest(CANDIDATES, acc, key=acc.__getitem__)

    # ------------------------------------------------------------------ snippets

    def _snippet(self, query: _Query, entry: _Entry) -> tuple[tuple[str, bool], ...]:
        """Excerpt of the question or answer that best shows why the article matched."""
        doc = entry.doc
        texts = [t for t in (*doc.questions, doc.answer) if t]
        if not texts:
            return ()
        # Only grams that matched this article somewhere are worth locating.
        grams = [
            g
            for g in query.grams
            if not (len(g.text) == 1 and g.text in _FILLER)
            and (_match(g, entry.head) or _match(g, entry.body))
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
            mask, weight = self._hit_mask(grams, texts[i], *aligned[i])
            if weight > best_weight:
                best, best_mask, best_weight = i, mask, weight
        assert best_mask is not None
        return _excerpt(texts[best], best_mask)

    def _hit_mask(
        self, grams: list[_Gram], text: str, flat: str, origin: list[int]
    ) -> tuple[list[bool], float]:
        """Which characters of text match the query, and the query weight they account for."""
        mask = [False] * len(text)
        syllables: list[str] | None = None
        initials = ""
        spans = _spans(self._synonyms, flat)
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


# ---------------------------------------------------------------------- helpers


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


# Prefix of index keys for whole latin / digit words (other keys never contain "=").
_LITERAL = "="


def _keys_of(entry: _Entry) -> tuple[set[str], set[str]]:
    """Index keys: syllable pairs of every field, initials pairs and triples of the head,
    latin and digit words of every field."""
    head: set[str] = set()
    for seg in entry.head.py.split("|"):
        syl = seg.split()
        head.update(f"{a} {b}" for a, b in zip(syl, syl[1:]))
    for seg in entry.head.ini.split("|"):
        head.update(seg[i : i + 2] for i in range(len(seg) - 1))
        head.update(seg[i : i + 3] for i in range(len(seg) - 2))
    head.update(_LITERAL + w for w in _LATIN_WORD.findall(entry.head.text) if len(w) > 1)
    body: set[str] = set()
    for seg in entry.body.py.split("|"):
        syl = seg.split()
        body.update(f"{a} {b}" for a, b in zip(syl, syl[1:]))
    body.update(_LITERAL + w for w in _LATIN_WORD.findall(entry.body.text) if len(w) > 1)
    return head, body - head


def _vocabulary_of(entry: _Entry) -> tuple[set[str], set[str]]:
    text = entry.head.text + "|" + entry.body.text
    chars = {ch for ch in set(text) if is_cjk(ch)}
    latin = set(_LATIN_WORD.findall(text))
    return chars, latin


_LATIN_WORD = re.compile(r"[a-z]+|[0-9]+")


def _lone(gram: _Gram) -> bool:
    """A single CJK character or a single typed syllable."""
    if gram.text:
        return len(gram.text) == 1 and is_cjk(gram.text)
    return bool(gram.py) and gram.py.count(" ") == 2


def _has_filler(text: str) -> bool:
    return any(ch in _FILLER for ch in text)


def _evidence(query: _Query, entry: _Entry) -> int:
    """Number of specific query grams found anywhere in the article."""
    return sum(
        1
        for gram in query.grams
        if gram.specific and (_match(gram, entry.head) or _match(gram, entry.body))
    )


def _filler_factor(text: str) -> float:
    fillers = sum(1 for ch in text if ch in _FILLER)
    if fillers == len(text):
        return FILLER_FACTOR
    if fillers:
        return 0.6
    return 1.0


def _match(gram: _Gram, f: _Field) -> float:
    if gram.text and gram.text in f.text:
        return 1.0
    if gram.py and gram.py in f.py:
        return HOMOPHONE_CREDIT if gram.homophone else 1.0
    if gram.ini and gram.ini in f.ini:
        return 1.0
    return 0.0


def _count(gram: _Gram, f: _Field) -> int:
    if gram.text and gram.text in f.text:
        return f.text.count(gram.text)
    if gram.py and gram.py in f.py:
        return f.py.count(gram.py)
    if gram.ini:
        return f.ini.count(gram.ini)
    return 0


def _rescore(query: _Query, entry: _Entry) -> float:
    """0..100 blend of how much of the query the article covers, and where.

    head: weighted share of the query found in title, questions or keywords;
    title: share found in the title alone (field weight);
    any: share found anywhere, answer matches discounted by BODY_WEIGHT;
    focus: how often the matched terms recur in title, questions and keywords (tf, saturating);
    ratio: similarity of the query to the whole title (prefers the exact article).
    """
    head = title = anywhere = focus = 0.0
    for gram in query.grams:
        m_head = _match(gram, entry.head)
        if m_head:
            head += gram.weight * m_head
            title += gram.weight * _match(gram, entry.title)
            focus += gram.weight * min(_count(gram, entry.head), _FOCUS_SATURATION)
        if m_head < 1.0:
            m_body = _match(gram, entry.body) * BODY_WEIGHT
            anywhere += gram.weight * max(m_head, m_body)
        else:
            anywhere += gram.weight
    return _blend(query, entry, head, title, anywhere, focus / _FOCUS_SATURATION)


def _blend(
    query: _Query, entry: _Entry, head: float, title: float, anywhere: float, focus: float
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


# ---------------------------------------------------------------------- article loading


def article_from_record(record: Mapping[str, object]) -> ArticleDoc:
    """ArticleDoc from one articles.jsonl record (extra fields are ignored)."""
    questions = record.get("questions") or ()
    keywords = record.get("keywords") or ()
    category = record.get("category")
    return ArticleDoc(
        id=str(record["id"]),
        title=str(record.get("title") or ""),
        questions=tuple(str(q) for q in questions),  # type: ignore[union-attr]
        answer=str(record.get("answer") or ""),
        category=str(category) if category else None,
        keywords=tuple(str(k) for k in keywords),  # type: ignore[union-attr]
    )


def load_articles(lines: Iterable[str]) -> list[ArticleDoc]:
    return [article_from_record(json.loads(line)) for line in lines if line.strip()]


def default_articles() -> list[ArticleDoc]:
    """The sample articles shipped as package data (knowledge_base/data/articles.jsonl)."""
    text = resources.files("knowledge_base").joinpath("data", "articles.jsonl").read_text("utf-8")
    return load_articles(text.splitlines())
