"""The search vocabulary editors maintain: synonym groups, concept links (what callers say for
an article's service term) and spoken forms (dialect and filler rewritten in queries). The
lists shipped in knowledge_base/data are the start; a list an editor saves (table
kb_vocabulary) replaces the shipped one, and every process's index is rebuilt with it on its
next sync (LiveIndex compares `stamp`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hotline import audit
from hotline.db import Database, utcnow
from hotline.errors import Conflict, InvalidInput
from knowledge_base.models import VOCABULARY_NAMES, Vocabulary
from knowledge_base.synonyms import Synonyms, _data, load_synonyms

FILES = {"synonyms": "synonyms.txt", "concepts": "concepts.txt", "spoken": "spoken.txt"}
LABELS = {"synonyms": "同义词", "concepts": "概念（情境说法）", "spoken": "口语与方言"}
MAX_TEXT = 500_000


@dataclass(frozen=True)
class VocabularyList:
    name: str
    text: str
    version: int  # 0: the shipped list
    updated_by: str | None


async def lists(db: Database) -> dict[str, VocabularyList]:
    async with db.read() as s:
        saved = {v.name: v for v in await s.scalars(select(Vocabulary))}
    out = {}
    for name in VOCABULARY_NAMES:
        row = saved.get(name)
        out[name] = (
            VocabularyList(name, row.text, row.version, row.updated_by)
            if row
            else VocabularyList(name, _data(FILES[name]), 0, None)
        )
    return out


async def stamp(db: Database) -> tuple[int, int | None]:
    """Changes whenever an editor saves a list."""
    async with db.read() as s:
        count, versions = (
            await s.execute(
                select(func.count(), func.sum(Vocabulary.version)).select_from(Vocabulary)
            )
        ).one()
        return int(count), None if versions is None else int(versions)


async def current(db: Database) -> Synonyms:
    texts = {name: v.text for name, v in (await lists(db)).items()}
    return load_synonyms(texts["synonyms"], texts["concepts"], texts["spoken"])


def line_errors(name: str, text: str) -> list[str]:
    """What a list says that the search would silently skip, line by line (Chinese)."""
    errors = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if name == "concepts":
            left, sep, right = line.replace("：", ":").partition(":")
            if not sep or not left.split() or not right.split():
                errors.append(f"第 {number} 行：应为“文章用语 : 市民说法”")
        elif name == "spoken":
            if len(line.split()) != 2:
                errors.append(f"第 {number} 行：应为“口语说法 标准说法”（标准说法为 - 表示删去）")
        elif len(line.replace("，", " ").replace(",", " ").replace("、", " ").split()) < 2:
            errors.append(f"第 {number} 行：同义词组至少要有两个词")
        if len(errors) >= 20:
            break
    return errors


async def save(db: Database, actor: str, name: str, text: str, version: int) -> int:
    """Store an editor's list; `version` is the one the editor started from (a list saved
    meanwhile by someone else is a Conflict). Returns the new version."""
    if name not in VOCABULARY_NAMES:
        raise InvalidInput(f"unknown vocabulary {name!r}", field="name", zh="没有这个词表")
    if len(text) > MAX_TEXT:
        raise InvalidInput("the list is too long", field="text", zh="词表过长")
    errors = line_errors(name, text)
    if errors:
        raise InvalidInput("; ".join(errors), field="text", zh="；".join(errors))
    async with db.write() as s:
        row = await s.get(Vocabulary, name, with_for_update=True)
        now_version = row.version if row else 0
        if now_version != version:
            raise Conflict(
                f"{name} was saved meanwhile (version {now_version})",
                zh=f"{LABELS[name]}已被他人修改，请刷新页面后再编辑",
            )
        if row is None:
            row = Vocabulary(name=name, text=text, version=1, updated_by=actor, updated_at=utcnow())
            s.add(row)
        else:
            row.text, row.version = text, row.version + 1
            row.updated_by, row.updated_at = actor, utcnow()
        audit.record(
            s,
            actor,
            "kb.vocabulary.save",
            "kb_vocabulary",
            name,
            {"version": row.version, "lines": len(text.splitlines())},
        )
        return row.version
