"""Work-order values around the service: what an agent submits (`NewTicket`, input checks),
what a principal sees (`TicketView`, masked for units), and the mapping between a ticket row
and the state machine's `TicketState`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import duplicates
from dispatch import tickets as domain
from dispatch.models import (
    Followup,
    Ticket,
    TicketAssist,
    TicketAttachment,
    TicketEvent,
    TicketSequence,
)
from dispatch.routing import Suggestion
from dispatch.tickets import (
    Resolution,
    Satisfaction,
    Source,
    Status,
    TicketState,
    TicketType,
    Urgency,
)
from hotline.auth import Principal
from hotline.db import upsert
from hotline.errors import InvalidInput
from hotline.localtime import SHANGHAI, fmt
from hotline.models import Role

MAX_CONTENT = 5000
MAX_NOTE = 2000
PHONE_RE = re.compile(r"^\d{3,20}$")


# --- input values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTicket:
    content: str
    type: TicketType
    category: str | None = None
    district: str | None = None
    address: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    call_id: str | None = None
    source: Source = Source.PHONE
    confidential: bool = False
    urgency: Urgency = Urgency.NORMAL
    unit_code: str | None = None  # the unit the agent confirmed; None: dispatch later
    assisting_units: tuple[str, ...] = ()
    answered_on_spot: bool = False
    kb_article_id: str | None = None
    due: dt.datetime | None = None  # an explicit deadline instead of the computed one
    # The same key sent again by the same person answers the ticket the first request made.
    idempotency_key: str | None = None


IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def idempotency_key(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not IDEMPOTENCY_KEY.fullmatch(raw):
        raise InvalidInput(
            "an idempotency key is 1-64 letters, digits or _.:-",
            field="idempotency_key",
            zh="重复提交校验码无效，请刷新页面后再提交",
        )
    return raw


def normalise_phone(raw: str | None) -> str | None:
    if raw is None:
        return None
    phone = re.sub(r"[\s\-()（）]", "", raw)
    if phone.startswith("+86"):
        phone = phone[3:]
    if not phone:
        return None
    if not PHONE_RE.match(phone):
        raise InvalidInput(
            "caller_phone must be 3-20 digits", field="caller_phone", zh="来电号码须为 3-20 位数字"
        )
    return phone


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough for a unit to tell callers apart, not to call them."""
    if not phone:
        return phone
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "*" * len(phone)


def _text(value: str | None, name: str, limit: int, required: bool = False) -> str | None:
    value = value.strip() if value is not None else None
    if not value:
        if required:
            raise InvalidInput(
                f"{name} is required", field=name, zh=f"请填写{domain.FIELD_LABELS.get(name, name)}"
            )
        return None
    if len(value) > limit:
        raise InvalidInput(
            f"{name} is longer than {limit} characters",
            field=name,
            zh=f"{domain.FIELD_LABELS.get(name, name)}不能超过 {limit} 个字",
        )
    return value


# --- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketView:
    """A ticket as one principal may see it (masked for units when confidential)."""

    ticket: Ticket
    caller_name: str | None
    caller_phone: str | None
    call_id: str | None
    events: Sequence[TicketEvent] = ()
    master_number: str | None = None
    merged_numbers: Sequence[str] = ()
    overdue: bool = False  # domain.is_overdue at the service clock's now
    followups: Sequence[Followup] = ()
    attachments: Sequence[TicketAttachment] = ()  # without their data
    replayed: bool = False  # answered from an earlier creation with the same idempotency key


@dataclass(frozen=True)
class Advice:
    """Units suggested for a request and earlier tickets like it (TicketService.advise)."""

    suggestions: list[Suggestion]
    duplicates: list[duplicates.Candidate]


@dataclass(frozen=True)
class Progress:
    number: str
    status: Status
    created_at: dt.datetime
    due: dt.datetime | None
    replied_at: dt.datetime | None
    closed_at: dt.datetime | None


def state_of(t: Ticket) -> TicketState:
    extension = None
    if t.extension_requested_due is not None:
        extension = domain.Extension(
            t.extension_requested_due,
            t.extension_reason or "",
            t.extension_requested_at or t.updated_at,
        )
    return TicketState(
        status=Status(t.status),
        unit=t.main_unit_code,
        assisting=t.assisting_units,
        acknowledge_due=t.acknowledge_due,
        due=t.due,
        extension=extension,
        returned_by=t.returned_by,
        return_reason=t.return_reason,
        reply=t.reply_text,
        resolution=Resolution(t.resolution) if t.resolution else None,
        satisfaction=Satisfaction(t.satisfaction) if t.satisfaction else None,
        review_needed=t.review_needed,
        kb_article_id=t.kb_article_id,
        master_id=t.master_id,
        reopen_count=t.reopen_count,
    )


class Change(NamedTuple):
    command: domain.Command
    before: TicketState
    after: TicketState


def _change(t: Ticket, command: domain.Command, now: dt.datetime) -> Change:
    """Apply `command` to the ticket's state and store the result in `t`."""
    before = state_of(t)
    after = domain.apply(before, command)
    _store(t, before, after, now)
    return Change(command, before, after)


