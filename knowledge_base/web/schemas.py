"""Request bodies of the knowledge base API (frozen dataclasses, checked at the edge by
`hotline.web.validation` and described by the OpenAPI document)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from knowledge_base import service


# ---------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchBody:
    q: str = field(metadata={"max_len": 20_000, "scrub": True})
    limit: int = 5
    category: str | None = field(default=None, metadata={"max_len": 50})
    record: bool = True


# ---------------------------------------------------------------------- articles


@dataclass(frozen=True, kw_only=True)
class ArticleBody:
    title: str = field(metadata={"max_len": 200})
    answer: str = field(metadata={"max_len": 20_000})
    category: str = field(metadata={"max_len": 50})
    questions: list[str] = field(default_factory=list)
    unit: str | None = None
    basis: str | None = None
    time_limit: str | None = None
    materials: list[str] = field(default_factory=list)
    fee: str | None = None
    contact: str | None = None
    keywords: list[str] = field(default_factory=list)
    policy_changed_at: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = None

    def content(self) -> service.ArticleInput:
        values = dataclasses.asdict(self)
        values.pop("note")
        return service.parse_input({k: v for k, v in values.items() if k in service.INPUT_FIELDS})


@dataclass(frozen=True, kw_only=True)
class CreateBody(ArticleBody):
    id: str | None = field(default=None, metadata={"max_len": 32})


@dataclass(frozen=True, kw_only=True)
class UpdateBody(ArticleBody):
    base_version: int


@dataclass(frozen=True)
class NoteBody:
    note: str | None = None


# ---------------------------------------------------------------------- answers, flags, gaps


@dataclass(frozen=True)
class AnswerBody:
    version: int | None = None
    call_id: str | None = field(default=None, metadata={"max_len": 64})
    query: str | None = field(default=None, metadata={"max_len": 20_000, "scrub": True})


@dataclass(frozen=True)
class FlagBody:
    kind: str = field(metadata={"max_len": 16})
    note: str = field(metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ResolveFlagBody:
    resolution: str | None = field(default=None, metadata={"max_len": 2000})


@dataclass(frozen=True)
class GapBody:
    query: str = field(metadata={"max_len": 20_000, "scrub": True})


@dataclass(frozen=True)
class ResolveGapBody:
    article_id: str | None = field(default=None, metadata={"max_len": 32})
    note: str | None = field(default=None, metadata={"max_len": 2000})
