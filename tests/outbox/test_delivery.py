"""Outbox delivery against a real local receiver: retries until it recovers, each message
delivered once and in order per ticket, per-destination isolation, dead letters sent again,
two workers at once (claim before act), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import AsyncIterator

import pytest
from sqlalchemy import func, select

from hotline import outbox
from hotline.db import Database
from hotline.outbox.channels import signature
from hotline.outbox.courier import Courier
from hotline.outbox.models import OutboxAttempt, OutboxDelivery
from hotline.outbox.settings import OutboxSettings, WebhookSettings
from hotline.outbox.store import OutboxStore, backoff
from tests.conftest import wait_until
from tests.outbox.conftest import SECRET, Receiver, serving, until

EVENTS = ("followup.remind", "followup.escalate", "followup.callback_due")
FAST = dict(
    backoff_base_seconds=0.05, backoff_max_seconds=0.2, poll_seconds=0.05, timeout_seconds=2.0
)


def hook(name: str, url: str, events: tuple[str, ...] = EVENTS) -> WebhookSettings:
    return WebhookSettings(name, url, SECRET, events)


async def enqueue_interleaved(
    db: Database, tickets: int, per_ticket: int, sms: bool = False
) -> None:
    """Messages of several tickets, interleaved, each in its own transaction."""
    for n in range(per_ticket):
        for t in range(tickets):
            async with db.write() as s:
                await outbox.enqueue(
                    s,
                    EVENTS[n % len(EVENTS)],
                    f"ticket:T{t}",
                    {"ticket": f"T{t}", "n": n},
                    sms_to=f"1380000000{t}" if sms else None,
                    sms_text=f"第{n}条" if sms else None,
                )


async def statuses(db: Database) -> dict[str, int]:
    async with db.read() as s:
        rows = (
            await s.execute(
                select(OutboxDelivery.status, func.count()).group_by(OutboxDelivery.status)
            )
        ).all()
    return {k: int(v) for k, v in rows}


@pytest.fixture
async def courier_factory(db: Database) -> AsyncIterator:
    started: list[Courier] = []

    async def make(settings: OutboxSettings, on: Database | None = None) -> Courier:
        courier = Courier(on or db, settings)
        await courier.start()
        started.append(courier)
        return courier

    yield make
    for courier in started:
        await courier.stop()


async def test_receiver_fails_then_recovers_every_message_once_in_order(
    db, receiver, courier_factory
):
    receiver.fail = 9
    settings = OutboxSettings(
        webhooks=(hook("city", receiver.url + "/hook"),),
        sms_gateway_url=receiver.url + "/sms",
        max_attempts=50,
        **FAST,
    )
    await enqueue_interleaved(db, tickets=3, per_ticket=5, sms=True)
    await courier_factory(settings)
    await wait_until(
        lambda: len(receiver.accepted) == 30,
        timeout=30,
        what="15 webhook calls and 15 text messages",
    )
    hooks = [e for e in receiver.accepted if e["_path"] == "/hook"]
    texts = [e for e in receiver.accepted if e["_path"] == "/sms"]
    assert receiver.refused == 9 and receiver.bad_signatures == 0
    # Exactly once: every message id once per destination.
    assert sorted(e["id"] for e in hooks) == list(range(1, 16))
    assert sorted(int(e["ref"]) for e in texts) == list(range(1, 16))
    # In order per ticket, at each destination.
    for t in range(3):
        assert [e["data"]["n"] for e in hooks if e["key"] == f"ticket:T{t}"] == list(range(5))
        assert [e["text"] for e in texts if e["to"] == f"1380000000{t}"] == [
            f"第{n}条" for n in range(5)
        ]
    first = hooks[0]
    assert first["_headers"]["X-Hotline-Event"] == first["event"]
    assert first["_headers"]["X-Hotline-Delivery"] == str(first["id"])

    async def all_delivered() -> bool:
        return await statuses(db) == {"delivered": 30}

    await until(all_delivered, what="every delivery recorded as delivered")
    async with db.read() as s:
        failed = await s.scalar(
            select(func.count()).select_from(OutboxAttempt).where(OutboxAttempt.ok.is_(False))
        )
        logged = await s.scalar(select(func.count()).select_from(OutboxAttempt))
    assert failed == 9 and logged == 39  # the delivery log holds every attempt


def test_signature_is_hmac_sha256_of_the_body():
    import hashlib
    import hmac

    body = json.dumps({"id": 1}).encode()
    assert (
        signature("k" * 16, body)
        == "sha256=" + hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()
    )


def test_backoff_grows_exponentially_is_capped_and_jittered():
    s = OutboxSettings(backoff_base_seconds=5, backoff_max_seconds=60)
    assert [backoff(a, s, rand=lambda: 1.0) for a in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert [backoff(a, s, rand=lambda: 0.0) for a in (1, 2, 3)] == [2.5, 5, 10]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_down_or_slow_webhook_blocks_nothing_else_then_dead_letters_are_sent_again(
    db, receiver, courier_factory
):
    async with serving(Receiver(delay=1.0)) as slow:
        down_url = f"http://127.0.0.1:{closed_port()}/hook"
        settings = OutboxSettings(
            webhooks=(
                hook("down", down_url),
                hook("slow", slow.url + "/hook"),
                hook("good", receiver.url + "/hook"),
            ),
            max_attempts=2,
            **{**FAST, "timeout_seconds": 0.5},
        )
        await enqueue_interleaved(db, tickets=4, per_ticket=3)
        store = OutboxStore(db, settings, lambda: dt.datetime.now(dt.timezone.utc))

        async def dead() -> int:
            return len(await store.dead_letters())

        await courier_factory(settings)
        await wait_until(
            lambda: len(receiver.accepted) == 12, timeout=10, what="the good webhook's 12 messages"
        )
        # The slow lane needs at least 3 rounds (a ticket's messages in order) of 2 attempts
        # of 0.5 s each before its last delivery dies: the good lane did not wait for it.
        assert await dead() < 24

        # A dead delivery does not hold the later ones of its ticket: all die in turn.
        async def all_dead() -> bool:
            return await dead() == 24

        await until(all_dead, what="the down and slow webhooks' deliveries dead")
        letters = await store.dead_letters()
        assert len(letters) == 24
        assert {d.destination for d in letters} == {"webhook:down", "webhook:slow"}
        assert all(d.attempts == 2 for d in letters)
        # The slow receiver got the requests but answered too late: it recovers, the
        # manager sends the dead letters again, each arrives (again) in order per ticket.
        slow.delay = 0.0
        slow.accepted.clear()
        revived = await store.retry(
            "boss", [d.delivery_id for d in letters if d.destination == "webhook:slow"]
        )
        assert len(revived) == 12
        await wait_until(
            lambda: len(slow.accepted) == 12,
            timeout=10,
            what="the slow webhook's messages sent again",
        )
        for t in range(4):
            assert [e["data"]["n"] for e in slow.accepted if e["key"] == f"ticket:T{t}"] == [
                0,
                1,
                2,
            ]
        assert len(await store.dead_letters()) == 12  # the down one's stay dead


@pytest.fixture
async def other_db(db: Database, db_template) -> AsyncIterator[Database]:
    """A second engine on the same database: what a second process would have."""
    if db.is_sqlite:
        second = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    else:
        second = Database.from_url(db_template.url, connect_args=db_template.connect_args)
    yield second
    await second.dispose()


async def test_two_workers_on_one_database_deliver_each_message_once_in_order(
    db, other_db, receiver, courier_factory
):
    receiver.fail = 5
    settings = OutboxSettings(
        webhooks=(hook("city", receiver.url + "/hook"),), max_attempts=50, concurrency=8, **FAST
    )
    await enqueue_interleaved(db, tickets=10, per_ticket=6)
    await courier_factory(settings)
    await courier_factory(settings, on=other_db)
    await wait_until(lambda: len(receiver.accepted) >= 60, timeout=30, what="60 messages")
    assert sorted(e["id"] for e in receiver.accepted) == list(range(1, 61))
    for t in range(10):
        assert [e["data"]["n"] for e in receiver.accepted if e["key"] == f"ticket:T{t}"] == list(
            range(6)
        )
