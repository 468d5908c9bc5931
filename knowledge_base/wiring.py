"""What the knowledge base adds to the services (hotline.bootstrap): the live search index,
loaded and kept in step with other processes' edits by the `web` role's worker (a process
that answers no searches does not hold the index)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hotline.bootstrap import Key, Services, Worker
from hotline.db import Database
from knowledge_base.service import LiveIndex

log = logging.getLogger("hotline.kb")

LIVE_INDEX: Key[LiveIndex] = Key("kb_live_index")
# How often each process looks for articles published, edited or retired elsewhere.
POLL_SECONDS = 2.0


async def provide(services: Services) -> None:
    services[LIVE_INDEX] = LiveIndex()


def workers(services: Services) -> list[Worker]:
    live = services[LIVE_INDEX]
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        await live.load(services.db)
        task = asyncio.create_task(_poll(live, services.db), name="kb-index-poll")

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The last counts of searches; at worst a few seconds of them are lost.
        with contextlib.suppress(Exception):
            await live.flush_reached(services.db)

    return [Worker("kb-index", "web", start, stop)]


async def _poll(live: LiveIndex, db: Database) -> None:
    while True:
        await asyncio.sleep(POLL_SECONDS)
        try:
            await live.sync(db)
            await live.flush_reached(db)
        except Exception:
            # A failed poll (database restarting) is retried at the next tick; the index keeps
            # serving what it has.
            log.exception("knowledge base: applying changes failed; retrying in %s s", POLL_SECONDS)
