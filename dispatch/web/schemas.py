"""Request bodies of the work-order API (frozen dataclasses checked by `json_body`) and the
parsing of request values (dates, optional bodies).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dispatch.service import MAX_CONTENT
from dispatch.tickets import FIELD_LABELS, Resolution, Satisfaction, Source, TicketType, Urgency
from hotline.errors import InvalidInput
from hotline.localtime import SHANGHAI
from hotline.web.validation import json_body
from sla.calendar import end_of_day


# --- parsing ------------------------------------------------------------------------------------


def moment(value: str | None, name: str) -> dt.datetime | None:
    """ISO date (= the end of that day in Asia/Shanghai) or datetime (naive = Asia/Shanghai)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return end_of_day(dt.date.fromisoformat(value))
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO date or date-time",
            field=name,
            zh=f"{FIELD_LABELS.get(name, name)}须为日期（如 2026-12-31）或日期时间",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


async def body_of(request: web.Request, cls: type) -> Any:
    """Actions without required fields accept an empty body."""
    if not request.body_exists:
        return cls()
    return await json_body(request, cls)


# --- bodies ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketIn:
    content: str = field(metadata={"max_len": MAX_CONTENT})
    type: TicketType
    category: str | None = field(default=None, metadata={"max_len": 50})
    district: str | None = field(default=None, metadata={"max_len": 50})
    address: str | None = field(default=None, metadata={"max_len": 200})
    caller_name: str | None = field(default=None, metadata={"max_len": 50})
    caller_phone: str | None = field(default=None, metadata={"max_len": 30})
    call_id: str | None = field(default=None, metadata={"max_len": 64})
    source: Source = Source.PHONE
    confidential: bool = False
    urgency: Urgency = Urgency.NORMAL
    unit_code: str | None = field(default=None, metadata={"max_len": 32})
    assisting_units: list[str] = field(default_factory=list, metadata={"max_len": 32})
    answered_on_spot: bool = False
    kb_article_id: str | None = field(default=None, metadata={"max_len": 64})
    due: str | None = field(default=None, metadata={"max_len": 40})


@dataclass(frozen=True)
class RouteIn:
    text: str = field(metadata={"max_len": MAX_CONTENT})
    district: str | None = field(default=None, metadata={"max_len": 50})
    category: str | None = field(default=None, metadata={"max_len": 50})


@dataclass(frozen=True)
class NoteIn:
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class DispatchIn:
    unit_code: str = field(metadata={"max_len": 32})
    assisting_units: list[str] = field(default_factory=list, metadata={"max_len": 32})
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReopenIn:
    unit_code: str | None = field(default=None, metadata={"max_len": 32})
    assisting_units: list[str] | None = field(default=None, metadata={"max_len": 32})
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReasonIn:
    reason: str = field(metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ExtensionIn:
    requested_due: str = field(metadata={"max_len": 40})
    reason: str = field(metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ApproveIn:
    due: str | None = field(default=None, metadata={"max_len": 40})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class ReplyIn:
    text: str = field(metadata={"max_len": MAX_CONTENT})
    version: int | None = None


@dataclass(frozen=True)
class CallbackIn:
    resolution: Resolution
    satisfaction: Satisfaction
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class MergeIn:
    master: str = field(metadata={"max_len": 20})
    note: str | None = field(default=None, metadata={"max_len": 2000})
    version: int | None = None


@dataclass(frozen=True)
class RuleIn:
    category: str = field(metadata={"max_len": 50})
    unit_code: str = field(metadata={"max_len": 32})
    district: str | None = field(default=None, metadata={"max_len": 50})
    note: str | None = field(default=None, metadata={"max_len": 200})
