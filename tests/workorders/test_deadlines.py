"""Deadlines on the Chinese working-day calendar (sla/deadlines.py)."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from dispatch.followups import plan as plan_for
from dispatch.tickets import Status, TicketType
from sla.deadlines import FollowupKind
from hotline.config import Policy
from sla.calendar import SHANGHAI, WorkCalendar
from sla.deadlines import Deadlines


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def deadlines() -> Deadlines:
    return Deadlines(WorkCalendar.default(), Policy())


def test_due_counts_working_days_of_the_unit_from_the_day_after(deadlines):
    monday = local(2026, 11, 23, 10, 0)
    assert deadlines.due(monday, TicketType.COMPLAINT, 10, urgent=False) == local(
        2026, 12, 7, 23, 59, 59
    )
    assert deadlines.due(monday, TicketType.COMPLAINT, 5, urgent=False) == local(
        2026, 11, 30, 23, 59, 59
    )
    # No unit default: the policy's 5 working days.
    assert deadlines.due(monday, TicketType.COMPLAINT, None, urgent=False) == local(
        2026, 11, 30, 23, 59, 59
    )


def test_consultations_and_pleas_for_help_are_capped_at_three_working_days(deadlines):
    monday = local(2026, 11, 23, 10, 0)
    assert deadlines.due(monday, TicketType.CONSULT, 10, urgent=False) == local(
        2026, 11, 26, 23, 59, 59
    )
    assert deadlines.due(monday, TicketType.HELP, 2, urgent=False) == local(
        2026, 11, 25, 23, 59, 59
    )


def test_spring_festival_and_make_up_working_days(deadlines):
    # 2026-02-14 is a make-up working day (Saturday); the festival runs 02-15 .. 02-23.
    assert deadlines.due(local(2026, 2, 13, 15, 0), TicketType.COMPLAINT, 5, False) == local(
        2026, 2, 27, 23, 59, 59
    )


def test_urgent_tickets_run_on_calendar_hours(deadlines):
    friday_night = local(2026, 11, 27, 22, 0)
    assert deadlines.due(
        friday_night, TicketType.HELP, 10, urgent=True
    ) == friday_night + dt.timedelta(hours=24)
    assert deadlines.acknowledge_due(friday_night, urgent=True) == friday_night + dt.timedelta(
        hours=2
    )


def test_acknowledgement_counts_office_hours_of_working_days(deadlines):
    assert deadlines.acknowledge_due(local(2026, 11, 23, 10, 0), False) == local(
        2026, 11, 23, 12, 0
    )
    assert deadlines.acknowledge_due(local(2026, 11, 23, 7, 30), False) == local(
        2026, 11, 23, 11, 0
    )
    # Friday 16:30: half an hour on Friday, the rest on Monday morning.
    assert deadlines.acknowledge_due(local(2026, 11, 27, 16, 30), False) == local(
        2026, 11, 30, 10, 30
    )
    assert deadlines.acknowledge_due(local(2026, 11, 28, 11, 0), False) == local(
        2026, 11, 30, 11, 0
    )


def test_follow_up_plan_per_state(deadlines):
    due = local(2026, 12, 7, 23, 59, 59)
    ack = local(2026, 11, 23, 12, 0)
    plan = plan_for(deadlines, Status.DISPATCHED, ack, due, False, None)
    assert plan == {
        FollowupKind.ACK_OVERDUE: ack,
        FollowupKind.REMIND: local(2026, 12, 4, 23, 59, 59),
        FollowupKind.ESCALATE: due,
        FollowupKind.CALLBACK_DUE: None,
    }
    signed = plan_for(deadlines, Status.SIGNED, ack, due, False, None)
    assert signed[FollowupKind.ACK_OVERDUE] is None and signed[FollowupKind.ESCALATE] == due
    replied = plan_for(deadlines, Status.REPLIED, ack, due, False, local(2026, 11, 27, 15, 0))
    assert replied == {
        FollowupKind.ACK_OVERDUE: None,
        FollowupKind.REMIND: None,
        FollowupKind.ESCALATE: None,
        FollowupKind.CALLBACK_DUE: local(2026, 12, 1, 23, 59, 59),
    }
    for status in (
        Status.CREATED,
        Status.RETURNED,
        Status.CLOSED,
        Status.MERGED,
        Status.CALLED_BACK,
    ):
        assert set(plan_for(deadlines, status, ack, due, False, None).values()) == {None}


def test_urgent_reminder_a_quarter_of_the_term_before(deadlines):
    due = local(2026, 11, 28, 22, 0)
    assert deadlines.remind_at(due, urgent=True) == due - dt.timedelta(hours=6)


def test_a_year_missing_from_the_calendar_falls_back_to_weekdays_with_a_warning(deadlines, caplog):
    with caplog.at_level(logging.WARNING, logger="hotline.sla.deadlines"):
        due = deadlines.due(local(2026, 12, 30, 10, 0), TicketType.COMPLAINT, 5, False)
    assert due == local(2027, 1, 6, 23, 59, 59)
    assert "2027" in caplog.text


@pytest.fixture
def server_time_zone(monkeypatch):
    """Run the host in another time zone: deadlines are Zhengzhou's whatever the server's."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Honolulu"])
