"""A recorded AMI capture served as an AMI server over TCP: the demo's PBX, and the tests' one.

A capture (`ami.raw`) is every byte a listener received: the `Asterisk Call Manager/x.y.z` banner,
the login response, then event frames (`Key: value` lines ending CRLF, a blank line after each).
The server sends the banner, accepts `Action: Login` (any credentials unless some are set),
then streams the capture's event frames paced by their `Timestamp` deltas divided by `speed`
(`speed=0`: as fast as the socket takes them). It answers `Ping`, `QueueStatus` and
`CoreShowChannels` with what the events sent so far imply, as Asterisk would at that moment.

The stream position belongs to the server, not to a connection: a client that reconnects picks
up where the previous connection stopped, as a PBX keeps running while its listener is away.
For tests the connection can be dropped at given event indexes (`drop_at`), optionally in the
middle of a frame, and the resumption can re-send a few events (`resume_overlap`) or lose some
(`skip_on_drop`).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

log = logging.getLogger(__name__)

FRAME_END = b"\r\n\r\n"
_TS = re.compile(rb"(?:^|\r\n)Timestamp: (\d+(?:\.\d+)?)")
# Values to move on each loop so that a re-streamed capture looks like new calls.
_SHIFTED = re.compile(rb"^((?:Timestamp|Uniqueid|Linkedid|DestUniqueid|DestLinkedid): )(\d+)", re.M)


@dataclass(frozen=True, slots=True)
class Capture:
    banner: bytes                          # without CRLF
    frames: tuple[bytes, ...]              # event frames without the terminating blank line
    timestamps: tuple[float | None, ...]   # Timestamp of each frame, None where absent
    span: int                              # whole seconds covering every Timestamp and Uniqueid

    @classmethod
    def load(cls, path: str | Path) -> "Capture":
        """From `ami.raw`, its folder, or a gzip-compressed capture (`*.gz`)."""
        p = Path(path)
        if p.is_dir():
            p = p / "ami.raw"
        raw = p.read_bytes()
        return cls.parse(gzip.decompress(raw) if p.suffix == ".gz" else raw)

    def starting_at(self, epoch: float) -> "Capture":
        """The same capture moved in time so that its first Timestamp is `epoch` (whole seconds,
        Uniqueids moved along): a replayed PBX that looks live now."""
        first = next((t for t in self.timestamps if t is not None), None)
        if first is None:
            return self
        seconds = int(epoch - first)
        return Capture.of(self.banner, [shift_frame(f, seconds) for f in self.frames])

    @classmethod
    def parse(cls, raw: bytes) -> "Capture":
        banner, _, rest = raw.partition(b"\r\n")
        chunks = rest.split(FRAME_END)
        chunks.pop()  # after the last terminator: empty, or a frame cut short by the capture
        frames = tuple(c for c in chunks if c.startswith(b"Event: "))
        return cls.of(banner, frames)

    @classmethod
    def of(cls, banner: bytes, frames: Sequence[bytes]) -> "Capture":
        stamps: list[float | None] = []
        for f in frames:
            m = _TS.search(f)
            stamps.append(float(m.group(1)) if m else None)
        epochs = [int(m.group(2)) for f in frames for m in _SHIFTED.finditer(f)]
        span = (max(epochs) - min(epochs) + 2) if epochs else 1
        return cls(banner, tuple(frames), tuple(stamps), span)

    def frame(self, n: int) -> bytes:
        """Frame `n` of the endless looped stream: loop k = n // len moved by k * span seconds,
        its Uniqueids too, so that loops never collide."""
        k, i = divmod(n, len(self.frames))
        return self.frames[i] if k == 0 else shift_frame(self.frames[i], k * self.span)

    def timestamp(self, n: int) -> float | None:
        k, i = divmod(n, len(self.frames))
        ts = self.timestamps[i]
        return None if ts is None else ts + k * self.span


def shift_frame(frame: bytes, seconds: int) -> bytes:
    """`frame` with its Timestamp and the epoch part of its Uniqueids moved by `seconds`."""
    return _SHIFTED.sub(lambda m: m.group(1) + str(int(m.group(2)) + seconds).encode(), frame)


def _headers(frame: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep:
            out[k] = v
    return out


def _frame(*pairs: tuple[str, object]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"


# Events whose effect on the PBX state QueueStatus / CoreShowChannels report.
_TRACKED = frozenset({
    b"QueueCallerJoin", b"QueueCallerLeave", b"QueueCallerAbandon", b"AgentComplete",
    b"QueueMemberStatus", b"QueueMemberPause", b"QueueMemberAdded", b"QueueMemberRemoved",
    b"Newchannel", b"Newstate", b"Newexten", b"NewCallerid", b"Hangup",
    b"BridgeEnter", b"BridgeLeave",
})

_MEMBER_FIELDS = ("StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall", "LastPause",
                  "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Wrapuptime")


class PbxState:
    """What a PBX would report at the current replay position, rebuilt from the events sent."""

    def __init__(self) -> None:
        self.now: float = 0.0
        self.waiting: dict[str, dict[str, str]] = {}     # Uniqueid -> join headers
        self.members: dict[tuple[str, str], dict[str, str]] = {}
        self.queues: dict[str, dict[str, int]] = {}
        self.channels: dict[str, dict[str, str]] = {}

    def feed(self, frame: bytes, ts: float | None) -> None:
        if ts is not None:
            self.now = ts
        end = frame.find(b"\r\n")
        name = frame[7:end if end >= 0 else len(frame)]
        if name not in _TRACKED:
            return
        h = _headers(frame)
        getattr(self, "_" + name.decode())(h, ts)

    def know_members(self, frames: Iterable[bytes]) -> None:
        """Members statically configured in the queue exist before their first event: list them
        from the start, idle, as Asterisk's QueueStatus would."""
        for frame in frames:
            if frame.startswith((b"Event: QueueMemberStatus\r\n", b"Event: QueueMemberAdded\r\n")):
                h = _headers(frame)
                key = (h.get("Queue", ""), h.get("Interface", ""))
                if key not in self.members:
                    self._queue(key[0])
                    self.members[key] = dict(h, Status="1", InCall="0")

    def _queue(self, name: str) -> dict[str, int]:
        return self.queues.setdefault(name, {"Completed": 0, "Abandoned": 0})

    def _QueueCallerJoin(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))
        self.waiting[h.get("Uniqueid", "")] = dict(h, _joined=str(ts or self.now))

    def _QueueCallerLeave(self, h: dict[str, str], ts: float | None) -> None:
        left = self.waiting.pop(h.get("Uniqueid", ""), None)
        if left is None:
            return
        pos = int(left.get("Position", "0") or 0)
        for w in self.waiting.values():
            if w.get("Queue") == left.get("Queue") and int(w.get("Position", "0") or 0) > pos:
                w["Position"] = str(int(w["Position"]) - 1)

    def _QueueCallerAbandon(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))["Abandoned"] += 1

    def _AgentComplete(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))["Completed"] += 1

    def _QueueMemberStatus(self, h: dict[str, str], ts: float | None) -> None:
        self._queue(h.get("Queue", ""))
        self.members[(h.get("Queue", ""), h.get("Interface", ""))] = h

    _QueueMemberAdded = _QueueMemberStatus

    def _QueueMemberPause(self, h: dict[str, str], ts: float | None) -> None:
        m = self.members.setdefault((h.get("Queue", ""), h.get("Interface", "")), dict(h))
        m["Paused"] = h.get("Paused", "0")
        m["PausedReason"] = h.get("PausedReason", h.get("Reason", ""))

    def _QueueMemberRemoved(self, h: dict[str, str], ts: float | None) -> None:
        self.members.pop((h.get("Queue", ""), h.get("Interface", "")), None)

    def _Newchannel(self, h: dict[str, str], ts: float | None) -> None:
        self.channels[h.get("Uniqueid", "")] = dict(h, _created=str(ts or self.now), BridgeId="",
                                                    Application="", ApplicationData="")

    def _update(self, h: dict[str, str], keys: Iterable[str]) -> None:
        c = self.channels.get(h.get("Uniqueid", ""))
        if c is not None:
            for k in keys:
                if k in h:
                    c[k] = h[k]

    def _Newstate(self, h: dict[str, str], ts: float | None) -> None:
        self._update(h, ("ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                         "ConnectedLineNum", "ConnectedLineName"))

    def _NewCallerid(self, h: dict[str, str], ts: float | None) -> None:
        self._update(h, ("CallerIDNum", "CallerIDName"))

    def _Newexten(self, h: dict[str, str], ts: float | None) -> None:
        self._update(h, ("Context", "Exten", "Priority", "Application"))
        self._update({"Uniqueid": h.get("Uniqueid", ""),
                      "ApplicationData": h.get("AppData", "")}, ("ApplicationData",))

    def _Hangup(self, h: dict[str, str], ts: float | None) -> None:
        self.channels.pop(h.get("Uniqueid", ""), None)

    def _BridgeEnter(self, h: dict[str, str], ts: float | None) -> None:
        self._update({"Uniqueid": h.get("Uniqueid", ""),
                      "BridgeId": h.get("BridgeUniqueid", "")}, ("BridgeId",))

    def _BridgeLeave(self, h: dict[str, str], ts: float | None) -> None:
        self._update({"Uniqueid": h.get("Uniqueid", ""), "BridgeId": ""}, ("BridgeId",))

    # --- answers to list actions ------------------------------------------------------------

    def queue_status(self, action_id: str) -> list[bytes]:
        out = [_frame(("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
                      ("Message", "Queue status will follow"))]
        items = 0
        for q, counts in sorted(self.queues.items()):
            waiting = [w for w in self.waiting.values() if w.get("Queue") == q]
            out.append(_frame(("Event", "QueueParams"), ("Queue", q), ("Max", 0),
                              ("Strategy", "rrmemory"), ("Calls", len(waiting)), ("Holdtime", 0),
                              ("TalkTime", 0), ("Completed", counts["Completed"]),
                              ("Abandoned", counts["Abandoned"]), ("ServiceLevel", 0),
                              ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"),
                              ("Weight", 0), ("ActionID", action_id)))
            items += 1
            for (mq, _), m in sorted(self.members.items()):
                if mq != q:
                    continue
                out.append(_frame(("Event", "QueueMember"), ("Queue", q),
                                  ("Name", m.get("MemberName", "")),
                                  ("Location", m.get("Interface", "")),
                                  *((k, m.get(k, "")) for k in _MEMBER_FIELDS),
                                  ("ActionID", action_id)))
                items += 1
            for w in sorted(waiting, key=lambda w: int(w.get("Position", "0") or 0)):
                out.append(_frame(("Event", "QueueEntry"), ("Queue", q),
                                  ("Position", w.get("Position", "")),
                                  ("Channel", w.get("Channel", "")),
                                  ("Uniqueid", w.get("Uniqueid", "")),
                                  ("CallerIDNum", w.get("CallerIDNum", "")),
                                  ("CallerIDName", w.get("CallerIDName", "")),
                                  ("ConnectedLineNum", w.get("ConnectedLineNum", "")),
                                  ("ConnectedLineName", w.get("ConnectedLineName", "")),
                                  ("Wait", int(self.now - float(w["_joined"]))), ("Priority", 0),
                                  ("ActionID", action_id)))
                items += 1
        out.append(_frame(("Event", "QueueStatusComplete"), ("ActionID", action_id),
                          ("EventList", "Complete"), ("ListItems", items)))
        return out

    def core_show_channels(self, action_id: str) -> list[bytes]:
        out = [_frame(("Response", "Success"), ("ActionID", action_id), ("EventList", "start"),
                      ("Message", "Channels will follow"))]
        for c in self.channels.values():
            secs = max(0, int(self.now - float(c["_created"])))
            out.append(_frame(
                ("Event", "CoreShowChannel"), ("ActionID", action_id),
                *((k, c.get(k, "")) for k in (
                    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
                    "Exten", "Priority", "Uniqueid", "Linkedid", "Application", "ApplicationData")),
                ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                ("BridgeId", c.get("BridgeId", ""))))
        out.append(_frame(("Event", "CoreShowChannelsComplete"), ("ActionID", action_id),
                          ("EventList", "Complete"), ("ListItems", len(self.channels))))
        return out


class ReplayServer:
    def __init__(self, capture: Capture, *, speed: float = 1.0, loop: bool = False,
                 username: str | None = None, secret: str | None = None,
                 drop_at: Iterable[int] = (), drop_mid_frame: bool = False,
                 resume_overlap: int = 0, skip_on_drop: int = 0,
                 inject: Mapping[int, Sequence[bytes]] | None = None,
                 resume_delay_s: float = 0.0, static_members: bool = False) -> None:
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
        self.position = 0          # next event index to stream
        self._produced = 0         # events the PBX has produced: sent, or skipped by a drop
        self._fed = 0              # events folded into self._pbx
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
        self._server = await asyncio.start_server(self._handle, host, port, limit=2 ** 20)
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
                action = _headers(raw)
                name = action.get("Action", "").lower()
                aid = action.get("ActionID", "")
                if stream is None:
                    if name != "login":
                        writer.write(_frame(("Response", "Error"), ("ActionID", aid),
                                            ("Message", "Authentication Required")))
                        continue
                    if self._credentials and (action.get("Username"), action.get("Secret")) != self._credentials:
                        writer.write(_frame(("Response", "Error"), ("ActionID", aid),
                                            ("Message", "Authentication failed")))
                        await writer.drain()
                        return
                    writer.write(_frame(("Response", "Success"), ("ActionID", aid),
                                        ("Message", "Authentication accepted")))
                    if self._active is not None:  # one listener at a time follows the stream
                        self._active.transport.abort()
                    self._active = writer
                    stream = asyncio.create_task(self._stream(writer))
                    self._streams.add(stream)
                    stream.add_done_callback(self._streams.discard)
                elif name == "ping":
                    writer.write(_frame(("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"),
                                        ("Timestamp", f"{time.time():.6f}")))
                elif name == "queuestatus":
                    writer.write(b"".join(self.pbx.queue_status(aid)))
                elif name == "coreshowchannels":
                    writer.write(b"".join(self.pbx.core_show_channels(aid)))
                elif name == "logoff":
                    writer.write(_frame(("Response", "Goodbye"), ("ActionID", aid),
                                        ("Message", "Thanks for all the fish.")))
                    await writer.drain()
                    return
                else:
                    writer.write(_frame(("Response", "Error"), ("ActionID", aid),
                                        ("Message", "Invalid/unknown command")))
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
            writer.write(FRAME_END.join(frames[i:i + step]) + FRAME_END)
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


async def serve(capture_path: str | Path, host: str = "127.0.0.1", port: int = 5038,
                speed: float = 1.0, loop: bool = False) -> None:
    """Serve a capture until cancelled (the `ami replay` command)."""
    server = ReplayServer(Capture.load(capture_path), speed=speed, loop=loop)
    bound = await server.start(host, port)
    log.info("replaying %s on %s:%d (speed %s%s)", capture_path, bound[0], bound[1], speed,
             ", looping" if loop else "")
    try:
        await server.serve_forever()
    finally:
        await server.close()

