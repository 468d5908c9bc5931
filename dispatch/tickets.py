"""Work orders (工单): the pure lifecycle. No I/O here.

`apply(state, command) -> state` is a fold: the allowed source states of each command are one
table (`ALLOWED`), the effect of each command one small function. A command from a state not
in its row raises `IllegalTransition` (a `Conflict`: HTTP 409). Who may issue a command (role,
unit) is checked by the service; the domain checks only what the state itself decides (e.g.
that the unit signing is the main unit, that an extension is asked for before the deadline).

    created ──Dispatch──▶ dispatched ──Sign──▶ signed ──Reply──▶ replied ──CallBack──▶ called_back ──Close──▶ closed
       │                    │   ▲                │  ▲                ▲                      │                   │
       │ AnswerOnSpot       │   │ SendBack/      │  │ Request/       │ MasterReplied        └──── Reopen ───────┤
       ▼                    │   │ Redispatch     │  │ Approve/Refuse │ (merged → replied)          (重办)        │
     closed                 └─Return─▶ returned ◀┘  └ Extension ─────┘                                         │
                                                                                      dispatched ◀─────────────┘
    created | dispatched | signed | returned ──Merge──▶ merged
    Supervise(ack_overdue | remind | escalate | callback_due): a follow-up recorded, state unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Union

from hotline.errors import Conflict, InvalidInput, PermissionDenied
from sla.deadlines import FollowupKind


class Status(enum.StrEnum):
    CREATED = "created"  # 受理: recorded, not yet sent to a unit
    DISPATCHED = "dispatched"  # 派单: waiting for the unit to sign
    SIGNED = "signed"  # 签收: the unit is handling it (办理)
    RETURNED = "returned"  # 退单: the unit says it is not theirs; a manager reviews
    REPLIED = "replied"  # 答复: the unit answered; the hotline calls the citizen back
    CALLED_BACK = "called_back"  # 回访: the citizen was asked; waiting to be closed
    CLOSED = "closed"  # 办结
    MERGED = "merged"  # 并单: folded into a master ticket

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.CREATED: "已受理",
    Status.DISPATCHED: "已派单",
    Status.SIGNED: "办理中",
    Status.RETURNED: "已退单",
    Status.REPLIED: "已答复",
    Status.CALLED_BACK: "已回访",
    Status.CLOSED: "已办结",
    Status.MERGED: "已并单",
}

# Ticket fields as the pages name them, for the Chinese text of errors that name a field.
FIELD_LABELS = {
    "content": "诉求内容",
    "caller_name": "来电人姓名",
    "caller_phone": "来电号码",
    "address": "地址",
    "category": "诉求分类",
    "district": "区县",
    "call_id": "通话编号",
    "note": "备注",
    "reason": "理由",
    "text": "内容",
    "unit_code": "承办单位",
    "due": "办理时限",
    "requested_due": "延至日期",
    "type": "诉求类型",
}

OPEN = frozenset({Status.CREATED, Status.DISPATCHED, Status.SIGNED, Status.RETURNED})
"""A unit (or the hotline) still owes the citizen an answer."""

WITH_UNIT = frozenset({Status.DISPATCHED, Status.SIGNED})
"""A unit holds the ticket and owes the answer: its deadline runs (see `is_overdue`)."""


class TicketType(enum.StrEnum):
    CONSULT = "咨询"
    COMPLAINT = "投诉"
    REPORT = "举报"
    HELP = "求助"
    SUGGESTION = "建议"
    PRAISE = "表扬"


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Source(enum.StrEnum):
    PHONE = "phone"
    WEB = "web"
    API = "api"


class Resolution(enum.StrEnum):
    RESOLVED = "解决"
    PARTLY = "部分解决"
    UNRESOLVED = "未解决"


class Satisfaction(enum.StrEnum):
    SATISFIED = "满意"
    BASIC = "基本满意"
    UNSATISFIED = "不满意"


# Each command as the pages name it, for the Chinese text of an IllegalTransition.
COMMAND_LABELS = {
    "answer_on_spot": "当场解答",
    "dispatch": "派单",
    "sign": "签收",
    "return": "退单",
    "redispatch": "改派",
    "send_back": "驳回退单",
    "request_extension": "申请延期",
    "approve_extension": "同意延期",
    "refuse_extension": "不同意延期",
    "reply": "答复",
    "master_replied": "同步主工单答复",
    "callback": "回访",
    "close": "办结",
    "reopen": "重办",
    "merge": "并单",
}


class IllegalTransition(Conflict):
    def __init__(self, command: str, status: Status) -> None:
        label = COMMAND_LABELS.get(command.replace(" ", "_"), "执行此操作")
        super().__init__(
            f"cannot {command} a ticket that is {status.value} ({status.label})",
            zh=f"工单当前状态为“{status.label}”，不能{label}；请刷新页面查看最新状态",
            status=status.value,
            command=command,
        )


# --- state -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extension:
    requested_due: dt.datetime
    reason: str
    requested_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TicketState:
    status: Status
    unit: str | None = None
    assisting: tuple[str, ...] = ()
    acknowledge_due: dt.datetime | None = None
    due: dt.datetime | None = None
    extension: Extension | None = None
    returned_by: str | None = None
    return_reason: str | None = None
    reply: str | None = None
    resolution: Resolution | None = None
    satisfaction: Satisfaction | None = None
    review_needed: bool = False
    kb_article_id: str | None = None
    master_id: int | None = None
    reopen_count: int = 0


def new_ticket() -> TicketState:
    return TicketState(Status.CREATED)


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerOnSpot:
    """Answered from the knowledge base while the citizen was on the line."""

    action: ClassVar[str] = "answer_on_spot"
    kb_article_id: str


@dataclass(frozen=True, slots=True)
class Dispatch:
    action: ClassVar[str] = "dispatch"
    unit: str
    assisting: tuple[str, ...]
    acknowledge_due: dt.datetime
    due: dt.datetime


@dataclass(frozen=True, slots=True)
class Sign:
    action: ClassVar[str] = "sign"
    unit: str


@dataclass(frozen=True, slots=True)
class Return:
    """退单: the main unit says the ticket is not within its remit."""

    action: ClassVar[str] = "return"
    unit: str
    reason: str


@dataclass(frozen=True, slots=True)
class Redispatch:
    """A manager sends a returned ticket to another unit, with fresh deadlines."""

    action: ClassVar[str] = "redispatch"
    unit: str
    assisting: tuple[str, ...]
    acknowledge_due: dt.datetime
    due: dt.datetime


@dataclass(frozen=True, slots=True)
class SendBack:
    """A manager refuses the return: the same unit keeps the ticket and its deadline."""

    action: ClassVar[str] = "send_back"
    acknowledge_due: dt.datetime


@dataclass(frozen=True, slots=True)
class RequestExtension:
    action: ClassVar[str] = "request_extension"
    unit: str
    requested_due: dt.datetime
    reason: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ApproveExtension:
    action: ClassVar[str] = "approve_extension"
    due: dt.datetime | None  # None: as requested
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class RefuseExtension:
    action: ClassVar[str] = "refuse_extension"


@dataclass(frozen=True, slots=True)
class Reply:
    action: ClassVar[str] = "reply"
    unit: str
    text: str


@dataclass(frozen=True, slots=True)
class MasterReplied:
    """The master of a merged ticket was answered: its callers are owed a call back too."""

    action: ClassVar[str] = "master_replied"
    text: str


@dataclass(frozen=True, slots=True)
class CallBack:
    action: ClassVar[str] = "callback"
    resolution: Resolution
    satisfaction: Satisfaction


@dataclass(frozen=True, slots=True)
class Close:
    action: ClassVar[str] = "close"


@dataclass(frozen=True, slots=True)
class Reopen:
    """重办: a manager decides the citizen's dissatisfaction is founded."""

    action: ClassVar[str] = "reopen"
    unit: str
    assisting: tuple[str, ...]
    acknowledge_due: dt.datetime
    due: dt.datetime


