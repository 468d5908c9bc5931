"""Append-only audit log: who did what to which record, written in the use case's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import Database

from hotline.models import AuditEntry


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    target_type: str,
    target_id: object,
    detail: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or {},
        note=note,
    )
    session.add(entry)
    return entry


async def list_entries(
    db: Database, *, limit: int, before: int | None = None, filters: dict[str, str] | None = None
) -> list[AuditEntry]:
    """Newest first; `before` pages by id; filters on actor, action, target_type, target_id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before:
        query = query.where(AuditEntry.id < before)
    for name, value in (filters or {}).items():
        if name not in ("actor", "action", "target_type", "target_id"):
            raise ValueError(f"cannot filter the audit log on {name}")
        query = query.where(getattr(AuditEntry, name) == value)
    async with db.read() as s:
        return list(await s.scalars(query))
