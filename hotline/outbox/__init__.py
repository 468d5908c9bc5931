"""The outbox: notifications that leave the building (webhooks, SMS).

A feature that wants the outside world told calls `enqueue(session, ...)` inside the
transaction of the change that causes it: the message commits with the change or not at all,
and the feature needs neither the configuration nor the network. The `pump` role's worker
(`hotline.outbox.courier`) routes each message to the destinations configured for its event
and delivers it, with retries, a delivery log and a dead-letter state (README, "Outbox").

It lives in the kernel because every feature may write to it and features must not import
each other; it imports no feature.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.db import utcnow
from hotline.outbox.models import OutboxMessage

# What leaves the building: the events webhooks may subscribe to (settings check the names).
EVENTS: Mapping[str, str] = {
    "followup.ack_overdue": "签收超时：承办单位未在时限内签收工单",
    "followup.remind": "催办：工单临近办理时限（短信发往承办单位联系电话）",
    "followup.escalate": "督办：工单已超过办理时限",
    "followup.callback_due": "待回访：承办单位已答复，热线应回访来电人（短信告知来电人）",
}


async def enqueue(
    session: AsyncSession,
    event: str,
    key: str,
    data: Mapping[str, Any],
    *,
    sms_to: str | None = None,
    sms_text: str | None = None,
    now: dt.datetime | None = None,
) -> OutboxMessage:
    """Adds a message to the caller's transaction. `key` orders the messages of one subject
    (e.g. `ticket:<number>`); `data` must be JSON (it is the webhook body's `data`); `sms_to`
    and `sms_text`, when both given, also send a text message through the SMS gateway."""
    if event not in EVENTS:
        raise ValueError(f"outbox: unknown event {event!r}")
    message = OutboxMessage(
        event=event,
        key=key,
        data=dict(data),
        sms_to=(sms_to or None) if sms_text else None,
        sms_text=sms_text if sms_to else None,
        created_at=now or utcnow(),
    )
    session.add(message)
    return message
