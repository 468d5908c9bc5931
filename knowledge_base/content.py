"""Knowledge-base article content: the roles that see drafts, the fields and their labels,
time parsing, and the validation of 办事指南 content as an editor or an import row supplies it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Mapping

from hotline import localtime
from hotline.errors import InvalidInput
from hotline.models import Role
from knowledge_base.models import Article, ArticleVersion
from knowledge_base.search import ArticleDoc

# Roles that see drafts, version history, flags and gaps. Everyone else (agents, unit
# handlers) reads published and retired articles only.
EDITORS = (Role.KB_EDITOR, Role.ADMIN)
OVERSEERS = (Role.KB_EDITOR, Role.ADMIN, Role.MANAGER)

CONTENT_FIELDS = (
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
    "keywords",
    "policy_changed_at",
    "updated_at",
)
FIELD_LABELS_ZH = {
    "title": "标题",
    "questions": "常见问法",
    "answer": "答复口径",
    "category": "分类",
    "unit": "办理单位",
    "basis": "办理依据",
    "time_limit": "办理时限",
    "materials": "申请材料",
    "fee": "收费标准",
    "contact": "咨询电话",
    "keywords": "关键词",
    "policy_changed_at": "政策变更时间",
    "updated_at": "内容更新时间",
    "status": "状态",
}
# Single-line text fields and their maximum lengths; answer and basis may hold line breaks.
_LINE_FIELDS = {
    "title": 200,
    "category": 50,
    "unit": 200,
    "time_limit": 200,
    "fee": 200,
    "contact": 200,
}
_BLOCK_FIELDS = {"answer": 20_000, "basis": 2_000}
_REQUIRED = ("title", "answer", "category")
# list field -> (max items, max characters per item)
_LIST_FIELDS = {"questions": (50, 500), "materials": (100, 500), "keywords": (50, 50)}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_AUTO_ID_RE = re.compile(r"^KB-(\d+)$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOTE_MAX = 2_000


def _named(field: str) -> str:
    """The field as the editor's form names it, for Chinese error texts."""
    return FIELD_LABELS_ZH.get(field) or {"note": "备注", "id": "编号"}.get(field, field)


# ---------------------------------------------------------------------- time helpers


def parse_time(value: Any, field: str) -> dt.datetime | None:
    """ISO 8601 date or date-time; without an offset it is Beijing time (the hotline's clock)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be an ISO 8601 date-time string",
            field=field,
            zh=f"{_named(field)}须为日期时间",
        )
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{field} is not an ISO 8601 date-time: {value[:40]!r}",
            field=field,
            zh=f"{_named(field)}不是有效的日期时间",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=localtime.SHANGHAI)
    if not 1990 <= moment.year <= 2100:
        raise InvalidInput(
            f"{field} is out of range", field=field, zh=f"{_named(field)}超出范围（1990-2100 年）"
        )
    return moment.astimezone(dt.timezone.utc)


def local_iso(moment: dt.datetime | None) -> str | None:
    return localtime.iso(moment)


# ---------------------------------------------------------------------- article content


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """Validated 办事指南 content, as an editor or an import row supplies it."""

    title: str
    answer: str
    category: str
    questions: tuple[str, ...] = ()
    unit: str | None = None
    basis: str | None = None
    time_limit: str | None = None
    materials: tuple[str, ...] = ()
    fee: str | None = None
    contact: str | None = None
    keywords: tuple[str, ...] = ()
    policy_changed_at: dt.datetime | None = None


INPUT_FIELDS = tuple(f.name for f in dataclasses.fields(ArticleInput))


def _check_chars(value: str, field: str) -> None:
    if _CONTROL_RE.search(value):
        raise InvalidInput(
            f"{field} contains control characters", field=field, zh=f"{_named(field)}含有控制字符"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{field} contains invalid characters", field=field, zh=f"{_named(field)}含有无效字符"
        ) from None


def _text(raw: Mapping[str, Any], field: str) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field, zh=f"{_named(field)}须为文本")
    _check_chars(value, field)
    if field in _LINE_FIELDS:
        value, limit = " ".join(value.split()), _LINE_FIELDS[field]
    else:
        value, limit = value.replace("\r\n", "\n").strip(), _BLOCK_FIELDS[field]
    if len(value) > limit:
        raise InvalidInput(
            f"{field} is longer than {limit} characters",
            field=field,
            zh=f"{_named(field)}不能超过 {limit} 个字",
        )
    return value or None


def _list(raw: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = raw.get(field)
    if value is None:
        return ()
    max_items, max_len = _LIST_FIELDS[field]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"{field} must be a list of strings", field=field, zh=f"{_named(field)}须为文本列表"
        )
    out: list[str] = []
    for item in value:
        _check_chars(item, field)
        item = " ".join(item.split())
        if len(item) > max_len:
            raise InvalidInput(
                f"an item of {field} is longer than {max_len} characters",
                field=field,
                zh=f"{_named(field)}每项不能超过 {max_len} 个字",
            )
        if item and item not in out:
            out.append(item)
    if len(out) > max_items:
        raise InvalidInput(
            f"{field} has more than {max_items} items",
            field=field,
            zh=f"{_named(field)}不能超过 {max_items} 项",
        )
    return tuple(out)


def parse_input(raw: Mapping[str, Any]) -> ArticleInput:
    """Article content from a JSON-like mapping; InvalidInput names the first bad field."""
    values: dict[str, Any] = {}
    for field in (*_LINE_FIELDS, *_BLOCK_FIELDS):
        values[field] = _text(raw, field)
    for field in _REQUIRED:
        if not values[field]:
            raise InvalidInput(f"{field} is required", field=field, zh=f"请填写{_named(field)}")
    for field in _LIST_FIELDS:
        values[field] = _list(raw, field)
    values["policy_changed_at"] = parse_time(raw.get("policy_changed_at"), "policy_changed_at")
    return ArticleInput(**values)


def check_article_id(article_id: Any) -> str:
    if not isinstance(article_id, str) or not _ID_RE.match(article_id):
        raise InvalidInput(
            "id must be 1-32 letters, digits, '-', '_' or '.' (like KB-0001)",
            field="id",
            zh="编号须为 1-32 个字母、数字、“-”“_”或“.”（如 KB-0001）",
        )
    return article_id


def _content_of(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in CONTENT_FIELDS}


def same_content(article: Article, new: ArticleInput) -> bool:
    return all(
        _norm_value(getattr(article, f)) == _norm_value(getattr(new, f)) for f in INPUT_FIELDS
    )


def _norm_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def apply_content(article: Article, new: ArticleInput) -> None:
    for f in INPUT_FIELDS:
        value = getattr(new, f)
        setattr(article, f, list(value) if isinstance(value, tuple) else value)


def doc_of(article: Article | ArticleVersion) -> ArticleDoc:
    return ArticleDoc(
        id=article.article_id if isinstance(article, ArticleVersion) else article.id,
        title=article.title,
        questions=tuple(article.questions or ()),
        answer=article.answer,
        category=article.category,
        keywords=tuple(article.keywords or ()),
    )


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    _check_chars(note, "note")
    note = note.strip()
    if len(note) > _NOTE_MAX:
        raise InvalidInput(
            f"note is longer than {_NOTE_MAX} characters",
            field="note",
            zh=f"备注不能超过 {_NOTE_MAX} 个字",
        )
    return note or None
