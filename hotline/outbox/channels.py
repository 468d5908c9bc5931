"""How a message leaves: a webhook POST (signed JSON) or a text message through the SMS
gateway adapter. Each returns an `Outcome`; none raises for the far end's failures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

SIGNATURE_HEADER = "X-Hotline-Signature"


@dataclass(frozen=True)
class Letter:
    """A claimed delivery with its message: what a channel needs to send it."""

    delivery_id: int
    message_id: int
    destination: str
    attempt: int
    event: str
    key: str
    data: dict[str, Any]
    created_at: str  # ISO 8601 with offset
    sms_to: str | None
    sms_text: str | None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`: the receiver recomputes it with its copy of the
    secret over the raw body bytes and compares in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(letter: Letter) -> bytes:
    """The same bytes on every attempt: `id` (the message id) lets a receiver drop a repeat
    (a timed-out attempt may have arrived), `key` and `id` order a subject's messages."""
    return json.dumps(
        {
            "id": letter.message_id,
            "event": letter.event,
            "key": letter.key,
            "created_at": letter.created_at,
            "data": letter.data,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> Outcome:
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with http.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
            await resp.read()
            if not 200 <= status < 300:
                error = f"HTTP {status}"
    except asyncio.TimeoutError:
        error = f"no answer within {timeout:g} s"
    except aiohttp.ClientError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    return Outcome(error is None, status, error, int((time.monotonic() - started) * 1000))


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    timeout: float

    async def send(self, http: aiohttp.ClientSession, letter: Letter) -> Outcome:
        body = webhook_body(letter)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature(self.secret, body),
            "X-Hotline-Event": letter.event,
            "X-Hotline-Delivery": str(letter.message_id),
        }
        return await _post(http, self.url, body, headers, self.timeout)


class SmsGateway(Protocol):
    """The SMS adapter interface: send `text` to the phone number `to`; `ref` (the message
    id) is the gateway's idempotency reference. Another provider is one more class."""

    async def send_sms(
        self, http: aiohttp.ClientSession, to: str, text: str, ref: str
    ) -> Outcome: ...


@dataclass(frozen=True)
class HttpSmsGateway:
    """An HTTP SMS gateway: POST JSON `{"to", "text", "ref"}`; any 2xx is accepted."""

    url: str
    token: str
    timeout: float

    async def send_sms(self, http: aiohttp.ClientSession, to: str, text: str, ref: str) -> Outcome:
        body = json.dumps({"to": to, "text": text, "ref": ref}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return await _post(http, self.url, body, headers, self.timeout)


@dataclass(frozen=True)
class Sms:
    gateway: SmsGateway

    async def send(self, http: aiohttp.ClientSession, letter: Letter) -> Outcome:
        if not letter.sms_to or not letter.sms_text:
            return Outcome(False, None, "the message has no phone number or text", 0)
        return await self.gateway.send_sms(
            http, letter.sms_to, letter.sms_text, str(letter.message_id)
        )


class Channel(Protocol):
    async def send(self, http: aiohttp.ClientSession, letter: Letter) -> Outcome: ...
