"""Asterisk's own queue_log: what app_queue wrote about each queue call, used to settle calls
that ended (or rang) while we were not listening (issue 16, "outages leave no hole").

One line per fact, `time|callid|queue|agent|EVENT|data1|data2|...` (callid: the caller
channel's Uniqueid, as our records are keyed). What app_queue writes (Asterisk 22):

    ENTERQUEUE       url|callerid|position
    RINGNOANSWER     ringtime in ms                       RINGCANCELED  ringtime in ms
    CONNECT          holdtime|bridged uniqueid|ringtime (seconds)
    COMPLETEAGENT / COMPLETECALLER   holdtime|calltime|origposition
    TRANSFER         extension|context|holdtime|calltime|origposition
    BLINDTRANSFER    extension|context|holdtime|calltime|origposition
    ATTENDEDTRANSFER method|data|data|holdtime|calltime|origposition (4th/5th from the end)
    ABANDON          position|origposition|waittime
    EXITWITHTIMEOUT / EXITEMPTY      position|origposition|waittime
    EXITWITHKEY      key|position|origposition|waittime

    log = QueueLogFile("/var/log/asterisk/queue_log")
    log.refresh()                      # reads what was appended since the last refresh
    facts = log.call("1796285014.23")  # QueueCall or None
    record = reconcile(record, facts, ended_unseen=True)

Parsing and reconciling are pure; `QueueLogFile` is the adapter that tails the file (a
rotated or truncated file is read again from its start).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from calls.calls import UNKNOWN, CallRecord, RingAttempt
from sla.metrics import ABANDONED, ANSWERED, TIMED_OUT

log = logging.getLogger(__name__)

_EXITS = {"EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "timeout", "EXITWITHKEY": "key"}
_COMPLETES = {"COMPLETEAGENT": "agent", "COMPLETECALLER": "caller"}
_TRANSFERS = ("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
# A ring-no-answer line and an AMI ring attempt within this many seconds are the same ring.
_SAME_RING_S = 2.0


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ring:
    member_name: str
    end: int
    ring_ms: int
    answered: bool = False


@dataclass(frozen=True, slots=True)
class QueueCall:
    """What queue_log says of one call; `outcome` None while it has not ended there."""

    callid: str
    queue: str = ""
    caller: str = ""
    enter: int | None = None
    outcome: str | None = None
    end: int | None = None
    agent: str | None = None
    connect: int | None = None
    hold_s: int | None = None
    ring_s: int | None = None
    wait_s: int | None = None
    talk_s: int | None = None
    ended_by: str | None = None
    exit_reason: str | None = None
    rings: tuple[Ring, ...] = ()


def parse_line(text: str) -> QueueLogLine | None:
    """One queue_log line, or None for a line that is not one (blank, cut short, garbage)."""
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return None
    try:
        time = int(float(parts[0]))
    except ValueError:
        return None
    return QueueLogLine(time, parts[1], parts[2], parts[3], parts[4].upper(), tuple(parts[5:]))


def _int(data: tuple[str, ...], i: int) -> int | None:
    try:
        return int(data[i])
    except (IndexError, ValueError):
        return None


def apply(call: QueueCall, line: QueueLogLine) -> QueueCall:
    """`call` after one of its lines."""
    e, d = line.event, line.data
    if e == "ENTERQUEUE":
        return replace(
            call, queue=line.queue, enter=line.time, caller=d[1] if len(d) > 1 else call.caller
        )
    if e == "RINGNOANSWER":
        ms = _int(d, 0)
        if ms is None:
            return call
        return replace(call, rings=call.rings + (Ring(line.agent, line.time, ms),))
    if e == "CONNECT":
        ring = _int(d, 2)
        rings = call.rings
        if ring is not None:
            rings += (Ring(line.agent, line.time, ring * 1000, answered=True),)
        return replace(
            call, agent=line.agent, connect=line.time, hold_s=_int(d, 0), ring_s=ring, rings=rings
        )
    if e in _COMPLETES or e in _TRANSFERS:
        if e in _COMPLETES:
            hold, talk, by = _int(d, 0), _int(d, 1), _COMPLETES[e]
        elif e == "ATTENDEDTRANSFER":
            hold, talk, by = _int(d, len(d) - 3), _int(d, len(d) - 2), "transfer"
        else:
            hold, talk, by = _int(d, 2), _int(d, 3), "transfer"
        return replace(
            call,
            outcome=ANSWERED,
            end=line.time,
            agent=line.agent or call.agent,
            hold_s=call.hold_s if call.hold_s is not None else hold,
            talk_s=talk,
            ended_by=by,
        )
    if e == "ABANDON":
        return replace(call, outcome=ABANDONED, end=line.time, wait_s=_int(d, 2))
    if e in _EXITS:
        wait = _int(d, 3 if e == "EXITWITHKEY" else 2)
        return replace(call, outcome=TIMED_OUT, end=line.time, wait_s=wait, exit_reason=_EXITS[e])
    return call


def fold(lines: Iterable[QueueLogLine]) -> dict[str, QueueCall]:
    out: dict[str, QueueCall] = {}
    for line in lines:
        if not line.callid or line.callid == "NONE":
            continue
        out[line.callid] = apply(out.get(line.callid) or QueueCall(line.callid), line)
    return out


# --- reconciling a record ---------------------------------------------------------------------


def _merge_rings(
    attempts: tuple[RingAttempt, ...], rings: tuple[Ring, ...]
) -> tuple[RingAttempt, ...]:
    """The record's ring attempts with every ring queue_log wrote that the stream missed."""
    out = list(attempts)
    for ring in rings:
        if ring.answered:
            outcome, ms = "answered", ring.ring_ms
        else:
            outcome, ms = "no_answer", ring.ring_ms
        start = ring.end - ms / 1000
        same = [
            i
            for i, a in enumerate(out)
            if a.member_name == ring.member_name
            and (
                (
                    a.outcome == outcome
                    and a.end_ts is not None
                    and abs(a.end_ts - ring.end) <= _SAME_RING_S
                )
                or (
                    a.outcome in ("ringing", "canceled") and abs(a.start_ts - start) <= _SAME_RING_S
                )
            )
        ]
        if not same:
            out.append(RingAttempt(ring.member_name, "", "", start, float(ring.end), outcome, ms))
            continue
        a = out[same[0]]
        if a.outcome != outcome:
            out[same[0]] = replace(a, outcome=outcome, ring_ms=ms, end_ts=float(ring.end))
    out.sort(key=lambda a: a.start_ts)
    return tuple(out)


