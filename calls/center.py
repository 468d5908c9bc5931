"""Call tracking as the app runs it: the AMI listener feeding the state machines, storage and
the agents' screen pops; the live board and the recent records managers' metrics read.

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
import time
from dataclasses import dataclass
from typing import Any, Callable

from calls import agents, boards, calls
from calls.ami import events as ev
from calls.ami.listener import AmiListener
from calls.calls import CallRecord
from calls.queuelog import QueueLogFile
from calls.recompute import latest_received, stored_events, typed_events
from calls.records import load_records
from calls.store import CallStore
from calls.tracker import CallTracker
from hotline.config import AmiSettings, Settings
from hotline.db import Database
from hotline.localtime import ts_iso
from hotline.policy import Policy
from sla.metrics import ANSWERED

log = logging.getLogger(__name__)
UTC = dt.timezone.utc

# Finished calls kept in memory for live metrics (rolling 24 h, today's buckets).
RECENT_S = 2 * 86400
# On start, the stored raw events of this long before the last one are folded again to rebuild
# the calls in progress and the agents' states: no queue call lasts longer.
RESTORE_S = 6 * 3600
# A call's channel exists before it joins the queue (the IVR, a few minutes at most): the
# restore starts this long before the oldest queue entry in progress.
RESTORE_MARGIN_S = 600
# queue_log is read this often between gaps, so that a gap's read is short.
QUEUE_LOG_POLL_S = 30.0


# The events after which an agent's desk may show another queue state (talking, paused...).
_MEMBER_EVENTS = (
    ev.QueueMemberPause,
    ev.QueueMemberStatus,
    ev.AgentCalled,
    ev.AgentRingNoAnswer,
    ev.AgentConnect,
    ev.AgentComplete,
    ev.AgentDump,
)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """What an agent's desk is told about its own calls."""

    kind: str  # "connect" | "complete"
    member: str  # queue member name (e.g. 坐席1)
    interface: str
    uniqueid: str
    caller: str
    queue: str
    dialled: str
    hold_s: int | None = None
    ring_s: int | None = None
    talk_s: int | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent's own queue state as the PBX reports it (QueueMemberPause / QueueMemberStatus
    events), for the desk: `state` is one of calls.agents' states; paused with the wrap-up
    reason is 话后整理, paused with another reason is 示忙."""

    member: str
    interface: str
    state: str  # what the member does now (talking wins over paused)
    paused: bool
    pause_reason: str
    since: float


DeskEvent = CallEvent | AgentState


class PopHub:
    """Fan-out of agents' call events to their open desk pages (one queue per open page)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[DeskEvent | None]]] = (
            collections.defaultdict(set)
        )
        self.closed = False
        self._taps: list[Callable[[DeskEvent], None]] = []

    def tap(self, forward: Callable[[DeskEvent], None]) -> None:
        """Every event published here also goes to `forward` (calls.relay: to every
        instance's desks)."""
        self._taps.append(forward)

    def subscribe(self, *keys: str) -> asyncio.Queue[DeskEvent | None]:
        """A queue of this agent's events; `None` in it means the service is stopping."""
        queue: asyncio.Queue[DeskEvent | None] = asyncio.Queue(maxsize=100)
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

    def unsubscribe(self, queue: asyncio.Queue[DeskEvent | None]) -> None:
        for key in list(self._subscribers):
            self._subscribers[key].discard(queue)
            if not self._subscribers[key]:
                del self._subscribers[key]

    def publish(self, event: DeskEvent) -> None:
        for forward in self._taps:
            forward(event)
        targets = self._subscribers.get(event.member, set()) | self._subscribers.get(
            event.interface, set()
        )
        for queue in targets:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a page that stopped reading; it reloads its state anyway
                log.warning("screen pop for %s dropped: the desk page is not reading", event.member)