@dataclass(frozen=True, slots=True)
class Merge:
    action: ClassVar[str] = "merge"
    master_id: int


@dataclass(frozen=True, slots=True)
class Supervise:
    """A follow-up fired (催办, 督办, ...): recorded on the ticket, the state is unchanged."""

    action: ClassVar[str] = "supervise"
    kind: FollowupKind


Command = Union[
    AnswerOnSpot,
    Dispatch,
    Sign,
    Return,
    Redispatch,
    SendBack,
    RequestExtension,
    ApproveExtension,
    RefuseExtension,
    Reply,
    MasterReplied,
    CallBack,
    Close,
    Reopen,
    Merge,
    Supervise,
]

S = Status
ALLOWED: dict[type, frozenset[Status]] = {
    AnswerOnSpot: frozenset({S.CREATED}),
    Dispatch: frozenset({S.CREATED}),
    Sign: frozenset({S.DISPATCHED}),
    Return: frozenset({S.DISPATCHED, S.SIGNED}),
    Redispatch: frozenset({S.RETURNED}),
    SendBack: frozenset({S.RETURNED}),
    RequestExtension: frozenset({S.SIGNED}),
    ApproveExtension: frozenset({S.SIGNED}),
    RefuseExtension: frozenset({S.SIGNED}),
    Reply: frozenset({S.SIGNED}),
    MasterReplied: frozenset({S.MERGED}),
    CallBack: frozenset({S.REPLIED}),
    Close: frozenset({S.CALLED_BACK}),
    Reopen: frozenset({S.CALLED_BACK, S.CLOSED}),
    Merge: frozenset({S.CREATED, S.DISPATCHED, S.SIGNED, S.RETURNED}),
    Supervise: frozenset({S.DISPATCHED, S.SIGNED, S.REPLIED}),
}

