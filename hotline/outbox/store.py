"""The outbox's transactions: routing messages to destinations, claiming due deliveries
(claim before act), recording each attempt, and the dead letters managers send again.

Claims: PostgreSQL `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`, so
two workers never take the same delivery; SQLite: `Database.write()` starts with BEGIN
IMMEDIATE, one writer at a time, and the same UPDATE ... RETURNING claims. A claim is a lease:
a worker that dies mid-send leaves `sending` rows whose lease runs out, and they are claimed
again (a receiver drops a repeat by the message id).

Order: a delivery is claimable only while no earlier message of its key to its destination is
pending or sending, so one destination gets one subject's messages one at a time, in order.
A dead delivery no longer holds the ones after it (a poison message must not stop a ticket's
later notices); sent again by a manager, it arrives late.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, cast

from sqlalchemy import Table, and_, exists, func, or_, select, text, update
from sqlalchemy.orm import aliased

from hotline import audit
from hotline.db import Database
from hotline.localtime import iso
from hotline.outbox.channels import Letter, Outcome
from hotline.outbox.models import (
    DEAD,
    DELIVERED,
    PENDING,
    SENDING,
    OutboxAttempt,
    OutboxDelivery,
    OutboxMessage,
)
from hotline.outbox.settings import OutboxSettings

SMS = "sms"
ROUTE_BATCH = 500
# PostgreSQL: routers of several processes take turns (routing is short), so a subject's
# deliveries are created in message order.
_ROUTE_LOCK = 0x12345_0B0


def webhook_destination(name: str) -> str:
    return f"webhook:{name}"


def destinations(settings: OutboxSettings, event: str, has_sms: bool) -> list[str]:
    out = [webhook_destination(w.name) for w in settings.webhooks if event in w.events]
    if has_sms and settings.sms_gateway_url:
        out.append(SMS)
    return out


def backoff(
    attempt: int, settings: OutboxSettings, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next attempt after `attempt` failed ones: exponential, capped, and
    the second half of it random (workers that failed together do not retry together)."""
    delay = min(
        settings.backoff_max_seconds, settings.backoff_base_seconds * 2.0 ** max(0, attempt - 1)
    )
    return float(delay / 2 + rand() * delay / 2)


@dataclass(frozen=True)
class DeadLetter:
    delivery_id: int
    message_id: int
    destination: str
    event: str
    key: str
    summary: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    dead_at: dt.datetime | None


