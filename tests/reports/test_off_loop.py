"""Reports over weeks of calls never run their CPU work on the event loop: a month of a large
hotline is half a million call records (seconds of decoding and folding, benchmarks/dashboard.py
`first_loop_stall_ms`), and in one process the agents' pages, the AMI reader and the IVR share
that loop. Each test records on which thread the calls' fields are read."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

import calls.wiring
from hotline.bootstrap import Services
from hotline.localtime import SHANGHAI
from hotline.ports import CALL_HISTORY
from reports.service import CallQuery, ReportService
from reports.wiring import REPORTS
from tests.calls.conftest import capture_dirs
from tests.reports.test_calls import days_of, stored_capture

BUSY = next(p for p in capture_dirs() if p.name == "busy")


class Watched:
    """A stored call whose every field read notes the reading thread."""

    def __init__(self, record: Any, threads: set[int]) -> None:
        self._record = record
        self._threads = threads

    def __getattr__(self, name: str) -> Any:
        self._threads.add(threading.get_ident())
        return getattr(self._record, name)


class WatchedHistory:
    """The product's CallHistory port, its calls wrapped in Watched."""

    def __init__(self, port: Any, threads: set[int]) -> None:
        self.port = port
        self.threads = threads

    async def calls_between(self, start: dt.datetime, end: dt.datetime) -> Any:
        return [Watched(r, self.threads) for r in await self.port.calls_between(start, end)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)


@pytest.mark.parametrize("group", ["day", "15min"])
async def test_the_call_history_folds_in_a_worker_thread(services: Services, group: str) -> None:
    truth = await stored_capture(services, BUSY)
    first, last = days_of(truth)
    threads: set[int] = set()
    services[CALL_HISTORY] = WatchedHistory(services[CALL_HISTORY], threads)
    report = await ReportService(services).calls(CallQuery(first, last, group, "agent"))
    assert report.history.total.offered == len(truth.enter)
    assert threads and threading.get_ident() not in threads


async def test_staffing_advice_is_computed_in_a_worker_thread(services: Services) -> None:
    truth = await stored_capture(services, BUSY)
    day = dt.datetime.fromtimestamp(min(truth.enter.values()), SHANGHAI).date()
    threads: set[int] = set()
    services[CALL_HISTORY] = WatchedHistory(services[CALL_HISTORY], threads)
    _, slots = await services[REPORTS].staffing((day + dt.timedelta(weeks=1)).isoformat(), 1)
    assert sum(s.calls for s in slots) == len(truth.enter)
    assert threads and threading.get_ident() not in threads


async def test_stored_calls_are_decoded_in_a_worker_thread(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = await stored_capture(services, BUSY)
    decoded: list[int] = []
    record_of = calls.wiring.record_of

    def noting(row: Any) -> Any:
        decoded.append(threading.get_ident())
        return record_of(row)

    monkeypatch.setattr(calls.wiring, "record_of", noting)
    first = dt.datetime.fromtimestamp(min(truth.enter.values()), dt.timezone.utc)
    start = first - dt.timedelta(days=3, minutes=20)  # many hours read before the calls
    got = await services[CALL_HISTORY].calls_between(start, start + dt.timedelta(days=8))
    assert sorted(r.uniqueid for r in got) == sorted(truth.enter)
    assert [r.enter_ts for r in got] == sorted(r.enter_ts for r in got)
    assert len(decoded) == len(truth.enter) and threading.get_ident() not in decoded
