"""Webhook settings are checked with one clear line per mistake; the dead-letter page (外发通知)
and API let managers send dead letters again, and nobody else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline import outbox
from hotline.audit import AuditEntry
from hotline.config import ConfigError, load_settings
from hotline.outbox.channels import Outcome
from hotline.outbox.models import OutboxDelivery
from hotline.outbox.settings import OutboxSettings, WebhookSettings
from hotline.outbox.store import OutboxStore
from tests.conftest import ACCOUNTS, CSRF_RE, login

GOOD = """
[outbox]
max_attempts = 5
sms_gateway_url = "https://sms.example.org/send"

[[webhooks]]
name = "city-oa"
url = "https://oa.example.org/hotline"
secret = "0123456789abcdef0123"
events = ["followup.remind", "followup.escalate"]
"""


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "hotline.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ or {})


def test_webhooks_and_the_sms_gateway_come_from_the_config_file(tmp_path):
    s = load(tmp_path, GOOD).outbox
    assert s.max_attempts == 5 and s.sms_gateway_url == "https://sms.example.org/send"
    (hook,) = s.webhooks
    assert (hook.name, hook.url, hook.events) == (
        "city-oa",
        "https://oa.example.org/hotline",
        ("followup.remind", "followup.escalate"),
    )
    assert "0123456789abcdef" not in repr(s)  # secrets stay out of logs
    env = load(tmp_path, GOOD, {"HOTLINE_SMS_GATEWAY_URL": "http://10.0.0.5/sms"}).outbox
    assert env.sms_gateway_url == "http://10.0.0.5/sms"


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ('url = "https://oa.example.org/hotline"', 'url = "ftp://oa.example.org"'),
            "webhooks 'city-oa'.url: 'ftp://oa.example.org' is not an http:// or https:// URL",
        ),
        (
            ('secret = "0123456789abcdef0123"', 'secret = "short"'),
            "webhooks 'city-oa'.secret: must be a string of at least 16 characters",
        ),
        (
            ('"followup.escalate"]', '"followup.escalat"]'),
            "webhooks 'city-oa'.events: unknown event 'followup.escalat'",
        ),
        (
            ('events = ["followup.remind", "followup.escalate"]', "events = []"),
            "webhooks 'city-oa'.events: must be a non-empty list",
        ),
        (('name = "city-oa"', 'name = "City OA"'), "webhooks[0].name: 'City OA' must be"),
        (
            ('name = "city-oa"', 'name = "city-oa"\ntoken = "x"'),
            "webhooks[0]: unknown setting 'token'",
        ),
        (("max_attempts = 5", "max_attempts = 0"), "outbox.max_attempts and outbox.concurrency"),
        (("max_attempts = 5", 'max_attempts = "many"'), "setting outbox.max_attempts: cannot read"),
        (("max_attempts = 5", "retries = 5"), "unknown setting 'outbox.retries'"),
        (
            (
                'sms_gateway_url = "https://sms.example.org/send"',
                'sms_gateway_url = "sms.example.org"',
            ),
            "outbox.sms_gateway_url: 'sms.example.org' is not an http:// or https:// URL",
        ),
    ],
)
def test_a_bad_webhook_or_outbox_setting_is_one_clear_error(tmp_path, change, message):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, GOOD.replace(*change))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_two_webhooks_of_one_name_are_refused(tmp_path):
    twice = GOOD + GOOD[GOOD.index("[[webhooks]]") :]
    with pytest.raises(ConfigError, match="'city-oa' is used by two webhooks"):
        load(tmp_path, twice)


SETTINGS = OutboxSettings(
    webhooks=(
        WebhookSettings(
            "city-oa", "http://127.0.0.1:9/hook", "0123456789abcdef", ("followup.remind",)
        ),
    ),
    max_attempts=1,
)


async def dead_letter(db, number: str = "20261204-0001") -> int:
    """A delivery that failed its only attempt (max_attempts 1)."""
    store = OutboxStore(db, SETTINGS, lambda: dt.datetime.now(dt.timezone.utc))
    async with db.write() as s:
        await outbox.enqueue(
            s,
            "followup.remind",
            f"ticket:{number}",
            {"ticket": number, "message": f"催办：工单 {number} 将于明日到期"},
        )
    assert await store.route() == 1
    (letter,) = await store.claim("webhook:city-oa", 4)
    assert await store.record(letter, Outcome(False, 500, "HTTP 500", 12)) == "dead"
    return letter.delivery_id


async def test_managers_see_dead_letters_in_chinese_and_local_time_and_retry_them(
    client, accounts, db
):
    delivery_id = await dead_letter(db)
    csrf = await login(client, ACCOUNTS["manager"].username)
    home = await (await client.get("/dashboard")).text()
    assert 'href="/outbox"' in home and "外发通知" in home
    page = await (await client.get("/outbox")).text()
    assert "发送失败的通知" in page and "重试" in page and "对方返回 HTTP 500" in page
    assert "工单 20261204-0001" in page and "催办" in page
    async with db.read() as s:
        dead_at = (await s.get(OutboxDelivery, delivery_id)).dead_at
    local = dead_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in page  # local time, not UTC

    api = await client.get("/api/v1/outbox/dead-letters")
    (entry,) = (await api.json())["dead_letters"]
    assert entry["id"] == delivery_id and entry["last_error"] == "HTTP 500"
    assert entry["dead_at"].endswith("+08:00")

    form = CSRF_RE.search(page).group(1)
    resp = await client.post(
        "/outbox/retry",
        data={"_csrf": form, "delivery_id": str(delivery_id)},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/outbox?retried=1"
    assert "已重新发送 1 条通知" in await (await client.get("/outbox?retried=1")).text()
    async with db.read() as s:
        row = await s.get(OutboxDelivery, delivery_id)
        assert (row.status, row.attempts) == ("pending", 0)
        audit = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")))
    assert [(a.actor, a.target_id) for a in audit] == [("boss", str(delivery_id))]
    # Not dead any more: the API's retry is a 404 in the one error shape.
    again = await client.post(
        f"/api/v1/outbox/dead-letters/{delivery_id}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert again.status == 404
    assert "message_zh" in (await again.json())["error"]


async def test_the_api_retries_one_dead_letter(client, accounts, db):
    delivery_id = await dead_letter(db)
    csrf = await login(client, ACCOUNTS["manager"].username)
    resp = await client.post(
        f"/api/v1/outbox/dead-letters/{delivery_id}/retry", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 200 and (await resp.json())["retried"] == [delivery_id]
    huge = await client.post(
        "/api/v1/outbox/dead-letters/99999999999/retry", headers={"X-CSRF-Token": csrf}
    )
    assert huge.status == 404


@pytest.mark.parametrize("who", ["agent", "unit", "kb_editor"])
async def test_other_roles_get_403(client, accounts, db, who):
    csrf = await login(client, ACCOUNTS[who].username)
    assert (await client.get("/outbox")).status == 403
    assert (await client.get("/api/v1/outbox/dead-letters")).status == 403
    resp = await client.post("/api/v1/outbox/dead-letters/1/retry", headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
