import json

import pytest
from sqlalchemy import func, select

from hotline.directory.models import Unit
from hotline.directory.units import ImportRejected, import_units, parse_units_file
from hotline.db import Database
from hotline.models import AuditEntry
from tests.conftest import shared_path


async def count(db: Database, model) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_sample_directory_imports_with_parents(db: Database):
    text = shared_path("units", "units.json").read_text(encoding="utf-8")
    result = await import_units(db, "test", text)
    expected = json.loads(text)
    assert (result.created, result.updated, result.skipped) == (len(expected), 0, [])
    async with db.read() as s:
        jc = await s.get(Unit, "ZZ-RSJ-JC")
    assert jc.parent_code == "ZZ-RSJ" and "欠薪" in jc.keywords
    again = await import_units(db, "test", text)
    assert (again.created, again.updated) == (0, len(expected))
    assert await count(db, Unit) == len(expected)


BAD = """[
  {"code": "A", "name": "甲单位", "kind": "municipal_bureau", "parent": null, "district": null,
   "categories": [], "keywords": [], "contact": null, "default_deadline_workdays": 5},
  {"code": "B", "name": "乙单位", "kind": "spaceship", "parent": null, "district": null,
   "categories": [], "keywords": [], "contact": null, "default_deadline_workdays": 5},
  {"code": "A", "name": "重复", "kind": "municipal_bureau", "parent": null, "district": null,
   "categories": [], "keywords": [], "contact": null, "default_deadline_workdays": 5},
  {"code": "C", "name": "丙", "kind": "street_office", "parent": "NOPE", "district": "金水区",
   "categories": ["x"], "keywords": [], "contact": null, "default_deadline_workdays": "5"}
]"""


async def test_bad_rows_are_reported_by_line_and_nothing_is_imported(db: Database):
    with pytest.raises(ImportRejected) as info:
        await import_units(db, "test", BAD)
    lines = {(e.line, e.message.split(" ")[0]) for e in info.value.errors}
    assert (4, "kind") in lines
    assert (6, "duplicate") in lines
    assert (8, "default_deadline_workdays") in lines
    assert await count(db, Unit) == 0
    assert await count(db, AuditEntry) == 0


async def test_partial_import_takes_good_rows_and_reports_the_rest(db: Database):
    result = await import_units(db, "test", BAD, partial=True)
    assert result.created == 1
    assert len(result.skipped) == 3


async def test_jsonl_and_unknown_parent_and_broken_json():
    good = '{"code": "A", "name": "甲", "kind": "municipal_bureau", "parent": "Z"}\nnot json\n'
    records, errors = parse_units_file(good)
    assert [r.code for _, r in records] == ["A"]
    assert [(e.line, e.message.startswith("invalid JSON")) for e in errors] == [(2, True)]
    _, errors = parse_units_file(
        '[\n{"code": "A", "name": "甲", "kind": "municipal_bureau"},\n{"code": \n'
    )
    assert errors and errors[0].line == 3


async def test_unknown_parent_rejects_the_file(db: Database):
    with pytest.raises(ImportRejected, match="1 bad row"):
        await import_units(
            db, "test", '{"code": "A", "name": "甲", "kind": "municipal_bureau", "parent": "Z"}\n'
        )
    assert await count(db, Unit) == 0
