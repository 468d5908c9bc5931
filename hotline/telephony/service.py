"""Call tracking as the app runs it: the AMI listener feeding the state machines, storage and
the agents' screen pops; the live board and metrics managers read; the missed-call callbacks
agents work through.

    center = CallCenter.from_settings(db, settings)
    await center.start()        # app cleanup_ctx, when settings.ami.enabled
    ...
    await center.stop()         # stops the listener, stores what is buffered
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select

from hotline.auth import Principal
from hotline.config import Policy, Settings
from hotline.db import Database
from hotline.errors import Conflict, InvalidInput, NotFound
from hotline.localtime import ts_iso
from hotline.telephony import agents, calls
from hotline.telephony import events as ev
from hotline.telephony.callbacks import OUTCOMES_OF_ATTEMPT, after_attempt
from hotline.telephony.calls import CallRecord
from hotline.telephony.listener import AmiListener
from hotline.telephony.models import CallbackAttempt, CallRow, MissedCallback
from hotline.telephony.store import (CallStore, latest_received, load_records, record_of,
                                     stored_events, typed_events)
from hotline.telephony.tracker import CallTracker
from sla import metrics

log = logging.getLogger(__name__)
UTC = dt.timezone.utc

# Finished calls kept in memory for live metrics (rolling 24 h, today's buckets).
RECENT_S = 2 * 86400
# On start, the stored raw events of this long before the last one are folded again to rebuild
# the calls in progress and the agents' states: no queue call lasts longer.
RESTORE_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What an agent's desk is told about its own calls."""

    kind: str               # "connect" | "complete"
    member: str             # queue member name (e.g. 坐席1)
    interface: str
    uniqueid: str
    caller: str
    queue: str
    dialled: str
    hold_s: int | None = None
    ring_s: int | None = None
    talk_s: int | None = None
    at: float = 0.0


class PopHub:
    """Fan-out of agents' call events to their open desk pages (one queue per open page)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[CallEvent | None]]] = \
            collections.defaultdict(set)
        self.closed = False

    def subscribe(self, *keys: str) -> asyncio.Queue[CallEvent | None]:
        """A queue of this agent's events; `None` in it means the service is stopping."""
        queue: asyncio.Queue[CallEvent | None] = asyncio.Queue(maxsize=100)
        if self.closed:
            queue.put_nowait(None)
            return queue
        for key in keys:
            if key:
                self._subscribers[key].add(queue)
        return queue

    def close(self) -> None:
        """The service is stopping: every open desk stream gets the end marker. Without it a
        desk left open holds the shutdown for the server's whole grace period (minutes)."""
        self.closed = True
        for queue in {q for queues in self._subscribers.values() for q in queues}:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    def unsubscribe(self, queue: asyncio.Queue[CallEvent | None]) -> None:
        for key in list(self._subscribers):
            self._subscribers[key].discard(queue)
            if not self._subscribers[key]:
                del self._subscribers[key]

    def publish(self, event: CallEvent) -> None:
        targets = self._subscribers.get(event.member, set()) | self._subscribers.get(event.interface, set())
        for queue in targets:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a page that stopped reading; it reloads its state anyway
                log.warning("screen pop for %s dropped: the desk page is not reading", event.member)


