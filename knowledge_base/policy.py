"""Policy-change tracking: when a guide must be updated after a policy change (the update
deadline) and when the latest change reached the public guide."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from hotline.db import utcnow
from knowledge_base.models import Article

log = logging.getLogger("hotline.kb")


# ---------------------------------------------------------------------- update deadline


@dataclass(frozen=True, slots=True)
class UpdateDeadline:
    """The seed's rule: a guide is updated within `workdays` working days of a policy change.

    state: "on_time" / "late" once the change went live (or the article was retired);
    "pending" / "overdue" before; "unknown" when the calendar lacks the year."""

    due_at: dt.datetime | None
    state: str


def update_deadline(
    article: Article, workdays: int, now: dt.datetime | None = None
) -> UpdateDeadline | None:
    if article.policy_changed_at is None:
        return None
    from sla.calendar import CalendarYearMissing, WorkCalendar

    try:
        due = WorkCalendar.default().add_workdays(article.policy_changed_at, workdays)
    except CalendarYearMissing as exc:
        log.warning("article %s: no update deadline: %s", article.id, exc)
        return UpdateDeadline(None, "unknown")
    done = article.policy_published_at
    if done is not None:
        return UpdateDeadline(due, "late" if done > due else "on_time")
    return UpdateDeadline(due, "overdue" if (now or utcnow()) > due else "pending")


def track_policy(
    article: Article, previous_policy: dt.datetime | None, responded: bool, now: dt.datetime
) -> None:
    """Track when the latest policy change reached the public guide (or retired it)."""
    if article.policy_changed_at != previous_policy:
        article.policy_published_at = None
    if responded and article.policy_changed_at is not None and article.policy_published_at is None:
        article.policy_published_at = now
