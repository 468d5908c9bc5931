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
    state = t.fold([
        dispatch(assisting=("ZZ-GJJ",)),
        t.Sign("ZZ-RSJ"),
        t.Reply("ZZ-RSJ", "已核实并补发工资"),
        t.CallBack(Resolution.RESOLVED, Satisfaction.SATISFIED),
        t.Close(),
    ])
    assert state.status is Status.CLOSED
    assert state.unit == "ZZ-RSJ" and state.assisting == ("ZZ-GJJ",)
    assert state.reply == "已核实并补发工资"
    assert state.satisfaction is Satisfaction.SATISFIED and not state.review_needed


def test_created_dispatched_signed_replied_states():
    s0 = t.new_ticket()
    assert s0.status is Status.CREATED
    s1 = t.apply(s0, dispatch())
    assert (s1.status, s1.unit, s1.acknowledge_due, s1.due) == (Status.DISPATCHED, "ZZ-RSJ", ACK, DUE)
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
    for command in (t.Reply("ZZ-GJJ", "x"), t.Return("ZZ-GJJ", "不是我们的"),
                    t.RequestExtension("ZZ-GJJ", DUE + dt.timedelta(days=3), "需要现场核查", T0)):
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
        Status.RETURNED, "ZZ-RSJ", "属于公积金中心职责")
    new_due = DUE + dt.timedelta(days=2)
    state = t.apply(state, t.Redispatch("ZZ-GJJ", (), ACK + dt.timedelta(days=1), new_due))
    assert (state.status, state.unit, state.due, state.returned_by) == (
        Status.DISPATCHED, "ZZ-GJJ", new_due, None)


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
        Status.DISPATCHED, "ZZ-RSJ", DUE, new_ack)


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
        t.apply(t.apply(t.new_ticket(), dispatch()),
                t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0))


def test_a_reply_needs_text_and_ends_a_pending_extension():
    with pytest.raises(InvalidInput):
        t.apply(signed(), t.Reply("ZZ-RSJ", "   "))
    pending = t.apply(signed(), t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=3), "核查", T0))
    assert t.apply(pending, t.Reply("ZZ-RSJ", "办好了")).extension is None


@pytest.mark.parametrize("resolution,satisfaction,review", [
    (Resolution.RESOLVED, Satisfaction.SATISFIED, False),
    (Resolution.PARTLY, Satisfaction.BASIC, False),
    (Resolution.RESOLVED, Satisfaction.UNSATISFIED, True),
    (Resolution.UNRESOLVED, Satisfaction.BASIC, True),
])
def test_callback_flags_unhappy_citizens_for_review(resolution, satisfaction, review):
    state = t.apply(replied(), t.CallBack(resolution, satisfaction))
    assert state.status is Status.CALLED_BACK
    assert (state.resolution, state.satisfaction, state.review_needed) == (resolution, satisfaction, review)


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


@pytest.mark.parametrize("kind,ok_states", [
    (FollowupKind.ACK_OVERDUE, {Status.DISPATCHED}),
    (FollowupKind.REMIND, {Status.DISPATCHED, Status.SIGNED}),
    (FollowupKind.ESCALATE, {Status.DISPATCHED, Status.SIGNED}),
    (FollowupKind.CALLBACK_DUE, {Status.REPLIED}),
])
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
        t.AnswerOnSpot: t.AnswerOnSpot("KB-1"), t.Dispatch: dispatch(), t.Sign: t.Sign("ZZ-RSJ"),
        t.Return: t.Return("ZZ-RSJ", "原因"), t.Redispatch: t.Redispatch("ZZ-GJJ", (), ACK, DUE),
        t.SendBack: t.SendBack(ACK),
        t.RequestExtension: t.RequestExtension("ZZ-RSJ", DUE + dt.timedelta(days=1), "r", T0),
        t.ApproveExtension: t.ApproveExtension(None, T0), t.RefuseExtension: t.RefuseExtension(),
        t.Reply: t.Reply("ZZ-RSJ", "答复"), t.MasterReplied: t.MasterReplied("答复"),
        t.CallBack: t.CallBack(Resolution.RESOLVED, Satisfaction.SATISFIED), t.Close: t.Close(),
        t.Reopen: t.Reopen("ZZ-RSJ", (), ACK, DUE), t.Merge: t.Merge(1),
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
