"""JSON Lines import and export of articles in the shared exchange format.

One article per line: {"id", "title", "questions", "answer", "category", "unit", "basis",
"time_limit", "materials", "fee", "contact", "updated_at"} as in `the shared folder's kb/articles.jsonl`,
plus optional "keywords", "status" (draft / published / retired; default published) and
"policy_changed_at". Export writes the same fields, so an export imports back unchanged.

An import is one transaction: all rows or none, unless `partial` (good rows imported, bad ones
reported). Every bad line is reported with its line number. Importing the same file twice
changes nothing: a row equal to the stored article writes no version.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Sequence

from sqlalchemy import select

from hotline import audit
from hotline.db import Database, utcnow
from hotline.errors import DomainError, ImportRejected, InvalidInput, RowError
from knowledge_base.models import ARTICLE_STATUSES, Article, Change
from knowledge_base.service import (
    ArticleInput,
    apply_content,
    bump_revision,
    same_content,
    snapshot,
    track_policy,
    check_article_id,
    local_iso,
    parse_input,
    parse_time,
)

EXCHANGE_FIELDS = (
    "id",
    "title",
    "questions",
    "answer",
    "category",
    "unit",
    "basis",
    "time_limit",
    "materials",
    "fee",
    "contact",
    "updated_at",
)
EXTRA_FIELDS = ("keywords", "status", "policy_changed_at")
_KNOWN = frozenset(EXCHANGE_FIELDS + EXTRA_FIELDS)
MAX_LINE_CHARS = 100_000
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    id: str
    content: ArticleInput
    status: str
    updated_at: dt.datetime | None


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[RowError] = field(default_factory=list)


def parse_row(
    obj: Any, default_status: str = "published"
) -> tuple[str, ArticleInput, str, dt.datetime | None]:
    if not isinstance(obj, dict):
        raise InvalidInput("expected a JSON object")
    unknown = sorted(set(obj) - _KNOWN)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    if "id" not in obj:
        raise InvalidInput("id is required")
    article_id = check_article_id(obj["id"])
    content = parse_input(obj)
    status = obj.get("status") or default_status
    if status not in ARTICLE_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ARTICLE_STATUSES)}")
    return article_id, content, status, parse_time(obj.get("updated_at"), "updated_at")


def parse_lines(
    text: str, default_status: str = "published"
) -> tuple[list[ImportRow], list[RowError]]:
    """Rows and line-numbered errors of a JSON Lines text (blank lines are skipped)."""
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            errors.append(RowError(number, f"line longer than {MAX_LINE_CHARS} characters"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, f"invalid JSON at column {exc.colno}: {exc.msg}"))
            continue
        except (ValueError, RecursionError):  # over 4,300 digits; nesting past the recursion limit
            errors.append(
                RowError(number, "invalid JSON: a number with too many digits or nesting too deep")
            )
            continue
        try:
            article_id, content, status, updated_at = parse_row(obj, default_status)
        except DomainError as exc:
            errors.append(RowError(number, exc.message))
            continue
        if article_id in seen:
            errors.append(
                RowError(number, f"duplicate id {article_id} (first on line {seen[article_id]})")
            )
            continue
        seen[article_id] = number
        rows.append(ImportRow(number, article_id, content, status, updated_at))
    return rows, errors


async def import_articles(
    db: Database,
    actor: str,
    text: str,
    *,
    partial: bool = False,
    default_status: str = "published",
    create_only: bool = False,
) -> ImportResult:
    """`create_only` leaves articles that already exist alone (counted as unchanged)."""
    rows, errors = parse_lines(text, default_status)
    if errors and not partial:
        raise ImportRejected(errors)
    result = ImportResult(skipped=errors)
    if not rows:
        return result
    async with db.write() as s:
        revision = await bump_revision(s)
        existing: dict[str, Article] = {}
        ids = [r.id for r in rows]
        for i in range(0, len(ids), _CHUNK):
            existing.update(
                (a.id, a)
                for a in await s.scalars(select(Article).where(Article.id.in_(ids[i : i + _CHUNK])))
            )
        now = utcnow()
        for row in rows:
            article = existing.get(row.id)
            if article is None:
                article = Article(
                    id=row.id,
                    status=row.status,
                    version=1,
                    created_at=now,
                    created_by=actor,
                    changed_at=now,
                    changed_by=actor,
                    updated_at=row.updated_at or now,
                    published_at=now if row.status == "published" else None,
                )
                apply_content(article, row.content)
                track_policy(article, None, row.status != "draft", now)
                s.add(article)
                result.created.append(row.id)
            elif create_only or (
                same_content(article, row.content) and article.status == row.status
            ):
                result.unchanged += 1
                continue
            else:
                previous_policy = article.policy_changed_at
                apply_content(article, row.content)
                article.version += 1
                article.updated_at = row.updated_at or now
                article.changed_at = now
                article.changed_by = actor
                went_public = row.status == "published"
                if went_public:
                    article.published_at = now
                responded = went_public or (row.status == "retired" and article.status != "retired")
                article.status = row.status
                track_policy(article, previous_policy, responded, now)
                result.updated.append(row.id)
            s.add(snapshot(article, "import", actor, now, None))
            s.add(Change(revision=revision, article_id=row.id, at=now))
        audit.record(
            s,
            actor,
            "kb.import",
            "kb_article",
            "*",
            {
                "created": len(result.created),
                "updated": len(result.updated),
                "unchanged": result.unchanged,
                "skipped": len(result.skipped),
            },
        )
    return result


def export_record(article: Article) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "questions": list(article.questions),
        "answer": article.answer,
        "category": article.category,
        "unit": article.unit,
        "basis": article.basis,
        "time_limit": article.time_limit,
        "materials": list(article.materials),
        "fee": article.fee,
        "contact": article.contact,
        "updated_at": local_iso(article.updated_at),
        "keywords": list(article.keywords),
        "status": article.status,
    }
    if article.policy_changed_at is not None:
        record["policy_changed_at"] = local_iso(article.policy_changed_at)
    return record


async def export_lines(db: Database, statuses: Sequence[str] = ARTICLE_STATUSES) -> list[str]:
    async with db.read() as s:
        articles = await s.scalars(
            select(Article).where(Article.status.in_(statuses)).order_by(Article.id)
        )
        return [json.dumps(export_record(a), ensure_ascii=False) for a in articles]


def sample_articles_text() -> str:
    """The sample knowledge base shipped as package data."""
    return resources.files("knowledge_base").joinpath("data", "articles.jsonl").read_text("utf-8")


async def load_sample_articles(db: Database, actor: str = "demo") -> ImportResult:
    """Idempotent: the sample articles as published articles (`hotline demo`). Articles that
    exist already are left as they are, so edits made in the demo survive a restart."""
    return await import_articles(db, actor, sample_articles_text(), create_only=True)
