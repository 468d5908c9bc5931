"""Editable synonym groups for the knowledge-base search.

File format (UTF-8): one group per line, terms separated by whitespace, commas or 、;
"#" starts a comment. Terms are normalised like searched text (traditional → simplified,
case-folded). A term may appear in several groups; its aliases are the union of its groups
(one hop, not transitive, so one broad line cannot chain unrelated groups together).

The index expands documents, not queries: wherever an article contains a term, the other terms
of its groups are indexed alongside it. Queries therefore match through synonyms whatever
channel they arrive in (characters, pinyin, initials, typos).

Concepts (data/concepts.txt) are one-way links "article terms : everyday words": an article
containing one of the terms is indexed with the everyday words too, so a caller describing a
situation ("楼上天天蹦跶") finds the service that handles it ("噪音扰民"); the everyday words
do not become aliases of each other. Spoken forms (data/spoken.txt) are rewritten in queries
before they are searched: dialect words and fillers ("咋" → "怎么", "俺" → "我").
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
    # One-way concept links: (article terms, everyday words that also find them).
    links: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    # Spoken forms rewritten in queries: (spoken, standard), longest spoken form first.
    spoken: tuple[tuple[str, str], ...] = ()
    _aliases: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _by_first: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases: dict[str, set[str]] = {}
        for group in self.groups:
            for term in group:
                aliases.setdefault(term, set()).update(t for t in group if t != term)
        for terms, words in self.links:
            for term in terms:
                aliases.setdefault(term, set()).update(w for w in words if w != term)
        by_first: dict[str, list[str]] = {}
        for term in aliases:
            by_first.setdefault(term[0], []).append(term)
        object.__setattr__(self, "_aliases", {t: tuple(sorted(a)) for t, a in aliases.items()})
        object.__setattr__(
            self,
            "_by_first",
            {c: tuple(sorted(ts, key=len, reverse=True)) for c, ts in by_first.items()},
        )

    def __len__(self) -> int:
        return len(self.groups)

    def rewrite(self, query: str) -> str:
        """The query with its spoken forms replaced by their standard words (normalised text
        in, normalised text out)."""
        for spoken, standard in self.spoken:
            if spoken in query:
                query = query.replace(spoken, standard)
        return query

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


def _terms(text: str) -> list[str]:
    terms: list[str] = []
    for raw in _SPLIT.split(text):
        term = normalize(raw).replace(" ", "")
        if term and term not in terms:
            terms.append(term)
    return terms


def load_synonyms(text: str, concepts: str = "", spoken: str = "") -> Synonyms:
    """Synonym groups, concept links ("terms : words" lines) and spoken forms ("spoken
    standard" lines) from the texts of their files (formats: see the module docstring and the
    files' headers)."""
    groups: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    for line in text.splitlines():
        terms = _terms(line.split("#", 1)[0])
        if len(terms) < 2:
            continue
        group = tuple(terms)
        if group not in seen:
            seen.add(group)
            groups.append(group)
    links: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for line in concepts.splitlines():
        left, sep, right = line.split("#", 1)[0].replace("：", ":").partition(":")
        terms, words = _terms(left), _terms(right)
        if sep and terms and words:
            links.append((tuple(terms), tuple(words)))
    rewrites: dict[str, str] = {}
    for line in spoken.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) == 2:
            said = normalize(parts[0]).replace(" ", "")
            # "-" deletes a filler: it becomes a separator, like punctuation.
            standard = " " if parts[1] == "-" else normalize(parts[1]).replace(" ", "")
            if said and standard and said != standard:
                rewrites.setdefault(said, standard)
    ordered = tuple(sorted(rewrites.items(), key=lambda item: (-len(item[0]), item[0])))
    return Synonyms(tuple(groups), tuple(links), ordered)


def _data(name: str) -> str:
    return resources.files("knowledge_base").joinpath("data", name).read_text("utf-8")


def default_synonyms() -> Synonyms:
    """The vocabulary shipped as package data: knowledge_base/data/synonyms.txt,
    concepts.txt and spoken.txt."""
    return load_synonyms(_data("synonyms.txt"), _data("concepts.txt"), _data("spoken.txt"))