# Which follow-up makes sense in which state; anything else is moot when it fires.
SUPERVISION: dict[FollowupKind, frozenset[Status]] = {
    FollowupKind.ACK_OVERDUE: frozenset({S.DISPATCHED}),
    FollowupKind.REMIND: frozenset({S.DISPATCHED, S.SIGNED}),
    FollowupKind.ESCALATE: frozenset({S.DISPATCHED, S.SIGNED}),
    FollowupKind.CALLBACK_DUE: frozenset({S.REPLIED}),
}


def _main_unit(state: TicketState, unit: str, what: str) -> None:
    if unit != state.unit:
        raise PermissionDenied(
            f"only the main unit (主办单位) can {what} this ticket", zh="只有主办单位可以办理此操作"
        )


def _to_unit(
    state: TicketState,
    status: Status,
    unit: str,
    assisting: tuple[str, ...],
    acknowledge_due: dt.datetime,
    due: dt.datetime,
) -> TicketState:
    if unit in assisting:
        raise InvalidInput(
            "the main unit cannot also be an assisting unit",
            field="assisting_units",
            zh="主办单位不能同时是协办单位",
        )
    if len(set(assisting)) != len(assisting):
        raise InvalidInput(
            "an assisting unit is listed twice", field="assisting_units", zh="协办单位重复"
        )
    if due < acknowledge_due:
        raise InvalidInput(
            "the deadline falls before the acknowledgement deadline",
            field="due",
            zh="办理时限早于签收时限",
        )
    return dataclasses.replace(
        state,
        status=status,
        unit=unit,
        assisting=assisting,
        acknowledge_due=acknowledge_due,
        due=due,
        extension=None,
        returned_by=None,
        return_reason=None,
    )


def _answer_on_spot(s: TicketState, c: AnswerOnSpot) -> TicketState:
    if not c.kb_article_id.strip():
        raise InvalidInput(
            "an answer on the spot names the knowledge-base article",
            field="kb_article_id",
            zh="当场解答须注明所用的知识库条目",
        )
    return dataclasses.replace(s, status=S.CLOSED, kb_article_id=c.kb_article_id)


def _dispatch(s: TicketState, c: Dispatch) -> TicketState:
    return _to_unit(s, S.DISPATCHED, c.unit, c.assisting, c.acknowledge_due, c.due)


def _sign(s: TicketState, c: Sign) -> TicketState:
    _main_unit(s, c.unit, "sign")
    return dataclasses.replace(s, status=S.SIGNED)


def _return(s: TicketState, c: Return) -> TicketState:
    _main_unit(s, c.unit, "return")
    if not c.reason.strip():
        raise InvalidInput("a return (退单) needs a reason", field="reason", zh="退单须填写理由")
    return dataclasses.replace(
        s, status=S.RETURNED, returned_by=c.unit, return_reason=c.reason, extension=None
    )


def _redispatch(s: TicketState, c: Redispatch) -> TicketState:
    if c.unit == s.returned_by:
        raise InvalidInput(
            "to give the ticket back to the unit that returned it, send it back",
            field="unit_code",
            zh="要把工单交回退单的单位，请用“驳回退单”",
        )
    return _to_unit(s, S.DISPATCHED, c.unit, c.assisting, c.acknowledge_due, c.due)


def _send_back(s: TicketState, c: SendBack) -> TicketState:
    assert s.unit is not None and s.due is not None
    return dataclasses.replace(
        s,
        status=S.DISPATCHED,
        acknowledge_due=c.acknowledge_due,
        returned_by=None,
        return_reason=None,
    )


def _request_extension(s: TicketState, c: RequestExtension) -> TicketState:
    _main_unit(s, c.unit, "ask for an extension of")
    assert s.due is not None
    if s.extension is not None:
        raise Conflict(
            "an extension request is already waiting for a decision", zh="已有延期申请在等待审核"
        )
    if c.at >= s.due:
        raise Conflict(
            "an extension (延期) must be asked for before the deadline",
            zh="延期须在办理时限到期前申请",
        )
    if c.requested_due <= s.due:
        raise InvalidInput(
            "the requested deadline must be later than the current one",
            field="requested_due",
            zh="申请的延至日期须晚于当前办理时限",
        )
    if not c.reason.strip():
        raise InvalidInput(
            "an extension request needs a reason", field="reason", zh="申请延期须填写理由"
        )
    return dataclasses.replace(s, extension=Extension(c.requested_due, c.reason, c.at))


