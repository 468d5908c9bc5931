"""Every policy number the system enforces, each with its source: plain data, importing nothing
of the service (the rules in sla/ read it). Settings (hotline.config) carry one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    """Numbers the hotline is held to. Change them here (or via settings), never inline."""

    # Seed notice (the city's 12345 hotline work plan): answer within 15 s of ringing.
    service_level_seconds: int = 15
    # Seed notice: connection rate (接通率 = answered / offered) must stay above 80 %.
    connect_rate_target: float = 0.80
    # GB/T 33358-2016 (政务热线服务规范) reference: 95 % connection rate over 24 hours.
    gbt33358_connect_rate_24h: float = 0.95
    # Share of answered calls to pick up within `service_level_seconds` before the live board
    # raises an alarm (the centre's own figure; the seed notice sets only the 15 s limit).
    service_level_target: float = 0.80
    # Live alarms look at the calls that entered the queue within this many minutes, and only
    # once at least `alarm_min_offered` calls did (a single abandon is not an alarm).
    alarm_window_minutes: int = 60
    alarm_min_offered: int = 10
    # Missed calls: a number is called back up to this many times before it counts unreachable.
    callback_max_attempts: int = 3
    # Abandons at or under this many seconds may be excluded as "short abandons"; 0 = none excluded.
    short_abandon_seconds: int = 0
    # Work orders: default processing deadline in working days when a unit sets none.
    default_deadline_workdays: int = 5
    # Work orders: a dispatched ticket must be signed (签收) within this many working hours.
    acknowledge_hours: int = 2
    # Urgent tickets are due in calendar hours, not working days.
    urgent_deadline_hours: int = 24
    # Office hours of the units (Asia/Shanghai, "HH:MM"): acknowledgement hours are counted
    # inside them, on working days only (the centre's own figures, 9:00-17:00).
    office_opens: str = "09:00"
    office_closes: str = "17:00"
    # Shorter terms for simple requests, in working days: a consultation (咨询) or a plea for
    # help (求助) is not worth a unit's full term; the unit's own term applies when shorter.
    # 0 = no cap. The centre's own figures.
    consult_deadline_workdays: int = 3
    help_deadline_workdays: int = 3
    # 催办: a reminder this many working days before the deadline; urgent tickets this share
    # of their term before it (a quarter of 24 h = 6 h). The centre's own figures.
    remind_workdays_before: int = 1
    urgent_remind_share: float = 0.25
    # 回访: the hotline calls the citizen back within this many working days of the unit's
    # reply (the centre's own figure).
    callback_workdays: int = 2
    # KB articles must be updated within 1 working day of a policy change (seed notice).
    kb_update_workdays: int = 1
    # How often the follow-up pump looks for due reminders and escalations, in seconds: a
    # reminder fires at most this late (engineering choice, well inside any deadline).
    followup_pump_seconds: float = 15.0
    # 承办单位考核 (reports/): a unit's monthly score, 0-100, is the weighted mean of its rates,
    # 退单率 and 延期率 counted as 1 - rate. The seed asks units to be ranked on efficiency
    # and quality (强化对...工作效率、服务质量等情况的考核); the weights are the centre's own
    # figures and must add up to 1.
    score_weight_signed: float = 0.15  # 签收率: signed within the acknowledgement deadline
    score_weight_on_time: float = 0.30  # 按时办结率: replied by the deadline
    score_weight_returned: float = 0.10  # 退单率
    score_weight_extended: float = 0.05  # 延期率
    score_weight_resolved: float = 0.20  # 解决率 (回访: 解决)
    score_weight_satisfied: float = 0.20  # 满意率 (回访: 满意 or 基本满意)
    # Agent-first hang-ups (the seed forbids 强行挂断): the call history flags an agent who
    # ends a call within this many seconds of answering, or who ends at least this share of
    # their completed calls (over at least `agent_hangup_min_calls`) themselves. The centre's
    # own figures.
    agent_hangup_quick_seconds: int = 10
    agent_hangup_flag_share: float = 0.5
    agent_hangup_min_calls: int = 5
    # 热点诉求 (reports/hotspots): a category or district is a hot spot when, in the last
    # `hotspot_window_hours`, it has at least `hotspot_min_tickets` new tickets and at least
    # `hotspot_ratio` times its own mean over the `hotspot_baseline_days` before (a burst water
    # main is seen the same morning). The centre's own figures.
    hotspot_window_hours: int = 24
    hotspot_baseline_days: int = 28
    hotspot_min_tickets: int = 5
    hotspot_ratio: float = 3.0

    @property
    def score_weights(self) -> dict[str, float]:
        """Rate name (reports.accountability) -> its weight in a unit's score."""
        return {
            "signed": self.score_weight_signed,
            "on_time": self.score_weight_on_time,
            "returned": self.score_weight_returned,
            "extended": self.score_weight_extended,
            "resolved": self.score_weight_resolved,
            "satisfied": self.score_weight_satisfied,
        }

    @property
    def office_hours(self) -> tuple[dt.time, dt.time]:
        return dt.time.fromisoformat(self.office_opens), dt.time.fromisoformat(self.office_closes)
