"""The ticket lifecycle as a pure fold: every transition, and every refusal."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from dispatch import tickets as t
from dispatch.tickets import (
    ALLOWED,
    FollowupKind,
    IllegalTransition,
    Resolution,
    Satisfaction,
    Status,
    TicketState,
)
from hotline.errors import Conflict, InvalidInput, PermissionDenied

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
ACK = T0 + dt.timedelta(hours=2)
DUE = T0 + dt.timedelta(days=5)


def dispatch(unit: str = "ZZ-RSJ", assisting: tuple[str, ...] = ()) -> t.Dispatch:
    return t.Dispatch(unit, assisting, ACK, DUE)


def signed() -> TicketState:
    return t.fold([dispatch(), t.Sign("ZZ-RSJ")])


def replied() -> TicketState:
    return t.apply(signed(), t.Reply("ZZ-RSJ", "已为来电人办理"))


def test_the_whole_loop_created_to_closed():
    state = t.fold(
        [
            dispatch(assisting=("ZZ-GJJ",)),
            t.Sign("ZZ-RSJ"),
            t.Reply("ZZ-RSJ", "已核实并补发工资"),
            t.CallBack(Resolution.RESOLVED, Satisfaction.SATISFIED),
            t.Close(),
        ]
    )
    assert state.status is Status.CLOSED
    assert state.unit == "ZZ-RSJ" and state.assisting == ("ZZ-GJJ",)
    assert state.reply == "已核实并补发工资"
    assert state.satisfaction is Satisfaction.SATISFIED and not state.review_needed


def test_created_dispatched_signed_replied_states():
    s0 = t.new_ticket()
    assert s0.status is Status.CREATED
    s1 = t.apply(s0, dispatch())
    assert (s1.status, s1.unit, s1.acknowledge_due, s1.due) == (
        Status.DISPATCHED,
        "ZZ-RSJ",
        ACK,
        DUE,
    )
    s2 = t.apply(s1, t.Sign("ZZ-RSJ"))
    assert s2.status is Status.SIGNED
    s3 = t.apply(s2, t.Reply("ZZ-RSJ", "答复内容"))
    assert s3.status is Status.REPLIED


def test_answered_on_the_spot_closes_at_creation_with_the_article():
    state = t.apply(t.new_ticket(), t.AnswerOnSpot("KB-0042"))
    assert state.status is Status.CLOSED and state.kb_article_id == "KB-0042"
    with pytest.raises(InvalidInput):
        t.apply(t.new_ticket(), t.AnswerOnSpot("  "))


def test_only_the_main_unit_signs_replies_returns_or_asks_for_time():
    state = t.apply(t.new_ticket(), dispatch(assisting=("ZZ-GJJ",)))
    with pytest.raises(PermissionDenied):
        t.apply(state, t.Sign("ZZ-GJJ"))
    state = t.apply(state, t.Sign("ZZ-RSJ"))
    for command in (
        t.Reply("ZZ-GJJ", "x"),
        t.Return("ZZ-GJJ", "不是我们的"),
        t.RequestExtension("ZZ-GJJ", DUE + dt.timedelta(days=3), "需要现场核查", T0),
    ):
        with pytest.raises(PermissionDenied):
            t.apply(state, command)


def test_dispatch_refuses_inconsistent_units_and_deadlines():
    with pytest.raises(InvalidInput):
        t.apply(t.new_ticket(), dispatch(assisting=("ZZ-RSJ",)))
    with pytest.raises(InvalidInput):
        t.apply(t.new_ticket(), dispatch(assisting=("ZZ-GJJ", "ZZ-GJJ")))
    with pytest.raises(InvalidInput):
        t.apply(t.new_ticket(), t.Dispatch("ZZ-RSJ", (), DUE, ACK))


@pytest.mark.parametrize("signed_first", [False, True])
def test_return_then_redispatch_to_another_unit(signed_first):
    state = t.apply(t.new_ticket(), dispatch())
    if signed_first:
        state = t.apply(state, t.Sign("ZZ-RSJ"))
    state = t.apply(state, t.Return("ZZ-RSJ", "属于公积金中心职责"))
    assert (state.status, state.returned_by, state.return_reason) == (
        Status.RETURNED,
        "ZZ-RSJ",
        "属于公积金中心职责",
    )
    new_due = DUE + dt.timedelta(days=2)
    state = t.apply(state, t.Redispatch("ZZ-GJJ", (), ACK + dt.timedelta(days=1), new_due))
    assert (state.status, state.unit, state.due, state.returned_by) == (
        Status.DISPATCHED,
        "ZZ-GJJ",
        new_due,
        None,
    )


def test_return_needs_a_reason_and_redispatch_needs_another_unit():
    state = t.apply(t.new_ticket(), dispatch())
    with pytest.raises(InvalidInput):
        t.apply(state, t.Return("ZZ-RSJ", " "))
    state = t.apply(state, t.Return("ZZ-RSJ", "不是我们的"))
    with pytest.raises(InvalidInput):
        t.apply(state, t.Redispatch("ZZ-RSJ", (), ACK, DUE))


def test_send_back_keeps_the_unit_and_its_deadline():
    state = t.fold([dispatch(), t.Sign("ZZ-RSJ"), t.Return("ZZ-RSJ", "不是我们的")])
    new_ack = ACK + dt.timedelta(hours=5)
    state = t.apply(state, t.SendBack(new_ack))
    assert (state.status, state.unit, state.due, state.acknowledge_due) == (
        Status.DISPATCHED,
        "ZZ-RSJ",
        DUE,
        new_ack,
    )


def test_extension_requested_then_approved_moves_the_deadline():
    later = DUE + dt.timedelta(days=7)
    state = t.apply(signed(), t.RequestExtension("ZZ-RSJ", later, "需要现场核查", T0))
    assert state.extension is not None and state.extension.requested_due == later
    assert state.due == DUE and state.status is Status.SIGNED
    approved = t.apply(state, t.ApproveExtension(None, T0))
    assert approved.due == later and approved.extension is None
    other = DUE + dt.timedelta(days=3)
    assert t.apply(state, t.ApproveExtension(other, T0)).due == other


def test_extension_refused_keeps_the_deadline():
    state = t.apply(signed(), t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=7), "核查", T0))
    refused = t.apply(state, t.RefuseExtension())
    assert refused.due == DUE and refused.extension is None


def test_extension_rules():
    state = signed()
    with pytest.raises(Conflict):  # after the deadline: too late
        t.apply(state, t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", DUE))
    with pytest.raises(InvalidInput):  # not later than the current deadline
        t.apply(state, t.RequestExtension("ZZ-RSJ", DUE, "核查", T0))
    with pytest.raises(InvalidInput):
        t.apply(state, t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "", T0))
    with pytest.raises(Conflict):  # nothing to decide
        t.apply(state, t.ApproveExtension(None, T0))
    with pytest.raises(Conflict):
        t.apply(state, t.RefuseExtension())
    pending = t.apply(state, t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0))
    with pytest.raises(Conflict):  # one request at a time
        t.apply(pending, t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=4), "再等", T0))
    with pytest.raises(InvalidInput):  # a manager's date in the past
        t.apply(pending, t.ApproveExtension(T0 - dt.timedelta(days=1), T0))
    with pytest.raises(IllegalTransition):  # only while being handled
        t.apply(
            t.apply(t.new_ticket(), dispatch()),
            t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0),
        )


def test_a_reply_needs_text_and_ends_a_pending_extension():
    with pytest.raises(InvalidInput):
        t.apply(signed(), t.Reply("ZZ-RSJ", "   "))
    pending = t.apply(
        signed(), t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0)
    )
    assert t.apply(pending, t.Reply("ZZ-RSJ", "办好了")).extension is None


@pytest.mark.parametrize(
    "resolution,satisfaction,review",
    [
        (Resolution.RESOLVED, Satisfaction.SATISFIED, False),
        (Resolution.PARTLY, Satisfaction.BASIC, False),
        (Resolution.RESOLVED, Satisfaction.UNSATISFIED, True),
        (Resolution.UNRESOLVED, Satisfaction.BASIC, True),
    ],
)
def test_callback_flags_unhappy_citizens_for_review(resolution, satisfaction, review):
    state = t.apply(replied(), t.CallBack(resolution, satisfaction))
    assert state.status is Status.CALLED_BACK
    assert (state.resolution, state.satisfaction, state.review_needed) == (
        resolution,
        satisfaction,
        review,
    )


@pytest.mark.parametrize("closed_first", [False, True])
def test_reopen_sends_it_back_with_new_deadlines(closed_first):
    state = t.apply(replied(), t.CallBack(Resolution.UNRESOLVED, Satisfaction.UNSATISFIED))
    if closed_first:
        state = t.apply(state, t.Close())
        assert state.status is Status.CLOSED and not state.review_needed
    new_due = DUE + dt.timedelta(days=10)
    state = t.apply(state, t.Reopen("ZZ-RSJ", (), ACK + dt.timedelta(days=9), new_due))
    assert (state.status, state.due, state.reopen_count) == (Status.DISPATCHED, new_due, 1)
    assert state.reply is None and state.satisfaction is None and not state.review_needed


def test_merge_then_the_master_reply_reaches_the_merged_caller():
    state = t.apply(t.apply(t.new_ticket(), dispatch()), t.Merge(master_id=7))
    assert (state.status, state.master_id) == (Status.MERGED, 7)
    state = t.apply(state, t.MasterReplied("主工单已处理"))
    assert (state.status, state.reply) == (Status.REPLIED, "主工单已处理")
    state = t.apply(state, t.CallBack(Resolution.RESOLVED, Satisfaction.SATISFIED))
    assert state.status is Status.CALLED_BACK


@pytest.mark.parametrize(
    "kind,ok_states",
    [
        (FollowupKind.ACK_OVERDUE, {Status.DISPATCHED}),
        (FollowupKind.REMIND, {Status.DISPATCHED, Status.SIGNED}),
        (FollowupKind.ESCALATE, {Status.DISPATCHED, Status.SIGNED}),
        (FollowupKind.CALLBACK_DUE, {Status.REPLIED}),
    ],
)
def test_supervision_is_recorded_only_where_it_makes_sense(kind, ok_states):
    for status in Status:
        state = TicketState(status)
        if status in ok_states:
            assert t.apply(state, t.Supervise(kind)) == state
        else:
            with pytest.raises(IllegalTransition):
                t.apply(state, t.Supervise(kind))


def _sample(command_type: type) -> t.Command:
    samples = {
        t.AnswerOnSpot: t.AnswerOnSpot("KB-1"),
        t.Dispatch: dispatch(),
        t.Sign: t.Sign("ZZ-RSJ"),
        t.Return: t.Return("ZZ-RSJ", "原因"),
        t.Redispatch: t.Redispatch("ZZ-GJJ", (), ACK, DUE),
        t.SendBack: t.SendBack(ACK),
        t.RequestExtension: t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=1), "r", T0),
        t.ApproveExtension: t.ApproveExtension(None, T0),
        t.RefuseExtension: t.RefuseExtension(),
        t.Reply: t.Reply("ZZ-RSJ", "答复"),
        t.MasterReplied: t.MasterReplied("答复"),
        t.CallBack: t.CallBack(Resolution.RESOLVED, Satisfaction.SATISFIED),
        t.Close: t.Close(),
        t.Reopen: t.Reopen("ZZ-RSJ", (), ACK, DUE),
        t.Merge: t.Merge(1),
        t.Supervise: t.Supervise(FollowupKind.REMIND),
    }
    return samples[command_type]


@pytest.mark.parametrize("command_type", list(ALLOWED), ids=lambda c: c.__name__)
def test_every_command_from_a_wrong_state_is_a_409(command_type):
    base = TicketState(Status.CREATED, unit="ZZ-RSJ", acknowledge_due=ACK, due=DUE)
    for status in Status:
        if status in ALLOWED[command_type]:
            continue
        with pytest.raises(IllegalTransition) as err:
            t.apply(dataclasses.replace(base, status=status), _sample(command_type))
        assert isinstance(err.value, Conflict)
        assert err.value.details["status"] == status.value


def test_closed_and_merged_tickets_take_nothing_but_reopen_and_master_reply():
    closed = t.apply(t.new_ticket(), t.AnswerOnSpot("KB-1"))
    for command_type in ALLOWED:
        command = _sample(command_type)
        if command_type is t.Reopen:
            assert t.apply(closed, command).status is Status.DISPATCHED
        else:
            with pytest.raises(IllegalTransition):
                t.apply(closed, command)


# --- the transition table, spelled out (the diagram in dispatch/tickets.py) --------------------

S = Status
TRANSITIONS = {
    t.AnswerOnSpot: {S.CREATED},
    t.Dispatch: {S.CREATED},
    t.Sign: {S.DISPATCHED},
    t.Return: {S.DISPATCHED, S.SIGNED},
    t.Redispatch: {S.RETURNED},
    t.SendBack: {S.RETURNED},
    t.RequestExtension: {S.SIGNED},
    t.ApproveExtension: {S.SIGNED},
    t.RefuseExtension: {S.SIGNED},
    t.Reply: {S.SIGNED},
    t.MasterReplied: {S.MERGED},
    t.CallBack: {S.REPLIED},
    t.Close: {S.CALLED_BACK},
    t.Reopen: {S.CALLED_BACK, S.CLOSED},
    t.Merge: {S.CREATED, S.DISPATCHED, S.SIGNED, S.RETURNED},
}


@pytest.mark.parametrize("command_type", list(TRANSITIONS), ids=lambda c: c.__name__)
def test_each_command_is_taken_exactly_from_the_states_of_the_diagram(command_type):
    # Written out here, not read from ALLOWED: a state added to or dropped from a row of the
    # table is a changed lifecycle, and this test says so.
    pending = t.Extension(DUE + dt.timedelta(days=2), "核查", T0)
    for status in Status:
        state = TicketState(
            status,
            unit="ZZ-RSJ",
            acknowledge_due=ACK,
            due=DUE,
            returned_by="ZZ-RSJ",
            extension=(
                pending if command_type in (t.ApproveExtension, t.RefuseExtension) else None
            ),
        )
        command = _sample(command_type)
        if status in TRANSITIONS[command_type]:
            assert t.apply(state, command).status is not None, status
        else:
            with pytest.raises(IllegalTransition):
                t.apply(state, command)


@pytest.mark.parametrize(
    "status,is_open",
    [
        (S.CREATED, True),
        (S.DISPATCHED, True),
        (S.SIGNED, True),
        (S.RETURNED, True),
        (S.REPLIED, False),
        (S.CALLED_BACK, False),
        (S.CLOSED, False),
        (S.MERGED, False),
    ],
)
def test_open_means_an_answer_is_still_owed_by_a_unit_or_the_hotline(status, is_open):
    assert t.is_open(TicketState(status)) is is_open


# --- refusals: which rule said no, and what the API and the pages are told ----------------------


def _pending() -> TicketState:
    return t.apply(signed(), t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0))


def _returned() -> TicketState:
    return t.fold([dispatch(), t.Return("ZZ-RSJ", "不是我们的")])


LATER = DUE + dt.timedelta(days=3)
REFUSALS = [
    (
        "main unit also assisting",
        t.new_ticket,
        dispatch(assisting=("ZZ-RSJ",)),
        InvalidInput,
        {"field": "assisting_units"},
        "the main unit cannot also be an assisting unit",
        "主办单位不能同时是协办单位",
    ),
    (
        "assisting unit twice",
        t.new_ticket,
        dispatch(assisting=("ZZ-GJJ", "ZZ-GJJ")),
        InvalidInput,
        {"field": "assisting_units"},
        "an assisting unit is listed twice",
        "协办单位重复",
    ),
    (
        "due before acknowledgement",
        t.new_ticket,
        t.Dispatch("ZZ-RSJ", (), DUE, ACK),
        InvalidInput,
        {"field": "due"},
        "the deadline falls before the acknowledgement deadline",
        "办理时限早于签收时限",
    ),
    (
        "answer without article",
        t.new_ticket,
        t.AnswerOnSpot(" "),
        InvalidInput,
        {"field": "kb_article_id"},
        "an answer on the spot names the knowledge-base article",
        "当场解答须注明所用的知识库条目",
    ),
    (
        "assisting unit signs",
        lambda: t.apply(t.new_ticket(), dispatch(assisting=("ZZ-GJJ",))),
        t.Sign("ZZ-GJJ"),
        PermissionDenied,
        {},
        "only the main unit (主办单位) can sign this ticket",
        "只有主办单位可以办理此操作",
    ),
    (
        "other unit returns",
        signed,
        t.Return("ZZ-GJJ", "不是我们的"),
        PermissionDenied,
        {},
        "only the main unit (主办单位) can return this ticket",
        "只有主办单位可以办理此操作",
    ),
    (
        "other unit asks for time",
        signed,
        t.RequestExtension("ZZ-GJJ", LATER, "核查", T0),
        PermissionDenied,
        {},
        "only the main unit (主办单位) can ask for an extension of this ticket",
        "只有主办单位可以办理此操作",
    ),
    (
        "other unit replies",
        signed,
        t.Reply("ZZ-GJJ", "办好了"),
        PermissionDenied,
        {},
        "only the main unit (主办单位) can reply to this ticket",
        "只有主办单位可以办理此操作",
    ),
    (
        "return without reason",
        signed,
        t.Return("ZZ-RSJ", "  "),
        InvalidInput,
        {"field": "reason"},
        "a return (退单) needs a reason",
        "退单须填写理由",
    ),
    (
        "redispatch to the returning unit",
        _returned,
        t.Redispatch("ZZ-RSJ", (), ACK, DUE),
        InvalidInput,
        {"field": "unit_code"},
        "to give the ticket back to the unit that returned it, send it back",
        "要把工单交回退单的单位，请用“驳回退单”",
    ),
    (
        "second extension request",
        _pending,
        t.RequestExtension("ZZ-RSJ", LATER, "再等", T0),
        Conflict,
        {},
        "an extension request is already waiting for a decision",
        "已有延期申请在等待审核",
    ),
    (
        "extension asked at the deadline",
        signed,
        t.RequestExtension("ZZ-RSJ", LATER, "核查", DUE),
        Conflict,
        {},
        "an extension (延期) must be asked for before the deadline",
        "延期须在办理时限到期前申请",
    ),
    (
        "extension to the same deadline",
        signed,
        t.RequestExtension("ZZ-RSJ", DUE, "核查", T0),
        InvalidInput,
        {"field": "requested_due"},
        "the requested deadline must be later than the current one",
        "申请的延至日期须晚于当前办理时限",
    ),
    (
        "extension without reason",
        signed,
        t.RequestExtension("ZZ-RSJ", LATER, " ", T0),
        InvalidInput,
        {"field": "reason"},
        "an extension request needs a reason",
        "申请延期须填写理由",
    ),
    (
        "approve nothing",
        signed,
        t.ApproveExtension(None, T0),
        Conflict,
        {},
        "no extension request is waiting for a decision",
        "没有待审核的延期申请",
    ),
    (
        "refuse nothing",
        signed,
        t.RefuseExtension(),
        Conflict,
        {},
        "no extension request is waiting for a decision",
        "没有待审核的延期申请",
    ),
    # A new deadline that is now is already reached: refused like one in the past.
    (
        "approve a deadline that is now",
        _pending,
        t.ApproveExtension(LATER, LATER),
        InvalidInput,
        {"field": "due"},
        "the new deadline is in the past",
        "新的办理时限已过",
    ),
    (
        "approve the current deadline",
        _pending,
        t.ApproveExtension(DUE, T0),
        InvalidInput,
        {"field": "due"},
        "the new deadline must be later than the current one",
        "新的办理时限须晚于当前办理时限",
    ),
    (
        "reply without text",
        signed,
        t.Reply("ZZ-RSJ", "\n "),
        InvalidInput,
        {"field": "text"},
        "the reply (答复) must say what was done",
        "答复须写明办理情况",
    ),
    (
        "sign a closed ticket",
        lambda: t.apply(t.new_ticket(), t.AnswerOnSpot("KB-1")),
        t.Sign("ZZ-RSJ"),
        IllegalTransition,
        {"status": "closed", "command": "sign"},
        "cannot sign a ticket that is closed (已办结)",
        "工单当前状态为“已办结”，不能签收；请刷新页面查看最新状态",
    ),
    (
        "ask for time before signing",
        lambda: t.apply(t.new_ticket(), dispatch()),
        t.RequestExtension("ZZ-RSJ", LATER, "核查", T0),
        IllegalTransition,
        {"status": "dispatched", "command": "request extension"},
        "cannot request extension a ticket that is dispatched (已派单)",
        "工单当前状态为“已派单”，不能申请延期；请刷新页面查看最新状态",
    ),
    (
        "a follow-up that is moot",
        signed,
        t.Supervise(FollowupKind.ACK_OVERDUE),
        IllegalTransition,
        {"status": "signed", "command": "record ack_overdue on"},
        "cannot record ack_overdue on a ticket that is signed (办理中)",
        "工单当前状态为“办理中”，不能执行此操作；请刷新页面查看最新状态",
    ),
]


@pytest.mark.parametrize(
    "name,state,command,error,details,message,zh", REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_each_refusal_names_its_rule_field_and_chinese_text(
    name, state, command, error, details, message, zh
):
    # The JSON error carries `message`, `message_zh` and the details (a form marks `field`);
    # the Chinese text is what the agent or the unit reads on the page.
    with pytest.raises(error) as info:
        t.apply(state(), command)
    assert type(info.value) is error
    assert (info.value.message, info.value.zh, info.value.details) == (message, zh, details)


# --- what each transition keeps and what it drops ---------------------------------------------


def test_boundaries_a_deadline_may_equal_the_acknowledgement_deadline():
    assert t.apply(t.new_ticket(), t.Dispatch("ZZ-RSJ", (), ACK, ACK)).due == ACK


def test_an_extension_request_keeps_its_reason_and_when_it_was_asked():
    asked = T0 + dt.timedelta(hours=3)
    state = t.apply(signed(), t.RequestExtension("ZZ-RSJ", LATER, "需要现场核查", asked))
    assert state.extension == t.Extension(LATER, "需要现场核查", asked)


def test_a_return_or_a_merge_drops_the_pending_extension_request():
    assert _pending().extension is not None
    returned = t.apply(_pending(), t.Return("ZZ-RSJ", "不是我们的"))
    assert (returned.status, returned.extension) == (Status.RETURNED, None)
    merged = t.apply(_pending(), t.Merge(9))
    assert (merged.status, merged.extension) == (Status.MERGED, None)


def test_send_back_and_redispatch_forget_the_return():
    for command in (t.SendBack(ACK), t.Redispatch("ZZ-GJJ", (), ACK, DUE)):
        state = t.apply(_returned(), command)
        assert (state.status, state.returned_by, state.return_reason) == (
            Status.DISPATCHED,
            None,
            None,
        )


def test_sending_to_a_unit_clears_a_stale_extension_from_the_stored_row():
    # The service rebuilds the state from the stored ticket (dispatch.service.state_of): a row
    # that still holds an extension request must not carry it over to the next unit.
    stored = TicketState(
        Status.RETURNED,
        unit="ZZ-RSJ",
        acknowledge_due=ACK,
        due=DUE,
        extension=t.Extension(LATER, "核查", T0),
        returned_by="ZZ-RSJ",
        return_reason="不是我们的",
    )
    state = t.apply(stored, t.Redispatch("ZZ-GJJ", ("ZZ-CGJ",), ACK, LATER))
    assert (state.unit, state.assisting, state.due, state.extension) == (
        "ZZ-GJJ",
        ("ZZ-CGJ",),
        LATER,
        None,
    )


def test_close_and_reopen_leave_review_needed_a_real_false():
    unhappy = t.apply(replied(), t.CallBack(Resolution.UNRESOLVED, Satisfaction.UNSATISFIED))
    assert unhappy.review_needed is True
    assert t.apply(unhappy, t.Close()).review_needed is False
    reopened = t.apply(unhappy, t.Reopen("ZZ-GJJ", ("ZZ-RSJ",), ACK, LATER))
    assert reopened.review_needed is False
    assert (reopened.unit, reopened.assisting, reopened.due) == ("ZZ-GJJ", ("ZZ-RSJ",), LATER)
    assert (reopened.reply, reopened.resolution, reopened.satisfaction) == (None, None, None)


def test_overdue_is_past_the_deadline_while_a_unit_owes_the_answer():
    after = DUE + dt.timedelta(seconds=1)
    for status in Status:
        assert t.is_overdue(status, DUE, after) is (status in (Status.DISPATCHED, Status.SIGNED))
        assert t.is_overdue(status, DUE, DUE) is False
    assert t.is_overdue(Status.SIGNED, None, after) is False
    assert t.is_overdue("signed", DUE, after) is True  # the status as the row stores it
