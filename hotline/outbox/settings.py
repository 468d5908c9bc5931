"""The outbox's settings: webhooks (`[[webhooks]]` tables: name, url, secret, events), the SMS
gateway and the delivery policy (`[outbox]` table). Parsed and checked here; hotline.config
turns a ValueError into its one-line ConfigError."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from hotline.outbox import EVENTS

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    name: str
    url: str
    secret: str = field(repr=False)
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    webhooks: tuple[WebhookSettings, ...] = ()
    # SMS gateway: empty = no text messages (webhooks still go). POSTs JSON {"to", "text",
    # "ref"} with `Authorization: Bearer <sms_token>` when a token is set.
    sms_gateway_url: str = ""
    sms_token: str = field(default="", repr=False)
    max_attempts: int = 8  # then the delivery is dead (a manager may retry it)
    timeout_seconds: float = 10.0  # per attempt, the whole request
    backoff_base_seconds: float = 5.0  # 5, 10, 20, ... s before attempts 2, 3, 4 ...
    backoff_max_seconds: float = 1800.0  # ... capped, each with up to half of it as jitter
    concurrency: int = 4  # requests in flight per destination
    poll_seconds: float = 1.0  # how often idle workers look for due deliveries

    def webhook(self, name: str) -> WebhookSettings | None:
        return next((w for w in self.webhooks if w.name == name), None)


def _url(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a string (an http:// or https:// URL)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}: {value!r} is not an http:// or https:// URL")
    return value


def _webhook(index: int, table: Any, names: set[str]) -> WebhookSettings:
    where = f"webhooks[{index}]"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table ([[webhooks]] with name, url, secret, events)")
    unknown = set(table) - {"name", "url", "secret", "events"}
    if unknown:
        raise ValueError(
            f"{where}: unknown setting {sorted(unknown)[0]!r} "
            "(a webhook has name, url, secret, events)"
        )
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}.name: {name!r} must be 1-40 lower-case letters, digits, - or _")
    if name in names:
        raise ValueError(f"{where}.name: {name!r} is used by two webhooks")
    names.add(name)
    where = f"webhooks {name!r}"
    url = _url(f"{where}.url", table.get("url"))
    secret = table.get("secret")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ValueError(
            f"{where}.secret: must be a string of at least 16 characters "
            "(the HMAC-SHA256 key the receiver checks signatures with)"
        )
    events = table.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ValueError(
            f"{where}.events: must be a non-empty list of event names ({', '.join(EVENTS)})"
        )
    for event in events:
        if event not in EVENTS:
            raise ValueError(f"{where}.events: unknown event {event!r}; known: {', '.join(EVENTS)}")
    return WebhookSettings(name, url, secret, tuple(dict.fromkeys(events)))


_TYPES = {f.name: f.type for f in fields(OutboxSettings)}


def parse_outbox(table: Mapping[str, Any], webhooks: Sequence[Any] | None) -> OutboxSettings:
    """`[outbox]` values (strings from the environment are accepted for numbers) and the
    `[[webhooks]]` list; ValueError names the bad setting."""
    if webhooks is not None and not isinstance(webhooks, list):
        raise ValueError("webhooks: must be an array of tables ([[webhooks]])")
    names: set[str] = set()
    hooks = tuple(_webhook(i, t, names) for i, t in enumerate(webhooks or ()))
    values: dict[str, Any] = {}
    for key, raw in table.items():
        kind = _TYPES.get(key)
        if kind is None or key == "webhooks":
            raise ValueError(f"unknown setting 'outbox.{key}'")
        try:
            if isinstance(raw, bool):
                raise ValueError(raw)
            values[key] = int(raw) if kind == "int" else float(raw) if kind == "float" else str(raw)
        except (TypeError, ValueError):
            raise ValueError(f"setting outbox.{key}: cannot read {raw!r} as {kind}") from None
    settings = OutboxSettings(webhooks=hooks, **values)
    if settings.sms_gateway_url:
        _url("outbox.sms_gateway_url", settings.sms_gateway_url)
    if settings.max_attempts < 1 or settings.concurrency < 1:
        raise ValueError("outbox.max_attempts and outbox.concurrency must be at least 1")
    if (
        min(settings.timeout_seconds, settings.backoff_base_seconds, settings.poll_seconds) <= 0
        or settings.backoff_max_seconds < settings.backoff_base_seconds
    ):
        raise ValueError(
            "outbox.timeout_seconds, backoff_base_seconds and poll_seconds must be "
            "positive, backoff_max_seconds at least backoff_base_seconds"
        )
    return settings
