"""A recorded AMI capture served as an AMI server over TCP: the demo's PBX, and the tests' one.

A capture (`ami.raw`) is every byte a listener received: the `Asterisk Call Manager/x.y.z` banner,
the login response, then event frames (`Key: value` lines ending CRLF, a blank line after each).
The server sends the banner, accepts `Action: Login` (any credentials unless some are set),
then streams the capture's event frames paced by their `Timestamp` deltas divided by `speed`
(`speed=0`: as fast as the socket takes them). It answers `Ping`, `QueuePause`, `QueueStatus` and
`CoreShowChannels` with what the events sent so far imply, as Asterisk would at that moment.

The stream position belongs to the server, not to a connection: a client that reconnects picks
up where the previous connection stopped, as a PBX keeps running while its listener is away.
For tests the connection can be dropped at given event indexes (`drop_at`), optionally in the
middle of a frame, and the resumption can re-send a few events (`resume_overlap`) or lose some
(`skip_on_drop`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from calls.ami.capture import FRAME_END, Capture, shift_frame
from calls.ami.pbxstate import PbxState, frame_of, headers_of

__all__ = ["Capture", "ReplayServer", "serve", "shift_frame"]

log = logging.getLogger(__name__)


class ReplayServer:
    def __init__(
        self,
        capture: Capture,
        *,
        speed: float = 1.0,
        loop: bool = False,
        username: str | None = None,
        secret: str | None = None,
        drop_at: Iterable[int] = (),
        drop_mid_frame: bool = False,
        resume_overlap: int = 0,
        skip_on_drop: int = 0,
        inject: Mapping[int, Sequence[bytes]] | None = None,
        resume_delay_s: float = 0.0,
        static_members: bool = False,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.capture = capture
        self.speed = speed
        self.loop = loop
        self._credentials = (username, secret) if username is not None else None
        self._drops = sorted(set(drop_at))
        self._drop_mid_frame = drop_mid_frame
        self._resume_overlap = resume_overlap
        self._skip_on_drop = skip_on_drop
        self._inject = dict(inject or {})
        # Pause after a re-login before the stream goes on: time for the client's resync
        # actions, as a real PBX sends few events in the milliseconds after a login.
        self._resume_delay = resume_delay_s
        self._pbx = PbxState()
        if static_members:
            self._pbx.know_members(capture.frames)
        self.position = 0  # next event index to stream
        self._produced = 0  # events the PBX has produced: sent, or skipped by a drop
        self._fed = 0  # events folded into self._pbx
        self.connections = 0
        self.finished = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self._streams: set[asyncio.Task[None]] = set()
        self._active: asyncio.StreamWriter | None = None
        self._dropped: set[asyncio.StreamWriter] = set()
        self._handlers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def total(self) -> int:
        return len(self.capture.frames)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._handle, host, port, limit=2**20)
        sock = self._server.sockets[0].getsockname()
        return sock[0], sock[1]

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        for task in list(self._streams):
            task.cancel()
        if self._streams:
            await asyncio.gather(*self._streams, return_exceptions=True)
        for writer in self._handlers.values():
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=2.0)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def pbx(self) -> PbxState:
        """The PBX state after the events streamed so far (folded in when asked for)."""
        self._produced = max(self._produced, self.position)
        while self._fed < self._produced:
            self._pbx.feed(self.capture.frame(self._fed), self.capture.timestamp(self._fed))
            self._fed += 1
        return self._pbx

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        stream: asyncio.Task[None] | None = None
        me = asyncio.current_task()
        assert me is not None
        self._handlers[me] = writer
        try:
            writer.write(self.capture.banner + b"\r\n")
            while True:
                try:
                    raw = await reader.readuntil(FRAME_END)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                if writer in self._dropped:
                    continue  # dropped: read until the client goes, answer nothing
                action = headers_of(raw)
                name = action.get("Action", "").lower()
                aid = action.get("ActionID", "")
                if stream is None:
                    if name != "login":
                        writer.write(
                            frame_of(
                                ("Response", "Error"),
                                ("ActionID", aid),
                                ("Message", "Authentication Required"),
                            )
                        )
                        continue
                    if (
                        self._credentials
                        and (action.get("Username"), action.get("Secret")) != self._credentials
                    ):
                        writer.write(
                            frame_of(
                                ("Response", "Error"),
                                ("ActionID", aid),
                                ("Message", "Authentication failed"),
                            )
                        )
                        await writer.drain()
                        return
                    writer.write(
                        frame_of(
                            ("Response", "Success"),
                            ("ActionID", aid),
                            ("Message", "Authentication accepted"),
                        )
                    )
                    if self._active is not None:  # one listener at a time follows the stream
                        self._active.transport.abort()
                    self._active = writer
                    stream = asyncio.create_task(self._stream(writer))
                    self._streams.add(stream)
                    stream.add_done_callback(self._streams.discard)
                elif name == "ping":
                    writer.write(
                        frame_of(
                            ("Response", "Success"),
                            ("ActionID", aid),
                            ("Ping", "Pong"),
                            ("Timestamp", f"{time.time():.6f}"),
                        )
                    )
                elif name == "queuestatus":
                    writer.write(b"".join(self.pbx.queue_status(aid)))
                elif name == "coreshowchannels":
                    writer.write(b"".join(self.pbx.core_show_channels(aid)))
                elif name == "queuepause":
                    writer.write(b"".join(self.pbx.queue_pause(action, aid)))
                elif name == "logoff":
                    writer.write(
                        frame_of(
                            ("Response", "Goodbye"),
                            ("ActionID", aid),
                            ("Message", "Thanks for all the fish."),
                        )
                    )
                    await writer.drain()
                    return
                else:
                    writer.write(
                        frame_of(
                            ("Response", "Error"),
                            ("ActionID", aid),
                            ("Message", "Invalid/unknown command"),
                        )
                    )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            if stream is not None:
                stream.cancel()
            if self._active is writer:
                self._active = None
            self._dropped.discard(writer)
            self._handlers.pop(me, None)
            writer.close()

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        cap = self.capture
        n = self.position
        if self._resume_delay and self.connections > 1:
            await asyncio.sleep(self._resume_delay)
        if self.speed == 0 and not self.loop and not self._drops and not self._inject:
            await self._blast(writer)
            return
        wall0: float | None = None
        ts0 = 0.0
        pending = 0
        while True:
            if n >= self.total and not self.loop:
                await writer.drain()
                self.finished.set()
                return
            if self._drops and n >= self._drops[0]:
                await self._drop(writer, n)
                return
            ts = cap.timestamp(n)
            if self.speed > 0 and ts is not None:
                if wall0 is None:
                    wall0, ts0 = loop.time(), ts
                delay = wall0 + (ts - ts0) / self.speed - loop.time()
                if delay > 0.002:
                    await writer.drain()
                    await asyncio.sleep(delay)
            for extra in self._inject.get(n, ()):
                writer.write(extra)
            frame = cap.frame(n)
            writer.write(frame + FRAME_END)
            n += 1
            self.position = n
            pending += len(frame)
            if pending > 65536:
                pending = 0
                await writer.drain()

    async def _blast(self, writer: asyncio.StreamWriter) -> None:
        """Full speed, no drop or injection to place: the stream in large writes."""
        frames = self.capture.frames
        step = 2000
        for i in range(self.position, len(frames), step):
            writer.write(FRAME_END.join(frames[i : i + step]) + FRAME_END)
            self.position = min(i + step, len(frames))  # before yielding: lists answer from here
            await writer.drain()
        self.finished.set()

    async def _drop(self, writer: asyncio.StreamWriter, n: int) -> None:
        self._drops.pop(0)
        if self._drop_mid_frame:
            frame = self.capture.frame(n)
            writer.write(frame[: len(frame) // 2])
        await writer.drain()
        log.info("replay: dropping the connection at event %d", n)
        # Half-closed, then closed once the client has gone: closing a socket with unread
        # input resets it, and a reset makes the client's kernel discard bytes received but not
        # yet read; the drop would no longer be at event `n`.
        self._dropped.add(writer)
        writer.write_eof()
        if self._skip_on_drop:
            # Events the PBX produced while nobody listened: they happened, nobody got them.
            self.position = n + self._skip_on_drop
        else:
            self._produced = max(self._produced, n)
            self.position = max(0, n - self._resume_overlap)


async def serve(
    capture_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 5038,
    speed: float = 1.0,
    loop: bool = False,
) -> None:
    """Serve a capture until cancelled (the `ami replay` command)."""
    server = ReplayServer(Capture.load(capture_path), speed=speed, loop=loop)
    bound = await server.start(host, port)
    log.info(
        "replaying %s on %s:%d (speed %s%s)",
        capture_path,
        bound[0],
        bound[1],
        speed,
        ", looping" if loop else "",
    )
    try:
        await server.serve_forever()
    finally:
        await server.close()
