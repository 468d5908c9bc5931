"""Editable synonym groups for the knowledge-base search.

File format (UTF-8): one group per line, terms separated by whitespace, commas or 、;
"#" starts a comment. Terms are normalised like searched text (traditional → simplified,
case-folded). A term may appear in several groups; its aliases are the union of its groups
(one hop, not transitive, so one broad line cannot chain unrelated groups together).

The index expands documents, not queries: wherever an article contains a term, the other terms
of its groups are indexed alongside it. Queries therefore match through synonyms whatever
channel they arrive in (characters, pinyin, initials, typos).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

from knowledge_base.text import normalize

_SPLIT = re.compile(r"[\s,，、;；]+")


@dataclass(frozen=True, slots=True)
class SynonymSpan:
    """A synonym term found in a text: text[start:end] == term."""

    start: int
    end: int
    term: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Synonyms:
    groups: tuple[tuple[str, ...], ...]
    _aliases: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _by_first: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases: dict[str, set[str]] = {}
        for group in self.groups:
            for term in group:
                aliases.setdefault(term, set()).update(t for t in group if t != term)
        by_first: dict[str, list[str]] = {}
        for term in aliases:
            by_first.setdefault(term[0], []).append(term)
        object.__setattr__(
            self, "_aliases", {t: tuple(sorted(a)) for t, a in aliases.items()}
        )
        object.__setattr__(
            self,
            "_by_first",
            {c: tuple(sorted(ts, key=len, reverse=True)) for c, ts in by_first.items()},
        )

    def __len__(self) -> int:
        return len(self.groups)

    def aliases(self, term: str) -> tuple[str, ...]:
        return self._aliases.get(term, ())

    def find(self, text: str) -> list[SynonymSpan]:
        """Longest term starting at each position of normalised text.

        Matches may overlap (住房公积金 at 0 and 公积金 at 2 are both reported) so that
        every term a reader would see is expanded.
        """
        out: list[SynonymSpan] = []
        by_first = self._by_first
        for i, ch in enumerate(text):
            terms = by_first.get(ch)
            if not terms:
                continue
            for term in terms:
                if text.startswith(term, i):
                    out.append(SynonymSpan(i, i + len(term), term, self._aliases[term]))
                    break
        return out


def load_synonyms(text: str) -> Synonyms:
    groups: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        terms: list[str] = []
        for raw in _SPLIT.split(line):
            term = normalize(raw).replace(" ", "")
            if term and term not in terms:
                terms.append(term)
        if len(terms) < 2:
            continue
        group = tuple(terms)
        if group not in seen:
            seen.add(group)
            groups.append(group)
    return Synonyms(tuple(groups))


def default_synonyms() -> Synonyms:
    """The synonym list shipped as package data (knowledge_base/data/synonyms.txt)."""
    text = resources.files("knowledge_base").joinpath("data", "synonyms.txt").read_text("utf-8")
    return load_synonyms(text)