class CallCenter:
    def __init__(
        self,
        db: Database,
        listener: AmiListener,
        policy: Policy,
        source: str,
        queue_log: QueueLogFile | None = None,
    ) -> None:
        self.db = db
        self.listener = listener
        self.policy = policy
        self.source = source
        self.queue_log = queue_log
        self.store = CallStore(db, source)
        self.tracker = CallTracker(on_record=self._on_record, keep=False, queue_log=queue_log)
        self.pops = PopHub()
        self.recent: collections.deque[CallRecord] = collections.deque()
        self._states_shown: dict[str, tuple[str, bool, str] | None] = {}
        self.board_version = 0
        self._board_pulse: asyncio.Event | None = None
        self._store_task: asyncio.Task[None] | None = None
        self._poll_task: asyncio.Task[None] | None = None
        listener.subscribe_raw(self.store.on_raw)
        listener.subscribe(self._on_event)
        # Bounded memory: while storage is behind, the listener stops reading (TCP holds the
        # PBX back) for at most the store's stall limit.
        listener.throttle(self.store.wait_for_room)

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> "CallCenter":
        """The center of the default source (`[ami]`)."""
        return cls.from_source(db, settings.ami, settings.policy)

    @classmethod
    def from_source(cls, db: Database, ami: AmiSettings, policy: Policy) -> "CallCenter":
        queue_log = QueueLogFile(ami.queue_log) if ami.queue_log else None
        return cls(db, AmiListener.from_settings(ami), policy, ami.source_name, queue_log)

    async def start(self) -> None:
        since = dt.datetime.now(UTC) - dt.timedelta(seconds=RECENT_S)
        self.recent.extend(await load_records(self.db, self.source, since=since))
        if self.queue_log is not None:  # the first read may be long: off the loop
            self.queue_log.add(await asyncio.to_thread(self.queue_log.read_new))
            self._poll_task = asyncio.create_task(self._poll_queue_log(), name="queue-log")
        await self._restore()
        self._store_task = asyncio.create_task(self.store.run(), name="call-store")
        await self.listener.start()
        log.info(
            "call tracking: following AMI at %s%s",
            self.source,
            f", settling gaps from {self.queue_log.path}" if self.queue_log else "",
        )

    async def _poll_queue_log(self) -> None:
        assert self.queue_log is not None
        while True:
            await asyncio.sleep(QUEUE_LOG_POLL_S)
            self.queue_log.refresh()

    async def _restore(self) -> None:
        """Carry on where the previous process stopped: fold the recent stored raw events into
        the state machines (their finished calls are stored already), so that a call answered
        before a restart and completed after it is one record with its exact times. The resync
        on connecting then settles what happened while nobody listened."""
        latest = await latest_received(self.db, self.source)
        if latest is None:
            return
        since = latest - RESTORE_S
        # The previous leader wrote, each second, from when its calls in progress can be
        # rebuilt (in received_at time): a takeover folds minutes of events, not hours (the
        # fail-over time must not grow with the stored history). The events before that are
        # of calls finished and stored already.
        point = await boards.restore_point(self.db, self.source)
        if point is not None:
            since = max(since, point - RESTORE_MARGIN_S)
        raw = [e async for e in stored_events(self.db, self.source, since=since)]
        restored = CallTracker(keep=False)
        for event in typed_events(raw):
            restored(event)
        self.tracker.adopt(restored)
        log.info(
            "call tracking: %d stored events replayed, %d calls in progress",
            len(raw),
            len(restored.calls.calls),
        )

    async def stop(self) -> None:
        await self.listener.stop()
        self.tracker.release_held()
        if self._poll_task is not None:
            self._poll_task.cancel()
            await asyncio.gather(self._poll_task, return_exceptions=True)
        if self._store_task is not None:
            self._store_task.cancel()
            await asyncio.gather(self._store_task, return_exceptions=True)

    # --- fed by the listener, on the loop ------------------------------------------------------

    def _on_event(self, event: ev.AmiEvent) -> None:
        self.tracker(event)
        self.board_version += 1  # the live boards' streams send the board again
        if self._board_pulse is not None:
            self._board_pulse.set()
            self._board_pulse = None
        if isinstance(event, _MEMBER_EVENTS):
            state = self.agent_state(event.member_name, event.interface)
            # Device-state events come several per call; the desk hears of a change only.
            shown = None if state is None else (state.state, state.paused, state.pause_reason)
            if state is not None and self._states_shown.get(state.interface) != shown:
                self._states_shown[state.interface] = shown
                self.pops.publish(state)
        if isinstance(event, ev.AgentConnect):
            call = self.tracker.calls.calls.get(event.uniqueid)
            self.pops.publish(
                CallEvent(
                    "connect",
                    event.member_name,
                    event.interface,
                    event.uniqueid,
                    event.caller,
                    event.queue,
                    call.dialled if call else "",
                    event.hold_time_s,
                    event.ring_time_s,
                    at=event.ts,
                )
            )

    def _on_record(self, record: CallRecord) -> None:
        self.store.on_record(record)
        self.recent.append(record)
        horizon = record.enter_ts - RECENT_S
        while self.recent and self.recent[0].enter_ts < horizon:
            self.recent.popleft()
        if record.outcome == ANSWERED and record.agent:
            interface = next((a.interface for a in record.attempts if a.outcome == "answered"), "")
            self.pops.publish(
                CallEvent(
                    "complete",
                    record.agent,
                    interface,
                    record.uniqueid,
                    record.caller,
                    record.queue,
                    record.dialled,
                    record.hold_s,
                    record.ring_s,
                    record.talk_s,
                    at=record.end_ts or 0.0,
                )
            )

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
            "waiting": [
                {
                    "uniqueid": w.uniqueid,
                    "queue": w.queue,
                    "caller": w.caller,
                    "position": w.position,
                    "wait_s": round(w.wait_s),
                }
                for w in agents.waiting_at(self.tracker.live, now)
            ],
            "agents": [
                {
                    "name": m.name,
                    "interface": m.interface,
                    "state": m.state,
                    "pause_reason": m.pause_reason,
                    "caller": m.caller,
                    "seconds_in_state": round(m.seconds_in_state),
                }
                for m in agents.members_at(self.tracker.live, now)
            ],
        }

    def current_call(self, member: str, interface: str) -> CallEvent | None:
        """The call this agent is talking on now (a desk opened or reloaded mid-call)."""
        for call in self.tracker.calls.calls.values():
            if call.phase == calls.CONNECTED and (
                call.agent == member
                or any(a.interface == interface and a.outcome == "answered" for a in call.attempts)
            ):
                return CallEvent(
                    "connect",
                    call.agent or member,
                    interface,
                    call.uniqueid,
                    call.caller,
                    call.queue,
                    call.dialled,
                    call.hold_s,
                    call.ring_s,
                    at=call.connect_ts or 0.0,
                )
        return None

    async def board_change(self, seen: int, timeout: float) -> None:
        """Returns once an event came after `seen` (a board_version), or after `timeout`."""
        if self.board_version != seen:
            return
        if self._board_pulse is None:
            self._board_pulse = asyncio.Event()
        pulse = self._board_pulse
        try:
            async with asyncio.timeout(timeout):
                await pulse.wait()
        except TimeoutError:
            pass

    def agent_state(self, member: str, interface: str) -> AgentState | None:
        """This agent's queue state now, None while the PBX has not reported the member."""
        live = self.tracker.live
        m = live.members.get(interface) if interface else None
        if m is None:
            m = next((x for x in live.members.values() if member and x.name == member), None)
        if m is None:
            return None
        now = self.now()
        return AgentState(
            m.name, m.interface, agents.member_state(m, now), m.paused, m.pause_reason, m.since
        )

    async def set_queue_state(self, interface: str, paused: bool, reason: str = "") -> None:
        """Asks the PBX to pause or unpause the agent's interface in all its queues; the desk
        sees the outcome from the QueueMemberPause events that follow (ActionRefused: the
        interface is in no queue; ConnectionLost: no PBX connection now)."""
        await self.listener.queue_pause(interface, paused, reason)

    def restore_point(self) -> float:
        """When (this host's clock, as raw events' `received_at`) the oldest call in progress
        joined its queue, or now: the stored events from then rebuild every call in progress.
        Queue entries are PBX times; the listener's clock pair maps them to ours, so a PBX
        whose clock is off (or a replayed capture) still gives the right place."""
        entered = [c.enter_ts for c in self.tracker.calls.calls.values() if c.enter_ts]
        here = time.time()
        if not entered:
            return here
        return min(entered) + (here - self.now())

    def records(self) -> list[CallRecord]:
        """Finished calls of the last two days and the calls in progress."""
        return list(self.recent) + list(calls.snapshot(self.tracker.calls))
