"""The citizens' post-call scores (the IVR's survey) in the call metrics managers read
(`/api/v1/calls/metrics`): the count, distribution, average and satisfied rate over the
rolling 24 h and today, in all and per agent, from the stored calls' answer and from a
followed PBX's alike; none without the IVR."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from calls import survey_figures
from hotline.db import Database
from hotline.localtime import SHANGHAI
from ivr.surveys import SurveyStore
from tests.conftest import login

UTC = dt.timezone.utc


async def record(db: Database, now: float, rows: list[tuple[str, str, int | None, float]]) -> None:
    for uniqueid, agent, score, ago in rows:
        at = dt.datetime.fromtimestamp(now - ago, UTC)
        await SurveyStore(db, clock=lambda at=at: at).record(uniqueid, agent, "hotline", score)


SAMPLE = [
    ("u1", "坐席1", 1, 60.0),
    ("u2", "坐席1", 3, 3 * 3600.0),
    ("u3", "坐席2", 2, 23 * 3600.0),
    ("u4", "坐席2", None, 600.0),
    ("u5", "坐席1", 1, 25 * 3600.0),  # before the rolling 24 h
]


def expected(rows: list[tuple[str, str, int | None, float]]) -> dict[str, Any]:
    """The figures of `rows`, worked out by hand."""
    scores = [score for _, _, score, _ in rows]
    answered = [x for x in scores if x is not None]
    return {
        "count": len(scores),
        "answered": len(answered),
        "no_answer": len(scores) - len(answered),
        "distribution": {
            "satisfied": answered.count(1),
            "fairly_satisfied": answered.count(2),
            "unsatisfied": answered.count(3),
        },
        "average": round(sum(answered) / len(answered), 3) if answered else None,
        "satisfied_rate": (
            round(sum(1 for x in answered if x < 3) / len(answered), 4) if answered else None
        ),
    }


def expected_today(now: float) -> dict[str, Any]:
    """What `today` holds: the sample's scores given on the local day of `now`."""
    today = dt.datetime.fromtimestamp(now, SHANGHAI).date()
    rows = [
        r
        for r in SAMPLE
        if r[3] < 86400 and dt.datetime.fromtimestamp(now - r[3], SHANGHAI).date() == today
    ]
    agents = sorted({r[1] for r in rows})
    return {
        **expected(rows),
        "agents": {a: expected([r for r in rows if r[1] == a]) for a in agents},
    }


def test_the_section_is_added_to_the_stored_body_as_json() -> None:
    body = json.dumps({"now": "x", "today": {"offered": 3}}).encode()
    out = json.loads(survey_figures.with_surveys(body, {"count": 1}))
    assert out == {"now": "x", "today": {"offered": 3}, "surveys": {"count": 1}}
    assert json.loads(survey_figures.with_surveys(b"{}", None)) == {"surveys": None}
    with pytest.raises(ValueError):
        survey_figures.with_surveys(b"[1]", None)


async def test_stored_metrics_carry_the_scores_of_the_rolling_24h_and_today(
    client: Any, accounts: Any, db: Database
) -> None:
    now = time.time()
    await record(db, now, SAMPLE)
    await login(client, "boss")
    resp = await client.get("/api/v1/calls/metrics?bucket=hour")
    assert resp.status == 200
    body = await resp.json()
    assert "rolling_24h" in body and "today" in body  # the call figures as before
    surveys = body["surveys"]
    assert surveys["scale"] == {"1": "满意", "2": "基本满意", "3": "不满意"}
    day = surveys["rolling_24h"]
    assert (day["count"], day["answered"], day["no_answer"]) == (4, 3, 1)
    assert day["distribution"] == {"satisfied": 1, "fairly_satisfied": 1, "unsatisfied": 1}
    assert day["average"] == 2.0 and day["satisfied_rate"] == round(2 / 3, 4)
    assert day["agents"]["坐席1"]["count"] == 2 and day["agents"]["坐席1"]["average"] == 2.0
    assert day["agents"]["坐席2"]["answered"] == 1 and day["agents"]["坐席2"]["no_answer"] == 1
    assert surveys["today"] == expected_today(now)


async def test_without_the_ivr_there_is_no_survey_section(db: Database) -> None:
    assert await survey_figures.of(None, time.time()) is None


async def test_a_followed_pbx_metrics_carry_the_scores_at_its_time(
    followed: Any, db: Database
) -> None:
    from calls.web import CENTER

    now = followed.server.app[CENTER].now()  # the PBX's clock: the capture's time
    await record(db, now, SAMPLE)
    await login(followed, "boss")
    body = await (await followed.get("/api/v1/calls/metrics")).json()
    assert body["rolling_24h"]["offered"] > 0
    assert body["surveys"]["rolling_24h"]["count"] == 4
    assert body["surveys"]["rolling_24h"]["distribution"]["unsatisfied"] == 1
