"""Follow-ups (催办, 督办, 签收超时, 待回访): rows of our own table, and the pump that acts on them.

Measured here (the shared folder's LIBRARIES.md): an APScheduler job store must not be shared between
processes, and its default misfire grace silently drops jobs due while the process was down.
So the deadlines are rows in `followups`, written by `sync()` in the same transaction as the
ticket change that sets them (one row per ticket and kind). Each process runs one APScheduler
interval job with an in-memory store, the pump, which claims due rows atomically and acts on
them in the claiming transaction: a ticket event and a notification keyed by the follow-up id.
Each tick also looks up the earliest pending deadline and, when it comes before the next
interval tick, adds a one-shot tick at that moment, so a deadline is acted on when it passes
(benchmarks/followups.py: a burst of 10,000 due in one minute) rather than up to an interval
late; the interval tick remains for rows other processes write.

* PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE OF followups, tickets SKIP
  LOCKED) RETURNING`: two pumps never take the same row, and a pump never waits for a ticket a
  user is changing (it skips it until the next tick), so it cannot deadlock with one.
* SQLite: the transaction starts with BEGIN IMMEDIATE (`Database.write()`), so claims are
  serialised by the database write lock; the same UPDATE ... RETURNING then claims.

A row due while no process ran is simply due: the first pump to start claims it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable, cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import tickets as domain
from dispatch.models import Followup, Notification, Ticket, TicketEvent
from dispatch.tickets import Status
from hotline import outbox
from hotline.directory.models import Unit
from hotline.policy import Policy
from hotline.db import Database, utcnow
from hotline.localtime import fmt, iso
from sla.deadlines import Deadlines, FollowupKind

log = logging.getLogger("hotline.dispatch.followups")

SYSTEM = "system"
CANCELLED, NOTIFIED, MOOT, FAILED = "cancelled", "notified", "moot", "failed"
WAKE_JOB = "followup-pump-due"
LOCKED_RETRY_S = 0.05


# --- writing follow-ups with the ticket ----------------------------------------------------------


def plan(
    deadlines: Deadlines,
    status: Status,
    acknowledge_due: dt.datetime | None,
    due: dt.datetime | None,
    urgent: bool,
    replied_at: dt.datetime | None,
) -> dict[FollowupKind, dt.datetime | None]:
    """When each follow-up of a ticket in `status` fires (None: not wanted): signing is awaited
    while dispatched, the unit works to its deadline until it replies, and a reply waits for
    the hotline's call back. The times are sla's (Deadlines.followups)."""
    return deadlines.followups(
        awaiting_ack=acknowledge_due if status is Status.DISPATCHED else None,
        working_to=due if status in (Status.DISPATCHED, Status.SIGNED) else None,
        urgent=urgent,
        replied_at=replied_at if status is Status.REPLIED else None,
    )


async def sync(
    s: AsyncSession, ticket: Ticket, now: dt.datetime, deadlines: Deadlines, fresh: bool = False
) -> None:
    """Make the ticket's follow-up rows match its state; call in the ticket's transaction
    (`fresh`: inserted in it, so it has no rows yet and none are read).

    A row whose deadline did not change is kept, whether it fired already or not (so a ticket
    is reminded once per deadline). A moved deadline replaces the row: a new id, which fires
    anew. Follow-ups the state no longer wants are cancelled, not deleted (they are evidence).
    """
    wanted = plan(
        deadlines,
        Status(ticket.status),
        ticket.acknowledge_due,
        ticket.due,
        ticket.urgency == "urgent",
        ticket.replied_at,
    )
    rows = (
        {}
        if fresh
        else {
            f.kind: f
            for f in await s.scalars(select(Followup).where(Followup.ticket_id == ticket.id))
        }
    )
    for kind, due_at in wanted.items():
        row = rows.get(kind.value)
        if due_at is None:
            if row is not None and row.done_at is None:
                row.done_at, row.outcome = now, CANCELLED
            continue
        if row is not None and row.due_at == due_at and row.outcome != CANCELLED:
            continue
        if row is not None:
            await s.delete(row)
            await s.flush()  # the (ticket, kind) key must be free before the new row
        s.add(Followup(ticket_id=ticket.id, kind=kind.value, due_at=due_at, created_at=now))


# --- what a fired follow-up says --------------------------------------------------------------------


def _local(moment: dt.datetime | None) -> str:
    return fmt(moment) or "-"


def message(kind: FollowupKind, ticket: Ticket) -> str:
    n = ticket.number
    if kind is FollowupKind.ACK_OVERDUE:
        return f"工单 {n} 已超过签收时限（{_local(ticket.acknowledge_due)}），请立即签收。"
    if kind is FollowupKind.REMIND:
        return f"催办：工单 {n} 将于 {_local(ticket.due)} 到期，请抓紧办理并答复。"
    if kind is FollowupKind.ESCALATE:
        return f"督办：工单 {n} 已超过办理时限（{_local(ticket.due)}），请立即办理并说明原因。"
    return f"工单 {n} 已答复，请及时回访来电人。"


def callback_notice(ticket: Ticket) -> str:
    """The text message telling the citizen the unit replied and the hotline will call back."""
    return (
        f"【12345热线】您反映的问题（工单 {ticket.number}）承办单位已答复，"
        "我们将尽快回访您，请留意来电。"
    )


async def _send_out(
    s: AsyncSession,
    kind: FollowupKind,
    ticket: Ticket,
    text: str,
    followup_id: int,
    now: dt.datetime,
) -> None:
    """The outbox message of a fired follow-up, in its transaction (hotline.outbox): every
    kind to the webhooks subscribed to it; 催办 also by SMS to the unit's contact number, and
    待回访 by SMS to the citizen (the 回访 notice). Webhooks get no caller data."""
    sms_to = sms_text = None
    if kind is FollowupKind.REMIND and ticket.main_unit_code:
        unit = await s.get(Unit, ticket.main_unit_code)
        sms_to, sms_text = (unit.contact if unit else None), text
    elif kind is FollowupKind.CALLBACK_DUE:
        sms_to, sms_text = ticket.caller_phone, callback_notice(ticket)
    await outbox.enqueue(
        s,
        f"followup.{kind.value}",
        f"ticket:{ticket.number}",
        {
            "ticket": ticket.number,
            "kind": kind.value,
            "message": text,
            "unit_code": recipient(kind, ticket),
            "status": ticket.status,
            "due": iso(ticket.due),
            "followup_id": followup_id,
        },
        sms_to=sms_to,
        sms_text=sms_text,
        now=now,
    )


def recipient(kind: FollowupKind, ticket: Ticket) -> str | None:
    """The unit told; None = the hotline itself (managers, agents' call-back list)."""
    return None if kind is FollowupKind.CALLBACK_DUE else ticket.main_unit_code


# --- the pump -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    ticket_id: int
    kind: FollowupKind


def _claim_statement(now: dt.datetime, limit: int, postgres: bool, only: int | None = None):
    due = (
        select(Followup.id)
        .join(Ticket, Ticket.id == Followup.ticket_id)
        .where(Followup.done_at.is_(None), Followup.claimed_at.is_(None), Followup.due_at <= now)
        .order_by(Followup.due_at, Followup.id)
        .limit(limit)
    )
    if only is not None:
        due = due.where(Followup.id == only)
    if postgres:
        due = due.with_for_update(skip_locked=True, of=[Followup.__table__, Ticket.__table__])
    # A mapped class's __table__ is typed as a FromClause; Followup's is its Table.
    table = cast(Table, Followup.__table__)
    return (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(claimed_at=now)
        .returning(table.c.id, table.c.ticket_id, table.c.kind)
    )


class FollowupPump:
    """Claims due follow-ups and acts on them. `run_once` is one tick; `start`/`stop` run it
    every `interval` seconds from one APScheduler job (in-memory store, one per process)."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = Policy().followup_pump_seconds,
        batch: int = 100,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.interval = interval
        self.batch = batch
        self.clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self._tick_lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Processes every follow-up due now, a batch per transaction; returns how many."""
        total = 0
        while True:
            try:
                done = await self._claim_and_act(self.batch)
            except Exception:
                log.exception("follow-up batch failed; retrying its rows one by one")
                done = await self._isolate_failures()
                if done == 0:
                    return total
            total += done
            if done < self.batch:
                return total

    async def _claim_and_act(self, limit: int, only: int | None = None) -> int:
        now = self.clock()
        async with self.db.write() as s:
            rows = (
                await s.execute(_claim_statement(now, limit, not self.db.is_sqlite, only))
            ).all()
            # The batch's tickets in one query (their rows stay in the session for _act),
            # and the outcomes in one UPDATE each: a burst is bound by round trips.
            if rows:
                tickets = {r.ticket_id for r in rows}
                (await s.scalars(select(Ticket).where(Ticket.id.in_(tickets)))).all()
            outcomes: dict[str, list[int]] = {}
            for row in rows:
                claimed = Claimed(row.id, row.ticket_id, FollowupKind(row.kind))
                outcomes.setdefault(await self._act(s, claimed, now), []).append(row.id)
            for outcome, ids in outcomes.items():
                await s.execute(
                    update(Followup)
                    .where(Followup.id.in_(ids))
                    .values(done_at=now, outcome=outcome)
                )
        return len(rows)

    async def next_due(self) -> dt.datetime | None:
        """When the earliest follow-up not yet claimed falls due (None: there is none)."""
        async with self.db.read() as s:
            return await s.scalar(
                select(Followup.due_at)
                .where(Followup.done_at.is_(None), Followup.claimed_at.is_(None))
                .order_by(Followup.due_at)
                .limit(1)
            )

    async def _isolate_failures(self) -> int:
        """One bad row must not stop every other follow-up: retry singly, park the failures."""
        now = self.clock()
        async with self.db.read() as s:
            ids = list(
                await s.scalars(
                    select(Followup.id)
                    .where(
                        Followup.done_at.is_(None),
                        Followup.claimed_at.is_(None),
                        Followup.due_at <= now,
                    )
                    .order_by(Followup.due_at, Followup.id)
                    .limit(self.batch)
                )
            )
        done = 0
        for followup_id in ids:
            try:
                done += await self._claim_and_act(1, only=followup_id)
            except Exception:
                log.exception("follow-up %s failed; parked (claimed, not done)", followup_id)
                async with self.db.write() as s:
                    await s.execute(
                        update(Followup)
                        .where(Followup.id == followup_id)
                        .values(claimed_at=now, outcome=FAILED)
                    )
                done += 1
        return done

    async def _act(self, s: AsyncSession, claimed: Claimed, now: dt.datetime) -> str:
        """Acts on a claimed follow-up in the claiming transaction; returns its outcome (the
        caller records it on the row)."""
        ticket = await s.get(Ticket, claimed.ticket_id)
        assert ticket is not None  # foreign key
        status = Status(ticket.status)
        outcome = NOTIFIED
        try:
            domain.apply(domain.TicketState(status), domain.Supervise(claimed.kind))
        except domain.IllegalTransition:
            outcome = MOOT  # the ticket moved on; sync() normally cancels such rows first
        if outcome == NOTIFIED:
            text = message(claimed.kind, ticket)
            s.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    at=now,
                    actor=SYSTEM,
                    action=claimed.kind.value,
                    from_status=status.value,
                    to_status=status.value,
                    note=text,
                    detail={"followup_id": claimed.id},
                )
            )
            s.add(
                Notification(
                    followup_id=claimed.id,
                    unit_code=recipient(claimed.kind, ticket),
                    ticket_id=ticket.id,
                    kind=claimed.kind.value,
                    message=text,
                    created_at=now,
                )
            )
            await _send_out(s, claimed.kind, ticket, text, claimed.id, now)
        return outcome

    # --- scheduling -----------------------------------------------------------------------------

    async def _tick(self) -> None:
        if self._tick_lock.locked():
            return  # the running tick schedules the next wake when it ends
        async with self._tick_lock:
            try:
                count = await self.run_once()
                due = await self.next_due()
            except Exception:  # logged, and the next tick tries again
                log.exception("follow-up pump tick failed")
                return
            except asyncio.CancelledError:
                # The process is stopping (its loop cancels what still runs): the tick's
                # transaction rolled back, its rows stay due for the next start.
                log.info("follow-up pump tick cancelled by shutdown; nothing was lost")
                return
            if count:
                log.info("follow-ups processed: %d", count)
        self._wake_at(due, idle=count == 0)

    def _wake_at(self, due: dt.datetime | None, idle: bool = False) -> None:
        """A follow-up due before the next interval tick gets a tick of its own at its time
        (one-shot job, replaced by each tick): a deadline is acted on when it passes, not up to
        an interval later. The interval tick still finds rows other processes add."""
        if self._scheduler is None or due is None:
            return
        delay = (due - self.clock()).total_seconds()
        if idle and delay <= 0:
            # Due, yet this tick claimed nothing: its rows are locked (another pump's claim
            # not yet committed, a ticket being changed). Not again at once: that would spin.
            delay = LOCKED_RETRY_S
        if delay >= self.interval:
            return
        self._scheduler.add_job(
            self._tick,
            "date",
            run_date=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=max(delay, 0)),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            # It is replaced from within its own run (this tick): the replacement must not be
            # skipped as a second instance of it; _tick_lock keeps ticks apart.
            max_instances=2,
        )

    def start(self) -> None:
        # APScheduler logs every run and every added job at INFO: with a tick per deadline,
        # a burst of deadlines would fill the log with them. Only this module uses it.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
        # First tick right away: rows that fell due while the process was down are due now.
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.interval,
            id="followup-pump",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=dt.datetime.now(dt.timezone.utc),
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            # No new tick; a running one finishes its transaction before the scheduler goes
            # (APScheduler's shutdown cancels the coroutines it is still running).
            self._scheduler.pause()
            async with self._tick_lock:
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
