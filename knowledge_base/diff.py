"""Differences between two versions of an article: per changed field (character level for
text, item level for lists) and as a unified diff."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from typing import Any, Sequence

from hotline.db import Database
from knowledge_base.articles import get_version
from knowledge_base.content import CONTENT_FIELDS, FIELD_LABELS_ZH, local_iso
from knowledge_base.models import ArticleVersion


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    label: str
    # ("equal" | "delete" | "insert", text) pieces; list fields are one piece per item.
    pieces: tuple[tuple[str, str], ...]
    is_list: bool


@dataclass(frozen=True, slots=True)
class VersionDiff:
    article_id: str
    old: ArticleVersion
    new: ArticleVersion
    fields: tuple[FieldDiff, ...]  # changed fields only
    unified: str


def _diff_text(a: str, b: str) -> tuple[tuple[str, str], ...]:
    # Character level: Chinese has no spaces, so a word diff would be a whole-line diff.
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("equal", a[i1:i2]))
        else:
            if i2 > i1:
                pieces.append(("delete", a[i1:i2]))
            if j2 > j1:
                pieces.append(("insert", b[j1:j2]))
    return tuple(pieces)


def _diff_list(a: Sequence[str], b: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.extend(("equal", x) for x in a[i1:i2])
        else:
            pieces.extend(("delete", x) for x in a[i1:i2])
            pieces.extend(("insert", x) for x in b[j1:j2])
    return tuple(pieces)


def _field_lines(v: ArticleVersion) -> list[str]:
    lines = [f"status: {v.status}"]
    for f in CONTENT_FIELDS:
        value = getattr(v, f)
        if isinstance(value, list):
            lines.extend(f"{f}[]: {x}" for x in value)
        elif isinstance(value, dt.datetime):
            lines.append(f"{f}: {local_iso(value)}")
        elif value is not None:
            lines.extend(f"{f}: {line}" for line in str(value).split("\n"))
    return lines


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return local_iso(value) or ""
    return str(value)


async def diff_versions(db: Database, article_id: str, old: int, new: int) -> VersionDiff:
    a = await get_version(db, article_id, old)
    b = await get_version(db, article_id, new)
    fields: list[FieldDiff] = []
    for f in ("status", *CONTENT_FIELDS):
        va, vb = getattr(a, f), getattr(b, f)
        if va == vb:
            continue
        if isinstance(va, list) or isinstance(vb, list):
            fields.append(FieldDiff(f, FIELD_LABELS_ZH[f], _diff_list(va or [], vb or []), True))
        elif isinstance(va, dt.datetime) or isinstance(vb, dt.datetime) or f == "status":
            pieces = (("delete", _display(va)), ("insert", _display(vb)))
            fields.append(FieldDiff(f, FIELD_LABELS_ZH[f], tuple(p for p in pieces if p[1]), False))
        else:
            fields.append(
                FieldDiff(f, FIELD_LABELS_ZH[f], _diff_text(_display(va), _display(vb)), False)
            )
    unified = "\n".join(
        difflib.unified_diff(
            _field_lines(a),
            _field_lines(b),
            f"{article_id} v{old}",
            f"{article_id} v{new}",
            lineterm="",
        )
    )
    return VersionDiff(article_id, a, b, tuple(fields), unified)
