"""Search quality on labelled queries (backs `hotline kb eval`).

A query file holds one JSON object per line: {"q": str, "expected": [article ids], "kind": str}.
An empty `expected` list means the knowledge base has no answer and the right result is none.

Metrics, over answerable queries: top1 / top3 (an expected id is first / among the first three),
MRR (1 / rank of the first expected id, 0 if absent from the first `depth` hits). Over no-answer
queries: no_answer (share that returned no hit at all).

Cross-check (`hotline kb eval --cross-check`): the queries are split in two halves (every other
query of each kind), the answer thresholds (knowledge_base.answering.Thresholds) are tuned on
one half over a small grid and measured on the other, both ways; figures on the half not tuned
on say how well the shipped thresholds, tuned on all dev queries, can be expected to carry over.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Protocol

from knowledge_base.answering import Thresholds
from knowledge_base.search import Hit

DEPTH = 10


@dataclass(frozen=True)
class LabelledQuery:
    q: str
    expected: tuple[str, ...]
    kind: str = "unknown"


class _Searcher(Protocol):
    def search(self, query: str, *, limit: int = ..., category: str | None = ...) -> list[Hit]: ...


class _TunableSearcher(_Searcher, Protocol):
    thresholds: Thresholds


# Values tried when tuning on half of the queries (the shipped values are among them), the
# strictest first: of equally good thresholds nearest the middle of them, the strictest is kept,
# since an agent must not read out a wrong answer (see tune).
CROSS_CHECK_GRID = {
    "confident": (60.0, 50.0, 40.0),
    "answer": (28.0, 24.0, 20.0, 16.0),
    "max_missing": (0.25, 0.35, 0.45, 1.01),
}
# The bar tuning aims at: top-3 within every kind, and no-answer queries returning nothing.
BAR_TOP3 = 0.95
BAR_NO_ANSWER = 0.8


def parse_queries(lines: Iterable[str]) -> list[LabelledQuery]:
    out = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        out.append(
            LabelledQuery(
                q=str(record["q"]),
                expected=tuple(record.get("expected") or ()),
                kind=str(record.get("kind") or "unknown"),
            )
        )
    return out


def _as_query(item: LabelledQuery | Mapping[str, object]) -> LabelledQuery:
    if isinstance(item, LabelledQuery):
        return item
    return LabelledQuery(
        q=str(item["q"]),
        expected=tuple(item.get("expected") or ()),  # type: ignore[arg-type]
        kind=str(item.get("kind") or "unknown"),
    )


class _Tally:
    def __init__(self) -> None:
        self.answerable = 0
        self.top1 = 0
        self.top3 = 0
        self.rr = 0.0
        self.no_answer = 0
        self.no_answer_empty = 0

    def summary(self) -> dict[str, float | int | None]:
        a, n = self.answerable, self.no_answer
        return {
            "queries": a + n,
            "answerable": a,
            "top1": self.top1 / a if a else None,
            "top3": self.top3 / a if a else None,
            "mrr": self.rr / a if a else None,
            "no_answer_queries": n,
            "no_answer": self.no_answer_empty / n if n else None,
        }


def evaluate(
    index: _Searcher, queries: Iterable[LabelledQuery | Mapping[str, object]]
) -> dict[str, Any]:
    """Quality figures overall and per kind, plus the misses for inspection.

    Returns {"overall": {...}, "by_kind": {kind: {...}}, "misses": [...]} where each summary has
    queries, answerable, top1, top3, mrr, no_answer_queries, no_answer (None when not
    applicable), and each miss is {"q", "kind", "expected", "got": [(id, score), ...]}.
    """
    overall = _Tally()
    by_kind: dict[str, _Tally] = defaultdict(_Tally)
    misses: list[dict[str, Any]] = []
    for item in queries:
        query = _as_query(item)
        hits = index.search(query.q, limit=DEPTH)
        ids = [h.id for h in hits]
        tallies = (overall, by_kind[query.kind])
        if query.expected:
            expected = set(query.expected)
            rank = next((i for i, hid in enumerate(ids, 1) if hid in expected), None)
            for t in tallies:
                t.answerable += 1
                if rank is not None:
                    t.top1 += rank == 1
                    t.top3 += rank <= 3
                    t.rr += 1.0 / rank
            ok = rank is not None and rank <= 3
        else:
            for t in tallies:
                t.no_answer += 1
                t.no_answer_empty += not hits
            ok = not hits
        if not ok:
            misses.append(
                {
                    "q": query.q,
                    "kind": query.kind,
                    "expected": list(query.expected),
                    "got": [(h.id, h.score) for h in hits[:3]],
                }
            )
    return {
        "overall": overall.summary(),
        "by_kind": {kind: t.summary() for kind, t in sorted(by_kind.items())},
        "misses": misses,
    }


def format_report(result: dict[str, Any]) -> str:
    """Plain-text table of an evaluate() result."""

    def pct(v: float | None) -> str:
        return "  -  " if v is None else f"{100 * v:5.1f}"

    lines = [f"{'kind':<14}{'n':>4}{'top1':>7}{'top3':>7}{'mrr':>7}{'no-ans':>8}"]
    rows = list(result["by_kind"].items()) + [("OVERALL", result["overall"])]
    for kind, s in rows:
        lines.append(
            f"{kind:<14}{s['queries']:>4}{pct(s['top1']):>7}{pct(s['top3']):>7}"
            f"{pct(s['mrr']):>7}{pct(s['no_answer']):>8}"
        )
    return "\n".join(lines)


def halves(queries: Iterable[LabelledQuery]) -> tuple[list[LabelledQuery], list[LabelledQuery]]:
    """Every other query of each kind, in file order: two halves with the same mix of kinds."""
    first: list[LabelledQuery] = []
    second: list[LabelledQuery] = []
    seen: dict[str, int] = defaultdict(int)
    for q in queries:
        (first if seen[q.kind] % 2 == 0 else second).append(q)
        seen[q.kind] += 1
    return first, second


def _merit(result: dict[str, Any]) -> tuple[float, float]:
    """How close a result is to the bar, then how far beyond it."""
    kinds = [s["top3"] for s in result["by_kind"].values() if s["top3"] is not None]
    worst = min(kinds, default=1.0)
    no_answer = result["overall"]["no_answer"]
    no_answer = 1.0 if no_answer is None else no_answer
    top3 = result["overall"]["top3"] or 0.0
    return min(worst, BAR_TOP3) + min(no_answer, BAR_NO_ANSWER), worst + top3 + no_answer


def tune(index: _TunableSearcher, queries: list[LabelledQuery]) -> Thresholds:
    """The grid's thresholds that bring these queries closest to the bar. Of equally good
    ones, the one nearest the middle of them (in grid steps): the decision then stays put when
    a score moves a little; of those, the strictest (see CROSS_CHECK_GRID)."""
    saved = index.thresholds
    tried: list[tuple[tuple[float, float], tuple[int, ...]]] = []
    try:
        for steps in itertools.product(*(range(len(v)) for v in CROSS_CHECK_GRID.values())):
            index.thresholds = _at(steps)
            tried.append((_merit(evaluate(index, queries)), steps))
    finally:
        index.thresholds = saved
    top = max(merit for merit, _ in tried)
    tied = [steps for merit, steps in tried if merit == top]
    middle = [sum(s[i] for s in tied) / len(tied) for i in range(len(CROSS_CHECK_GRID))]
    # min() keeps the first of equals: the strictest, as the grid lists values strictest first.
    return _at(min(tied, key=lambda s: sum((a - m) ** 2 for a, m in zip(s, middle))))


def _at(steps: tuple[int, ...]) -> Thresholds:
    return Thresholds(
        **{name: values[i] for (name, values), i in zip(CROSS_CHECK_GRID.items(), steps)}
    )


def cross_check(index: _TunableSearcher, queries: Iterable[LabelledQuery]) -> list[dict[str, Any]]:
    """Tune on one half, measure the other, both ways: [{"tuned_on", "thresholds", "result"}]."""
    first, second = halves(queries)
    out = []
    saved = index.thresholds
    try:
        for name, train, test in (("first", first, second), ("second", second, first)):
            tuned = tune(index, train)
            index.thresholds = tuned
            out.append(
                {"tuned_on": name, "thresholds": asdict(tuned), "result": evaluate(index, test)}
            )
    finally:
        index.thresholds = saved
    return out
