"""Past tickets: a TF-IDF index over character bigrams that finds tickets similar to a request."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from dispatch.routing.values import PastTicket


_PUNCTUATION = set("，。、；：！？“”‘’（）《》【】,.;:!?()[]\"'- ")


def _bigrams(text: str) -> Counter[str]:
    """Overlapping character pairs: order-insensitive and needs no word segmentation."""
    chars = [c for c in text if c not in _PUNCTUATION and not c.isspace()]
    return Counter("".join(chars[i : i + 2]) for i in range(len(chars) - 1))


class _TicketIndex:
    """TF-IDF cosine over character bigrams with an inverted index.

    Ticket norms depend on IDF, which moves as tickets arrive; they are recomputed
    when the history has grown by a tenth since the last computation, and new
    tickets get a norm from the IDF of their arrival.  The approximation only
    shifts similarities slightly between refreshes.
    """

    def __init__(self) -> None:
        self._tickets: list[PastTicket] = []
        self._grams: list[Counter[str]] = []
        self._norms: list[float] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._df: Counter[str] = Counter()
        self._norms_size = 0

    def __len__(self) -> int:
        return len(self._tickets)

    def _idf(self, gram: str) -> float:
        return math.log((len(self._tickets) + 1) / (self._df.get(gram, 0) + 1)) + 1.0

    def _norm(self, grams: Counter[str]) -> float:
        return math.sqrt(sum((c * self._idf(g)) ** 2 for g, c in grams.items())) or 1.0

    def add(self, ticket: PastTicket, text: str) -> None:
        grams = _bigrams(text)
        position = len(self._tickets)
        self._tickets.append(ticket)
        self._grams.append(grams)
        self._df.update(grams.keys())
        for gram in grams:
            self._postings[gram].append(position)
        self._norms.append(self._norm(grams))

    def _refresh_norms(self) -> None:
        if len(self._tickets) > self._norms_size * 1.1:
            self._norms = [self._norm(g) for g in self._grams]
            self._norms_size = len(self._tickets)

    def nearest(self, text: str, k: int, min_similarity: float) -> list[tuple[float, PastTicket]]:
        if not self._tickets:
            return []
        self._refresh_norms()
        grams = _bigrams(text)
        # Bigrams in most tickets ("来电", "反映") select nothing useful.
        common = max(5, len(self._tickets) // 5)
        dots: dict[int, float] = defaultdict(float)
        for gram, count in grams.items():
            postings = self._postings.get(gram)
            if not postings or len(postings) > common:
                continue
            weight = self._idf(gram) ** 2 * count
            for position in postings:
                dots[position] += weight * self._grams[position][gram]
        query_norm = self._norm(grams)
        scored = [(dot / (query_norm * self._norms[p]), p) for p, dot in dots.items()]
        scored = [(sim, p) for sim, p in scored if sim >= min_similarity]
        scored.sort(key=lambda sp: (-sp[0], sp[1]))
        return [(sim, self._tickets[p]) for sim, p in scored[:k]]
