"""The `pump` role's delivery worker: routes new outbox messages, then one lane per destination
claims due deliveries and sends them, at most `concurrency` at once.

Each destination (each webhook, the SMS gateway) has its own lane: a webhook that is down,
slow (up to the timeout per attempt) or answers 500 only delays its own deliveries. Within a
lane a subject's (ticket's) messages go one at a time in order (the claim, hotline.outbox.store).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Callable

import aiohttp

from hotline.db import Database, utcnow
from hotline.outbox.channels import Channel, HttpSmsGateway, Letter, Sms, SmsGateway, Webhook
from hotline.outbox.models import DEAD
from hotline.outbox.settings import OutboxSettings
from hotline.outbox.store import SMS, OutboxStore, webhook_destination

log = logging.getLogger("hotline.outbox")


def channels(settings: OutboxSettings, gateway: SmsGateway | None = None) -> dict[str, Channel]:
    """Destination -> how to send there, from the settings (and an SMS adapter, by default
    the HTTP gateway of `sms_gateway_url`)."""
    out: dict[str, Channel] = {
        webhook_destination(w.name): Webhook(w.url, w.secret, settings.timeout_seconds)
        for w in settings.webhooks
    }
    if gateway is None and settings.sms_gateway_url:
        gateway = HttpSmsGateway(
            settings.sms_gateway_url, settings.sms_token, settings.timeout_seconds
        )
    if gateway is not None:
        out[SMS] = Sms(gateway)
    return out


class Courier:
    def __init__(
        self,
        db: Database,
        settings: OutboxSettings,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        gateway: SmsGateway | None = None,
    ) -> None:
        self.settings = settings
        self.store = OutboxStore(db, settings, clock)
        self.channels = channels(settings, gateway)
        self._wake = {name: asyncio.Event() for name in self.channels}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if not self.channels:
            log.info("outbox: no webhook or SMS gateway configured; messages are kept, not sent")
        self._stopping.clear()
        self._http = aiohttp.ClientSession(headers={"User-Agent": "hotline12345-outbox"})
        self._tasks = [asyncio.create_task(self._router(), name="outbox-router")]
        self._tasks += [
            asyncio.create_task(self._lane(name), name=f"outbox-{name}") for name in self.channels
        ]

    async def stop(self) -> None:
        # Deliveries in flight finish (each within the timeout) and are recorded; only what
        # still runs after that is cancelled: its claim's lease runs out and it is sent again
        # after the next start (a receiver drops a repeat by its message id).
        self._stopping.set()
        for event in self._wake.values():
            event.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=self.settings.timeout_seconds + 5)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _pause(self, event: asyncio.Event | None = None) -> None:
        """Sleeps `poll_seconds`, less when `event` is set or the worker stops."""
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if event is not None:
            waits.append(asyncio.ensure_future(event.wait()))
        try:
            await asyncio.wait(
                waits, timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waits:
                w.cancel()

    async def _router(self) -> None:
        while not self._stopping.is_set():
            try:
                routed = await self.store.route()
            except Exception:
                log.exception("outbox: routing failed; trying again")
                routed = 0
            if routed:
                for event in self._wake.values():
                    event.set()
                continue
            await self._pause()

    async def _lane(self, destination: str) -> None:
        channel = self.channels[destination]
        wake = self._wake[destination]
        while not self._stopping.is_set():
            try:
                letters = await self.store.claim(destination, self.settings.concurrency)
            except Exception:
                log.exception("outbox: claiming deliveries to %s failed", destination)
                letters = []
            if letters:
                await asyncio.gather(*(self._deliver(channel, letter) for letter in letters))
                continue
            wake.clear()
            await self._pause(wake)

    async def _deliver(self, channel: Channel, letter: Letter) -> None:
        assert self._http is not None
        try:
            outcome = await channel.send(self._http, letter)
            status = await self.store.record(letter, outcome)
        except Exception:
            log.exception(
                "outbox: delivery %s to %s failed unexpectedly; its lease runs out "
                "and it is claimed again",
                letter.delivery_id,
                letter.destination,
            )
            return
        if status == DEAD:
            log.warning(
                "outbox: %s of message %s to %s is dead after %d attempts (%s); "
                "a manager can send it again on /outbox",
                letter.event,
                letter.message_id,
                letter.destination,
                letter.attempt,
                outcome.error,
            )
        elif not outcome.ok:
            log.warning(
                "outbox: %s to %s failed (attempt %d: %s); retrying later",
                letter.event,
                letter.destination,
                letter.attempt,
                outcome.error,
            )

    def wake(self) -> None:
        """Look now (after a manager's retry, for instance)."""
        for event in self._wake.values():
            event.set()
