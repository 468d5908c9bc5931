"""Values the router takes and returns: units, requests, catalogue rules, past tickets, suggestions, weights."""

from __future__ import annotations

from dataclasses import dataclass


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class UnitProfile:
    code: str
    name: str
    kind: str  # municipal_bureau | provincial_vertical | public_utility | district_government | street_office
    parent: str | None
    district: str | None
    categories: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class RoutingRequest:
    text: str
    district: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class CatalogueRule:
    """Dispatch catalogue entry: requests of `category` in `district` go to `unit_code`.

    `district` None means any district (and requests without a district).
    """

    category: str
    district: str | None
    unit_code: str


@dataclass(frozen=True)
class PastTicket:
    text: str
    district: str | None
    category: str | None
    unit_code: str


@dataclass(frozen=True)
class Suggestion:
    unit_code: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Weights:
    """Scoring weights.

    Relations that carry the method (each weight can move by +-40 % without changing
    routing-dev top-1 by more than one case):
    * category (3.0) outweighs any single keyword: the agent's category is reliable
      (every routing-dev answer lists it) and usually decides between bureaus;
    * a municipal unit's own two-character keyword (1.0) beats the district default
      (district_gov 0.9), so 路灯 or 走失 in a located request still reach the bureau;
    * a named street (3.0) beats everything but the category;
    * vocabulary terms (0.3 each, at most 1.2) only break ties.
    """

    category: float = 3.0
    catalogue: float = 0.5
    keyword: float = 1.0  # multiplied by the keyword's length and specificity factor
    fuzzy_cutoff: float = 70.0  # rapidfuzz partial_ratio below this is ignored
    fuzzy_share: float = 0.6  # a fuzzy hit at 100 would count this share of an exact one
    name_token: float = 1.2
    alias: float = 1.2
    vocab_term: float = 0.3
    vocab_cap: float = 1.2
    # locality
    district_gov: float = 0.9
    district_dept: float = 0.6
    street_named: float = 3.0
    street_place: float = 1.2
    street_default: float = 0.6
    street_unplaced_topic_share: float = 0.5
    street_elsewhere: float = -1.0
    unlocated_local_unit: float = -2.5
    other_district: float = -20.0
    # history
    history: float = 2.5
    history_min_similarity: float = 0.25
    history_neighbours: int = 5