def reconcile(record: CallRecord, facts: QueueCall | None, ended_unseen: bool) -> CallRecord:
    """`record` settled by queue_log: the rings it missed, and, for a call whose end was not
    seen (`ended_unseen`: it ended while we were away) or not known, the outcome and figures
    queue_log gives. Without facts, the record as it is."""
    if facts is None:
        return record
    rec = record
    if facts.enter is not None and math.floor(rec.enter_ts) != facts.enter:
        rec = replace(rec, enter_ts=float(facts.enter))
    rec = replace(
        rec,
        attempts=_merge_rings(rec.attempts, facts.rings),
        caller=rec.caller or facts.caller,
        queue=rec.queue or facts.queue,
    )
    if not ended_unseen and rec.outcome != UNKNOWN:
        # Ended before our eyes: only the figures the stream could not give are filled in
        # (the CONNECT line may be there before the line of the end Asterisk writes with it).
        if rec.outcome == ANSWERED and facts.connect is not None:
            rec = replace(
                rec,
                ring_s=rec.ring_s if rec.ring_s is not None else facts.ring_s,
                hold_s=rec.hold_s if rec.hold_s is not None else facts.hold_s,
                agent=rec.agent or facts.agent,
            )
        if rec.outcome == ANSWERED and facts.outcome == ANSWERED:
            rec = replace(
                rec,
                talk_s=rec.talk_s if rec.talk_s is not None else facts.talk_s,
                ended_by=rec.ended_by or facts.ended_by,
            )
        return rec
    if facts.outcome is None:
        return rec
    end = float(facts.end) if facts.end is not None else rec.end_ts
    if facts.outcome == ANSWERED:
        connect = (
            rec.connect_ts
            if rec.connect_ts is not None
            else (float(facts.connect) if facts.connect is not None else None)
        )
        return replace(
            rec,
            outcome=ANSWERED,
            end_ts=end,
            connect_ts=connect,
            agent=facts.agent,
            hold_s=facts.hold_s,
            ring_s=facts.ring_s,
            wait_s=facts.hold_s,
            talk_s=facts.talk_s,
            ended_by=facts.ended_by,
            exit_reason=None,
        )
    return replace(
        rec,
        outcome=facts.outcome,
        end_ts=end,
        connect_ts=None,
        agent=None,
        hold_s=None,
        ring_s=None,
        wait_s=facts.wait_s,
        talk_s=None,
        ended_by=None,
        exit_reason=facts.exit_reason,
    )


