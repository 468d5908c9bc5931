"""What one feature asks of another, as small interfaces the kernel owns: the asking feature
reads the port from the services (hotline.bootstrap), the answering one provides it in its
wiring. Neither imports the other; a product without the answering feature gets None."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from hotline.auth import Principal
from hotline.bootstrap import Key
from sla.metrics import CallRecord


@dataclass(frozen=True, slots=True)
class CallerTicket:
    """A work order of a caller, as the agent's screen pop shows it."""

    number: str
    status: str
    status_label: str  # Chinese, for the page
    created_at: dt.datetime
    content: str  # the start of the request


class CallerHistory(Protocol):
    async def tickets_of(self, who: Principal, phone: str, limit: int = 5) -> list[CallerTicket]:
        """The caller's newest work orders that `who` may see; [] for a number that cannot
        be one of a caller."""
        ...


CALLER_HISTORY: Key[CallerHistory] = Key("caller_history")


# --- the IVR (ivr/) asks -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicProgress:
    """What a citizen may hear of a work order: status and deadline, no personal data."""

    number: str
    status: str  # the ticket state's code, e.g. "signed"
    status_label: str  # Chinese
    due: dt.datetime | None


class ProgressLocked(Exception):
    """Too many failed lookups from this caller for this number (the web lookup's rules)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"locked for {retry_after} s")
        self.retry_after = retry_after


class ProgressLookup(Protocol):
    async def progress(self, number: str, phone_last4: str, client: str) -> PublicProgress | None:
        """The public lookup: None when there is no such ticket or the digits do not match
        (a failure counted against (`client`, `number`)); ProgressLocked while locked out."""
        ...


PROGRESS_LOOKUP: Key[ProgressLookup] = Key("progress_lookup")


class CallbackRequests(Protocol):
    async def request_callback(self, phone: str, *, uniqueid: str, reason: str) -> None:
        """A caller asked to be called back (IVR night/holiday mode or a long wait): the
        number joins the missed-call / call-back list agents work."""
        ...


CALLBACK_REQUESTS: Key[CallbackRequests] = Key("callback_requests")


class QueueWait(Protocol):
    def estimated_wait(self, queue: str) -> float | None:
        """Seconds a caller joining `queue` now can expect to wait; None when unknown (no
        live queue state in this process)."""
        ...


QUEUE_WAIT: Key[QueueWait] = Key("queue_wait")


# --- the agent's screen pop (calls/) asks the IVR -------------------------------------------


@dataclass(frozen=True, slots=True)
class IvrRoute:
    """How the IVR handed a call to the queue (the IVR_ENTRY and IVR_CATEGORY channel
    variables), kept by the caller channel's Uniqueid: the queue call's uniqueid."""

    uniqueid: str
    entry: str  # the entry number dialled (12345 or a merged legacy hotline)
    category: str  # the entry's preset category or the menu choice; "" for none
    queue: str
    at: dt.datetime


class IvrRoutes(Protocol):
    async def route_of(self, uniqueid: str) -> IvrRoute | None:
        """The route of the call `uniqueid`; None when the IVR did not queue it (a call
        that came another way, or an IVR without storage)."""
        ...

    async def routes_of(self, uniqueids: Sequence[str]) -> Mapping[str, IvrRoute]:
        """The routes of those of `uniqueids` the IVR queued, by uniqueid."""
        ...


IVR_ROUTES: Key[IvrRoutes] = Key("ivr_routes")


# --- reports (reports/) ask ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketStep:
    """One change in a work order's history, with what was in force right after it."""

    at: dt.datetime
    action: str  # the lifecycle command (dispatch.tickets), e.g. "sign"
    status: str  # the state after it, e.g. "signed"
    unit: str | None  # the main unit (承办单位) after it
    acknowledge_due: dt.datetime | None  # 签收 deadline in force after it
    due: dt.datetime | None  # 办理时限 in force after it
    resolution: str | None = None  # a call back's 解决 | 部分解决 | 未解决
    satisfaction: str | None = None  # a call back's 满意 | 基本满意 | 不满意


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A work order as reports read it: plain facts and its whole history, oldest first."""

    number: str
    created_at: dt.datetime
    type: str  # 咨询 | 投诉 | 举报 | 求助 | 建议 | 表扬
    category: str | None
    district: str | None
    urgent: bool
    status: str
    unit: str | None
    answered_on_spot: bool  # closed from the knowledge base while the caller was on the line
    steps: tuple[TicketStep, ...]
    summary: str = ""  # the start of the request (诉求内容), for lists
    status_label: str = ""  # Chinese, for the page


@dataclass(frozen=True, slots=True)
class RecordedTicket:
    """What never changes about a work order once it is recorded (受理): when, from which call
    (the PBX's uniqueid, when an agent took it on a call), and whether it was answered on the
    spot from the knowledge base (当场解答 is decided in the creating transaction only)."""

    created_at: dt.datetime
    call_id: str | None
    answered_on_spot: bool


@dataclass(frozen=True, slots=True)
class TicketCounts:
    """The work orders recorded in a period, counted: in all, and by category, district and
    the main unit holding each now (None: not given / not dispatched)."""

    total: int
    by_category: Mapping[str | None, int]
    by_district: Mapping[str | None, int]
    by_unit: Mapping[str | None, int]


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """A work order someone still owes an answer on (受理, 派单, 办理中, 退单)."""

    number: str
    status: str
    status_label: str  # Chinese
    created_at: dt.datetime
    unit: str | None
    due: dt.datetime | None
    overdue: bool  # past its deadline while a unit holds it (督办)


class TicketRecords(Protocol):
    async def assigned_between(self, start: dt.datetime, end: dt.datetime) -> list[TicketRecord]:
        """Work orders sent to a unit (dispatch, redispatch, reopen) in [start, end)."""
        ...

    async def created_between(self, start: dt.datetime, end: dt.datetime) -> list[TicketRecord]:
        """Work orders recorded in [start, end)."""
        ...

    async def recorded_between(self, start: dt.datetime, end: dt.datetime) -> list[RecordedTicket]:
        """Every work order recorded in [start, end), plain facts only (no history)."""
        ...

    async def counted_between(self, start: dt.datetime, end: dt.datetime) -> TicketCounts:
        """The work orders recorded in [start, end), counted (the monthly report)."""
        ...

    async def open_tickets(self) -> list[OpenTicket]:
        """Every open work order now, oldest first."""
        ...

    async def records_of(self, numbers: Sequence[str]) -> list[TicketRecord]:
        """The work orders of these numbers (unknown numbers left out)."""
        ...

    async def assigned_numbers(self) -> list[str]:
        """The numbers of every work order ever sent to a unit."""
        ...


TICKET_RECORDS: Key[TicketRecords] = Key("ticket_records")


class HistoryCall(CallRecord, Protocol):
    """A stored queue call as reports read it: the answer-time measures' record
    (sla.metrics.CallRecord) and how it ended."""

    @property
    def dialled(self) -> str: ...  # the entry number the caller dialled
    @property
    def ended_by(self) -> str | None: ...  # answered: agent | caller | transfer
    @property
    def uniqueid(self) -> str: ...


class CallHistory(Protocol):
    async def calls_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[HistoryCall]:
        """Stored queue calls that entered the queue in [start, end), oldest first."""
        ...

    async def names(self) -> tuple[list[str], list[str]]:
        """Every queue and every agent (member name) of the stored calls, sorted."""
        ...

    async def stored_since(
        self, mark: dt.datetime | None
    ) -> tuple[dt.datetime, list[tuple[float, str, str | None]]]:
        """(a new mark, (queue-entry time, queue, agent) of the calls stored or stored again
        since `mark`, a little before it included: a batch may commit after the mark it was
        stamped before). With no mark: a mark and nothing."""
        ...

    async def stored_after(
        self, start: dt.datetime, end: dt.datetime, since: dt.datetime
    ) -> list[float]:
        """Queue-entry times of the calls entering in [start, end) stored or stored again
        after `since`, a little before it included (as `stored_since`)."""
        ...


CALL_HISTORY: Key[CallHistory] = Key("call_history")


class SurveyDay(Protocol):
    """One agent's post-call scores (IVR 满意度评价) on one local day."""

    @property
    def agent(self) -> str: ...
    @property
    def day(self) -> dt.date: ...
    @property
    def satisfied(self) -> int: ...  # 1 满意
    @property
    def fairly(self) -> int: ...  # 2 基本满意
    @property
    def unsatisfied(self) -> int: ...  # 3 不满意
    @property
    def no_answer(self) -> int: ...  # the caller gave no score


@dataclass(frozen=True, slots=True)
class ScoreCount:
    """How many surveys of one agent ended with one score."""

    agent: str
    score: int | None  # 1 满意, 2 基本满意, 3 不满意; None: the caller gave no score
    count: int


class SurveyScores(Protocol):
    async def tallies(self, since: dt.datetime, until: dt.datetime) -> Sequence[SurveyDay]:
        """Scores given in [since, until), per agent and local day, oldest day first."""
        ...

    async def counts(self, since: dt.datetime, until: dt.datetime) -> Sequence[ScoreCount]:
        """Surveys given in [since, until) per agent and score, counted by the database (the
        call metrics ask every second)."""
        ...


SURVEY_SCORES: Key[SurveyScores] = Key("survey_scores")


# --- the navigation bar asks every feature ----------------------------------------------------


class NavCounts(Protocol):
    async def counts(self, who: Principal) -> Mapping[str, int]:
        """Per navigation path of `who`'s bar, how many items wait there (the unread badge)."""
        ...


# Every feature with waiting items appends its source (hotline.web.api serves the sum).
NAV_COUNTS: Key[list[NavCounts]] = Key("nav_counts")


# --- /healthz asks (hotline.web.app) -------------------------------------------------------------


class HealthSection(Protocol):
    def health(self) -> Mapping[str, object]:
        """What /healthz shows of this part (public, small, no I/O): for call tracking, per
        AMI source {"role": "leader" | "standby", "connected": bool}."""
        ...


AMI_HEALTH: Key[HealthSection] = Key("ami_health")
