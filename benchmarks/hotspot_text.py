"""Text hot spots (reports.textclusters): the time to cluster a full recent window.

    PYTHONPATH=. .venv-test/bin/python benchmarks/hotspot_text.py [--recent 2000] [--per-day 2000]

Generates `--per-day` everyday tickets a day for the 28 baseline days and `--recent` in the
last 24 hours (8 of them about one burst water main), then times text_clusters (shingling
every ticket, idf, pairs of the window, clusters, baselines) over a few runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from hotline.policy import Policy
from reports.textclusters import text_clusters
from tests.reports.texts import record, scattered, water_main


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recent", type=int, default=2000)
    ap.add_argument("--per-day", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    policy = Policy()
    now = dt.datetime(2026, 11, 23, 2, tzinfo=dt.timezone.utc)
    recent = now - dt.timedelta(hours=policy.hotspot_window_hours)
    since = recent - dt.timedelta(days=policy.hotspot_baseline_days)
    rng = random.Random(1)
    records = scattered(rng, since, recent, args.per_day * policy.hotspot_baseline_days)
    records += scattered(rng, recent, now, args.recent - 8, len(records))
    records += [
        record(
            len(records) + i,
            now - dt.timedelta(hours=1 + i / 4),
            water_main(rng, "建设路"),
            None,
            None,
        )
        for i in range(8)
    ]
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        result = text_clusters(records, since, recent, now, policy)
        times.append(time.perf_counter() - t0)
    print(
        f"{result.clustered} window tickets clustered against {len(records) - result.window_total} "
        f"baseline tickets: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"over {args.runs} runs; {len(result.clusters)} candidate clusters, {len(result.hot)} hot: "
        + "; ".join(f"{c.recent} × {c.key}" for c in result.hot)
    )


if __name__ == "__main__":
    main()
