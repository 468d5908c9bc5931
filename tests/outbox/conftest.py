"""A real local HTTP server as the webhook receiver and SMS gateway (a port we own): it
answers as told (500, slow, down), checks signatures and records what it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from hotline.outbox.channels import SIGNATURE_HEADER, signature

SECRET = "receiver-secret-0123456789"


@dataclass
class Receiver:
    """`fail` answers 500 to the next N requests; `delay` holds each answer that long."""

    fail: int = 0
    delay: float = 0.0
    secret: str = SECRET
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    bad_signatures: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.path.startswith("/hook"):
            if request.headers.get(SIGNATURE_HEADER) != signature(self.secret, body):
                self.bad_signatures += 1
                return web.Response(status=401)
        if self.fail > 0:
            self.fail -= 1
            self.refused += 1
            return web.Response(status=500, text="down for maintenance")
        entry = json.loads(body)
        entry["_path"] = request.path
        entry["_headers"] = dict(request.headers)
        self.accepted.append(entry)
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def serving(rec: Receiver) -> AsyncIterator[Receiver]:
    """`rec` listening on a free local port (its `url`) until the block ends."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    try:
        yield rec
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving(Receiver()) as rec:
        yield rec


async def until(check: Any, timeout: float = 20.0, what: str = "the condition") -> None:
    """Like tests.conftest.wait_until for an async `check()` (a database read)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
