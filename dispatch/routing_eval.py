"""Offline quality figures for the unit router (routing-dev shaped cases)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from dispatch.routing import PastTicket, Router, RoutingRequest
from dispatch.routing.directory import str_items

__all__ = ["RoutingCase", "case_from_mapping", "evaluate_routing"]


@dataclass(frozen=True)
class RoutingCase:
    id: str
    text: str
    district: str | None
    category: str | None
    type: str | None
    expected_unit: str
    acceptable_units: tuple[str, ...] = ()
    urgent: bool = False

    @property
    def good_units(self) -> frozenset[str]:
        return frozenset((self.expected_unit, *self.acceptable_units))

    def request(self) -> RoutingRequest:
        return RoutingRequest(text=self.text, district=self.district, category=self.category)

    def as_past_ticket(self) -> PastTicket:
        return PastTicket(self.text, self.district, self.category, self.expected_unit)


def case_from_mapping(raw: Mapping[str, object]) -> RoutingCase:
    """Parse one routing-dev.jsonl row."""
    return RoutingCase(
        id=str(raw["id"]),
        text=str(raw["text"]),
        district=str(raw["district"]) if raw.get("district") else None,
        category=str(raw["category"]) if raw.get("category") else None,
        type=str(raw["type"]) if raw.get("type") else None,
        expected_unit=str(raw["expected_unit"]),
        acceptable_units=str_items(raw.get("acceptable_units")),
        urgent=bool(raw.get("urgent", False)),
    )


def _ratio(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def evaluate_routing(router: Router, cases: Iterable[RoutingCase | Mapping[str, object]]) -> dict:
    """Top-1 / top-3 hit rates, overall and per category and per type.

    A hit is the expected unit or one of the acceptable units.  Returns
    {"n", "top1", "top3", "by_category": {cat: {"n", "top1", "top3"}},
     "by_type": {...}, "misses": [{"id", "expected", "acceptable", "got"}]}.
    """
    parsed = [c if isinstance(c, RoutingCase) else case_from_mapping(c) for c in cases]
    totals = {"n": 0, "top1": 0, "top3": 0}
    groups: dict[str, dict[str, dict[str, int]]] = {
        "by_category": defaultdict(lambda: {"n": 0, "top1": 0, "top3": 0}),
        "by_type": defaultdict(lambda: {"n": 0, "top1": 0, "top3": 0}),
    }
    misses: list[dict] = []
    for case in parsed:
        ranked = [s.unit_code for s in router.suggest(case.request(), limit=3)]
        top1 = bool(ranked) and ranked[0] in case.good_units
        top3 = any(code in case.good_units for code in ranked[:3])
        keys = (("by_category", case.category or "(none)"), ("by_type", case.type or "(none)"))
        for bucket in (totals, *(groups[g][k] for g, k in keys)):
            bucket["n"] += 1
            bucket["top1"] += top1
            bucket["top3"] += top3
        if not top1:
            misses.append(
                {
                    "id": case.id,
                    "expected": case.expected_unit,
                    "acceptable": list(case.acceptable_units),
                    "got": ranked,
                }
            )

    def finish(bucket: dict[str, int]) -> dict:
        return {
            "n": bucket["n"],
            "top1": _ratio(bucket["top1"], bucket["n"]),
            "top3": _ratio(bucket["top3"], bucket["n"]),
        }

    return {
        **finish(totals),
        "by_category": {k: finish(v) for k, v in sorted(groups["by_category"].items())},
        "by_type": {k: finish(v) for k, v in sorted(groups["by_type"].items())},
        "misses": misses,
    }
