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

No answer: each hit either answers the question or is only related to it (score and coverage
of the query's key terms, knowledge_base.answering); a query that nothing answers returns an
empty list rather than the least bad article, and related hits follow the answering ones.

Bad input never raises: non-string, empty, one-character or symbol-only queries return [];
queries are cut to RAW_QUERY_LIMIT characters before any processing.

Modules: entries (an article's fields and index keys), query (query parsing into grams and
keys), scoring (rescoring), snippets (hit excerpts); this module holds the index and the
public names.
"""

from __future__ import annotations

import contextlib
import json
from bisect import bisect_left
from collections import Counter, OrderedDict
from dataclasses import dataclass
from importlib import resources
from itertools import compress, islice, repeat
from operator import add, eq, gt
from typing import Any, Iterable, Mapping

from knowledge_base.answering import (
    ANSWER_SCORE,
    CONFIDENT_SCORE,
    DEFAULT_THRESHOLDS,
    Thresholds,
    answers,
)
from knowledge_base.entries import ArticleDoc, Entry, keys_of, make_entry, vocabulary_of
from knowledge_base.query import (
    FILLER_FACTOR,
    IDF_CAP,
    SPECIFIC_IDF,
    UNIGRAM_FACTOR,
    UNKNOWN_IDF,
    Query,
    parse_query,
)
from knowledge_base.scoring import BODY_WEIGHT, HOMOPHONE_CREDIT, Scorer
from knowledge_base.snippets import SNIPPET_CACHE, SNIPPET_CHARS, Snippets
from knowledge_base.synonyms import Synonyms
from knowledge_base.text import RAW_QUERY_LIMIT, normalize

__all__ = [
    "BODY_WEIGHT",
    "CANDIDATES",
    "COMMON_KEY_SHARE",
    "ANSWER_SCORE",
    "CONFIDENT_SCORE",
    "FILLER_FACTOR",
    "HOMOPHONE_CREDIT",
    "IDF_CAP",
    "MIN_EVIDENCE",
    "MIN_SCORE",
    "PARSE_CACHE",
    "RELATED_SCORE",
    "SNIPPET_CACHE",
    "SNIPPET_CHARS",
    "SPECIFIC_IDF",
    "UNIGRAM_FACTOR",
    "UNKNOWN_IDF",
    "ArticleDoc",
    "Hit",
    "SearchIndex",
    "article_from_record",
    "default_articles",
    "load_articles",
]

# Which hits are returned. A hit answers the question or not (knowledge_base.answering); when
# none of the first hits does, the search returns nothing. Hits that do not answer are shown
# after those that do, as related, if they score MIN_SCORE and either RELATED_SCORE or at least
# MIN_EVIDENCE distinct specific character pairs of the query occur in the article (specific:
# see query.SPECIFIC_IDF).
MIN_SCORE = 8.0
RELATED_SCORE = 30.0
MIN_EVIDENCE = 2
# Scored hits looked at beyond `limit` for one that answers (each costs a term-coverage check).
_TIER_LOOKAHEAD = 10
# Candidates rescored per query; each costs a few dozen set lookups and substring tests.
CANDIDATES = 48
# A key held by more than this share of documents is skipped when gathering candidates
# (it is still scored): it would touch most of the index and separates nothing.
COMMON_KEY_SHARE = 0.15
# Articles gathered from the rarer keys after which common keys only add to them, and the cost
# of one binary search relative to one step through a posting list (see _candidates).
_POOL = 8 * CANDIDATES
_PROBE_COST = 4
# Parsed queries kept per index, by query text: agents repeat queries (the same question on many
# calls, a category or limit changed), and a parse (normalisation, jieba, pinyin, weights) is
# about a sixth of a search. Weights depend on document frequencies, so any change to the
# index empties it.
PARSE_CACHE = 512
_MISS = object()


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    title: str
    # Excerpt of a question or of the answer; (text, highlighted) pieces in reading order.
    snippet: tuple[tuple[str, bool], ...]
    # Tier: True when the article answers the question (answering.answers), False when it is
    # only related. Answering hits come first; related ones are shown only after one answers.
    answers: bool = True


class SearchIndex:
    """Search over knowledge-base articles; see the module docstring for the method."""

    def __init__(self, synonyms: Synonyms) -> None:
        self._synonyms = synonyms
        self._snippets = Snippets(synonyms)
        self._entries: list[Entry | None] = []
        self._slot_by_id: dict[str, int] = {}
        self._post_head: dict[str, list[int]] = {}
        self._post_body: dict[str, list[int]] = {}
        self._char_df: Counter[str] = Counter()
        self._latin_df: Counter[str] = Counter()
        self._live = 0
        # Parsed queries by (index version, query text); see PARSE_CACHE.
        self._parsed: OrderedDict[tuple[int, str], Query | None] = OrderedDict()
        self._version = 0
        # Whether a hit answers (knowledge_base.answering); replaced whole to try others.
        self.thresholds: Thresholds = DEFAULT_THRESHOLDS

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
        entry = make_entry(doc, self._synonyms)
        slot = len(self._entries)
        self._entries.append(entry)
        self._slot_by_id[doc.id] = slot
        self._live += 1
        head_keys, body_keys = keys_of(entry)
        # Slots only grow, so every posting list stays sorted (remove() relies on it).
        for key in head_keys:
            self._post_head.setdefault(key, []).append(slot)
        for key in body_keys:
            self._post_body.setdefault(key, []).append(slot)
        chars, latin = vocabulary_of(entry)
        self._char_df.update(chars)
        self._latin_df.update(latin)
        self._changed()

    def remove(self, article_id: str) -> None:
        """Forget an article (retired or unpublished). Unknown ids are ignored."""
        slot = self._slot_by_id.pop(article_id, None)
        if slot is None:
            return
        entry = self._entries[slot]
        assert entry is not None
        self._entries[slot] = None
        self._live -= 1
        head_keys, body_keys = keys_of(entry)
        for postings, keys in ((self._post_head, head_keys), (self._post_body, body_keys)):
            for key in keys:
                plist = postings[key]
                del plist[bisect_left(plist, slot)]
                if not plist:
                    del postings[key]
        chars, latin = vocabulary_of(entry)
        self._char_df.subtract(chars)
        self._latin_df.subtract(latin)
        for counter, items in ((self._char_df, chars), (self._latin_df, latin)):
            for item in items:
                if counter[item] <= 0:
                    del counter[item]
        self._changed()

    def _changed(self) -> None:
        # Called once a change is complete: a parse begun before is stored under the old
        # version and never read again.
        self._version += 1
        self._parsed.clear()

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
        scorer = Scorer(parsed, candidates, self._post_head, self._post_body)
        scored: list[tuple[float, int]] = []
        for slot in candidates:
            entry = self._entries[slot]
            if entry is None:
                continue
            score = scorer.score(slot, entry)
            if score >= MIN_SCORE:
                scored.append((score, slot))
        # Ties keep index order (older articles first) so results are stable.
        scored.sort(key=lambda item: (-item[0], item[1]))
        answering: list[tuple[float, int, list[bool]]] = []
        related: list[tuple[float, int, list[bool]]] = []
        for score, slot in islice(scored, limit + _TIER_LOOKAHEAD):
            if len(answering) >= limit:
                break
            entry = self._entries[slot]
            assert entry is not None
            found = scorer.found(slot, entry)
            if answers(score, parsed.terms, entry, self.thresholds):
                answering.append((score, slot, found))
            elif len(related) < limit and (
                score >= RELATED_SCORE or scorer.evidence(found) >= MIN_EVIDENCE
            ):
                related.append((score, slot, found))
        if not answering:
            # Nothing answers: the agent is told so, not shown the least bad article.
            return []
        hits: list[Hit] = []
        plan = self._snippets.plan(parsed)
        for tier, chosen in ((True, answering), (False, related)):
            for score, slot, found in chosen[: limit - len(hits)]:
                entry = self._entries[slot]
                assert entry is not None
                hits.append(
                    Hit(
                        id=entry.doc.id,
                        score=round(score, 1),
                        title=entry.doc.title,
                        snippet=self._snippets.snippet(plan, found, entry),
                        answers=tier,
                    )
                )
        return hits

    def _parse(self, query: str) -> Query | None:
        text = query[:RAW_QUERY_LIMIT]
        key = (self._version, text)
        cache = self._parsed
        parsed = cache.get(key, _MISS)
        if parsed is not _MISS:
            # Another caller may have evicted it meanwhile; it is returned all the same.
            with contextlib.suppress(KeyError):
                cache.move_to_end(key)
            return parsed  # type: ignore[return-value]
        parsed = parse_query(
            self._synonyms.rewrite(normalize(text)),
            n_docs=max(self._live, 1),
            key_df=self._key_df,
            char_df=self._char_df,
            latin_df=self._latin_df,
        )
        cache[key] = parsed
        while len(cache) > PARSE_CACHE:
            with contextlib.suppress(KeyError):
                cache.popitem(last=False)
        return parsed

    def _key_df(self, key: str) -> int:
        return len(self._post_head.get(key, ())) + len(self._post_body.get(key, ()))

    def _candidates(self, query: Query, category: str | None) -> list[int]:
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
                    # acc[slot] = acc.get(slot, 0.0) + w for each slot, in list order, in C.
                    acc.update(zip(plist, map(add, map(get, plist, repeat(0.0)), repeat(w))))
        if category is not None:
            entries = self._entries
            acc = {
                slot: s
                for slot, s in acc.items()
                if (e := entries[slot]) is not None and e.doc.category == category
            }
        if len(acc) <= CANDIDATES:
            return list(acc)
        # The CANDIDATES best; of equal sums at the cut, those gathered first (in any order).
        cut = sorted(acc.values(), reverse=True)[CANDIDATES - 1]
        best = list(compress(acc, map(gt, acc.values(), repeat(cut))))
        ties = compress(acc, map(eq, acc.values(), repeat(cut)))
        best.extend(islice(ties, CANDIDATES - len(best)))
        return best


# ---------------------------------------------------------------------- article loading


def article_from_record(record: Mapping[str, Any]) -> ArticleDoc:
    """ArticleDoc from one articles.jsonl record, as parsed JSON (extra fields are ignored)."""
    questions = record.get("questions") or ()
    keywords = record.get("keywords") or ()
    category = record.get("category")
    return ArticleDoc(
        id=str(record["id"]),
        title=str(record.get("title") or ""),
        questions=tuple(str(q) for q in questions),
        answer=str(record.get("answer") or ""),
        category=str(category) if category else None,
        keywords=tuple(str(k) for k in keywords),
    )


def load_articles(lines: Iterable[str]) -> list[ArticleDoc]:
    return [article_from_record(json.loads(line)) for line in lines if line.strip()]


def default_articles() -> list[ArticleDoc]:
    """The sample articles shipped as package data (knowledge_base/data/articles.jsonl)."""
    text = resources.files("knowledge_base").joinpath("data", "articles.jsonl").read_text("utf-8")
    return load_articles(text.splitlines())
