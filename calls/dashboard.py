"""The dashboard's call metrics as JSON: rolling 24 h, today's buckets, per queue, and the
rolling-window alarms, measured by sla.metrics against the policy's targets."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, TypedDict

from calls.calls import CallRecord
from hotline.localtime import ts_iso
from hotline.policy import Policy
from sla import metrics


class _Params(TypedDict):
    service_level_s: int
    short_abandon_s: int


def _metrics_json(m: metrics.Metrics) -> dict[str, Any]:
    out = m.as_dict(extended=True)
    out["agents"] = {
        name: {**a.as_dict(), "ring_compliance": a.ring_compliance, "rings": a.rings}
        for name, a in sorted(m.agents.items())
    }
    out.pop("ring_compliance", None)
    return out


def dashboard_metrics(
    records: Iterable[CallRecord], now: float, policy: Policy, bucket: str = "hour"
) -> dict[str, Any]:
    """Rolling 24 h, today's buckets, per queue, and the rolling-window alarms."""
    records = list(records)
    params: _Params = {
        "service_level_s": policy.service_level_seconds,
        "short_abandon_s": policy.short_abandon_seconds,
    }
    today = metrics.bucket_start(now, "day")
    todays = [r for r in records if r.enter_ts >= today.timestamp()]
    window_s = policy.alarm_window_minutes * 60
    return dashboard_json(
        now,
        policy,
        bucket,
        metrics.rolling(records, now, 86400, **params),
        metrics.rolling(records, now, window_s, **params),
        metrics.compute(todays, **params),
        metrics.by_bucket(todays, bucket, **params),
        metrics.by_queue(records, **params),
    )


def dashboard_json(
    now: float,
    policy: Policy,
    bucket: str,
    rolling_24h: metrics.Metrics,
    window: metrics.Metrics,
    today: metrics.Metrics,
    buckets: dict[dt.datetime, metrics.Metrics],
    queues: dict[str, metrics.Metrics],
) -> dict[str, Any]:
    window_s = policy.alarm_window_minutes * 60
    alarms = metrics.alarms_of(
        window,
        window_s=window_s,
        connect_rate_target=policy.connect_rate_target,
        service_level_target=policy.service_level_target,
        min_offered=policy.alarm_min_offered,
    )
    return {
        "now": ts_iso(now),
        "targets": {
            "connect_rate": policy.connect_rate_target,
            "service_level": policy.service_level_target,
            "service_level_seconds": policy.service_level_seconds,
            "connect_rate_24h": policy.gbt33358_connect_rate_24h,
        },
        "rolling_24h": _metrics_json(rolling_24h),
        "window": {"minutes": policy.alarm_window_minutes, **_metrics_json(window)},
        "today": _metrics_json(today),
        "bucket": bucket,
        "buckets": [
            {"start": start.isoformat(timespec="minutes"), **_metrics_json(m)}
            for start, m in sorted(buckets.items())
        ],
        "queues": {q: _metrics_json(m) for q, m in sorted(queues.items())},
        "alarms": [
            {
                "metric": a.metric,
                "value": a.value,
                "target": a.target,
                "window_minutes": a.window_s // 60,
                "offered": a.offered,
            }
            for a in alarms
        ],
    }
