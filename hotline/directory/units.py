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
from hotline.db import Database
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


_FIELDS = {"code", "name", "kind", "parent", "district", "categories", "keywords", "contact",
           "default_deadline_workdays"}


# json.loads refuses integers of over 4,300 digits (ValueError) and nesting deeper than the
# interpreter's recursion limit (RecursionError).
_TOO_BIG = "invalid JSON: a number with too many digits or nesting too deep"


def _storable(value: str, key: str) -> str:
    """Text both databases can store: PostgreSQL refuses NUL, neither encodes a lone
    surrogate (a \\ud800 escape in the file)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{key} contains a lone surrogate") from None
    if "\x00" in value:
        raise ValueError(f"{key} contains NUL")
    return value


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return tuple(_storable(v.strip(), key) for v in value)


def _opt_str(obj: dict[str, Any], key: str, max_len: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string or null")
    value = _storable(value.strip(), key)
    if len(value) > max_len:
        raise ValueError(f"{key} longer than {max_len} characters")
    return value or None


def parse_unit(obj: Any) -> UnitRecord:
    """One unit object -> UnitRecord; ValueError with a readable reason otherwise."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    unknown = set(obj) - _FIELDS
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    code = _opt_str(obj, "code", 32)
    name = _opt_str(obj, "name", 100)
    if not code:
        raise ValueError("code is required")
    if not name:
        raise ValueError("name is required")
    kind = obj.get("kind")
    if kind not in UNIT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(UNIT_KINDS)}")
    days = obj.get("default_deadline_workdays", 5)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise ValueError("default_deadline_workdays must be an integer from 1 to 60")
    return UnitRecord(code=code, name=name, kind=kind, parent=_opt_str(obj, "parent", 32),
                      district=_opt_str(obj, "district", 50), categories=_str_list(obj, "categories"),
                      keywords=_str_list(obj, "keywords"), contact=_opt_str(obj, "contact", 100),
                      default_deadline_workdays=days)


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
            raise ValueError(f"line {_line_of(text, n)}: unterminated JSON array")
        if text[pos] == "]":
            return items
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {_line_of(text, pos)}: invalid JSON in the object starting "
                             f"here: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (ValueError, RecursionError):
            raise ValueError(f"line {_line_of(text, pos)}: {_TOO_BIG}") from None
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
            return [], [RowError(int(where.split()[1]), msg)]
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                items.append((number, json.loads(raw)))
            except json.JSONDecodeError as exc:
                errors.append(RowError(number, f"invalid JSON: {exc.msg}"))
            except (ValueError, RecursionError):
                errors.append(RowError(number, _TOO_BIG))
    records: list[tuple[int, UnitRecord]] = []
    seen: dict[str, int] = {}
    for line, obj in items:
        try:
            rec = parse_unit(obj)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if rec.code in seen:
            errors.append(RowError(line, f"duplicate code {rec.code} (first on line {seen[rec.code]})"))
            continue
        seen[rec.code] = line
        records.append((line, rec))
    if not items and not errors:
        errors.append(RowError(1, "no units in file"))
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
                errors.append(RowError(line, f"parent {rec.parent} is not a known unit"))
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
            unit.contact, unit.default_deadline_workdays = rec.contact, rec.default_deadline_workdays
            if unit.parent_code is not None and unit.parent_code != rec.parent:
                unit.parent_code = None
        await s.flush()
        for rec in good:
            unit = existing.get(rec.code) or await s.get(Unit, rec.code)
            assert unit is not None  # every good row was created or updated in the loop above
            unit.parent_code = rec.parent
        audit.record(s, actor, "units.import", "unit", "*",
                     {"created": created, "updated": updated, "skipped": len(errors)})
    return ImportResult(created, updated, errors)


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
