"""The router: ranks units for one request (scoring described in `dispatch.routing`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from rapidfuzz import fuzz

from dispatch.routing.analysis import (
    _district_variants,
    _function_of,
    _is_place_keyword,
    _keyword_weight,
    _name_tokens,
    _role,
    _strip_name,
    _Term,
    _UnitIndex,
)
from dispatch.routing.directory import default_catalogue
from dispatch.routing.history import _TicketIndex
from dispatch.routing.values import (
    CatalogueRule,
    PastTicket,
    RoutingRequest,
    Suggestion,
    UnitProfile,
    Weights,
)
from dispatch.routing.vocabulary import (
    _DISTRICT_ALIAS,
    _FUNCTION_VOCABULARY,
    _NOT_A_PLACE_CHAR,
    _PLACE_FOLLOWER,
    _STREET_SUFFIX,
    ROLE_DISTRICT_DEPT,
    ROLE_DISTRICT_GOV,
    ROLE_MUNICIPAL,
    ROLE_STREET,
    _is_cjk,
    _normalise,
)


# --------------------------------------------------------------------- the router


@dataclass(frozen=True)
class _Located:
    district: str | None
    source: str  # "request" | "text" | ""


class Router:
    """Ranks units for a request.  Build with `Router.build(...)`."""

    def __init__(
        self,
        units: list[UnitProfile],
        catalogue: list[CatalogueRule],
        history: list[PastTicket],
        weights: Weights,
    ) -> None:
        self._weights = weights
        self._units = units
        self._by_code = {u.code: u for u in units}
        self._rules = {(r.category, r.district, r.unit_code): r for r in catalogue}
        self._index = self._index_units(units)
        self._district_gov: dict[str, str] = {}
        self._district_dept: dict[tuple[str, str | None], str] = {}
        for ix in self._index.values():
            if ix.role == ROLE_DISTRICT_GOV and ix.unit.district:
                self._district_gov.setdefault(ix.unit.district, ix.unit.code)
            elif ix.role == ROLE_DISTRICT_DEPT and ix.unit.district:
                self._district_dept.setdefault((ix.unit.district, ix.function), ix.unit.code)
        self._district_names = self._district_name_table()
        self._district_places = self._district_place_table()
        self._street_places: dict[str, set[str]] = {
            code: {_normalise(ix.street_stem or ""), *ix.place_keywords} - {""}
            for code, ix in self._index.items()
            if ix.role == ROLE_STREET
        }
        self._gov_only_places = self._gov_only_place_table()
        self._history = _TicketIndex()
        for ticket in history:
            self.add_history(ticket)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        units: Iterable[UnitProfile],
        catalogue: Iterable[CatalogueRule] = (),
        history: Iterable[PastTicket] = (),
        weights: Weights | None = None,
    ) -> "Router":
        """An empty catalogue means: use `default_catalogue(units)`."""
        unit_list = list(units)
        codes = [u.code for u in unit_list]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate unit codes in the directory")
        rules = list(catalogue) or default_catalogue(unit_list)
        known = set(codes)
        unknown = sorted({r.unit_code for r in rules} - known)
        if unknown:
            raise ValueError(f"catalogue names unknown units: {', '.join(unknown)}")
        return cls(unit_list, rules, list(history), weights or Weights())

    def _index_units(self, units: list[UnitProfile]) -> dict[str, _UnitIndex]:
        index: dict[str, _UnitIndex] = {}
        for unit in units:
            role = _role(unit, self._by_code)
            function = _function_of(unit.name)
            family = role if role != ROLE_MUNICIPAL else unit.code
            if role == ROLE_DISTRICT_DEPT:
                family = f"{role}:{function}"
            ix = _UnitIndex(unit=unit, role=role, function=function, family=family)
            stem = _strip_name(unit.name, unit, self._by_code)
            if role == ROLE_STREET:
                ix.street_stem = stem
            if role == ROLE_MUNICIPAL or role == ROLE_DISTRICT_DEPT:
                ix.name_tokens = _name_tokens(stem)
            for fragment, aliases, terms in _FUNCTION_VOCABULARY:
                if fragment == function:
                    ix.aliases = tuple(_normalise(a) for a in aliases)
                    ix.terms = tuple(_normalise(t) for t in terms)
            index[unit.code] = ix
        families_of: dict[str, set[str]] = defaultdict(set)
        for ix in index.values():
            for kw in ix.unit.keywords:
                families_of[_normalise(kw)].add(ix.family)
        for ix in index.values():
            parent = self._by_code.get(ix.unit.parent) if ix.unit.parent else None
            for raw in ix.unit.keywords:
                kw = _normalise(raw)
                is_place = ix.role != ROLE_MUNICIPAL and (
                    ix.role == ROLE_DISTRICT_GOV
                    or _is_place_keyword(kw, ix.unit, parent, ix.street_stem)
                )
                if is_place:
                    ix.place_keywords.append(kw)
                else:
                    ix.topic_keywords.append(_Term(kw, _keyword_weight(kw, len(families_of[kw]))))
        return index

    def _district_name_table(self) -> dict[str, str]:
        """Written forms of each district -> canonical district (from the units' districts)."""
        table: dict[str, str] = {}
        for unit in self._units:
            if unit.district:
                for variant in _district_variants(unit.district):
                    table[_normalise(variant)] = unit.district
        return table

    def _district_place_table(self) -> dict[str, str]:
        """Place keywords that belong to exactly one district."""
        owners: dict[str, set[str]] = defaultdict(set)
        for ix in self._index.values():
            if ix.unit.district:
                for kw in ix.place_keywords:
                    owners[kw].add(ix.unit.district)
                if ix.street_stem:
                    owners[_normalise(ix.street_stem)].add(ix.unit.district)
        return {kw: next(iter(ds)) for kw, ds in owners.items() if len(ds) == 1}

    def _gov_only_place_table(self) -> dict[str, tuple[str, ...]]:
        """Per district: places of the district government that no street office there lists.

        District names and aliases (ending in 区) are not streets and are left out.
        """
        table: dict[str, tuple[str, ...]] = {}
        for ix in self._index.values():
            if ix.role != ROLE_DISTRICT_GOV or not ix.unit.district:
                continue
            street_places = [
                p
                for code, places in self._street_places.items()
                if self._by_code[code].district == ix.unit.district
                for p in places
            ]
            table[ix.unit.district] = tuple(
                p
                for p in ix.place_keywords
                if not p.endswith("区") and not any(p in q or q in p for q in street_places)
            )
        return table

    # ------------------------------------------------------------------ history

    def add_history(self, t: PastTicket) -> None:
        """Remember a routed ticket; similar later requests lean towards its unit's role."""
        if t.unit_code not in self._by_code:
            raise ValueError(f"past ticket names an unknown unit: {t.unit_code}")
        self._history.add(t, _normalise(t.text))

    def _history_votes(
        self, text: str, category: str | None, district: str | None
    ) -> dict[str, tuple[float, int]]:
        """unit -> (summed similarity, number of neighbours) over the nearest past tickets."""
        w = self._weights
        votes: dict[str, tuple[float, int]] = {}
        for sim, ticket in self._history.nearest(
            text, w.history_neighbours, w.history_min_similarity
        ):
            if category and ticket.category and ticket.category != category:
                sim *= 0.5  # a past ticket of another category is weaker evidence
            code = self._counterpart(ticket.unit_code, district)
            if code is None:
                continue
            total, count = votes.get(code, (0.0, 0))
            votes[code] = (total + sim, count + 1)
        return votes

    def _counterpart(self, code: str, district: str | None) -> str | None:
        """The unit with the same role as `code` in `district` (municipal units are their own)."""
        ix = self._index[code]
        if ix.role == ROLE_MUNICIPAL or ix.unit.district == district:
            return code
        if district is None:
            return None
        if ix.role == ROLE_DISTRICT_DEPT:
            return self._district_dept.get((district, ix.function)) or self._district_gov.get(
                district
            )
        return self._district_gov.get(district)

    # ------------------------------------------------------------------ location

    def _locate(self, req: RoutingRequest, text: str) -> _Located:
        """The request's district: the field when given, else what the text names.

        Text evidence per district: a district name or alias (港区, 管城区) 3; another place
        of the directory unique to one district: 2 when it is at least three
        characters long or followed by 街道/办事处/镇/路/村/社区, else 1.  A district is
        taken when it scores at least 2 and strictly more than any other.
        """
        if req.district:
            written = _normalise(req.district)
            return _Located(self._district_names.get(written, req.district), "request")
        found: Counter[str] = Counter()
        for written, district in self._district_names.items():
            if written in text:
                found[district] += 3
        for place, district in self._district_places.items():
            position = text.find(place)
            if position < 0:
                continue
            following = text[position + len(place) : position + len(place) + 3]
            if _DISTRICT_ALIAS.search(place):
                found[district] += 3
            elif len(place) >= 3 or _PLACE_FOLLOWER.match(following):
                found[district] += 2
            else:
                found[district] += 1
        if not found:
            return _Located(None, "")
        (best, score), *rest = found.most_common()
        if score >= 2 and (not rest or rest[0][1] < score):
            return _Located(best, "text")
        return _Located(None, "")

    def _street_named(self, text: str, ix: _UnitIndex) -> bool:
        """The street office's own name in the text: 林山寨, or a two-character stem with its
        suffix (石佛办事处), since short stems also occur in other names (新城 in 某某新城小区)."""
        stem = _normalise(ix.street_stem or "")
        if len(stem) >= 3:
            return stem in text
        return bool(stem) and any(stem + suffix in text for suffix in ("街道", "办事处"))

    def _street_named_elsewhere(self, text: str, ix: _UnitIndex) -> bool:
        """True when the text names a street/town ("<name>街道/办事处/镇") that is not this office's."""
        own = self._street_places[ix.unit.code]
        for m in _STREET_SUFFIX.finditer(text):
            before = text[max(0, m.start() - 4) : m.start()]
            if len(before) < 2 or before[-1] in _NOT_A_PLACE_CHAR or not _is_cjk(before[-1]):
                continue
            if any(before.endswith(p) or p.endswith(before[-2:]) for p in own):
                continue
            return True
        return False

    def _place_elsewhere(self, text: str, ix: _UnitIndex) -> bool:
        """True when the text names a place of the district government that no street office lists (杨金路)."""
        own = self._street_places[ix.unit.code]
        return any(
            place in text and not any(place in p or p in place for p in own)
            for place in self._gov_only_places.get(ix.unit.district or "", ())
        )

    # ------------------------------------------------------------------ scoring

    def suggest(self, req: RoutingRequest, limit: int = 5) -> list[Suggestion]:
        """Up to `limit` units with a positive score, best first, with reasons an agent can read.

        Scores are sums of the terms described in the module docstring: comparable
        within one request, not across requests.
        """
        text = _normalise(req.text)
        w = self._weights
        located = self._locate(req, text)
        district = located.district

        topic: dict[str, float] = {}
        reasons: dict[str, list[str]] = defaultdict(list)
        hits = {code: self._keyword_hits(ix, text) for code, ix in self._index.items()}
        # keyword -> units that matched a longer keyword containing it
        longer: dict[str, set[str]] = defaultdict(set)
        matched_terms = {
            (term.text, code) for code, unit_hits in hits.items() for term, _ in unit_hits
        }
        for short, _ in matched_terms:
            for long_text, code in matched_terms:
                if short != long_text and short in long_text:
                    longer[short].add(code)
        for code, ix in self._index.items():
            topic[code] = self._topic_score(ix, text, hits[code], longer, reasons[code])

        category_fit = self._category_fit(req.category)
        votes = self._history_votes(text, req.category, district)
        suggestions: list[Suggestion] = []
        for code, ix in self._index.items():
            why = reasons[code]
            score = topic[code]
            fit = category_fit.get(code, 0.0)
            if fit > 0:
                score += w.category * fit
                why.insert(0, f"类别: {req.category}")
            locality, territory_known = self._locality(ix, req, text, located, fit, why)
            if ix.role == ROLE_STREET and not territory_known:
                # A street office's topics matter inside its territory; when the text does
                # not place the request there, the district government is the safer owner.
                score -= topic[code] * (1.0 - w.street_unplaced_topic_share)
            score += locality
            rule = self._catalogue_rule(req.category, district, code)
            if rule is not None:
                score += w.catalogue
                why.append(f"派单目录: {rule.category} → {rule.district or '全市'}")
            if code in votes:
                total, count = votes[code]
                score += w.history * min(1.0, total)
                why.append(f"相似历史工单: {count} 件")
            if score > 0:  # units with no evidence at all are not suggestions
                suggestions.append(Suggestion(code, round(score, 4), tuple(why)))
        suggestions.sort(key=lambda s: (-s.score, s.unit_code))
        return suggestions[: max(0, limit)]

    def _keyword_hits(self, ix: _UnitIndex, text: str) -> list[tuple[_Term, float]]:
        """(keyword, similarity 0-100) for the unit's topical keywords found in the text."""
        hits: list[tuple[_Term, float]] = []
        for term in ix.topic_keywords:
            if term.text in text:
                hits.append((term, 100.0))
            elif len(term.text) >= 3:
                similarity = fuzz.partial_ratio(
                    term.text, text, score_cutoff=self._weights.fuzzy_cutoff
                )
                if similarity:
                    hits.append((term, similarity))
        return hits

    def _topic_score(
        self,
        ix: _UnitIndex,
        text: str,
        hits: list[tuple[_Term, float]],
        longer: Mapping[str, set[str]],
        why: list[str],
    ) -> float:
        """Directory keywords, name, short names and vocabulary found in the text.

        A piece of text counts once per unit: a name token, short name or vocabulary
        term contained in an already matched, longer string of the same unit is skipped
        ("地铁" after "地铁站").  An exact keyword that is part of a longer keyword
        matched for another unit counts half: the longer one names the matter more
        precisely ("电动自行车" vs "电动自行车登记").
        """
        w = self._weights
        score = 0.0
        matched: list[str] = []

        def fresh(candidate: str) -> bool:
            return not any(candidate in m for m in matched)

        for term, similarity in sorted(hits, key=lambda h: (-h[1], -len(h[0].text))):
            if similarity >= 100:
                if not fresh(term.text):
                    continue
                credit = w.keyword * term.weight
                if longer.get(term.text, set()) - {ix.unit.code}:
                    credit *= 0.5
                score += credit
                why.append(f"关键词: {term.text}")
                matched.append(term.text)
            else:
                share = w.fuzzy_share * (similarity - w.fuzzy_cutoff + 10) / (110 - w.fuzzy_cutoff)
                score += w.keyword * term.weight * share
                why.append(f"近似关键词: {term.text}({similarity:.0f})")
        for token in ix.name_tokens:
            if token in text and fresh(token):
                score += w.name_token
                why.append(f"单位名称: {token}")
                matched.append(token)
                break
        for alias in ix.aliases:
            if alias in text and fresh(alias):
                score += w.alias
                why.append(f"单位简称: {alias}")
                matched.append(alias)
                break
        found = [term for term in ix.terms if term in text and fresh(term)]
        if found:
            score += min(w.vocab_cap, w.vocab_term * len(found))
            why.append("相关词: " + "、".join(found[:4]))
        return score

    def _category_fit(self, category: str | None) -> dict[str, float]:
        """1.0 for units that list the request's category.

        Without a category nothing is inferred: inferring one from the same keywords
        only doubled their weight and, measured on routing-dev with the categories
        removed, lost accuracy (86.6 % vs 88.0 % top-1).
        """
        if not category:
            return {}
        return {code: 1.0 for code, ix in self._index.items() if category in ix.unit.categories}

    def _locality(
        self,
        ix: _UnitIndex,
        req: RoutingRequest,
        text: str,
        located: _Located,
        fit: float,
        why: list[str],
    ) -> tuple[float, bool]:
        """Locality term, and whether the text places the request in the unit's territory.

        The second value matters for street offices only: True when the text names the
        street or one of its places.
        """
        w = self._weights
        if ix.role == ROLE_MUNICIPAL:
            return 0.0, False
        district = located.district
        if district is None:
            return w.unlocated_local_unit, False
        if ix.unit.district != district:
            return w.other_district, False
        label = f"属地: {district}" + ("(据文本)" if located.source == "text" else "")
        # A local unit is the default owner only of the categories it handles; with
        # no category given, half the default.
        fit_factor = fit if req.category else 0.5
        if ix.role in (ROLE_DISTRICT_GOV, ROLE_DISTRICT_DEPT):
            why.append(label)
            default = w.district_gov if ix.role == ROLE_DISTRICT_GOV else w.district_dept
            return default * fit_factor, False
        # street office
        if self._street_named(text, ix):
            why.append(f"街道: {ix.street_stem}")
            return w.street_named * fit_factor, True
        # An explicit "<other name>街道" outweighs a road or place the office also lists.
        if self._street_named_elsewhere(text, ix):
            return w.street_elsewhere, False
        named = [p for p in ix.place_keywords if p in text]
        if named:
            why.append(f"辖区地名: {named[0]}")
            return w.street_place * fit_factor, True
        if self._place_elsewhere(text, ix):
            return w.street_elsewhere, False
        why.append(label)
        return w.street_default * fit_factor, False

    def _catalogue_rule(
        self, category: str | None, district: str | None, code: str
    ) -> CatalogueRule | None:
        """The most specific catalogue rule sending (category, district) to `code`."""
        if not category:
            return None
        return self._rules.get((category, district, code)) or self._rules.get(
            (category, None, code)
        )
