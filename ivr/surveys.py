"""Storing and reading the post-call survey (ivr.models.SurveyRow)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select

from hotline.db import Database, upsert, utcnow
from hotline.localtime import SHANGHAI
from hotline.ports import ScoreCount
from ivr.models import SurveyRow

SCORE_LABELS = {1: "满意", 2: "基本满意", 3: "不满意", None: "未评价"}


@dataclass(frozen=True, slots=True)
class SurveyTally:
    """Scores of one agent on one local day."""

    agent: str
    day: dt.date
    satisfied: int = 0
    fairly: int = 0
    unsatisfied: int = 0
    no_answer: int = 0


class SurveyStore:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def record(self, uniqueid: str, agent: str, queue: str, score: int | None) -> None:
        """One call's survey; a second one for the same call (an AGI run again) replaces a
        missing score but never a given one."""
        if score not in (1, 2, 3, None):
            raise ValueError(f"survey score {score!r}")
        values = {
            "uniqueid": uniqueid,
            "agent": agent[:120],
            "queue": queue[:80],
            "score": score,
            "at": self.clock(),
        }
        async with self.db.write() as s:
            stmt = upsert(
                s,
                SurveyRow.__table__,
                values,
                index_elements=["uniqueid"],
                set_={"score": func.coalesce(SurveyRow.__table__.c.score, values["score"])},
            )
            await s.execute(stmt)

    async def get(self, uniqueid: str) -> SurveyRow | None:
        async with self.db.read() as s:
            return await s.get(SurveyRow, uniqueid)

    async def counts(self, since: dt.datetime, until: dt.datetime) -> list[ScoreCount]:
        """Per agent and score, by agent then score (no answer last)."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(SurveyRow.agent, SurveyRow.score, func.count())
                    .where(SurveyRow.at >= since, SurveyRow.at < until)
                    .group_by(SurveyRow.agent, SurveyRow.score)
                )
            ).all()
        return sorted(
            (ScoreCount(agent, score, int(n)) for agent, score, n in rows),
            key=lambda c: (c.agent, c.score is None, c.score or 0),
        )

    async def tallies(self, since: dt.datetime, until: dt.datetime) -> list[SurveyTally]:
        """Per agent and local day (Asia/Shanghai), oldest day first."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(SurveyRow.agent, SurveyRow.at, SurveyRow.score).where(
                        SurveyRow.at >= since, SurveyRow.at < until
                    )
                )
            ).all()
        counts: dict[tuple[str, dt.date], list[int]] = {}
        for agent, at, score in rows:
            key = (agent, at.astimezone(SHANGHAI).date())
            slot = 3 if score is None else {1: 0, 2: 1, 3: 2}.get(score, 3)
            counts.setdefault(key, [0, 0, 0, 0])[slot] += 1
        return [
            SurveyTally(agent, day, *c)
            for (agent, day), c in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ]
