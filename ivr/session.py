"""The IVR's adapter: runs the pure interpreter (ivr.interpreter) over one FastAGI session and
the ports it needs (progress lookup, call-back requests, queue wait, survey storage).

The AGI URL's path picks the script: `ivr` (a new call: greeting, menu, self-service) or
`survey` (after the agent hung up, on the same channel thanks to Queue's `c` option). The
session ends by setting channel variables the generated dialplan acts on:
`IVR_ACTION` (`queue` or `hangup`), `IVR_QUEUE`, `IVR_CATEGORY`, `IVR_ENTRY`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

from hotline.localtime import SHANGHAI
from hotline.ports import CallbackRequests, ProgressLocked, ProgressLookup, QueueWait
from ivr.agi.protocol import command
from ivr.agi.server import AgiSession
from ivr.flows import Flow, FlowStore
from ivr.interpreter import (
    Agi,
    CallFacts,
    Finish,
    LeaveCallback,
    LookupProgress,
    Output,
    ProgressAnswer,
    Result,
    Saved,
    SaveSurvey,
    State,
    start,
    start_survey,
    step,
)
from sla.calendar import CalendarYearMissing, WorkCalendar

log = logging.getLogger(__name__)

# A flow runs at most this many steps: a loop in a flow can never hold a channel forever.
MAX_STEPS = 500


class SurveySink(Protocol):
    async def record(self, uniqueid: str, agent: str, queue: str, score: int | None) -> None: ...


class RouteSink(Protocol):
    async def record(self, uniqueid: str, entry: str, category: str, queue: str) -> None: ...


def mode_at(flow: Flow, calendar: WorkCalendar, now: dt.datetime) -> str:
    """ "open", "night" or "holiday" at `now`, by the flow's hours per kind of day (sla's
    calendar; a year it lacks is read by weekday, never failing a call)."""
    local = now.astimezone(SHANGHAI)
    day = local.date()
    try:
        kind = (
            "holiday"
            if day in calendar.holidays
            else "workday"
            if calendar.is_workday(day)
            else "restday"
        )
    except CalendarYearMissing:
        log.warning("IVR: the working-day calendar lacks %s; reading it by weekday", day.year)
        kind = "workday" if day.weekday() < 5 else "restday"
    if flow.hours[kind].open_at(local.time()):
        return "open"
    return "holiday" if kind == "holiday" else "night"


@dataclass
class Ivr:
    """What every IVR session shares. Ports left None are features this product lacks: the
    lookup then sends the caller to a person, a call-back request is logged only."""

    flows: FlowStore
    calendar: WorkCalendar = field(default_factory=WorkCalendar.default)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    progress: ProgressLookup | None = None
    callbacks: CallbackRequests | None = None
    queue_wait: QueueWait | None = None
    surveys: SurveySink | None = None
    routes: RouteSink | None = None  # the entry and category of each queued call (screen pop)

    async def __call__(self, session: AgiSession) -> None:
        flow = self.flows.flow  # a flow reloaded meanwhile applies from the next call
        env = session.env
        entry = flow.entry_for(env.dnid, env.query.get("entry", ""), env.extension)
        facts = CallFacts(env.uniqueid, env.callerid, entry)
        if env.script == "survey":
            state, out = start_survey(flow, facts)
        else:
            if env.script != "ivr":
                log.warning("AGI script %r unknown; running the IVR", env.script)
            wait = self.queue_wait.estimated_wait(flow.default_queue) if self.queue_wait else None
            facts = CallFacts(
                env.uniqueid, env.callerid, entry, mode_at(flow, self.calendar, self.clock()), wait
            )
            state, out = start(flow, facts)
        await self.run(session, flow, state, out)

    async def run(self, session: AgiSession, flow: Flow, state: State, out: Output) -> None:
        for _ in range(MAX_STEPS):
            if isinstance(out, Finish):
                await self._finish(session, state, out)
                return
            result = await self._perform(session, state, out)
            state, out = step(flow, state, result)
        log.warning("IVR session %s: flow did not end in %d steps", state.facts.uniqueid, MAX_STEPS)

    async def _perform(self, session: AgiSession, state: State, out: Output) -> Result:
        if isinstance(out, Agi):
            reply = await session.send(out.line, out.timeout)
            if reply.failed and reply.endpos == 0 and out.line.startswith("STREAM FILE"):
                log.warning("IVR prompt missing or the caller hung up: %s", out.line)
            return reply
        if isinstance(out, LookupProgress):
            return await self._lookup(state, out)
        if isinstance(out, LeaveCallback):
            if self.callbacks is None:
                log.warning(
                    "IVR call-back request of %s: no call-back list in this product",
                    state.facts.uniqueid,
                )
            else:
                await self.callbacks.request_callback(
                    out.phone, uniqueid=state.facts.uniqueid, reason=out.reason
                )
            return Saved()
        if isinstance(out, SaveSurvey):
            env = session.env
            if self.surveys is not None:
                await self.surveys.record(
                    env.uniqueid, env.query.get("agent", ""), env.query.get("queue", ""), out.score
                )
            return Saved()
        raise TypeError(f"unknown IVR output {out!r}")

    async def _lookup(self, state: State, out: LookupProgress) -> ProgressAnswer:
        if self.progress is None:
            return ProgressAnswer("locked")
        # The lock-out pair is (caller, ticket), as the web's is (address, ticket). Callers
        # who withhold their number share one key: a fresh call must not reset the count.
        client = f"ivr:{state.facts.callerid or 'withheld'}"
        try:
            found = await self.progress.progress(out.number, out.phone_last4, client)
        except ProgressLocked:
            return ProgressAnswer("locked")
        if found is None:
            return ProgressAnswer("not_found")
        due = found.due.astimezone(SHANGHAI).date() if found.due is not None else None
        return ProgressAnswer("found", found.status, due)

    async def _remember_route(self, state: State, out: Finish) -> None:
        # Before the caller reaches the queue, so that the agent's pop finds it. Losing it
        # costs the pop its category only: it never holds the call back.
        if self.routes is None:
            return
        try:
            await self.routes.record(
                state.facts.uniqueid, state.facts.entry.number, out.category, out.queue
            )
        except Exception:
            log.warning("IVR route of %s not stored", state.facts.uniqueid, exc_info=True)

    async def _finish(self, session: AgiSession, state: State, out: Finish) -> None:
        if session.hung_up or state.dead:
            return
        values = {"IVR_ACTION": out.action, "IVR_ENTRY": state.facts.entry.number}
        if out.action == "queue":
            values |= {"IVR_QUEUE": out.queue, "IVR_CATEGORY": out.category}
            await self._remember_route(state, out)
        for name, value in values.items():
            if session.hung_up:  # a HANGUP notice may come with the first of these
                return
            await session.send(command("SET VARIABLE", name, value))
