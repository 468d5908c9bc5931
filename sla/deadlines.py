"""Work-order deadlines: when a ticket must be signed, answered, reminded, escalated, called back.

Pure: computed from the Chinese working-day calendar (sla/calendar.py) and the policy numbers
(hotline.config.Policy); the results are stored on the ticket and in its follow-up rows, never
kept only in memory.

* Processing deadline (`due`): the end of the n-th working day after the day of dispatch, n =
  the unit's `default_deadline_workdays` (policy default when unset), capped per ticket type
  (`consult_deadline_workdays`, `help_deadline_workdays`: a consultation or a plea for help is
  not worth the unit's full term). Urgent tickets: `urgent_deadline_hours` calendar hours,
  weekends and holidays included.
* Acknowledgement deadline (签收): `acknowledge_hours` working hours, counted inside office
  hours (`office_opens`-`office_closes`) of working days; urgent tickets: the same number of
  calendar hours.
* Follow-ups: `ack_overdue` at the acknowledgement deadline, `remind` (催办)
  `remind_workdays_before` working days before the deadline (urgent: `urgent_remind_share` of
  the term before it), `escalate` (督办) at the deadline, `callback_due` `callback_workdays`
  working days after the reply.

Every number named here is a field of `hotline.config.Policy`.

A year missing from the calendar data must not stop the hotline from taking tickets: the
deadline is then counted on Monday-Friday only and a warning is logged, so that the missing
State Council schedule gets added (see `WorkCalendar.missing_years`).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from hotline.policy import Policy
from hotline.localtime import SHANGHAI
from sla.calendar import CalendarYearMissing, WorkCalendar, add_workdays

log = logging.getLogger("hotline.sla.deadlines")


class FollowupKind(enum.StrEnum):
    ACK_OVERDUE = "ack_overdue"  # not signed by the acknowledgement deadline
    REMIND = "remind"  # 催办: the deadline is near
    ESCALATE = "escalate"  # 督办: the deadline has passed without a reply
    CALLBACK_DUE = "callback_due"  # the hotline owes the citizen a call back


@dataclass(frozen=True)
class Deadlines:
    calendar: WorkCalendar
    policy: Policy

    # ----------------------------------------------------------------- calendar, with fallback

    def is_workday(self, day: dt.date) -> bool:
        try:
            return self.calendar.is_workday(day)
        except CalendarYearMissing as exc:
            log.warning("%s; counting Monday-Friday as working days", exc)
            return day.weekday() < 5

    def add_workdays(self, start: dt.datetime, n: int) -> dt.datetime:
        """End of the n-th working day after the local day of `start` (see sla.calendar),
        Monday-Friday standing in for a year the calendar lacks."""
        return add_workdays(start, n, self.is_workday)

    def previous_workday(self, day: dt.date) -> dt.date:
        day -= dt.timedelta(days=1)
        while not self.is_workday(day):
            day -= dt.timedelta(days=1)
        return day

    def add_office_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """`start` plus `hours` counted only inside office hours of working days."""
        opens, closes = self.policy.office_hours
        left = dt.timedelta(hours=hours)
        moment = start.astimezone(SHANGHAI)
        while True:
            day = moment.date()
            if self.is_workday(day):
                begin = max(moment, dt.datetime.combine(day, opens, tzinfo=SHANGHAI))
                end = dt.datetime.combine(day, closes, tzinfo=SHANGHAI)
                if begin < end:
                    if begin + left <= end:
                        return begin + left
                    left -= end - begin
            moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)

    # ----------------------------------------------------------------- ticket deadlines

    def workdays_for(self, ticket_type: str, unit_workdays: int | None) -> int:
        days = unit_workdays or self.policy.default_deadline_workdays
        cap = self.type_caps.get(ticket_type)
        return min(days, cap) if cap else days

    @property
    def type_caps(self) -> dict[str, int]:
        """Shorter terms for simple requests (Policy), by the work order's type as the hotline
        names it: 咨询 (a consultation) and 求助 (a plea for help)."""
        return {
            "咨询": self.policy.consult_deadline_workdays,
            "求助": self.policy.help_deadline_workdays,
        }

    def due(
        self, start: dt.datetime, ticket_type: str, unit_workdays: int | None, urgent: bool
    ) -> dt.datetime:
        if urgent:
            return start + dt.timedelta(hours=self.policy.urgent_deadline_hours)
        return self.add_workdays(start, self.workdays_for(ticket_type, unit_workdays))

    def acknowledge_due(self, start: dt.datetime, urgent: bool) -> dt.datetime:
        if urgent:
            return start + dt.timedelta(hours=self.policy.acknowledge_hours)
        return self.add_office_hours(start, self.policy.acknowledge_hours)

    def remind_at(self, due: dt.datetime, urgent: bool) -> dt.datetime:
        if urgent:
            return due - dt.timedelta(
                hours=self.policy.urgent_deadline_hours * self.policy.urgent_remind_share
            )
        local = due.astimezone(SHANGHAI)
        day = local.date()
        for _ in range(self.policy.remind_workdays_before):
            day = self.previous_workday(day)
        return dt.datetime.combine(day, local.timetz())

    def workdays_left(self, now: dt.datetime, due: dt.datetime) -> int:
        """Working days d with today < d <= the due day (local days): 0 when due today or on
        a day off before the next working day, negative by the working days since when late."""
        a, b = now.astimezone(SHANGHAI).date(), due.astimezone(SHANGHAI).date()
        sign = 1 if a <= b else -1
        a, b = min(a, b), max(a, b)
        days = sum(
            1 for n in range(1, (b - a).days + 1) if self.is_workday(a + dt.timedelta(days=n))
        )
        return sign * days

    def callback_due(self, replied_at: dt.datetime) -> dt.datetime:
        return self.add_workdays(replied_at, self.policy.callback_workdays)

    def followups(
        self,
        *,
        awaiting_ack: dt.datetime | None,
        working_to: dt.datetime | None,
        urgent: bool,
        replied_at: dt.datetime | None,
    ) -> dict[FollowupKind, dt.datetime | None]:
        """When each follow-up should fire; None = not wanted. The caller passes only what its
        state makes pending: `awaiting_ack`, the acknowledgement deadline of a request not yet
        signed for; `working_to`, the deadline of one the unit is working on; `replied_at`, when
        the unit replied to one the hotline has not yet called back about."""
        plan: dict[FollowupKind, dt.datetime | None] = {kind: None for kind in FollowupKind}
        if awaiting_ack is not None:
            plan[FollowupKind.ACK_OVERDUE] = awaiting_ack
        if working_to is not None:
            plan[FollowupKind.REMIND] = self.remind_at(working_to, urgent)
            plan[FollowupKind.ESCALATE] = working_to
        if replied_at is not None:
            plan[FollowupKind.CALLBACK_DUE] = self.callback_due(replied_at)
        return plan
