"""The subscriber that keeps call tracking's state: calls, live board, finished records.

After a gap (a reconnect, or a restart's first connect after stored events were folded again)
the resync settles what the PBX still shows; what it cannot show — how calls that ended in the
gap ended, rings that ran out in it, calls that began and ended in it — comes from Asterisk's
own queue_log when the service can read it (`queue_log`, calls.queuelog). Every call alive at a
resync lived through the gap: its record is settled against queue_log when it finishes.
"""

from __future__ import annotations

import collections
from typing import Callable, Protocol

from calls import agents, calls
from calls.agents import LiveState
from calls.ami import events as ev
from calls.calls import CallRecord, CallState
from calls.queuelog import QueueCall, reconcile, record_of

# How long (PBX seconds) a call that ended unseen waits for queue_log's line of its end.
SETTLE_WAIT_S = 5.0
# Uniqueids of finished calls remembered, so that queue_log never adds a call seen already.
KNOWN_CALLS = 50_000


class QueueLogSource(Protocol):
    def refresh(self) -> None: ...
    def call(self, callid: str) -> QueueCall | None: ...
    def ended_since(self, since: float) -> list[QueueCall]: ...


class CallTracker:
    """Folds every typed event into the call and live states.

    Finished records go to `on_record` (storage, screen pop, ...) and, with `keep=True`, to
    `records`. Use as a listener subscriber: `listener.subscribe(tracker)`."""

    def __init__(
        self,
        on_record: Callable[[CallRecord], None] | None = None,
        keep: bool = True,
        default_wrapup_s: int = 0,
        queue_log: QueueLogSource | None = None,
    ) -> None:
        self.calls = CallState()
        self.live = LiveState(default_wrapup_s=default_wrapup_s)
        self.records: list[CallRecord] = []
        self.finished = 0
        self.reconciled = 0  # records settled or added from queue_log
        self.queue_log = queue_log
        self._on_record = on_record
        self._keep = keep
        self._crossed: set[str] = set()  # calls alive at a resync: they lived through a gap
        self._known: set[str] = set()
        self._known_order: collections.deque[str] = collections.deque()
        self.last_ts: float | None = None  # PBX time of the last event with a Timestamp
        self._gap_from: float | None = None  # last_ts when the listener connected again
        self._held: list[tuple[CallRecord, float]] = []

    def adopt(self, other: "CallTracker") -> None:
        """Carry on from `other` (stored events folded again on start)."""
        self.calls = CallState(other.calls.calls, other.calls.dialled)
        self.live = other.live
        self.last_ts = other.last_ts
        for uid in other._known_order:
            self._remember(uid)

    def __call__(self, event: object) -> None:
        state = calls.apply(self.calls, event)
        self.calls = state
        finished = state.finished
        if isinstance(event, ev.Connected):
            # Every call known now lives through the gap, also one that ends before the
            # resync's lists come back.
            self._gap_from = self.last_ts
            self._crossed.update(state.calls)
        elif isinstance(event, ev.Resync):
            finished = self._after_gap(event, state)
        else:
            ts = getattr(event, "ts", None)
            if ts is not None and not isinstance(event, _LIST_ITEMS):
                self.last_ts = ts
            if finished and self._crossed:
                finished = tuple(
                    self._settled(r, ended_unseen=False) if r.uniqueid in self._crossed else r
                    for r in finished
                )
            if self._held and ts is not None:
                finished = self._due(ts) + finished
        if finished:
            self._emit(finished)
        self.live = agents.apply(self.live, event)

    def _emit(self, finished: tuple[CallRecord, ...]) -> None:
        self.finished += len(finished)
        for record in finished:
            self._remember(record.uniqueid)
        if self._keep:
            self.records.extend(finished)
        if self._on_record is not None:
            for record in finished:
                self._on_record(record)

    def _remember(self, uid: str) -> None:
        if uid in self._known:
            return
        self._known.add(uid)
        self._known_order.append(uid)
        if len(self._known_order) > KNOWN_CALLS:
            self._known.discard(self._known_order.popleft())

    def _settled(self, record: CallRecord, ended_unseen: bool) -> CallRecord:
        self._crossed.discard(record.uniqueid)
        if self.queue_log is None:
            return record
        self.queue_log.refresh()
        settled = reconcile(record, self.queue_log.call(record.uniqueid), ended_unseen)
        if settled != record:
            self.reconciled += 1
        return settled

    def _written(self, record: CallRecord) -> bool:
        """queue_log holds the end of this call (Asterisk writes it as the call ends; a reader
        may come a moment early)."""
        facts = self.queue_log.call(record.uniqueid) if self.queue_log is not None else None
        return facts is not None and facts.outcome is not None

    def _due(self, now: float) -> tuple[CallRecord, ...]:
        """Records that ended unseen held for queue_log's line of their end: those whose line
        is there now, or that waited `SETTLE_WAIT_S` (then as they stand)."""
        assert self.queue_log is not None
        self.queue_log.refresh()
        due, held = [], []
        for record, until in self._held:
            if self._written(record) or now >= until:
                due.append(reconcile(record, self.queue_log.call(record.uniqueid), True))
            else:
                held.append((record, until))
        self._held = held
        return tuple(due)

    def _after_gap(self, event: ev.Resync, state: CallState) -> tuple[CallRecord, ...]:
        """Calls the resync ended ended unseen in the gap; calls still alive lived through it;
        with queue_log, calls that began and ended in the gap are added."""
        gap_from, self._gap_from = self._gap_from, None
        self._crossed.update(state.calls)
        finished = tuple(self._settled(r, ended_unseen=True) for r in state.finished)
        if self.queue_log is None:
            return finished
        # Ended unseen, and queue_log has no line of their end yet: held a moment for it.
        self._held += [(r, event.ts + SETTLE_WAIT_S) for r in finished if not self._written(r)]
        finished = tuple(r for r in finished if self._written(r))
        if gap_from is None:
            return finished
        ended = {r.uniqueid for r in state.finished}
        added = []
        for facts in self.queue_log.ended_since(gap_from):
            uid = facts.callid
            if uid in ended or uid in state.calls or uid in self._known:
                continue
            record = record_of(facts)
            if record is not None:
                added.append(record)
        self.reconciled += len(added)
        return finished + tuple(added)

    def release_held(self) -> None:
        """Emit the records still held for queue_log, as they stand (the service stops)."""
        held, self._held = self._held, []
        if held:
            self._emit(tuple(r for r, _ in held))

    def all_records(self) -> list[CallRecord]:
        """Finished records (those held for queue_log too) and the calls still in progress."""
        return self.records + [r for r, _ in self._held] + list(calls.snapshot(self.calls))


# List items of a resync carry no Timestamp of their own (their time is estimated).
_LIST_ITEMS = (
    ev.QueueParams,
    ev.QueueMember,
    ev.QueueEntry,
    ev.QueueStatusComplete,
    ev.CoreShowChannel,
    ev.CoreShowChannelsComplete,
)
