"""Responsible units (承办单位): parsing directory files, importing them, reading them.

File format: `the shared folder's units/units.json` — a JSON array of objects with code, name, kind,
parent, district, categories, keywords, contact, default_deadline_workdays. A JSON Lines file
with one such object per line is accepted too. Imports are all-or-nothing unless `partial`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hotline import audit
from hotline.auth import Principal
from hotline.db import Database, utcnow
from hotline.errors import ImportRejected, NotFound, RowError
from hotline.models import Role
from hotline.directory.models import UNIT_KINDS, Unit


@dataclass(frozen=True, slots=True)
class UnitRecord:
    code: str
    name: str
    kind: str
    parent: str | None
    district: str | None
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    contact: str | None
    default_deadline_workdays: int


_FIELDS = {
    "code",
    "name",
    "kind",
    "parent",
    "district",
    "categories",
    "keywords",
    "contact",
    "default_deadline_workdays",
}


# json.loads refuses integers of over 4,300 digits (ValueError) and nesting deeper than the
# interpreter's recursion limit (RecursionError).
_TOO_BIG = "invalid JSON: a number with too many digits or nesting too deep"
_TOO_BIG_ZH = "JSON 格式错误：数字位数过多或嵌套过深"
# The fields as the admin page names them.
_LABELS = {
    "code": "编码",
    "name": "名称",
    "kind": "类型",
    "parent": "上级单位",
    "district": "区域",
    "categories": "受理类别",
    "keywords": "关键词",
    "contact": "联系电话",
    "default_deadline_workdays": "办理时限",
}


class BadUnit(ValueError):
    """A unit object that cannot be imported: English for logs and the CLI, `zh` for pages."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


def _label(key: str) -> str:
    return _LABELS.get(key, key)


def _storable(value: str, key: str) -> str:
    """Text both databases can store: PostgreSQL refuses NUL, neither encodes a lone
    surrogate (a \\ud800 escape in the file)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadUnit(f"{key} contains a lone surrogate", f"{_label(key)}含有无效字符") from None
    if "\x00" in value:
        raise BadUnit(f"{key} contains NUL", f"{_label(key)}含有空字符（NUL）")
    return value


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise BadUnit(
            f"{key} must be a list of non-empty strings", f"{_label(key)}须为非空文字的列表"
        )
    return tuple(_storable(v.strip(), key) for v in value)


def _opt_str(obj: dict[str, Any], key: str, max_len: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadUnit(f"{key} must be a string or null", f"{_label(key)}须为文字")
    value = _storable(value.strip(), key)
    if len(value) > max_len:
        raise BadUnit(
            f"{key} longer than {max_len} characters", f"{_label(key)}不能超过 {max_len} 字"
        )
    return value or None


def parse_unit(obj: Any) -> UnitRecord:
    """One unit object -> UnitRecord; ValueError with a readable reason otherwise."""
    if not isinstance(obj, dict):
        raise BadUnit("expected a JSON object", "每个单位须为一个 JSON 对象")
    unknown = set(obj) - _FIELDS
    if unknown:
        raise BadUnit(
            f"unknown field(s): {', '.join(sorted(unknown))}",
            f"未知字段：{'、'.join(sorted(unknown))}",
        )
    code = _opt_str(obj, "code", 32)
    name = _opt_str(obj, "name", 100)
    if not code:
        raise BadUnit("code is required", "缺少编码")
    if not name:
        raise BadUnit("name is required", "缺少名称")
    kind = obj.get("kind")
    if kind not in UNIT_KINDS:
        raise BadUnit(
            f"kind must be one of {', '.join(UNIT_KINDS)}",
            f"类型须为以下之一：{'、'.join(f'{k}（{v}）' for k, v in UNIT_KINDS.items())}",
        )
    days = obj.get("default_deadline_workdays", 5)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise BadUnit(
            "default_deadline_workdays must be an integer from 1 to 60",
            "办理时限须为 1 到 60 之间的整数（工作日）",
        )
    return UnitRecord(
        code=code,
        name=name,
        kind=kind,
        parent=_opt_str(obj, "parent", 32),
        district=_opt_str(obj, "district", 50),
        categories=_str_list(obj, "categories"),
        keywords=_str_list(obj, "keywords"),
        contact=_opt_str(obj, "contact", 100),
        default_deadline_workdays=days,
    )


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _json_array_items(text: str) -> list[tuple[int, Any]]:
    """Decodes a JSON array item by item, keeping each item's starting line number."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    items: list[tuple[int, Any]] = []
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            raise BadUnit(
                f"line {_line_of(text, n)}: unterminated JSON array", "JSON 数组没有结束（缺少 ]）"
            )
        if text[pos] == "]":
            return items
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BadUnit(
                f"line {_line_of(text, pos)}: invalid JSON in the object starting "
                f"here: {exc.msg} at line {exc.lineno} column {exc.colno}",
                f"从此行开始的对象 JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）",
            ) from None
        except (ValueError, RecursionError):
            raise BadUnit(f"line {_line_of(text, pos)}: {_TOO_BIG}", _TOO_BIG_ZH) from None
        items.append((_line_of(text, pos), obj))
        pos = end


