"""Duplicate requests (重复件): open tickets about the same matter, offered for merging (并单).

Candidates: open tickets of the last 30 days in the same district or of the same category.
Text similarity with rapidfuzz over overlapping character pairs: rapidfuzz's token scorers split
on spaces, so unspaced Chinese would be compared as one token (the shared folder's LIBRARIES.md); pairs
joined by spaces make the comparison insensitive to word order ("噪音扰民 施工" vs "施工噪音").
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from rapidfuzz import fuzz, process
from sqlalchemy import CompoundSelect, Select, select, union_all
from sqlalchemy.orm import raiseload
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.models import Ticket
from dispatch.tickets import OPEN

WINDOW = dt.timedelta(days=30)
THRESHOLD = 50.0
MAX_CANDIDATES = 2000
SET_WEIGHT = 0.85
SET_MIN_PAIRS = 6
SIGNATURE_BITS = 4096
# Openings every caller's record shares; they say nothing about the matter.
_BOILERPLATE = (
    "来电人",
    "来电反映",
    "市民来电",
    "来电",
    "反映",
    "咨询",
    "投诉",
    "举报",
    "要求",
    "希望",
    "相关部门",
    "尽快",
    "处理",
    "解决",
)
_DROP = set("，。、；：！？“”‘’（）《》【】,.;:!?()[]\"'-— \t\r\n")


def _pairs(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    for phrase in _BOILERPLATE:
        text = text.replace(phrase, " ")
    chars = [c for c in text if c not in _DROP]
    return " ".join(sorted({"".join(chars[i : i + 2]) for i in range(len(chars) - 1)}))


def similarity(a: str, b: str) -> float:
    """0-100: how much two requests read alike, ignoring word order and boilerplate."""
    return Pairs.of(a).score(Pairs.of(b))


@dataclass(frozen=True, slots=True)
class Pairs:
    """A text as its sorted unique character pairs joined by spaces (`text`), as a set, and as
    a signature: one of SIGNATURE_BITS bits set per pair (by the process's string hash), so
    that the popcount of two signatures' AND bounds the pairs they share from above."""

    text: str
    tokens: frozenset[str]
    signature: int

    @classmethod
    def of(cls, raw: str) -> "Pairs":
        text = _pairs(raw)
        tokens = frozenset(text.split()) if text else frozenset()
        signature = 0
        for token in tokens:
            signature |= 1 << (hash(token) % SIGNATURE_BITS)
        return cls(text, tokens, signature)

    def score(self, other: "Pairs") -> float:
        pa, pb = self.text, other.text
        if not pa or not pb:
            return 0.0
        # token_sort over sorted unique pairs ~ their overlap; token_set forgives one text being
        # a longer account of the other, but only counts when it shares enough pairs.
        sort_score = fuzz.token_sort_ratio(pa, pb)
        set_score = fuzz.token_set_ratio(pa, pb)
        shorter = min(len(self.tokens), len(other.tokens))
        return max(sort_score, set_score * SET_WEIGHT if shorter >= SET_MIN_PAIRS else 0.0)


@dataclass(frozen=True)
class Candidate:
    ticket: Ticket
    score: float


def _set_score_bound(a: int, b: int, k: int, sort_below: bool) -> float:
    """An upper bound of rapidfuzz's token_set_ratio for pair texts of a and b pairs sharing
    k (1 <= k < a, b), from lengths alone: every pair is 2 characters, so a joined set of n
    pairs is 3n - 1 long. token_set_ratio is the best of ratio(sect, sect+diff_a),
    ratio(sect, sect+diff_b) (exact from lengths) and ratio(sect+diff_a, sect+diff_b), whose
    common subsequence is at most that of the diffs, itself at most the shorter diff and, when
    ratio(whole texts) < 50 (`sort_below`), under a quarter of both texts' lengths (the diffs
    are subsequences of the texts)."""
    sect, diff_a, diff_b = 3 * k - 1, 3 * (a - k) - 1, 3 * (b - k) - 1
    ab, ba = sect + 1 + diff_a, sect + 1 + diff_b
    r_a = 1 - (1 + diff_a) / (sect + ab)
    r_b = 1 - (1 + diff_b) / (sect + ba)
    common: float = min(diff_a, diff_b)
    if sort_below:
        common = min(common, ((3 * a - 1) + (3 * b - 1)) / 4)
    r_ab = 1 - (diff_a + diff_b - 2 * common) / (ab + ba)
    return 100 * max(r_a, r_b, r_ab)


def best(
    query: Pairs, pool: Sequence[tuple[int, Pairs]], threshold: float = THRESHOLD, limit: int = 10
) -> list[tuple[int, float]]:
    """(id, score) of the texts of `pool` scoring at least `threshold` against `query`, best
    first (newer first on a tie): exactly the scores of `Pairs.score`, computed only for the
    texts that can reach the threshold. Scoring 2,000 candidates one by one took ~150 ms here;
    this takes a few: one C++ pass of ratio (equal to token_sort_ratio on sorted pairs) finds
    the texts whose sort score reaches it; the set score can only reach it with enough pairs
    in common (`_set_score_bound`), which signatures rule out for most texts at once.
    """
    if not query.text or not pool:
        return []
    texts = [pairs.text for _, pairs in pool]
    by_sort = {
        index
        for _, _, index in process.extract(
            query.text, texts, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        )
    }
    scored = []
    for index in by_sort:
        ticket_id, pairs = pool[index]
        score = round(query.score(pairs), 1)
        if score >= threshold:
            scored.append((ticket_id, score))
    a = len(query.tokens)
    if a >= SET_MIN_PAIRS:
        needed = threshold / SET_WEIGHT - 0.01
        sizes = {len(pairs.tokens) for _, pairs in pool}
        # Fewest pairs in common any text of the pool needs (a lower bound: 1 to 3).
        least = 1
        while least < 3 and not any(
            _set_score_bound(a, b, least, True) >= needed for b in sizes if b >= SET_MIN_PAIRS
        ):
            least += 1
        signature = query.signature
        near = [
            index
            for index, (_, pairs) in enumerate(pool)
            if (signature & pairs.signature).bit_count() >= least and index not in by_sort
        ]
        for index in near:
            ticket_id, pairs = pool[index]
            b = len(pairs.tokens)
            if b < SET_MIN_PAIRS:
                continue
            k = len(query.tokens & pairs.tokens)
            # With no pair in common token_set_ratio is the sort score, below the threshold.
            if not k or not (k == a or k == b or _set_score_bound(a, b, k, True) >= needed):
                continue
            # The sort score is below the threshold: only the set score can reach it.
            set_score = fuzz.token_set_ratio(query.text, pairs.text, score_cutoff=needed)
            score = round(set_score * SET_WEIGHT, 1)
            if score >= threshold:
                scored.append((ticket_id, score))
    scored.sort(key=lambda c: (-c[1], -c[0]))
    return scored[:limit]


class PairCache:
    """Pairs of ticket texts by ticket id, for one database. A ticket's content never changes
    after it is created, so an entry never goes stale; the oldest entries are dropped beyond
    `size`. Working out the pairs of 2,000 candidates took ~65 ms per search."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._pairs: dict[int, Pairs] = {}

    def __contains__(self, ticket_id: int) -> bool:
        return ticket_id in self._pairs

    def __getitem__(self, ticket_id: int) -> Pairs:
        return self._pairs[ticket_id]

    def put(self, ticket_id: int, content: str) -> None:
        self._pairs[ticket_id] = Pairs.of(content)
        while len(self._pairs) > self.size:
            del self._pairs[next(iter(self._pairs))]


async def find(
    s: AsyncSession,
    text: str,
    district: str | None,
    category: str | None,
    now: dt.datetime,
    exclude: Sequence[int] = (),
    limit: int = 10,
    cache: PairCache | None = None,
) -> list[Candidate]:
    """The open tickets of the last 30 days in the same district or of the same category
    (the newest MAX_CANDIDATES of them) that read like `text`, best first."""
    pool = await _pool(s, district, category, now, exclude)
    cache = cache if cache is not None else PairCache()
    missing = [ticket_id for ticket_id in pool if ticket_id not in cache]
    for i in range(0, len(missing), 500):
        rows = await s.execute(
            select(Ticket.id, Ticket.content).where(Ticket.id.in_(missing[i : i + 500]))
        )
        for ticket_id, content in rows:
            cache.put(ticket_id, content)
    scored = best(
        Pairs.of(text),
        [(ticket_id, cache[ticket_id]) for ticket_id in pool if ticket_id in cache],
        limit=limit,
    )
    if not scored:
        return []
    # Candidates are shown, not changed: their assisting units are not loaded.
    tickets = {
        t.id: t
        for t in await s.scalars(
            select(Ticket)
            .where(Ticket.id.in_([ticket_id for ticket_id, _ in scored]))
            .options(raiseload(Ticket.assists))
        )
    }
    return [
        Candidate(tickets[ticket_id], score) for ticket_id, score in scored if ticket_id in tickets
    ]


async def _pool(
    s: AsyncSession,
    district: str | None,
    category: str | None,
    now: dt.datetime,
    exclude: Sequence[int],
) -> list[int]:
    """Ids of the newest MAX_CANDIDATES open tickets of the window near the request. One query
    per side of the OR, each walking its (district, id) or (category, id) index newest first
    and stopping at MAX_CANDIDATES: the newest of their union are the newest of the OR."""
    base = select(Ticket.id).where(
        Ticket.status.in_([st.value for st in OPEN]), Ticket.created_at >= now - WINDOW
    )
    if exclude:
        base = base.where(Ticket.id.not_in(list(exclude)))
    sides = [
        base.where(column == value).order_by(Ticket.id.desc()).limit(MAX_CANDIDATES)
        for column, value in ((Ticket.district, district), (Ticket.category, category))
        if value
    ]
    query: Select[int] | CompoundSelect[int]
    if not sides:
        query = base.order_by(Ticket.id.desc()).limit(MAX_CANDIDATES)
    elif len(sides) == 1:
        query = sides[0]
    else:
        query = union_all(*(select(side.subquery().c.id) for side in sides))
    ids = set(await s.scalars(query))
    return sorted(ids, reverse=True)[:MAX_CANDIDATES]