def _store(t: Ticket, before: TicketState, after: TicketState, now: dt.datetime) -> None:
    t.status = after.status.value
    t.main_unit_code = after.unit
    if after.assisting != before.assisting:
        kept = {a.unit_code: a for a in t.assists}
        t.assists = [kept.get(code) or TicketAssist(unit_code=code) for code in after.assisting]
    t.acknowledge_due, t.due = after.acknowledge_due, after.due
    ext = after.extension
    t.extension_requested_due = ext.requested_due if ext else None
    t.extension_reason = ext.reason if ext else None
    t.extension_requested_at = ext.requested_at if ext else None
    t.returned_by, t.return_reason = after.returned_by, after.return_reason
    t.reply_text = after.reply
    t.resolution = after.resolution.value if after.resolution else None
    t.satisfaction = after.satisfaction.value if after.satisfaction else None
    t.review_needed = after.review_needed
    t.kb_article_id, t.master_id, t.reopen_count = (
        after.kb_article_id,
        after.master_id,
        after.reopen_count,
    )
    if after.status != before.status:
        if after.status is Status.SIGNED:
            t.signed_at = now
        elif after.status is Status.REPLIED:
            t.replied_at = now
        elif after.status is Status.CLOSED:
            t.closed_at = now
        elif after.status is Status.DISPATCHED:
            t.signed_at = t.replied_at = t.closed_at = None
    t.updated_at = now


def _visible(who: Principal):
    if who.role is Role.UNIT_HANDLER:
        assisted = select(TicketAssist.ticket_id).where(TicketAssist.unit_code == who.unit_code)
        return or_(Ticket.main_unit_code == who.unit_code, Ticket.id.in_(assisted))
    return None


def _where_visible(query, who: Principal):
    clause = _visible(who)
    return query if clause is None else query.where(clause)


def view_of(who: Principal, t: Ticket, now: dt.datetime, **extra) -> TicketView:
    name, phone, call_id = t.caller_name, t.caller_phone, t.call_id
    if who.role is Role.UNIT_HANDLER and t.confidential:
        # The call id would lead to the caller's number in the call records.
        name, phone, call_id = ("（保密）" if name else None), mask_phone(phone), None
    return TicketView(
        t, name, phone, call_id, overdue=domain.is_overdue(t.status, t.due, now), **extra
    )


# A unit's list when it names no statuses: what it is working on or has just returned.
UNIT_QUEUE = (Status.DISPATCHED, Status.SIGNED, Status.RETURNED)


@dataclass(frozen=True)
class TicketSearch:
    """What a person looks for among the tickets they may see. `text`: a ticket number, a
    phone number, a caller's name or words of the content or address. Dates are local days,
    both included."""

    text: str | None = None
    statuses: tuple[Status, ...] = ()
    unit_code: str | None = None
    category: str | None = None
    district: str | None = None
    phone: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    created_by: str | None = None
    overdue: bool = False

    def __post_init__(self) -> None:
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise InvalidInput(
                "created_from is after created_to", field="created_from", zh="起始日期晚于结束日期"
            )


NUMBER_RE = re.compile(r"\d{8}-\d{4,6}")
PHONE_LIKE = re.compile(r"[+\d][\d\s\-()（）]{2,}")


def search_clauses(who: Principal, search: TicketSearch, now: dt.datetime) -> list[Any]:
    """WHERE clauses of `search` as `who` may ask it. A unit sees a confidential caller's
    name and number masked, so it must not find them either: for units a confidential ticket
    matches no phone and no name (a whistle-blower's number was recovered through `?phone=`)."""
    unit = who.role is Role.UNIT_HANDLER
    clauses: list[Any] = []

    def caller_is(column: Any, value: str) -> Any:
        return and_(column == value, Ticket.confidential.is_(False)) if unit else column == value

    if search.statuses:
        clauses.append(Ticket.status.in_([st.value for st in search.statuses]))
    for column, value in (
        (Ticket.main_unit_code, search.unit_code),
        (Ticket.category, search.category),
        (Ticket.district, search.district),
        (Ticket.created_by, search.created_by),
    ):
        if value:
            clauses.append(column == value)
    if search.phone is not None:
        clauses.append(caller_is(Ticket.caller_phone, normalise_phone(search.phone) or ""))
    if search.created_from:
        clauses.append(Ticket.created_at >= local_midnight(search.created_from))
    if search.created_to:
        clauses.append(Ticket.created_at < local_midnight(search.created_to + dt.timedelta(days=1)))
    if search.overdue:
        clauses.append(overdue_clause(now))
    text = (search.text or "").strip()
    if text:
        if NUMBER_RE.fullmatch(text):
            clauses.append(Ticket.number == text)
        else:
            found = [
                Ticket.content.contains(text, autoescape=True),
                Ticket.address.contains(text, autoescape=True),
                caller_is(Ticket.caller_name, text),
            ]
            if PHONE_LIKE.fullmatch(text):
                try:
                    phone = normalise_phone(text)
                except InvalidInput:
                    phone = None
                if phone:
                    found.append(caller_is(Ticket.caller_phone, phone))
            clauses.append(or_(*found))
    return clauses


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)


def overdue_clause(now: dt.datetime) -> ColumnElement[bool]:
    """`domain.is_overdue` as a WHERE clause over tickets."""
    return and_(Ticket.status.in_(sorted(s.value for s in domain.WITH_UNIT)), Ticket.due < now)


async def allocate_number(s: AsyncSession, now: dt.datetime) -> str:
    """Next number of the local day, e.g. 20261125-0007: one atomic upsert, safe when many
    agents create tickets at once (the row stays locked until the transaction ends)."""
    day = fmt(now, "%Y%m%d")
    stmt = upsert(
        s,
        TicketSequence,
        {"day": day, "last": 1},
        index_elements=[TicketSequence.day],
        set_={"last": TicketSequence.last + 1},
    )
    seq = (await s.execute(stmt.returning(TicketSequence.last))).scalar_one()
    return f"{day}-{seq:04d}"