class CallCenter:
    def __init__(self, db: Database, listener: AmiListener, policy: Policy, source: str) -> None:
        self.db = db
        self.listener = listener
        self.policy = policy
        self.source = source
        self.store = CallStore(db, source)
        self.tracker = CallTracker(on_record=self._on_record, keep=False)
        self.pops = PopHub()
        self.recent: collections.deque[CallRecord] = collections.deque()
        self._store_task: asyncio.Task[None] | None = None
        listener.subscribe_raw(self.store.on_raw)
        listener.subscribe(self._on_event)
        # Bounded memory: while storage is behind, the listener stops reading (TCP holds the
        # PBX back) for at most the store's stall limit.
        listener.throttle(self.store.wait_for_room)

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> "CallCenter":
        ami = settings.ami
        return cls(db, AmiListener.from_settings(ami), settings.policy, f"{ami.host}:{ami.port}")

    async def start(self) -> None:
        since = dt.datetime.now(UTC) - dt.timedelta(seconds=RECENT_S)
        self.recent.extend(await load_records(self.db, self.source, since=since))
        await self._restore()
        self._store_task = asyncio.create_task(self.store.run(), name="call-store")
        await self.listener.start()
        log.info("call tracking: following AMI at %s", self.source)

    async def _restore(self) -> None:
        """Carry on where the previous process stopped: fold the recent stored raw events into
        the state machines (their finished calls are stored already), so that a call answered
        before a restart and completed after it is one record with its exact times. The resync
        on connecting then settles what happened while nobody listened."""
        latest = await latest_received(self.db, self.source)
        if latest is None:
            return
        raw = [e async for e in stored_events(self.db, self.source, since=latest - RESTORE_S)]
        restored = CallTracker(keep=False)
        for event in typed_events(raw):
            restored(event)
        self.tracker.calls = calls.CallState(restored.calls.calls, restored.calls.dialled)
        self.tracker.live = restored.live
        log.info("call tracking: %d stored events replayed, %d calls in progress", len(raw),
                 len(restored.calls.calls))

    async def stop(self) -> None:
        await self.listener.stop()
        if self._store_task is not None:
            self._store_task.cancel()
            await asyncio.gather(self._store_task, return_exceptions=True)

    # --- fed by the listener, on the loop ------------------------------------------------------

    def _on_event(self, event: ev.AmiEvent) -> None:
        self.tracker(event)
        if isinstance(event, ev.AgentConnect):
            call = self.tracker.calls.calls.get(event.uniqueid)
            self.pops.publish(CallEvent(
                "connect", event.member_name, event.interface, event.uniqueid, event.caller,
                event.queue, call.dialled if call else "", event.hold_time_s, event.ring_time_s,
                at=event.ts))

    def _on_record(self, record: CallRecord) -> None:
        self.store.on_record(record)
        self.recent.append(record)
        horizon = record.enter_ts - RECENT_S
        while self.recent and self.recent[0].enter_ts < horizon:
            self.recent.popleft()
        if record.outcome == calls.ANSWERED and record.agent:
            interface = next((a.interface for a in record.attempts if a.outcome == "answered"), "")
            self.pops.publish(CallEvent(
                "complete", record.agent, interface, record.uniqueid, record.caller, record.queue,
                record.dialled, record.hold_s, record.ring_s, record.talk_s, at=record.end_ts or 0.0))

    # --- read by pages ----------------------------------------------------------------------------

    def now(self) -> float:
        return self.listener.pbx_now()

    @property
    def connected(self) -> bool:
        return self.listener.connected.is_set()

    def board(self) -> dict[str, Any]:
        now = self.now()
        return {
            "enabled": True,
            "connected": self.connected,
            "pbx_time": ts_iso(now),
            "waiting": [{"uniqueid": w.uniqueid, "queue": w.queue, "caller": w.caller,
                         "position": w.position, "wait_s": round(w.wait_s)}
                        for w in agents.waiting_at(self.tracker.live, now)],
            "agents": [{"name": m.name, "interface": m.interface, "state": m.state,
                        "pause_reason": m.pause_reason, "caller": m.caller,
                        "seconds_in_state": round(m.seconds_in_state)}
                       for m in agents.members_at(self.tracker.live, now)],
        }

    def current_call(self, member: str, interface: str) -> CallEvent | None:
        """The call this agent is talking on now (a desk opened or reloaded mid-call)."""
        for call in self.tracker.calls.calls.values():
            if call.phase == calls.CONNECTED and (call.agent == member or any(
                    a.interface == interface and a.outcome == "answered" for a in call.attempts)):
                return CallEvent("connect", call.agent or member, interface, call.uniqueid,
                                 call.caller, call.queue, call.dialled, call.hold_s, call.ring_s,
                                 at=call.connect_ts or 0.0)
        return None

    def records(self) -> list[CallRecord]:
        """Finished calls of the last two days and the calls in progress."""
        return list(self.recent) + list(calls.snapshot(self.tracker.calls))


# --- metrics for the dashboard ------------------------------------------------------------------

def _metrics_json(m: metrics.Metrics) -> dict[str, Any]:
    out = m.as_dict(extended=True)
    out["agents"] = {name: {**a.as_dict(), "ring_compliance": a.ring_compliance,
                            "rings": a.rings}
                     for name, a in sorted(m.agents.items())}
    out.pop("ring_compliance", None)
    return out


def dashboard_metrics(records: Iterable[CallRecord], now: float, policy: Policy,
                      bucket: str = "hour") -> dict[str, Any]:
    """Rolling 24 h, today's buckets, per queue, and the rolling-window alarms."""
    records = list(records)
    params = {"service_level_s": policy.service_level_seconds,
              "short_abandon_s": policy.short_abandon_seconds}
    today = metrics.bucket_start(now, "day")
    todays = [r for r in records if r.enter_ts >= today.timestamp()]
    window_s = policy.alarm_window_minutes * 60
    return dashboard_json(
        now, policy, bucket, metrics.rolling(records, now, 86400, **params),
        metrics.rolling(records, now, window_s, **params), metrics.compute(todays, **params),
        metrics.by_bucket(todays, bucket, **params), metrics.by_queue(records, **params))


