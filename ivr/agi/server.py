"""An asyncio FastAGI server: one coroutine per call.

Each connection is one call's AGI session. Isolation: whatever one session does (garbage, a
1 MB line, a peer that never answers, a handler that raises) ends that session only, with one
log line, and is counted; the other sessions and the listening socket go on. After a hang-up
Asterisk leaves the socket open (recorded in the shared folder's agi-traces): the server closes it when
the handler returns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from ivr.agi.protocol import (
    MAX_ENV_LINES,
    MAX_LINE,
    AgiEnvironment,
    AgiProtocolError,
    Reply,
    ReplyReader,
    parse_environment,
)

log = logging.getLogger(__name__)

# Asterisk sends the environment at once on connect.
ENV_TIMEOUT = 5.0
# A command that only reads or sets something answers in milliseconds; reading commands pass
# their own timeout (prompt length + digit timeout).
DEFAULT_COMMAND_TIMEOUT = 10.0
# Open sessions at most: a flood of connections cannot take all memory. Far above what one
# Asterisk sends (one per channel in the IVR); a refused call continues in the dialplan.
MAX_SESSIONS = 2000
# On stop, a session busy with its own work (storing a keypad score, a call-back request) may
# finish it this long; one waiting on Asterisk ends at once. A write cut off midway would lose
# what the caller pressed and leave the database connection to be reset under cancellation.
STOP_GRACE = 5.0


class AgiTimeout(Exception):
    """The peer did not answer a command in time; the session ends."""


class AgiClosed(Exception):
    """The peer closed the connection."""


class AgiStopping(AgiClosed):
    """The service is stopping: no further command goes to Asterisk."""


@dataclass
class AgiCounters:
    """What /metrics shows of the FastAGI server."""

    connections: int = 0  # accepted
    active: int = 0  # now open
    completed: int = 0  # handler returned normally
    protocol_errors: int = 0  # garbage, over-long lines, no environment
    timeouts: int = 0  # the peer did not answer a command in time
    handler_errors: int = 0  # our own bug in a handler (logged with its traceback)
    refused: int = 0  # connections closed at once: MAX_SESSIONS were open
    closed_by_peer: int = 0  # Asterisk closed the socket before the handler finished


class AgiSession:
    """One call's AGI connection, as handlers see it: `env`, and `send(command)` -> Reply.

    `hung_up` becomes true once Asterisk says the channel is gone (a HANGUP notice, 511, or
    `result=-1` from ANSWER or a reading command): after that only variable reads and sets
    still work, and a handler should finish."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: AgiEnvironment
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.env = env
        self.hung_up = False
        self.sent: list[str] = []
        # True only while a command waits for Asterisk's reply: then the session may be
        # cancelled without cutting any work of ours in half.
        self.waiting = False
        self.stopping = False

    async def send(self, line: str, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> Reply:
        if "\n" in line or "\r" in line:
            raise ValueError("an AGI command is one line")
        if self.stopping:
            raise AgiStopping("the service is stopping")
        self.sent.append(line)
        self._writer.write(line.encode() + b"\n")
        self.waiting = True
        try:
            reply = await asyncio.wait_for(self._read_reply(), timeout)
        except asyncio.TimeoutError:
            raise AgiTimeout(f"no reply to {line.split(' ', 2)[:2]} in {timeout:g} s") from None
        finally:
            self.waiting = False
        if reply.dead:
            self.hung_up = True
        return reply

    async def _read_reply(self) -> Reply:
        await self._writer.drain()
        assembler = ReplyReader()
        while True:
            reply = assembler.feed(await read_line(self._reader))
            if reply is not None:
                return reply


async def read_line(reader: asyncio.StreamReader) -> str:
    """One line without its end; AgiClosed at EOF, AgiProtocolError when over MAX_LINE."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise AgiClosed("peer closed the connection") from None
    except asyncio.LimitOverrunError:
        raise AgiProtocolError(f"line longer than {MAX_LINE} bytes") from None
    return raw[:-1].rstrip(b"\r").decode("utf-8", errors="replace")


async def read_environment(reader: asyncio.StreamReader) -> AgiEnvironment:
    lines: list[str] = []
    while True:
        line = await read_line(reader)
        if line == "":
            return parse_environment(lines)
        if len(lines) >= MAX_ENV_LINES:
            raise AgiProtocolError("environment block without its closing empty line")
        lines.append(line)


Handler = Callable[[AgiSession], Awaitable[None]]


class FastAgiServer:
    """`await start()` listens; `await stop()` closes the socket and ends open sessions."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        env_timeout: float = ENV_TIMEOUT,
        max_sessions: int = MAX_SESSIONS,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.handler = handler
        self.max_sessions = max_sessions
        self.host = host
        self.port = port
        self.env_timeout = env_timeout
        self.stop_grace = stop_grace
        self.counters = AgiCounters()
        self._server: asyncio.Server | None = None
        # Each open connection's task, with its session once the environment has been read.
        self._sessions: dict[asyncio.Task[None], AgiSession | None] = {}
        self._stopping = False

    @property
    def bound_port(self) -> int:
        """The port actually listened on (differs from `port` when that was 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._stopping = False
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_LINE
        )

    async def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        open_now = dict(self._sessions)
        for task, session in open_now.items():
            if session is None or session.waiting:
                task.cancel()
            else:
                session.stopping = True
        if open_now:
            await asyncio.wait(open_now, timeout=self.stop_grace)
            for task in open_now:
                task.cancel()
            await asyncio.gather(*open_now, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.counters.active >= self.max_sessions:
            self.counters.refused += 1
            log.warning("AGI connection refused: %d sessions open", self.counters.active)
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = None
        self.counters.connections += 1
        self.counters.active += 1
        try:
            await self._session(task, reader, writer)
        except asyncio.CancelledError:
            # stop() ends the session: the task asyncio made for this connection must end
            # normally, or asyncio logs the cancellation as an error of its own callback.
            if not self._stopping:
                raise
        finally:
            self.counters.active -= 1
            self._sessions.pop(task, None)
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2.0)
            except (OSError, asyncio.TimeoutError, asyncio.CancelledError):
                pass

    async def _session(
        self,
        task: asyncio.Task[None],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        peer = writer.get_extra_info("peername")
        try:
            env = await asyncio.wait_for(read_environment(reader), self.env_timeout)
        except (AgiProtocolError, AgiClosed, asyncio.TimeoutError, OSError) as exc:
            self.counters.protocol_errors += 1
            log.warning(
                "AGI connection from %s: no environment (%s)",
                peer,
                exc.__class__.__name__ if isinstance(exc, asyncio.TimeoutError) else exc,
            )
            return
        session = AgiSession(reader, writer, env)
        session.stopping = self._stopping
        self._sessions[task] = session
        try:
            await self.handler(session)
        except AgiStopping:
            log.info(
                "AGI session %s (%s) ended: the service is stopping", env.uniqueid, env.channel
            )
        except AgiTimeout as exc:
            self.counters.timeouts += 1
            log.warning("AGI session %s (%s): %s", env.uniqueid, env.channel, exc)
        except (AgiClosed, ConnectionError) as exc:
            # Asterisk 22 leaves the socket open after a hang-up, older ones close it; a
            # channel torn down mid-command closes it too. Not an error of either side.
            self.counters.closed_by_peer += 1
            log.info("AGI session %s (%s) closed by Asterisk: %s", env.uniqueid, env.channel, exc)
        except AgiProtocolError as exc:
            self.counters.protocol_errors += 1
            log.warning("AGI session %s (%s) ended: %s", env.uniqueid, env.channel, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters.handler_errors += 1
            log.exception("AGI session %s (%s): handler failed", env.uniqueid, env.channel)
        else:
            self.counters.completed += 1
            # One line per call for the operator's trace (Asterisk logs its side by Uniqueid).
            log.info(
                "AGI session %s (%s) %s from %s to %s: done",
                env.uniqueid,
                env.channel,
                env.script or "-",
                env.callerid or "-",
                env.dnid or env.extension or "-",
            )
