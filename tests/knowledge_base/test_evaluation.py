from __future__ import annotations

from dataclasses import dataclass

import pytest

from knowledge_base.evaluation import evaluate, format_report, parse_queries


@dataclass
class _Hit:
    id: str
    score: float = 50.0


class FakeSearch:
    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers

    def search(self, query, *, limit=5, category=None):
        return [_Hit(i) for i in self.answers.get(query, [])][:limit]


def test_metrics():
    queries = parse_queries(
        [
            '{"q": "a", "expected": ["1"], "kind": "k1"}',
            '{"q": "b", "expected": ["2", "9"], "kind": "k1"}',
            '{"q": "c", "expected": ["3"], "kind": "k2"}',
            '{"q": "d", "expected": [], "kind": "no_answer"}',
            '{"q": "e", "expected": [], "kind": "no_answer"}',
            "",
        ]
    )
    fake = FakeSearch({"a": ["1"], "b": ["5", "6", "9"], "c": ["4", "5", "6", "3"], "e": ["1"]})
    result = evaluate(fake, queries)
    overall = result["overall"]
    assert overall["answerable"] == 3
    assert overall["top1"] == pytest.approx(1 / 3)
    assert overall["top3"] == pytest.approx(2 / 3)
    assert overall["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 4) / 3)
    assert overall["no_answer"] == pytest.approx(1 / 2)
    assert result["by_kind"]["k1"]["top3"] == 1.0
    assert result["by_kind"]["k2"]["top1"] == 0.0
    assert result["by_kind"]["no_answer"]["top3"] is None
    assert {m["q"] for m in result["misses"]} == {"c", "e"}
    report = format_report(result)
    assert "OVERALL" in report and "no_answer" in report


def test_accepts_plain_mappings():
    fake = FakeSearch({"a": ["1"]})
    result = evaluate(fake, [{"q": "a", "expected": ["1"]}])
    assert result["overall"]["top1"] == 1.0
    assert "unknown" in result["by_kind"]