class OutboxStore:
    def __init__(
        self, db: Database, settings: OutboxSettings, clock: Callable[[], dt.datetime]
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    async def route(self) -> int:
        """Creates the deliveries of messages not yet routed; returns how many messages."""
        now = self.clock()
        # Idle workers look with a read: a write transaction (SQLite's write lock) only when
        # there is something to route.
        async with self.db.read() as s:
            if (
                await s.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.routed_at.is_(None)).limit(1)
                )
                is None
            ):
                return 0
        async with self.db.write() as s:
            if not self.db.is_sqlite:
                await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ROUTE_LOCK})
            messages = (
                await s.execute(
                    select(
                        OutboxMessage.id,
                        OutboxMessage.event,
                        OutboxMessage.key,
                        OutboxMessage.sms_to,
                    )
                    .where(OutboxMessage.routed_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(ROUTE_BATCH)
                )
            ).all()
            for m in messages:
                for destination in destinations(self.settings, m.event, bool(m.sms_to)):
                    s.add(
                        OutboxDelivery(
                            message_id=m.id,
                            destination=destination,
                            key=m.key,
                            status=PENDING,
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            if messages:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([m.id for m in messages]))
                    .values(routed_at=now)
                )
        return len(messages)

    async def claim(self, destination: str, limit: int) -> list[Letter]:
        """Takes up to `limit` due deliveries to `destination`, at most one per key, each the
        earliest open one of its key, for the lease of one attempt."""
        now = self.clock()
        d = OutboxDelivery
        due_now = or_(
            and_(d.status == PENDING, d.next_attempt_at <= now),
            and_(d.status == SENDING, d.lease_until < now),
        )
        async with self.db.read() as s:
            if (
                await s.scalar(select(d.id).where(d.destination == destination, due_now).limit(1))
                is None
            ):
                return []
        earlier = aliased(OutboxDelivery)
        blocked = exists().where(
            earlier.destination == d.destination,
            earlier.key == d.key,
            earlier.message_id < d.message_id,
            earlier.status.in_((PENDING, SENDING)),
        )
        due = (
            select(d.id)
            .where(d.destination == destination, due_now, ~blocked)
            .order_by(d.message_id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True, of=d.__table__)
        table = cast(Table, d.__table__)
        lease = now + dt.timedelta(seconds=self.settings.timeout_seconds + 30)
        async with self.db.write() as s:
            claimed = (
                await s.execute(
                    update(table)
                    .where(table.c.id.in_(due.scalar_subquery()))
                    .values(status=SENDING, lease_until=lease, attempts=table.c.attempts + 1)
                    .returning(table.c.id, table.c.message_id, table.c.attempts)
                )
            ).all()
            if not claimed:
                return []
            messages = {
                m.id: m
                for m in await s.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.id.in_([c.message_id for c in claimed])
                    )
                )
            }
        letters = []
        for c in sorted(claimed, key=lambda c: c.message_id):
            m = messages[c.message_id]
            letters.append(
                Letter(
                    c.id,
                    m.id,
                    destination,
                    c.attempts,
                    m.event,
                    m.key,
                    dict(m.data or {}),
                    iso(m.created_at) or "",
                    m.sms_to,
                    m.sms_text,
                )
            )
        return letters

    async def record(self, letter: Letter, outcome: Outcome) -> str:
        """Logs the attempt and moves the delivery on: delivered, due again after a backoff,
        or dead after the last attempt. Returns the new status."""
        now = self.clock()
        values: dict[str, Any]
        if outcome.ok:
            status, values = DELIVERED, {"delivered_at": now, "last_error": None}
        elif letter.attempt >= self.settings.max_attempts:
            status, values = DEAD, {"dead_at": now, "last_error": outcome.error}
        else:
            wait = dt.timedelta(seconds=backoff(letter.attempt, self.settings))
            status, values = PENDING, {"next_attempt_at": now + wait, "last_error": outcome.error}
        async with self.db.write() as s:
            s.add(
                OutboxAttempt(
                    delivery_id=letter.delivery_id,
                    attempt=letter.attempt,
                    at=now,
                    ok=outcome.ok,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            # Only while our lease holds the row: a row reclaimed after an expired lease
            # belongs to its new attempt.
            await s.execute(
                update(OutboxDelivery)
                .where(
                    OutboxDelivery.id == letter.delivery_id,
                    OutboxDelivery.status == SENDING,
                    OutboxDelivery.attempts == letter.attempt,
                )
                .values(status=status, lease_until=None, **values)
            )
        return status

    async def next_due(self, destination: str) -> dt.datetime | None:
        async with self.db.read() as s:
            return await s.scalar(
                select(func.min(OutboxDelivery.next_attempt_at)).where(
                    OutboxDelivery.destination == destination, OutboxDelivery.status == PENDING
                )
            )

    # --- dead letters ---------------------------------------------------------------------

    async def dead_letters(self, limit: int = 200) -> list[DeadLetter]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(OutboxDelivery, OutboxMessage)
                    .join(OutboxMessage, OutboxMessage.id == OutboxDelivery.message_id)
                    .where(OutboxDelivery.status == DEAD)
                    .order_by(OutboxDelivery.dead_at.desc(), OutboxDelivery.id.desc())
                    .limit(limit)
                )
            ).all()
        return [
            DeadLetter(
                d.id,
                m.id,
                d.destination,
                m.event,
                m.key,
                _summary(m),
                d.attempts,
                d.last_error,
                m.created_at,
                d.dead_at,
            )
            for d, m in rows
        ]

    async def retry(self, actor: str, delivery_ids: Sequence[int]) -> list[int]:
        """Sends dead deliveries again (a fresh set of attempts, now); returns those that were
        dead. The attempts already made stay in the log."""
        now = self.clock()
        async with self.db.write() as s:
            revived = list(
                await s.scalars(
                    update(OutboxDelivery)
                    .where(OutboxDelivery.id.in_(list(delivery_ids)), OutboxDelivery.status == DEAD)
                    .values(
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        dead_at=None,
                        lease_until=None,
                    )
                    .returning(OutboxDelivery.id)
                )
            )
            for delivery_id in sorted(revived):
                audit.record(s, actor, "outbox.retry", "outbox_delivery", delivery_id)
        return sorted(revived)

    async def counts(self) -> dict[str, int]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(OutboxDelivery.status, func.count()).group_by(OutboxDelivery.status)
                )
            ).all()
        return {status: int(n) for status, n in rows}

    async def attempts(self, delivery_ids: Iterable[int]) -> dict[int, list[OutboxAttempt]]:
        out: dict[int, list[OutboxAttempt]] = {}
        async with self.db.read() as s:
            for a in await s.scalars(
                select(OutboxAttempt)
                .where(OutboxAttempt.delivery_id.in_(list(delivery_ids)))
                .order_by(OutboxAttempt.id)
            ):
                out.setdefault(a.delivery_id, []).append(a)
        return out


def _summary(m: OutboxMessage) -> str:
    data = m.data or {}
    text_ = m.sms_text or str(data.get("message") or "")
    return text_[:120]