def test_deadlines_count_shanghai_days_whatever_the_servers_time_zone(
    deadlines, server_time_zone, zone
):
    server_time_zone(zone)
    # Monday 07:30 in Zhengzhou is still Sunday in UTC and in Honolulu.
    monday_early = local(2026, 11, 23, 7, 30)
    assert deadlines.due(monday_early, TicketType.COMPLAINT, 5, False) == local(
        2026, 11, 30, 23, 59, 59
    )
    # Monday 10:00 is Sunday 16:00 in Honolulu: the two office hours are still Monday's.
    assert deadlines.acknowledge_due(local(2026, 11, 23, 10, 0), False) == local(
        2026, 11, 23, 12, 0
    )
    # A deadline on Tuesday morning (a manager's date) is reminded on Monday, same hour.
    assert deadlines.remind_at(local(2026, 12, 1, 7, 0), urgent=False) == local(2026, 11, 30, 7, 0)


def test_remind_one_working_day_before_over_weekends(deadlines):
    assert deadlines.remind_at(local(2026, 12, 1, 23, 59, 59), False) == local(
        2026, 11, 30, 23, 59, 59
    )
    # A deadline that falls on a Sunday (set by hand): the working day before it is Friday.
    assert deadlines.remind_at(local(2026, 11, 29, 18, 0), False) == local(2026, 11, 27, 18, 0)


def test_acknowledgement_may_end_exactly_at_closing_time(deadlines):
    assert deadlines.acknowledge_due(local(2026, 11, 23, 15, 0), False) == local(
        2026, 11, 23, 17, 0
    )
    # One minute on Monday, the other 1 h 59 on Tuesday from 09:00.
    assert deadlines.acknowledge_due(local(2026, 11, 23, 16, 59), False) == local(
        2026, 11, 24, 10, 59
    )


def test_office_hours_end_at_17_so_counting_from_17_starts_next_morning():
    # Office hours are [09:00, 17:00): even a zero-hour policy is due at the next opening.
    zero = Deadlines(WorkCalendar.default(), Policy(acknowledge_hours=0))
    assert zero.acknowledge_due(local(2026, 11, 23, 17, 0), False) == local(2026, 11, 24, 9, 0)
    assert zero.acknowledge_due(local(2026, 11, 23, 16, 0), False) == local(2026, 11, 23, 16, 0)


def test_terms_caps_reminders_and_call_backs_follow_the_policy():
    policy = Policy(
        office_opens="08:30",
        office_closes="12:00",
        consult_deadline_workdays=0,
        help_deadline_workdays=1,
        remind_workdays_before=2,
        urgent_remind_share=0.5,
        callback_workdays=1,
    )
    custom = Deadlines(WorkCalendar.default(), policy)
    monday = local(2026, 11, 23, 10, 0)
    assert custom.acknowledge_due(local(2026, 11, 23, 11, 0), False) == local(2026, 11, 24, 9, 30)
    assert custom.due(monday, TicketType.CONSULT, 10, False) == local(
        2026, 12, 7, 23, 59, 59
    )  # 0: no cap
    assert custom.due(monday, TicketType.HELP, 10, False) == local(2026, 11, 24, 23, 59, 59)
    assert custom.remind_at(local(2026, 12, 1, 23, 59, 59), False) == local(
        2026, 11, 27, 23, 59, 59
    )
    assert custom.remind_at(monday, True) == monday - dt.timedelta(hours=12)
    assert custom.callback_due(monday) == local(2026, 11, 24, 23, 59, 59)


def test_follow_up_plan_of_an_urgent_ticket(deadlines):
    start = local(2026, 11, 27, 22, 0)
    due = deadlines.due(start, TicketType.HELP, None, urgent=True)
    ack = deadlines.acknowledge_due(start, urgent=True)
    plan = plan_for(deadlines, Status.DISPATCHED, ack, due, True, None)
    assert plan == {
        FollowupKind.ACK_OVERDUE: start + dt.timedelta(hours=2),
        FollowupKind.REMIND: start + dt.timedelta(hours=18),
        FollowupKind.ESCALATE: start + dt.timedelta(hours=24),
        FollowupKind.CALLBACK_DUE: None,
    }


def test_a_call_back_is_planned_only_once_replied(deadlines):
    due = local(2026, 12, 7, 23, 59, 59)
    replied_at = local(2026, 11, 27, 15, 0)
    for status in (Status.SIGNED, Status.CALLED_BACK, Status.CLOSED):
        assert (
            plan_for(deadlines, status, None, due, False, replied_at)[FollowupKind.CALLBACK_DUE]
            is None
        )
    assert (
        plan_for(deadlines, Status.REPLIED, None, None, False, None)[FollowupKind.CALLBACK_DUE]
        is None
    )


def test_the_missing_year_warning_says_what_is_assumed(deadlines, caplog):
    with caplog.at_level(logging.WARNING, logger="hotline.sla.deadlines"):
        deadlines.is_workday(dt.date(2027, 3, 1))
    [record] = caplog.records
    message = record.getMessage()
    assert message.startswith("the working-day calendar has no data for 2027")
    assert message.endswith("; counting Monday-Friday as working days")


@pytest.mark.parametrize(
    "now,due,left",
    [
        ((2026, 11, 20, 9), (2026, 11, 20, 23), 0),  # due today (a Friday)
        ((2026, 11, 20, 9), (2026, 11, 23, 23), 1),  # the weekend does not count
        ((2026, 11, 21, 9), (2026, 11, 23, 23), 1),  # from a Saturday
        ((2026, 11, 23, 9), (2026, 11, 20, 23), -1),  # late by Monday only
        (
            (2026, 9, 30, 9),
            (2026, 10, 10, 23),
            3,
        ),  # 国庆 Oct 1-7 off; Saturday the 10th is 调休 work
    ],
)
def test_working_days_left_before_a_deadline(deadlines, now, due, left):
    at = lambda y, m, d, h: dt.datetime(y, m, d, h, tzinfo=SHANGHAI)  # noqa: E731
    assert deadlines.workdays_left(at(*now), at(*due)) == left
