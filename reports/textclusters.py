"""热点诉求 by similar text: a burst (a burst water main in one street, a heating failure in one
compound) is reported under different categories or none, so the recent window's tickets are
also grouped by what they say. Pure: no I/O.

Text: each ticket's summary (TicketRecord.summary, the start of the 诉求内容) is NFKC-normalised
and case-folded; runs of Chinese characters become character bigrams (no word segmentation
needed), latin words are kept whole, digits and punctuation are dropped (house and phone
numbers differ between callers of the same burst). A ticket is the set of its shingles, each
weighted by its inverse document frequency over every ticket read (recent window and
baseline), so that words every ticket uses (市民, 反映, 请尽快) barely count; two tickets are
similar when the cosine of their weighted sets is at least SIMILAR.

Clusters: among at most CLUSTER_CAP tickets of the recent window (the newest), the ticket with
the most similar unclustered tickets seeds a cluster of itself and those tickets (a star around
a medoid, so that A~B~C does not chain into one topic), repeatedly while a cluster could still
reach Policy.hotspot_min_tickets; for up to three rounds, the unclustered tickets similar to
the cluster's centroid join it (callers wording it unlike the seed but like the others). The
baseline of a cluster is the number of tickets of the baseline period similar to its centroid
(the same rule), per window, from an even sample of at most BASELINE_CAP baseline tickets; a
cluster is hot under the same rule as a category (reports.hotspots): at least
hotspot_min_tickets and hotspot_ratio times its baseline.

Cost: pairs are found through an inverted index of the shingles held by at most COMMON_SHARE
of the window's tickets (or COMMON_FLOOR); the common shingles are added exactly for the pairs
they could still lift over SIMILAR (bounded by the product of their norms). A pair sharing
only common shingles is not looked at: its cosine is below SIMILAR in practice, their weights
being the lowest. benchmarks/hotspot_text.py: 2,000 window tickets against 56,000 baseline
tickets (a sample of 20,000 read) take about 1.8 s, 0.8 s of it the window's pairs; the
service runs it off the event loop.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from hotline.policy import Policy
from hotline.ports import TicketRecord

# The recent window's tickets clustered at most (the newest); the page says so when cut.
CLUSTER_CAP = 2000
# Cosine of the idf-weighted shingle sets at which two tickets tell of the same thing.
SIMILAR = 0.28
# Baseline tickets read at most (an even sample of the baseline period; counts scaled up).
BASELINE_CAP = 20000
# Shingles in more than this share of the window's tickets find no pairs by themselves.
COMMON_SHARE = 0.2
# ... but a shingle of at most this many tickets always does (a small window's burst holds
# most of the window).
COMMON_FLOOR = 100
# The idf of a shingle held by COMMON_SHARE of the tickets: a label term must say more.
GENERIC_IDF = math.log(1 / COMMON_SHARE) + 1
# Shared terms shown as a cluster's label.
LABEL_TERMS = 4

_RUN = re.compile(r"[a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def normalised(text: str) -> list[str]:
    """The runs of Chinese characters and latin words of `text`, NFKC and case-folded."""
    return _RUN.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str) -> frozenset[str]:
    out: set[str] = set()
    for run in normalised(text):
        if run.isascii() or len(run) == 1:
            out.add(run)
        else:
            out.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class TextCluster:
    terms: tuple[str, ...]  # the most telling terms most members share
    excerpt: str  # the seed ticket's summary
    recent: int
    # Similar tickets per window before it; once past what a hot cluster allows, counting stops
    # and this is a lower bound (the cluster is not hot either way).
    baseline: float
    tickets: tuple[TicketRecord, ...]  # newest first

    @property
    def ratio(self) -> float | None:
        return round(self.recent / self.baseline, 1) if self.baseline else None

    @property
    def key(self) -> str:
        return "、".join(self.terms) or self.excerpt[:20]


@dataclass(frozen=True, slots=True)
class TextResult:
    clusters: list[TextCluster]  # every cluster that could be hot (size >= min), hottest first
    hot: list[TextCluster]
    clustered: int  # tickets of the window clustered
    window_total: int  # tickets of the window
    capped: bool  # window_total > CLUSTER_CAP: only the newest were clustered


def _vector(s: frozenset[str], idf: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(idf[x] ** 2 for x in s)) or 1.0
    return {x: idf[x] / norm for x in s}


def _neighbours(
    vectors: Sequence[dict[str, float]],
) -> tuple[list[set[int]], dict[str, list[int]]]:
    """For each ticket, the others whose cosine with it is at least SIMILAR; and the tickets
    of each less common shingle."""
    n = len(vectors)
    df: Counter[str] = Counter(x for v in vectors for x in v)
    limit = max(COMMON_FLOOR, int(COMMON_SHARE * n))
    # Each ticket meets the earlier ones through the postings built so far: every pair once.
    postings: dict[str, list[int]] = defaultdict(list)
    weights: dict[str, list[float]] = defaultdict(list)
    common: list[dict[str, float]] = []
    norms: list[float] = []
    out: list[set[int]] = [set() for _ in range(n)]
    for i, v in enumerate(vectors):
        dots: dict[int, float] = defaultdict(float)
        ci: dict[str, float] = {}
        for x, w in v.items():
            if df[x] > limit:
                ci[x] = w
                continue
            for j, wj in zip(postings[x], weights[x]):
                dots[j] += w * wj
            postings[x].append(i)
            weights[x].append(w)
        common.append(ci)
        norm_i = math.sqrt(sum(w * w for w in ci.values()))
        norms.append(norm_i)
        for j, dot in dots.items():
            # The common shingles add at most the product of their norms (Cauchy-Schwarz):
            # most pairs are settled without them.
            if dot < SIMILAR <= dot + norm_i * norms[j]:
                dot += _cosine(ci, common[j])
            if dot >= SIMILAR:
                out[i].add(j)
                out[j].add(i)
    return out, postings


def _centroid(vectors: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for v in vectors:
        for x, w in v.items():
            total[x] += w
    norm = math.sqrt(sum(w * w for w in total.values())) or 1.0
    return {x: w / norm for x, w in total.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(w * large[x] for x, w in small.items() if x in large)


def _stars(
    vectors: Sequence[dict[str, float]], minimum: int
) -> list[tuple[list[int], dict[str, float]]]:
    """Clusters of at least `minimum` tickets with their centroids: a seed and its similar
    unclustered tickets, then the unclustered tickets similar to their centroid (a caller
    wording it unlike the seed but like the others). Seed first, then by index."""
    neighbours, postings = _neighbours(vectors)
    free = set(range(len(neighbours)))
    # Ties go to the lowest index: the newest ticket.
    heap = [(-len(neighbours[i]), i) for i in free]
    heapq.heapify(heap)
    out = []
    while heap:
        count, i = heapq.heappop(heap)
        if i not in free:
            continue
        core = neighbours[i] & free
        if len(core) != -count:
            heapq.heappush(heap, (-len(core), i))
            continue
        if len(core) + 1 < minimum:
            break
        core.add(i)
        members = core
        # Members found this way move the centroid: a few rounds take in their like.
        for _ in range(3):
            centroid = _centroid(vectors[j] for j in members)
            reached = set().union(*(postings.get(x, ()) for x in centroid)) & free - members
            grown = {j for j in reached if _cosine(vectors[j], centroid) >= SIMILAR}
            if not grown:
                break
            members = members | grown
        free -= members
        out.append(([i, *sorted(members - {i})], _centroid(vectors[j] for j in members)))
    return out


def _terms(texts: Sequence[str], idf: dict[str, float]) -> tuple[str, ...]:
    """The terms most members share and few other tickets use: every shared bigram grown left
    and right while as many members still hold it, scored by members x mean idf."""
    runs = ["|".join(normalised(t)) for t in texts]
    need = max(2, (len(runs) + 1) // 2)

    def held(term: str) -> int:
        return sum(term in r for r in runs)

    share: Counter[str] = Counter()
    for t in texts:
        share.update(x for x in shingles(t) if len(x) == 2 and not x.isascii())
    scored: dict[str, float] = {}
    for x, n in share.items():
        if n < need:
            continue
        term = x
        for _ in range(12):
            grown = [g for g in (term + c for c in _after(term, runs)) if held(g) == n]
            grown += [g for g in (c + term for c in _before(term, runs)) if held(g) == n]
            if not grown:
                break
            term = min(grown)
        weights = [idf.get(term[i : i + 2], 0.0) for i in range(len(term) - 1)]
        # A term as common as the words every ticket uses (处理, 来电) tells nothing.
        if sum(weights) / len(weights) > GENERIC_IDF:
            scored[term] = n * sum(weights) / len(weights)
    kept = [t for t in scored if not any(t != u and t in u for u in scored)]
    kept.sort(key=lambda t: (-scored[t], t))
    return tuple(kept[:LABEL_TERMS])


def _after(term: str, runs: Sequence[str]) -> set[str]:
    return {r[i + len(term)] for r in runs for i in _finds(r, term) if i + len(term) < len(r)} - {
        "|"
    }


def _before(term: str, runs: Sequence[str]) -> set[str]:
    return {r[i - 1] for r in runs for i in _finds(r, term) if i > 0} - {"|"}


def _finds(text: str, term: str) -> list[int]:
    out = []
    i = text.find(term)
    while i >= 0:
        out.append(i)
        i = text.find(term, i + 1)
    return out


def text_clusters(
    records: Iterable[TicketRecord],
    since: dt.datetime,
    recent_start: dt.datetime,
    now: dt.datetime,
    policy: Policy,
) -> TextResult:
    """Clusters of the tickets recorded in [recent_start, now) against [since, recent_start)."""
    recent: list[TicketRecord] = []
    before: list[TicketRecord] = []
    for r in records:
        if recent_start <= r.created_at < now:
            recent.append(r)
        elif since <= r.created_at < recent_start:
            before.append(r)
    recent.sort(key=lambda r: (r.created_at, r.number), reverse=True)
    total = len(recent)
    recent = recent[:CLUSTER_CAP]
    # The baseline only estimates a rate: an even sample of it is enough.
    before.sort(key=lambda r: (r.created_at, r.number))
    step = max(1, math.ceil(len(before) / BASELINE_CAP))
    scale = step if before else 1
    recent_sets = [shingles(r.summary) for r in recent]
    before_sets = [shingles(r.summary) for r in before[::step]]
    docs = len(recent_sets) + len(before_sets)
    df: Counter[str] = Counter()
    for s in recent_sets:
        df.update(s)
    before_df: Counter[str] = Counter()
    for s in before_sets:
        before_df.update(s)
    df.update(before_df)
    idf = {x: math.log((docs + 1) / (n + 1)) + 1 for x, n in df.items()}
    vectors = [_vector(s, idf) for s in recent_sets]
    minimum = policy.hotspot_min_tickets
    stars = _stars(vectors, minimum)
    windows = policy.hotspot_baseline_days * 24 / policy.hotspot_window_hours
    # Baseline tickets are found through their less common shingles, as pairs are.
    limit = max(COMMON_FLOOR, COMMON_SHARE * len(before_sets))
    postings: dict[str, list[int]] = defaultdict(list)
    if stars:
        for j, s in enumerate(before_sets):
            for x in s:
                if before_df[x] <= limit:
                    postings[x].append(j)
    before_vectors: dict[int, dict[str, float]] = {}
    clusters = []
    for star, centroid in stars:
        # Past this many similar baseline tickets the cluster cannot be hot: counting stops.
        bound = len(star) * windows / policy.hotspot_ratio
        found: set[int] = set().union(*(postings.get(x, ()) for x in centroid))
        similar = 0
        for j in sorted(found):
            v = before_vectors.get(j)
            if v is None:
                v = before_vectors[j] = _vector(before_sets[j], idf)
            if _cosine(v, centroid) >= SIMILAR:
                similar += scale
                if similar > bound:
                    break
        members = [recent[i] for i in star]
        clusters.append(
            TextCluster(
                _terms([m.summary for m in members], idf),
                recent[star[0]].summary,
                len(members),
                round(similar / windows, 2),
                tuple(sorted(members, key=lambda t: (t.created_at, t.number), reverse=True)),
            )
        )
    floor = 1 / windows
    clusters.sort(key=lambda c: (-c.recent / max(c.baseline, floor), -c.recent, c.key))
    hot = [c for c in clusters if c.recent >= policy.hotspot_ratio * c.baseline]
    return TextResult(clusters, hot, len(recent), total, total > CLUSTER_CAP)
