"""The reports' use cases: read the other features' records through the ports, fold them with
the pure modules here, and hand pages, exports and the CLI one value each. Read-only."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from hotline.bootstrap import Services
from hotline.directory.models import Unit
from hotline.localtime import zone
from hotline.errors import InvalidInput
from hotline.ports import CALL_HISTORY, SURVEY_SCORES, TICKET_RECORDS
from reports import accountability, hotspots, staffing, textclusters
from reports.calls import DIMENSIONS, GROUPS, MAX_DAYS, History, Scores, history, surveys
from reports.daycache import DayCache
from reports.daystore import DayStore, fingerprint
from reports.periods import Period, parse_date, parse_range
from reports.unitrollup import UnitRollup


@dataclass(frozen=True, slots=True)
class UnitReport:
    period: Period
    rows: list[accountability.UnitRow]
    weights: dict[str, float]
    as_of: dt.datetime
    open_rows: list[accountability.OpenRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CallQuery:
    """What a call history is asked for, as it arrives (query string or CLI)."""

    start: str | None = None  # first local day, 2026-11-01
    end: str | None = None  # last local day, included
    group: str = "hour"
    dimension: str = "all"
    queue: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class CallReport:
    period: Period
    query: CallQuery
    history: History
    queues: list[str]
    agents: list[str]
    # The IVR's post-call scores (when it records them): per (period, agent), per agent.
    scores: dict[tuple[dt.datetime, str], Scores] = field(default_factory=dict)
    score_totals: dict[str, Scores] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HotReport:
    spots: list[hotspots.HotSpot]
    texts: textclusters.TextResult
    since: dt.datetime  # start of the recent window
    now: dt.datetime


class ReportService:
    def __init__(self, services: Services) -> None:
        self.services = services
        store = DayStore(
            services.db, self.tz, fingerprint(services.policy, services.settings.timezone)
        )
        self.days = DayCache(services.policy, self.tz, store)

    @property
    def tz(self) -> dt.tzinfo:
        return zone(self.services.settings.timezone)

    def today(self) -> dt.date:
        return self.services.clock().astimezone(self.tz).date()

    async def unit_names(self) -> dict[str, str]:
        async with self.services.db.read() as s:
            return {code: name for code, name in await s.execute(select(Unit.code, Unit.name))}

    async def units(self, period: Period) -> UnitReport:
        """承办单位考核 of the assignments made in `period`, as of now."""
        now = self.services.clock()
        policy = self.services.policy
        port = self.services.get(TICKET_RECORDS)
        tallies = (
            await self.unit_rollup.tallies(port, policy, period.start, period.end, now)
            if port
            else {}
        )
        rows = accountability.rank(tallies, policy.score_weights, await self.unit_names())
        return UnitReport(period, rows, policy.score_weights, now)

    @property
    def unit_rollup(self) -> UnitRollup:
        return UnitRollup(self.services.db, self.tz, self.services.settings.timezone)

    async def rebuild_units(self) -> int:
        """The unit ranking's rollup made again from every ticket: the assignments stored."""
        port = self.services.get(TICKET_RECORDS)
        return await self.unit_rollup.rebuild(port, self.services.policy) if port else 0

    async def open_tickets(self) -> list[accountability.OpenRow]:
        """Open work orders now, by status and age (在办工单)."""
        port = self.services.get(TICKET_RECORDS)
        return accountability.open_by_age(
            await port.open_tickets() if port else [], self.services.clock()
        )

    def call_period(self, q: CallQuery) -> Period:
        if q.group not in GROUPS:
            raise InvalidInput(
                f"group must be one of {', '.join(GROUPS)}",
                field="group",
                zh="分组方式须为：" + "、".join(GROUPS.values()),
            )
        if q.dimension not in DIMENSIONS:
            raise InvalidInput(
                f"by must be one of {', '.join(DIMENSIONS)}",
                field="by",
                zh="统计维度须为：" + "、".join(DIMENSIONS.values()),
            )
        period = parse_range(q.start, q.end, self.today(), self.tz, max(MAX_DAYS.values()))
        days = (period.end - period.start).days
        if days > MAX_DAYS[q.group]:
            raise InvalidInput(
                f"grouped by {q.group} a range covers at most {MAX_DAYS[q.group]} days",
                field="group",
                zh=f"按{GROUPS[q.group]}分组时最长查询 {MAX_DAYS[q.group]} 天，"
                "请缩短日期范围或改用更粗的分组",
            )
        return period

    async def calls(self, q: CallQuery) -> CallReport:
        """History of the stored calls: 400 for a bad range or an unknown queue or agent."""
        period = self.call_period(q)
        port = self.services.get(CALL_HISTORY)
        queues, agents = await self.days.names(port) if port else ([], [])
        if q.queue is not None and q.queue not in queues:
            raise InvalidInput(
                f"unknown queue {q.queue[:40]!r}",
                field="queue",
                zh=f"没有队列“{q.queue[:40]}”的话务记录",
            )
        if q.agent is not None and q.agent not in agents:
            raise InvalidInput(
                f"unknown agent {q.agent[:40]!r}",
                field="agent",
                zh=f"没有坐席“{q.agent[:40]}”的话务记录",
            )
        if port is None:
            found = history(
                [], period.start, period.end, q.group, q.dimension, self.services.policy
            )
        else:
            found = await self.days.history(
                port,
                period.start,
                period.end,
                q.group,
                q.dimension,
                q.queue,
                q.agent,
                self.today(),
                fresh=True,
                tickets=self.services.get(TICKET_RECORDS),
            )
        scores = self.services.get(SURVEY_SCORES)
        days = await scores.tallies(period.start, period.end) if scores else []
        per, totals = surveys(
            (d for d in days if q.agent is None or d.agent == q.agent), q.group, self.tz
        )
        return CallReport(period, q, found, queues, agents, per, totals)

    async def hot_spots(self) -> HotReport:
        """热点诉求 now: by category and district, and by similar text."""
        now = self.services.clock()
        policy = self.services.policy
        since, recent, _ = hotspots.window(now, policy)
        port = self.services.get(TICKET_RECORDS)
        records = await port.created_between(since, now) if port else []
        # Clustering a full window is seconds of CPU (benchmarks/hotspot_text.py): off the loop.
        texts = await asyncio.to_thread(
            textclusters.text_clusters, records, since, recent, now, policy
        )
        return HotReport(hotspots.hot_spots(records, now, policy), texts, recent, now)

    async def staffing(
        self, day_raw: str | None, weeks: int
    ) -> tuple[dt.date, list[staffing.Slot]]:
        """Staffing advice for a local day (default tomorrow) from the same weekday of the
        `weeks` before it."""
        today = self.today()
        day = parse_date(day_raw, "date", today) if day_raw else today + dt.timedelta(days=1)
        start = dt.datetime.combine(day - dt.timedelta(weeks=weeks), dt.time(), self.tz)
        end = dt.datetime.combine(day, dt.time(), self.tz)
        port = self.services.get(CALL_HISTORY)
        calls = await port.calls_between(start, end) if port else []
        policy = self.services.policy
        # Weeks of calls: off the event loop, as the call history's fold (reports.daycache).
        advice = await asyncio.to_thread(
            staffing.advise,
            calls,
            day,
            weeks,
            self.tz,
            policy.service_level_target,
            policy.service_level_seconds,
        )
        return day, advice
