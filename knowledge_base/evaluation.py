"""Search quality on labelled queries (backs `hotline kb eval`).

A query file holds one JSON object per line: {"q": str, "expected": [article ids], "kind": str}.
An empty `expected` list means the knowledge base has no answer and the right result is none.

Metrics, over answerable queries: top1 / top3 (an expected id is first / among the first three),
MRR (1 / rank of the first expected id, 0 if absent from the first `depth` hits). Over no-answer
queries: no_answer (share that returned no hit at all).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol

DEPTH = 10


@dataclass(frozen=True)
class LabelledQuery:
    q: str
    expected: tuple[str, ...]
    kind: str = "unknown"


class _Searcher(Protocol):
    def search(self, query: str, *, limit: int = ..., category: str | None = ...) -> list: ...


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


def evaluate(index: _Searcher, queries: Iterable[LabelledQuery | Mapping[str, object]]) -> dict:
    """Quality figures overall and per kind, plus the misses for inspection.

    Returns {"overall": {...}, "by_kind": {kind: {...}}, "misses": [...]} where each summary has
    queries, answerable, top1, top3, mrr, no_answer_queries, no_answer (None when not
    applicable), and each miss is {"q", "kind", "expected", "got": [(id, score), ...]}.
    """
    overall = _Tally()
    by_kind: dict[str, _Tally] = defaultdict(_Tally)
    misses: list[dict] = []
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


def format_report(result: dict) -> str:
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