def parse_units_file(text: str) -> tuple[list[tuple[int, UnitRecord]], list[RowError]]:
    """Parses a JSON array or JSON Lines text; returns (line, record) pairs and line-numbered
    errors."""
    stripped = text.lstrip("\ufeff \t\r\n")
    items: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    if stripped.startswith("["):
        try:
            items = _json_array_items(text)
        except ValueError as exc:
            where, _, msg = str(exc).partition(": ")
            return [], [RowError(int(where.split()[1]), msg, getattr(exc, "zh", ""))]
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                items.append((number, json.loads(raw)))
            except json.JSONDecodeError as exc:
                errors.append(
                    RowError(
                        number, f"invalid JSON: {exc.msg}", f"JSON 格式错误（第 {exc.colno} 列）"
                    )
                )
            except (ValueError, RecursionError):
                errors.append(RowError(number, _TOO_BIG, _TOO_BIG_ZH))
    records: list[tuple[int, UnitRecord]] = []
    seen: dict[str, int] = {}
    for line, obj in items:
        try:
            rec = parse_unit(obj)
        except BadUnit as exc:
            errors.append(RowError(line, str(exc), exc.zh))
            continue
        if rec.code in seen:
            errors.append(
                RowError(
                    line,
                    f"duplicate code {rec.code} (first on line {seen[rec.code]})",
                    f"编码 {rec.code} 重复（第 {seen[rec.code]} 行已有）",
                )
            )
            continue
        seen[rec.code] = line
        records.append((line, rec))
    if not items and not errors:
        errors.append(RowError(1, "no units in file", "文件中没有承办单位"))
    return records, errors


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    skipped: list[RowError]


async def import_units(db: Database, actor: str, text: str, partial: bool = False) -> ImportResult:
    """Creates or updates units by code, in one transaction. Bad rows reject the whole file
    unless `partial`, in which case they are skipped and reported."""
    records, errors = parse_units_file(text)
    if errors and not partial:
        raise ImportRejected(errors)
    async with db.write() as s:
        existing = {u.code: u for u in await s.scalars(select(Unit))}
        known = set(existing) | {r.code for _, r in records}
        good: list[UnitRecord] = []
        for line, rec in records:
            if rec.parent is not None and rec.parent not in known:
                errors.append(
                    RowError(
                        line,
                        f"parent {rec.parent} is not a known unit",
                        f"上级单位 {rec.parent} 不存在",
                    )
                )
            else:
                good.append(rec)
        if errors and not partial:
            raise ImportRejected(errors)
        created = updated = 0
        # Parents are set after every row exists: a file may list a child before its parent.
        for rec in good:
            unit = existing.get(rec.code)
            if unit is None:
                unit = Unit(code=rec.code)
                s.add(unit)
                created += 1
            else:
                updated += 1
            unit.name, unit.kind, unit.district = rec.name, rec.kind, rec.district
            unit.categories, unit.keywords = list(rec.categories), list(rec.keywords)
            unit.contact, unit.default_deadline_workdays = (
                rec.contact,
                rec.default_deadline_workdays,
            )
            if unit.parent_code is not None and unit.parent_code != rec.parent:
                unit.parent_code = None
        await s.flush()
        for rec in good:
            unit = existing.get(rec.code) or await s.get(Unit, rec.code)
            assert unit is not None  # every good row was created or updated in the loop above
            unit.parent_code = rec.parent
        audit.record(
            s,
            actor,
            "units.import",
            "unit",
            "*",
            {"created": created, "updated": updated, "skipped": len(errors)},
        )
    return ImportResult(created, updated, errors)


async def set_active(db: Database, actor: str, code: str, active: bool) -> Unit:
    """Withdraws a unit from dispatch (撤并, 停用) or returns it; its tickets stay where they
    are. The directory stamp counts active units, so every instance sees the change."""
    async with db.write() as s:
        unit = await s.get(Unit, code)
        if unit is None:
            raise NotFound(f"unit {code} does not exist", zh=f"承办单位 {code} 不存在")
        if unit.active != active:
            unit.active = active
            unit.updated_at = utcnow()
            audit.record(
                s, actor, "units.activate" if active else "units.deactivate", "unit", code, {}
            )
    return unit


async def list_units(db: Database, who: Principal) -> list[Unit]:
    async with db.read() as s:
        query = select(Unit).order_by(Unit.code)
        if who.role is Role.UNIT_HANDLER:
            query = query.where(Unit.code == who.unit_code)
        return list(await s.scalars(query))


async def get_unit(db: Database, who: Principal, code: str) -> Unit:
    async with db.read() as s:
        unit = await s.get(Unit, code)
    # A unit handler gets the same 404 for another unit as for a missing one: existence of
    # other units' records is not theirs to probe.
    if unit is None or not who.can_see_unit(code):
        raise NotFound(f"unit {code} not found", zh=f"承办单位 {code} 不存在")
    return unit