def record_of(facts: QueueCall) -> CallRecord | None:
    """A record from queue_log alone (a call that began and ended while we were away)."""
    if facts.outcome is None or facts.enter is None:
        return None
    base = CallRecord(
        uniqueid=facts.callid,
        linkedid="",
        queue=facts.queue,
        caller=facts.caller,
        dialled="",
        outcome=UNKNOWN,
        enter_ts=float(facts.enter),
        end_ts=float(facts.end or facts.enter),
        resynced=True,
    )
    return reconcile(base, facts, ended_unseen=True)


# --- the file -----------------------------------------------------------------------------------


class QueueLogFile:
    """Tails Asterisk's queue_log file: `refresh()` folds what was appended since the last
    call. Calls whose last line is older than `horizon_s` before the newest line are forgotten
    (bounded memory; no queue call lasts that long)."""

    def __init__(self, path: str | Path, horizon_s: float = 6 * 3600) -> None:
        self.path = Path(path)
        self.horizon_s = horizon_s
        self.calls: dict[str, QueueCall] = {}
        self._last: dict[str, int] = {}
        self._offset = 0
        self._inode: int | None = None
        self._partial = b""
        self._newest = 0
        self.lines = 0
        self.errors = 0

    def read_new(self) -> list[QueueLogLine]:
        """The complete lines appended since the last read (blocking file I/O)."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            self.errors += 1
            if self.errors <= 5:
                log.warning("queue_log %s cannot be read: %s", self.path, exc)
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:  # rotated or truncated
            self._inode, self._offset, self._partial = st.st_ino, 0, b""
        if st.st_size == self._offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        body, newline, rest = data.rpartition(b"\n")
        if not newline:  # no complete line yet
            self._partial = data
            return []
        self._partial = rest
        out = []
        for raw in body.split(b"\n"):
            line = parse_line(raw.decode("utf-8", "replace"))
            if line is not None:
                out.append(line)
        return out

    def add(self, lines: Iterable[QueueLogLine]) -> None:
        for line in lines:
            self.lines += 1
            self._newest = max(self._newest, line.time)
            if not line.callid or line.callid == "NONE":
                continue
            self.calls[line.callid] = apply(
                self.calls.get(line.callid) or QueueCall(line.callid), line
            )
            self._last[line.callid] = line.time
        if len(self._last) > 1000:
            horizon = self._newest - self.horizon_s
            for callid in [c for c, t in self._last.items() if t < horizon]:
                del self._last[callid]
                self.calls.pop(callid, None)

    def refresh(self) -> None:
        self.add(self.read_new())

    def call(self, callid: str) -> QueueCall | None:
        return self.calls.get(callid)

    def ended_since(self, since: float) -> list[QueueCall]:
        """Calls that ended at or after `since` (whole seconds), oldest entry first."""
        floor = math.floor(since)
        found = [
            c
            for c in self.calls.values()
            if c.outcome is not None and c.end is not None and c.end >= floor
        ]
        return sorted(found, key=lambda c: (c.enter or 0, c.callid))