def dashboard_json(now: float, policy: Policy, bucket: str, rolling_24h: metrics.Metrics,
                   window: metrics.Metrics, today: metrics.Metrics,
                   buckets: dict[dt.datetime, metrics.Metrics],
                   queues: dict[str, metrics.Metrics]) -> dict[str, Any]:
    window_s = policy.alarm_window_minutes * 60
    alarms = metrics.alarms_of(window, window_s=window_s,
                               connect_rate_target=policy.connect_rate_target,
                               service_level_target=policy.service_level_target,
                               min_offered=policy.alarm_min_offered)
    return {
        "now": ts_iso(now),
        "targets": {"connect_rate": policy.connect_rate_target,
                    "service_level": policy.service_level_target,
                    "service_level_seconds": policy.service_level_seconds,
                    "connect_rate_24h": policy.gbt33358_connect_rate_24h},
        "rolling_24h": _metrics_json(rolling_24h),
        "window": {"minutes": policy.alarm_window_minutes, **_metrics_json(window)},
        "today": _metrics_json(today),
        "bucket": bucket,
        "buckets": [{"start": start.isoformat(timespec="minutes"), **_metrics_json(m)}
                    for start, m in sorted(buckets.items())],
        "queues": {q: _metrics_json(m) for q, m in sorted(queues.items())},
        "alarms": [{"metric": a.metric, "value": a.value, "target": a.target,
                    "window_minutes": a.window_s // 60, "offered": a.offered} for a in alarms],
    }


# --- caller history (screen pop) ---------------------------------------------------------------

async def earlier_calls(db: Database, caller: str, exclude: str = "",
                        limit: int = 10) -> list[CallRecord]:
    """The caller's earlier queue calls, newest first."""
    if not caller:
        return []
    async with db.read() as s:
        rows = (await s.execute(
            select(CallRow).where(CallRow.caller == caller, CallRow.uniqueid != exclude)
            .order_by(CallRow.enter_ts.desc()).limit(limit))).scalars().all()
    return [record_of(r) for r in rows]


# --- missed-call callbacks ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CallbackView:
    id: int
    caller: str
    status: str
    missed_count: int
    first_missed_at: dt.datetime
    last_missed_at: dt.datetime
    longest_wait_s: int
    attempts: int
    outcome: str | None
    closed_by: str | None
    closed_at: dt.datetime | None
    version: int


def _view(row: MissedCallback) -> CallbackView:
    return CallbackView(row.id, row.caller, row.status, row.missed_count, row.first_missed_at,
                        dt.datetime.fromtimestamp(row.last_missed_ts, UTC), row.longest_wait_s,
                        row.attempts, row.outcome, row.closed_by, row.closed_at, row.version)


async def list_callbacks(db: Database, status: str = "open", limit: int = 200) -> list[CallbackView]:
    """Open ones oldest miss first (who waited longest for us); closed ones newest first."""
    if status not in ("open", "closed"):
        raise InvalidInput("status must be open or closed", field="status",
                           zh="状态须为待回拨或已处理")
    query = select(MissedCallback).where(MissedCallback.status == status)
    query = query.order_by(MissedCallback.first_missed_ts if status == "open"
                           else MissedCallback.closed_at.desc(), MissedCallback.id)
    async with db.read() as s:
        return [_view(r) for r in (await s.execute(query.limit(limit))).scalars().all()]


async def record_callback(db: Database, who: Principal, callback_id: int, outcome: str,
                          note: str, version: int | None, max_attempts: int) -> CallbackView:
    """An agent called a missed caller back: record how it went (read, decide, write)."""
    if outcome not in OUTCOMES_OF_ATTEMPT:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES_OF_ATTEMPT)}",
                           field="outcome", zh="请选择回拨结果")
    async with db.write() as s:
        row = (await s.execute(select(MissedCallback).where(MissedCallback.id == callback_id)
                               .with_for_update())).scalar_one_or_none()
        if row is None:
            raise NotFound(f"missed call {callback_id} not found",
                           zh=f"未接来电 {callback_id} 不存在")
        if version is not None and version != row.version:
            raise Conflict("this missed call was updated meanwhile; reload",
                           zh="该未接来电已被他人更新，请刷新页面后再操作")
        if row.status != "open":
            raise Conflict("this missed call is already closed", zh="该未接来电已处理完毕")
        result = after_attempt(row.attempts, outcome, max_attempts)
        s.add(CallbackAttempt(callback_id=row.id, outcome=outcome, note=note[:500],
                              agent=who.username, at=dt.datetime.now(UTC)))
        row.attempts = result.attempts
        row.version += 1
        if result.closed:
            row.status, row.outcome = "closed", result.outcome
            row.closed_by, row.closed_at = who.username, dt.datetime.now(UTC)
        await s.flush()
        return _view(row)


async def stored_records(db: Database, hours: int = 48) -> list[CallRecord]:
    """Recent records from the database (when this process does not follow a PBX itself)."""
    since = dt.datetime.now(UTC) - dt.timedelta(hours=hours)
    return await load_records(db, since=since)
