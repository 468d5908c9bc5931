"""The citizens' own scores of their calls (the IVR's post-call survey: 1 满意, 2 基本满意,
3 不满意, read through the kernel's SURVEY_SCORES port) for the call metrics managers read
(`/api/v1/calls/metrics`): over the same rolling 24 h and today as the call figures, in all and
per agent. Without the IVR there are no scores: the section is None."""

from __future__ import annotations

import datetime as dt
import json
import math
import weakref
from typing import Any, Iterable, Sequence

from hotline.localtime import SHANGHAI
from hotline.ports import ScoreCount, SurveyScores

SCALE = {"1": "满意", "2": "基本满意", "3": "不满意"}


def figures(counts: Iterable[ScoreCount]) -> dict[str, Any]:
    """Count, distribution and average of the given counts. `count` is every survey run,
    `answered` those with a score; the average (1 best, 3 worst) and the satisfied rate
    (满意 or 基本满意 among the answered) are None without an answer."""
    by_score = {1: 0, 2: 0, 3: 0, None: 0}
    for c in counts:
        by_score[c.score if c.score in (1, 2, 3) else None] += c.count
    satisfied, fairly, unsatisfied, no_answer = (by_score[k] for k in (1, 2, 3, None))
    answered = satisfied + fairly + unsatisfied
    return {
        "count": answered + no_answer,
        "answered": answered,
        "no_answer": no_answer,
        "distribution": {
            "satisfied": satisfied,
            "fairly_satisfied": fairly,
            "unsatisfied": unsatisfied,
        },
        "average": (
            round((satisfied + 2 * fairly + 3 * unsatisfied) / answered, 3) if answered else None
        ),
        "satisfied_rate": round((satisfied + fairly) / answered, 4) if answered else None,
    }


def period(counts: Sequence[ScoreCount]) -> dict[str, Any]:
    by_agent: dict[str, list[ScoreCount]] = {}
    for c in counts:
        by_agent.setdefault(c.agent, []).append(c)
    return {
        **figures(counts),
        "agents": {agent: figures(rows) for agent, rows in sorted(by_agent.items())},
    }


def periods(now: float) -> tuple[tuple[dt.datetime, dt.datetime], tuple[dt.datetime, dt.datetime]]:
    """[since, until) of the rolling 24 h and of today (Asia/Shanghai, the day the call
    figures' `today` is), the second of `now` included."""
    moment = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    until = moment + dt.timedelta(seconds=1)
    midnight = moment.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return (moment - dt.timedelta(days=1), until), (midnight, until)


async def section(scores: SurveyScores, now: float) -> dict[str, Any]:
    """The metrics' `surveys`: the rolling 24 h and today, in all and per agent."""
    rolling, today = periods(now)
    return {
        "scale": SCALE,
        "rolling_24h": period(await scores.counts(*rolling)),
        "today": period(await scores.counts(*today)),
    }


class SurveyFigures:
    """The section, worked out at most once a second per scores source: every manager's
    board and the wallboard poll the metrics every few seconds."""

    def __init__(self, scores: SurveyScores) -> None:
        self.scores = scores
        self._served: tuple[int, dict[str, Any]] | None = None

    async def section(self, now: float) -> dict[str, Any]:
        second = math.floor(now)
        if self._served is not None and self._served[0] == second:
            return self._served[1]
        out = await section(self.scores, second)
        self._served = (second, out)
        return out


_SOURCES: "weakref.WeakKeyDictionary[Any, SurveyFigures]" = weakref.WeakKeyDictionary()


async def of(scores: SurveyScores | None, now: float) -> dict[str, Any] | None:
    """The metrics' survey section from `scores` (None: no IVR in this product)."""
    if scores is None:
        return None
    try:
        source = _SOURCES.get(scores)
        if source is None:
            source = _SOURCES[scores] = SurveyFigures(scores)
    except TypeError:  # a source that cannot be weakly referenced: read at every call
        source = SurveyFigures(scores)
    return await source.section(now)


def with_surveys(body: bytes, surveys: dict[str, Any] | None) -> bytes:
    """The stored metrics' JSON object (calls.rollup serves it as bytes, worked out once a
    second) with the `surveys` member added, without parsing it again."""
    member = json.dumps(surveys, ensure_ascii=False).encode()
    if not body.rstrip().endswith(b"}"):
        raise ValueError("the metrics body is not a JSON object")
    head = body.rstrip()[:-1].rstrip()
    separator = b"" if head.endswith(b"{") else b","
    return head + separator + b'"surveys":' + member + b"}"
