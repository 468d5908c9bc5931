"""Fired follow-ups leave the building: the pump writes their outbox message in its claiming
transaction, and the delivery worker sends the unit's 催办 (webhook and SMS to the unit's
contact number) and the citizen's 回访 notice (SMS) to a real local receiver."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from dispatch.followups import FollowupPump
from hotline.outbox.courier import Courier
from hotline.outbox.models import OutboxMessage
from hotline.outbox.settings import OutboxSettings, WebhookSettings
from tests.conftest import shared_path, wait_until
from tests.outbox.conftest import SECRET, receiver  # noqa: F401 (fixture)

from .conftest import AGENT, RSJ, wages_ticket


def unit_contact(code: str) -> str:
    units = json.loads(shared_path("units", "units.json").read_text(encoding="utf-8"))
    return next(u["contact"] for u in units if u["code"] == code)


async def messages(db) -> list[OutboxMessage]:
    async with db.read() as s:
        return list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_fired_follow_ups_are_sent_to_the_webhook_and_by_sms(service, db, clock, receiver):
    view = await service.create(AGENT, wages_ticket())
    number = view.ticket.number
    pump = FollowupPump(db, clock=clock)
    await service.sign(RSJ, number)
    clock.now = view.ticket.due + dt.timedelta(minutes=1)
    assert await pump.run_once() == 2  # 催办 and 督办, in the claiming transaction
    await service.reply(RSJ, number, "已督促公司支付拖欠工资")
    clock.advance(days=10)
    assert await pump.run_once() == 1  # 待回访
    written = await messages(db)
    assert [(m.event, m.key) for m in written] == [
        ("followup.remind", f"ticket:{number}"),
        ("followup.escalate", f"ticket:{number}"),
        ("followup.callback_due", f"ticket:{number}"),
    ]
    remind, escalate, callback = written
    assert remind.sms_to == unit_contact("ZZ-RSJ")
    assert remind.sms_text and "催办" in remind.sms_text
    assert escalate.sms_to is None
    assert callback.sms_to == "13812345678" and "回访" in (callback.sms_text or "")
    assert "13812345678" not in str(callback.data)  # webhooks get no caller data

    settings = OutboxSettings(
        webhooks=(
            WebhookSettings(
                "oa", receiver.url + "/hook", SECRET, ("followup.remind", "followup.escalate")
            ),
        ),
        sms_gateway_url=receiver.url + "/sms",
        poll_seconds=0.05,
    )
    courier = Courier(db, settings)
    await courier.start()
    try:
        await wait_until(lambda: len(receiver.accepted) == 4, what="2 webhook calls, 2 SMS")
    finally:
        await courier.stop()
    hooks = [e for e in receiver.accepted if e["_path"] == "/hook"]
    texts = [e for e in receiver.accepted if e["_path"] == "/sms"]
    assert [e["event"] for e in hooks] == ["followup.remind", "followup.escalate"]
    assert hooks[0]["data"]["ticket"] == number and hooks[0]["data"]["unit_code"] == "ZZ-RSJ"
    assert {e["to"] for e in texts} == {remind.sms_to, "13812345678"}
