"""The subscriber that keeps call tracking's state: calls, live board, finished records."""

from __future__ import annotations

from typing import Callable

from hotline.telephony import agents, calls
from hotline.telephony.calls import CallRecord, CallState
from hotline.telephony.agents import LiveState


class CallTracker:
    """Folds every typed event into the call and live states.

    Finished records go to `on_record` (storage, screen pop, ...) and, with `keep=True`, to
    `records`. Use as a listener subscriber: `listener.subscribe(tracker)`."""

    def __init__(self, on_record: Callable[[CallRecord], None] | None = None, keep: bool = True,
                 default_wrapup_s: int = 0) -> None:
        self.calls = CallState()
        self.live = LiveState(default_wrapup_s=default_wrapup_s)
        self.records: list[CallRecord] = []
        self.finished = 0
        self._on_record = on_record
        self._keep = keep

    def __call__(self, event: object) -> None:
        state = calls.apply(self.calls, event)
        self.calls = state
        if state.finished:
            self.finished += len(state.finished)
            if self._keep:
                self.records.extend(state.finished)
            if self._on_record is not None:
                for record in state.finished:
                    self._on_record(record)
        self.live = agents.apply(self.live, event)

    def all_records(self) -> list[CallRecord]:
        """Finished records and the calls still in progress."""
        return self.records + list(calls.snapshot(self.calls))
