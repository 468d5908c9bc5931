"""Survey section of the call metrics (calls/survey_figures.py): how long one look at the
citizens' scores takes, the rolling 24 h and today counted by the database, once a second at
most whatever the number of boards polling.

A fresh database (a SQLite file in a temporary directory, or with --database-url a PostgreSQL
schema of its own, `bench_surveys_<pid>`, dropped afterwards) is migrated and filled with
--surveys post-call surveys spread over the last 24 h (40 agents, scores 1/1/1/2/3/none);
then the section is worked out --repeat times without its one-second cache, p50 and max printed.

    cd /work/main && .venv-test/bin/python benchmarks/survey_metrics.py
        [--surveys 10000] [--repeat 15]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy import insert, text

from calls import survey_figures
from hotline.db import Database, upgrade
from ivr.models import SurveyRow
from ivr.surveys import SurveyStore


async def measure(db: Database, surveys: int, repeat: int) -> None:
    await upgrade(db)
    now = time.time()
    rng = random.Random(1)
    rows = [
        {
            "uniqueid": f"bench.{i}",
            "agent": f"坐席{rng.randrange(40)}",
            "queue": "hotline",
            "score": rng.choice([1, 1, 1, 2, 3, None]),
            "at": dt.datetime.fromtimestamp(now - rng.uniform(5, 86000), dt.timezone.utc),
        }
        for i in range(surveys)
    ]
    async with db.write() as s:
        for i in range(0, surveys, 5000):
            await s.execute(insert(SurveyRow), rows[i : i + 5000])
    store = SurveyStore(db)
    times = []
    out: dict[str, Any] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        out = await survey_figures.section(store, now)
        times.append((time.perf_counter() - started) * 1000)
    assert out["rolling_24h"]["count"] == surveys
    print(
        f"{db.engine.dialect.name} surveys={surveys}: "
        f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--surveys", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if not args.database_url:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database.from_url(f"sqlite+aiosqlite:///{tmp}/bench.db")
            try:
                await measure(db, args.surveys, args.repeat)
            finally:
                await db.dispose()
        return
    schema = f"bench_surveys_{os.getpid()}"
    admin = Database.from_url(args.database_url)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database.from_url(
        args.database_url, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        await measure(db, args.surveys, args.repeat)
    finally:
        await db.dispose()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
