"""The live board on every instance: the instance that leads a PBX writes that PBX's board
(callers waiting, agents' states) to `live_boards` about every second; an instance that leads
none serves its managers the stored boards, aged by the time since they were written.

    await write(db, "pbx1", center.board(), now)   # the leader, each second (BoardWriter)
    board = await read(db, now)                    # the others, per request
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select

from calls.models import LiveBoard
from hotline.db import Database, upsert, utcnow

if TYPE_CHECKING:  # the center reads restore points from here
    from calls.center import CallCenter

log = logging.getLogger(__name__)

WRITE_EVERY_S = 1.0
# A board older than this is not live: its leader is gone (a standby takes over within 5 s).
STALE_S = 5.0


async def write(
    db: Database,
    source: str,
    board: dict[str, Any],
    now: dt.datetime,
    restore_from: float | None = None,
) -> None:
    async with db.write() as s:
        await s.execute(
            upsert(
                s,
                LiveBoard,
                {
                    "source": source,
                    "body": json.dumps(board, ensure_ascii=False),
                    "updated_at": now,
                    "restore_from": restore_from,
                },
                index_elements=["source"],
                set_excluded=("body", "updated_at", "restore_from"),
            )
        )


async def restore_point(db: Database, source: str) -> float | None:
    """From when (raw events' received_at) the last leader of `source` said a successor
    should fold stored events; None when it never said."""
    async with db.read() as s:
        return (
            await s.execute(select(LiveBoard.restore_from).where(LiveBoard.source == source))
        ).scalar_one_or_none()


async def read(db: Database, now: dt.datetime) -> dict[str, Any] | None:
    """Every PBX's stored board as one (waiting callers and agents of all), its waits and
    times in state moved on by the boards' age; None when no instance ever wrote one."""
    async with db.read() as s:
        rows = list((await s.execute(select(LiveBoard).order_by(LiveBoard.source))).scalars())
    if not rows:
        return None
    merged: dict[str, Any] = {"enabled": True, "connected": True, "waiting": [], "agents": []}
    oldest = 0.0
    for row in rows:
        age = max(0.0, (now - row.updated_at).total_seconds())
        oldest = max(oldest, age)
        board = json.loads(row.body)
        live = age <= STALE_S
        merged["connected"] = merged["connected"] and live and bool(board.get("connected"))
        merged.setdefault("pbx_time", board.get("pbx_time"))
        for w in board.get("waiting", []):
            merged["waiting"].append(dict(w, wait_s=round(w.get("wait_s", 0) + age)))
        for a in board.get("agents", []):
            merged["agents"].append(
                dict(a, seconds_in_state=round(a.get("seconds_in_state", 0) + age))
            )
    merged["age_s"] = round(oldest, 1)
    return merged


class BoardWriter:
    """The `ami` role's writer of the boards of the PBXs this instance leads."""

    def __init__(
        self,
        db: Database,
        centers: Callable[[], list["CallCenter"]],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.centers = centers
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def write_once(self) -> int:
        written = 0
        for center in self.centers():
            await write(
                self.db, center.source, center.board(), self.clock(), center.restore_point()
            )
            written += 1
        return written

    async def _run(self) -> None:
        while True:
            try:
                await self.write_once()
            except Exception as exc:  # noqa: BLE001 - the database is away: next second
                log.warning("live board not written: %s", type(exc).__name__)
            await asyncio.sleep(WRITE_EVERY_S)

    async def start(self) -> None:
        if not self.db.is_sqlite:  # one process on SQLite: its pages read the center itself
            self._task = asyncio.create_task(self._run(), name="board-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
