"""Index structures of the knowledge-base search: an article's matchable fields and its keys.

Every field is normalised and cut into units (knowledge_base.text); each unit carries its
toneless syllable and its initial. Synonym terms found in a field add their aliases to that
field (document-side expansion, so synonyms also work through pinyin and typos).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.synonyms import Synonyms
from knowledge_base.text import is_cjk, normalize, segment_columns


@dataclass(frozen=True)
class ArticleDoc:
    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    category: str | None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Field:
    """Matchable form of one field group; segments are separated by "|" in every channel."""

    text: str  # normalised characters
    py: str  # " she bao ka | diu le " — syllables padded by spaces
    ini: str  # "sbk|dl"


@dataclass(frozen=True, slots=True)
class Entry:
    doc: ArticleDoc
    title: Field
    head: Field  # title, questions, keywords (+ aliases)
    body: Field  # category, answer (+ aliases)
    title_plain: str
    title_letters: str  # title syllables run together, for typed-pinyin queries
    title_initials: str


def segments_of(text: str) -> list[str]:
    return [s for s in normalize(text).split(" ") if s]


_Columns = list[tuple[list[str], list[str]]]


def _columns(segments: list[str]) -> _Columns:
    """(unit texts, syllables) of each non-empty segment."""
    return [cols for cols in map(segment_columns, segments) if cols[0]]


def _field(columns: _Columns, *, initials: bool = True) -> Field:
    text = "|".join("".join(texts) for texts, _ in columns)
    py = "|".join(" " + " ".join(syls) + " " for _, syls in columns)
    # Initials of long answer text would match almost any short initials query.
    ini = "|".join("".join(s[0] for s in syls) for _, syls in columns) if initials else ""
    return Field(text, py, ini)


def make_entry(doc: ArticleDoc, synonyms: Synonyms) -> Entry:
    title_segs = _expand(segments_of(doc.title), synonyms)
    head_segs = list(title_segs)
    for text in (*doc.questions, *doc.keywords):
        head_segs.extend(_expand(segments_of(text), synonyms))
    body_segs = _expand(segments_of(doc.category or "") + segments_of(doc.answer), synonyms)
    title_cols = _columns(title_segs)
    plain = _columns(segments_of(doc.title))
    return Entry(
        doc=doc,
        title=_field(title_cols),
        head=_field(title_cols + _columns(head_segs[len(title_segs) :])),
        body=_field(_columns(body_segs), initials=False),
        title_plain="".join("".join(texts) for texts, _ in plain),
        title_letters="".join("".join(syls) for _, syls in plain),
        title_initials="".join(s[0] for _, syls in plain for s in syls),
    )


def _expand(segments: list[str], synonyms: Synonyms) -> list[str]:
    """Segments followed by the aliases of the synonym terms they contain."""
    aliases: list[str] = []
    for seg in segments:
        for span in synonyms.find(seg):
            aliases.extend(a for a in span.aliases if a not in aliases)
    return segments + [a for a in aliases if a not in segments]


# Prefix of index keys for whole latin / digit words (other keys never contain "=").
LITERAL = "="
LATIN_WORD = re.compile(r"[a-z]+|[0-9]+")


def keys_of(entry: Entry) -> tuple[set[str], set[str]]:
    """Index keys: syllable pairs of every field, initials pairs and triples of the head,
    latin and digit words of every field."""
    head: set[str] = set()
    for seg in entry.head.py.split("|"):
        syl = seg.split()
        head.update(f"{a} {b}" for a, b in zip(syl, syl[1:]))
    for seg in entry.head.ini.split("|"):
        head.update(seg[i : i + 2] for i in range(len(seg) - 1))
        head.update(seg[i : i + 3] for i in range(len(seg) - 2))
    head.update(LITERAL + w for w in LATIN_WORD.findall(entry.head.text) if len(w) > 1)
    body: set[str] = set()
    for seg in entry.body.py.split("|"):
        syl = seg.split()
        body.update(f"{a} {b}" for a, b in zip(syl, syl[1:]))
    body.update(LITERAL + w for w in LATIN_WORD.findall(entry.body.text) if len(w) > 1)
    return head, body - head


def vocabulary_of(entry: Entry) -> tuple[set[str], set[str]]:
    text = entry.head.text + "|" + entry.body.text
    chars = {ch for ch in set(text) if is_cjk(ch)}
    latin = set(LATIN_WORD.findall(text))
    return chars, latin
