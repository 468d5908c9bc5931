"""The missed-call callback list agents work through: reading it, and recording a callback
attempt (read, decide, write; the rules in calls.callbacks)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from calls.callbacks import OUTCOMES_OF_ATTEMPT, after_attempt
from calls.models import CallbackAttempt, MissedCallback
from hotline.auth import Principal
from hotline.db import Database
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.models import Role

UTC = dt.timezone.utc


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: int
    caller: str
    status: str
    missed_count: int
    first_missed_at: dt.datetime
    last_missed_at: dt.datetime
    longest_wait_s: int
    reason: str | None
    attempts: int
    outcome: str | None
    closed_by: str | None
    closed_at: dt.datetime | None
    version: int


def _view(row: MissedCallback) -> CallbackView:
    return CallbackView(
        row.id,
        row.caller,
        row.status,
        row.missed_count,
        row.first_missed_at,
        dt.datetime.fromtimestamp(row.last_missed_ts, UTC),
        row.longest_wait_s,
        row.reason,
        row.attempts,
        row.outcome,
        row.closed_by,
        row.closed_at,
        row.version,
    )


async def list_callbacks(
    db: Database, status: str = "open", limit: int = 200
) -> list[CallbackView]:
    """Open ones oldest miss first (who waited longest for us); closed ones newest first."""
    if status not in ("open", "closed"):
        raise InvalidInput(
            "status must be open or closed", field="status", zh="状态须为待回拨或已处理"
        )
    query = select(MissedCallback).where(MissedCallback.status == status)
    query = query.order_by(
        MissedCallback.first_missed_ts if status == "open" else MissedCallback.closed_at.desc(),
        MissedCallback.id,
    )
    async with db.read() as s:
        return [_view(r) for r in (await s.execute(query.limit(limit))).scalars().all()]


async def open_count(db: Database) -> int:
    """How many missed callers wait for a call back (the agents' 未接回拨 badge)."""
    async with db.read() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(MissedCallback)
                .where(MissedCallback.status == "open")
            )
            or 0
        )


@dataclass(frozen=True, slots=True)
class MissedToCallBack:
    """hotline.ports.NavCounts: open missed callers, on the agents' 未接回拨 page."""

    db: Database

    async def counts(self, who: Principal) -> dict[str, int]:
        if who.role is not Role.AGENT:
            return {}
        return {"/calls/missed": await open_count(self.db)}


async def record_callback(
    db: Database,
    who: Principal,
    callback_id: int,
    outcome: str,
    note: str,
    version: int | None,
    max_attempts: int,
) -> CallbackView:
    """An agent called a missed caller back: record how it went (read, decide, write)."""
    if outcome not in OUTCOMES_OF_ATTEMPT:
        raise InvalidInput(
            f"outcome must be one of {', '.join(OUTCOMES_OF_ATTEMPT)}",
            field="outcome",
            zh="请选择回拨结果",
        )
    async with db.write() as s:
        row = (
            await s.execute(
                select(MissedCallback).where(MissedCallback.id == callback_id).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"missed call {callback_id} not found", zh=f"未接来电 {callback_id} 不存在"
            )
        if version is not None and version != row.version:
            raise Conflict(
                "this missed call was updated meanwhile; reload",
                zh="该未接来电已被他人更新，请刷新页面后再操作",
            )
        if row.status != "open":
            raise Conflict("this missed call is already closed", zh="该未接来电已处理完毕")
        result = after_attempt(row.attempts, outcome, max_attempts)
        s.add(
            CallbackAttempt(
                callback_id=row.id,
                outcome=outcome,
                note=note[:500],
                agent=who.username,
                at=dt.datetime.now(UTC),
            )
        )
        row.attempts = result.attempts
        row.version += 1
        if result.closed:
            row.status, row.outcome = "closed", result.outcome
            row.closed_by, row.closed_at = who.username, dt.datetime.now(UTC)
        await s.flush()
        return _view(row)
