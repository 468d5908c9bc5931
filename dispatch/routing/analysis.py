"""Analysis of one unit of the directory: its role, function, name stem, place and topic keywords."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from dispatch.routing.values import UnitProfile
from dispatch.routing.vocabulary import (
    _FUNCTION_VOCABULARY,
    _HOUSING_KINDS,
    _NAME_PREFIXES,
    _NAME_SUFFIXES,
    _PLACE_SUFFIX,
    ROLE_DISTRICT_DEPT,
    ROLE_DISTRICT_GOV,
    ROLE_MUNICIPAL,
    ROLE_STREET,
)


# --------------------------------------------------------------------- unit analysis


@dataclass(frozen=True)
class _Term:
    text: str
    weight: float


@dataclass
class _UnitIndex:
    unit: UnitProfile
    role: str
    function: str | None  # matched _FUNCTION_VOCABULARY fragment
    family: str  # keyword-sharing family (district units of one role share one family)
    topic_keywords: list[_Term] = field(default_factory=list)
    place_keywords: list[str] = field(default_factory=list)
    name_tokens: list[str] = field(default_factory=list)
    aliases: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    street_stem: str | None = None


def _role(unit: UnitProfile, by_code: Mapping[str, UnitProfile]) -> str:
    if unit.kind == "street_office":
        return ROLE_STREET
    if unit.kind == "district_government":
        parent = by_code.get(unit.parent) if unit.parent else None
        if parent is not None and parent.kind == "district_government":
            return ROLE_DISTRICT_DEPT
        return ROLE_DISTRICT_GOV
    return ROLE_MUNICIPAL


def _function_of(name: str) -> str | None:
    best: tuple[int, int, str] | None = None
    for fragment, _aliases, _terms in _FUNCTION_VOCABULARY:
        pos = name.rfind(fragment)
        if pos >= 0:
            key = (pos + len(fragment), len(fragment), fragment)
            if best is None or key > best:
                best = key
    return best[2] if best else None


def _strip_name(name: str, unit: UnitProfile, by_code: Mapping[str, UnitProfile]) -> str:
    stem = name
    parent = by_code.get(unit.parent) if unit.parent else None
    if parent is not None and stem.startswith(parent.name):
        stem = stem[len(parent.name) :]
    for prefix in _NAME_PREFIXES:  # in order: 国家税务总局郑州市税务局 loses both
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
    if unit.district:
        for variant in _district_variants(unit.district):
            if stem.startswith(variant):
                stem = stem[len(variant) :]
                break
    changed = True
    while changed:
        changed = False
        for suffix in _NAME_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                changed = True
                break
    return stem


def _name_tokens(stem: str) -> list[str]:
    """Tokens of a name stem a caller may say: "人力资源和社会保障" -> 人力资源, 社会保障."""
    tokens: list[str] = []
    for part in stem.split("和"):
        if len(part) < 2:
            continue
        tokens.append(part)
        for tail in ("信息管理", "管理", "事务"):
            if part.endswith(tail) and len(part) - len(tail) >= 3:
                tokens.append(part[: -len(tail)])
    if len(stem) >= 2 and stem not in tokens:
        tokens.append(stem)
    return [t for t in dict.fromkeys(tokens) if len(t) >= 2]


def _district_variants(district: str) -> list[str]:
    """Ways a district is written: 管城回族区 -> 管城区; 航空港区 -> 港区."""
    variants = [district]
    if "回族" in district:
        variants.append(district.replace("回族", ""))
    return variants


def _is_place_keyword(
    keyword: str, unit: UnitProfile, parent: UnitProfile | None, stem: str | None
) -> bool:
    """Whether a district-level unit's keyword names a place (vs a matter it handles)."""
    if any(kind in keyword for kind in _HOUSING_KINDS):
        return False  # 小区广场, 老旧家属院: kinds of places found in every street
    if unit.district and unit.district in keyword:
        return True
    if stem and stem in keyword:
        return True
    if parent is not None and keyword in parent.keywords:
        return True
    return bool(_PLACE_SUFFIX.search(keyword))


def _keyword_weight(keyword: str, families: int) -> float:
    """Longer keywords are more specific; a keyword claimed by several unit families less so."""
    length_factor = min(2.0, 0.6 + 0.2 * len(keyword))
    return length_factor / (1.0 + 0.6 * (families - 1))
