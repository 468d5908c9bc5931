"""calls.survey_figures: the survey section's figures from counts per agent and score, read
at most once a second over the rolling 24 h and today (Asia/Shanghai); the IVR's store counts
in the database (both databases)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from calls import survey_figures
from hotline.db import Database
from hotline.ports import ScoreCount
from ivr.surveys import SurveyStore
from tests.calls.test_metrics_surveys import SAMPLE, UTC, record


def test_figures_of_no_surveys_and_of_some() -> None:
    assert survey_figures.figures([]) == {
        "count": 0,
        "answered": 0,
        "no_answer": 0,
        "distribution": {"satisfied": 0, "fairly_satisfied": 0, "unsatisfied": 0},
        "average": None,
        "satisfied_rate": None,
    }
    got = survey_figures.figures(
        [
            ScoreCount("a", 1, 3),
            ScoreCount("a", 2, 1),
            ScoreCount("a", 3, 1),
            ScoreCount("a", None, 2),
            ScoreCount("b", 1, 1),
        ]
    )
    assert got["count"] == 8 and got["answered"] == 6 and got["no_answer"] == 2
    assert got["average"] == round((4 * 1 + 1 * 2 + 1 * 3) / 6, 3)
    assert got["satisfied_rate"] == round(5 / 6, 4)


async def test_scores_are_read_at_most_once_a_second(db: Database) -> None:
    calls: list[tuple[dt.datetime, dt.datetime]] = []

    class Scores:
        async def tallies(self, since: dt.datetime, until: dt.datetime) -> list[Any]:
            raise AssertionError("the metrics count in the database")

        async def counts(self, since: dt.datetime, until: dt.datetime) -> list[ScoreCount]:
            calls.append((since, until))
            return []

    scores = Scores()
    now = dt.datetime(2026, 12, 4, 3, 0, 0, 200_000, tzinfo=UTC).timestamp()  # 11:00 local
    await survey_figures.of(scores, now)
    await survey_figures.of(scores, now + 0.7)
    assert len(calls) == 2  # the rolling 24 h and today, once
    await survey_figures.of(scores, now + 0.8)
    assert len(calls) == 4
    (since, until), (midnight, until2) = calls[2:]
    assert until == until2 == dt.datetime(2026, 12, 4, 3, 0, 2, tzinfo=UTC)
    assert until - since == dt.timedelta(days=1, seconds=1)
    assert midnight == dt.datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai


async def test_the_store_counts_per_agent_and_score(db: Database) -> None:
    now = time.time()
    await record(db, now, SAMPLE)
    store = SurveyStore(db)
    since = dt.datetime.fromtimestamp(now - 86400, UTC)
    got = await store.counts(since, dt.datetime.fromtimestamp(now + 1, UTC))
    assert got == [
        ScoreCount("坐席1", 1, 1),
        ScoreCount("坐席1", 3, 1),
        ScoreCount("坐席2", 2, 1),
        ScoreCount("坐席2", None, 1),
    ]
