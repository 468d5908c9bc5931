"""A capture through the real listener, over real TCP, against an in-process replay server:
the evaluation path of `hotline sla report --ami-capture` and of the tests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Awaitable, Callable

from calls.ami.listener import AmiListener, ConnectionLost, ListenerOptions, RawHandler
from calls.ami.replay import Capture, ReplayServer
from calls.tracker import CallTracker


async def track_capture(
    capture: Capture | str | Path,
    *,
    timeout_s: float = 300.0,
    options: ListenerOptions | None = None,
    tracker: CallTracker | None = None,
    raw: RawHandler | None = None,
    throttle: Callable[[], Awaitable[None]] | None = None,
    server: ReplayServer | None = None,
    prepare: Callable[[ReplayServer, AmiListener], None] | None = None,
    **server_options: object,
) -> tuple[CallTracker, AmiListener]:
    """Replay `capture` at full speed (unless `server_options` say otherwise, or `server` is a
    replay server of one's own) to a listener and return the tracker fed by it once every event
    of the capture has been handled. `raw` also receives every raw event (storage), `throttle`
    is registered on the listener, `prepare` sees both before the listener starts."""
    if server is None:
        if not isinstance(capture, Capture):
            capture = Capture.load(capture)
        server_options.setdefault("speed", 0.0)
        server = ReplayServer(capture, **server_options)  # type: ignore[arg-type]
    host, port = await server.start("127.0.0.1", 0)
    listener = AmiListener(
        host,
        port,
        "hotline",
        "replay",
        options or ListenerOptions(backoff_initial_s=0.05, backoff_max_s=1.0),
    )
    tracker = tracker or CallTracker()
    listener.subscribe(tracker)
    if raw is not None:
        listener.subscribe_raw(raw)
    if throttle is not None:
        listener.throttle(throttle)
    if prepare is not None:
        prepare(server, listener)
    deadline = time.monotonic() + timeout_s
    await listener.start()
    try:
        await asyncio.wait_for(server.finished.wait(), timeout_s)
        while True:  # the replay is done; make sure the listener has handled all of it
            try:
                await listener.wait_connected(max(0.1, deadline - time.monotonic()))
                await listener.sync()
                break
            except ConnectionLost:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    finally:
        await listener.stop()
        await server.close()
    return tracker, listener
