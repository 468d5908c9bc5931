"""IVR flow versions saved by admins (/admin/ivr) in the database, so that every instance
runs the same flow: the newest stored version replaces the running one once it is newer and
valid. The flow file (`ivr.flow_file`, or the packaged flow) stays the start; versions only go
up, whichever of the file and the table holds the newest: going back to an earlier version
(恢复) saves its text again as the next version, so the history only grows."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hotline import audit
from hotline.db import Database, utcnow
from hotline.errors import Conflict, NotFound
from ivr.flows import Flow, FlowError, FlowStore, line_of_version
from ivr.models import FlowVersionRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SavedFlow:
    version: int
    saved_by: str
    saved_at: dt.datetime


class FlowSync:
    """Keeps `store` at the newest valid stored version. A stored version this instance
    cannot load (a later release's validator refusing it) is logged once and skipped."""

    def __init__(self, db: Database, store: FlowStore) -> None:
        self.db = db
        self.store = store
        self._refused: int | None = None

    async def newest_version(self) -> int | None:
        async with self.db.read() as s:
            top = (await s.execute(select(func.max(FlowVersionRow.version)))).scalar()
        return None if top is None else int(top)

    async def refresh(self) -> Flow | None:
        """Loads the newest stored version when it is newer than the running one; returns
        the flow loaded, None when nothing changed."""
        top = await self.newest_version()
        if top is None or top <= self.store.flow.version or top == self._refused:
            return None
        async with self.db.read() as s:
            row = await s.get(FlowVersionRow, top)
            text = None if row is None else row.text
        if text is None:
            return None
        try:
            flow = self.store.load(text)
        except FlowError as exc:
            self._refused = top
            log.warning(
                "IVR flow version %d from the database refused, version %d keeps running: %s",
                top,
                self.store.flow.version,
                exc,
            )
            return None
        log.info("IVR flow version %d loaded from the database", flow.version)
        return flow

    async def text_of(self, version: int) -> tuple[SavedFlow, str]:
        """A stored version and its text; NotFound when no admin saved that version."""
        async with self.db.read() as s:
            row = await s.get(FlowVersionRow, version)
        if row is None:
            raise NotFound(
                f"no saved IVR flow version {version}", zh=f"没有已保存的流程版本 {version}"
            )
        return SavedFlow(row.version, row.saved_by, row.saved_at), row.text

    async def restore(self, actor: str, version: int) -> Flow:
        """Runs stored `version` again, saved as the next version (its text with the version
        line renumbered). NotFound for a version never saved; FlowError when this release
        no longer accepts that text."""
        _, text = await self.text_of(version)
        await self.refresh()
        top = max(self.store.flow.version, await self.newest_version() or 0)
        return await self.save(actor, renumbered(text, top + 1), restored_from=version)

    async def save(self, actor: str, text: str, restored_from: int | None = None) -> Flow:
        """Validates `text`, stores it as a new version and runs it here (the other instances
        within their next poll). FlowError (with its line) when it is not a valid flow or
        its version is not above both the running and the stored ones."""
        await self.refresh()
        flow = self.store.check(text)
        top = max(self.store.flow.version, await self.newest_version() or 0)
        if flow.version <= top:
            raise FlowError(
                line_of_version(text),
                f"version must be above {top}, the newest running or saved",
                f"版本号须大于 {top}（当前运行或已保存的最新版本），请把 version 改为 {top + 1}",
            )
        try:
            async with self.db.write() as s:
                s.add(
                    FlowVersionRow(
                        version=flow.version, text=text, saved_by=actor, saved_at=utcnow()
                    )
                )
                audit.record(
                    s,
                    actor,
                    "ivr.flow.save",
                    "ivr_flow",
                    flow.version,
                    {
                        "entries": len(flow.entries),
                        "menus": len(flow.menus),
                        **({"restored_from": restored_from} if restored_from else {}),
                    },
                )
        except IntegrityError:
            raise Conflict(
                f"version {flow.version} was saved meanwhile",
                zh=f"版本 {flow.version} 刚被其他管理员保存，请刷新页面后重试",
            ) from None
        self.store.load(text)
        log.info("IVR flow version %d saved by %s", flow.version, actor)
        return flow

    async def history(self, limit: int = 10) -> list[SavedFlow]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(FlowVersionRow.version, FlowVersionRow.saved_by, FlowVersionRow.saved_at)
                    .order_by(FlowVersionRow.version.desc())
                    .limit(limit)
                )
            ).all()
        return [SavedFlow(v, by, at) for v, by, at in rows]


def renumbered(text: str, version: int) -> str:
    """`text` with its top-level `version = N` line made `version = <version>`."""
    lines = text.split("\n")
    at = line_of_version(text) - 1
    if not lines[at].lstrip().startswith("version"):
        raise FlowError(at + 1, "no version line", "流程文本缺少 version 行")
    lines[at] = f"version = {version}"
    return "\n".join(lines)