def _approve_extension(s: TicketState, c: ApproveExtension) -> TicketState:
    if s.extension is None:
        raise Conflict("no extension request is waiting for a decision", zh="没有待审核的延期申请")
    due = c.due or s.extension.requested_due
    if due <= c.at:
        raise InvalidInput("the new deadline is in the past", field="due", zh="新的办理时限已过")
    assert s.due is not None
    if due <= s.due:
        raise InvalidInput(
            "the new deadline must be later than the current one",
            field="due",
            zh="新的办理时限须晚于当前办理时限",
        )
    return dataclasses.replace(s, due=due, extension=None)


def _refuse_extension(s: TicketState, c: RefuseExtension) -> TicketState:
    if s.extension is None:
        raise Conflict("no extension request is waiting for a decision", zh="没有待审核的延期申请")
    return dataclasses.replace(s, extension=None)


def _reply(s: TicketState, c: Reply) -> TicketState:
    _main_unit(s, c.unit, "reply to")
    if not c.text.strip():
        raise InvalidInput(
            "the reply (答复) must say what was done", field="text", zh="答复须写明办理情况"
        )
    return dataclasses.replace(s, status=S.REPLIED, reply=c.text, extension=None)


def _master_replied(s: TicketState, c: MasterReplied) -> TicketState:
    return dataclasses.replace(s, status=S.REPLIED, reply=c.text)


def _callback(s: TicketState, c: CallBack) -> TicketState:
    unhappy = c.satisfaction is Satisfaction.UNSATISFIED or c.resolution is Resolution.UNRESOLVED
    return dataclasses.replace(
        s,
        status=S.CALLED_BACK,
        resolution=c.resolution,
        satisfaction=c.satisfaction,
        review_needed=unhappy,
    )


def _close(s: TicketState, c: Close) -> TicketState:
    return dataclasses.replace(s, status=S.CLOSED, review_needed=False)


def _reopen(s: TicketState, c: Reopen) -> TicketState:
    reopened = _to_unit(s, S.DISPATCHED, c.unit, c.assisting, c.acknowledge_due, c.due)
    return dataclasses.replace(
        reopened,
        reply=None,
        resolution=None,
        satisfaction=None,
        review_needed=False,
        reopen_count=s.reopen_count + 1,
    )


def _merge(s: TicketState, c: Merge) -> TicketState:
    return dataclasses.replace(s, status=S.MERGED, master_id=c.master_id, extension=None)


def _supervise(s: TicketState, c: Supervise) -> TicketState:
    if s.status not in SUPERVISION[c.kind]:
        raise IllegalTransition(f"record {c.kind.value} on", s.status)
    return s


# Each effect takes the one command type it is listed under.
_EFFECTS: dict[type, Callable[[TicketState, Any], TicketState]] = {
    AnswerOnSpot: _answer_on_spot,
    Dispatch: _dispatch,
    Sign: _sign,
    Return: _return,
    Redispatch: _redispatch,
    SendBack: _send_back,
    RequestExtension: _request_extension,
    ApproveExtension: _approve_extension,
    RefuseExtension: _refuse_extension,
    Reply: _reply,
    MasterReplied: _master_replied,
    CallBack: _callback,
    Close: _close,
    Reopen: _reopen,
    Merge: _merge,
    Supervise: _supervise,
}


def apply(state: TicketState, command: Command) -> TicketState:
    """The state after `command`; raises IllegalTransition (409) from a state not allowed."""
    kind = type(command)
    if state.status not in ALLOWED[kind]:
        raise IllegalTransition(command.action.replace("_", " "), state.status)
    return _EFFECTS[kind](state, command)


def fold(commands: list[Command], state: TicketState | None = None) -> TicketState:
    """Replays commands from a new ticket (or `state`): the lifecycle as a list."""
    current = state or new_ticket()
    for command in commands:
        current = apply(current, command)
    return current


def is_open(state: TicketState) -> bool:
    return state.status in OPEN


def is_overdue(status: str, due: dt.datetime | None, now: dt.datetime) -> bool:
    """超期: past its deadline while the unit still owes the answer. The service asks this of
    a ticket at its clock's `now`; `dispatch.service.overdue_clause` is the same rule in SQL."""
    return due is not None and due < now and status in WITH_UNIT
