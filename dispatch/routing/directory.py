"""The units directory shipped as package data and the dispatch catalogue derived from it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Iterable, Mapping

from dispatch.routing.analysis import _role
from dispatch.routing.values import CatalogueRule, UnitProfile
from dispatch.routing.vocabulary import ROLE_DISTRICT_GOV, ROLE_MUNICIPAL


# --------------------------------------------------------------------- catalogue


def default_catalogue(units: Iterable[UnitProfile]) -> list[CatalogueRule]:
    """Catalogue derived from the directory.

    * every non-district unit owns the categories it lists, in any district
      (district None);
    * every district government owns, in its district, the categories it lists
      (属地管理);
    * ownerless cases: a category that the directory lists somewhere but that no
      municipal unit and no unit of a district owns defaults, in that district, to
      the district government.
    """
    unit_list = list(units)
    by_code = {u.code: u for u in unit_list}
    rules: list[CatalogueRule] = []
    municipal_categories: set[str] = set()
    all_categories: list[str] = []
    for unit in unit_list:
        for cat in unit.categories:
            if cat not in all_categories:
                all_categories.append(cat)
        if _role(unit, by_code) == ROLE_MUNICIPAL:
            municipal_categories.update(unit.categories)
            rules.extend(CatalogueRule(cat, None, unit.code) for cat in unit.categories)
    governments = [u for u in unit_list if _role(u, by_code) == ROLE_DISTRICT_GOV and u.district]
    for gov in governments:
        covered = {cat for u in unit_list if u.district == gov.district for cat in u.categories}
        rules.extend(CatalogueRule(cat, gov.district, gov.code) for cat in gov.categories)
        for cat in all_categories:
            if cat not in covered and cat not in municipal_categories:
                rules.append(CatalogueRule(cat, gov.district, gov.code))
    return rules


# --------------------------------------------------------------------- directory data


def str_items(value: object) -> tuple[str, ...]:
    """A JSON list field as a tuple of strings; missing, null or empty: ()."""
    if not value:
        return ()
    if not isinstance(value, Iterable):
        raise TypeError(f"{type(value).__name__!r} object is not iterable")
    return tuple(str(v) for v in value)


def unit_from_mapping(raw: Mapping[str, object]) -> UnitProfile:
    """Parse one directory entry (units.json shape) into a UnitProfile."""
    return UnitProfile(
        code=str(raw["code"]),
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        parent=str(raw["parent"]) if raw.get("parent") else None,
        district=str(raw["district"]) if raw.get("district") else None,
        categories=str_items(raw.get("categories")),
        keywords=str_items(raw.get("keywords")),
    )


def load_units() -> list[UnitProfile]:
    """The units directory shipped with the package (dispatch/data/units.json)."""
    raw = json.loads(
        resources.files("dispatch").joinpath("data/units.json").read_text(encoding="utf-8")
    )
    return [unit_from_mapping(entry) for entry in raw]
