"""The adapter's connection handling: idle PBX, dead PBX, refused login, the async iterator."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import wait_until

from calls.ami import events as ev
from calls.ami.listener import AmiListener, ListenerOptions
from calls.ami.replay import Capture, ReplayServer

FAST = ListenerOptions(
    ping_interval_s=0.2,
    ping_timeout_s=0.4,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    login_timeout_s=1.0,
    resync_timeout_s=1.0,
)


def member_status(ts: float, status: int) -> bytes:
    return (
        f"Event: QueueMemberStatus\r\nPrivilege: agent,all\r\nTimestamp: {ts:.6f}\r\n"
        f"Queue: hotline\r\nMemberName: 坐席1\r\nInterface: PJSIP/8001\r\nStatus: {status}\r\n"
        f"Paused: 0\r\nPausedReason: \r\nInCall: 0\r\nWrapuptime: 0"
    ).encode()


@pytest.mark.asyncio
async def test_idle_pbx_is_not_a_failure() -> None:
    """Seconds without any event (an idle PBX): the connection stays, events still arrive."""
    cap = Capture.of(
        b"Asterisk Call Manager/11.0.0",
        [member_status(1795600000.0, 1), member_status(1795600001.5, 2)],
    )
    server = ReplayServer(cap, speed=1.0)
    host, port = await server.start()
    listener = AmiListener(host, port, "u", "p", FAST)
    got: list[ev.AmiEvent] = []
    listener.subscribe(got.append)
    await listener.start()
    try:
        await asyncio.wait_for(server.finished.wait(), 5)
        await listener.sync()
    finally:
        await listener.stop()
        await server.close()
    statuses = [e.status for e in got if isinstance(e, ev.QueueMemberStatus)]
    assert statuses == [1, 2]
    assert listener.stats.connects == 1


@pytest.mark.asyncio
async def test_pbx_that_stops_answering_is_replaced() -> None:
    """Logged in, then silent (no Pong): the keepalive notices and a new client connects."""
    logins = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal logins
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        raw = await reader.readuntil(b"\r\n\r\n")
        action_id = [
            line.split(": ", 1)[1]
            for line in raw.decode().split("\r\n")
            if line.startswith("ActionID: ")
        ][0]
        logins += 1
        writer.write(
            f"Response: Success\r\nActionID: {action_id}\r\n"
            f"Message: Authentication accepted\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            while await reader.read(4096):
                pass  # never answers
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    listener = AmiListener("127.0.0.1", port, "u", "p", FAST)
    await listener.start()
    try:
        await wait_until(lambda: logins >= 2, what="a second login after the silent server")
    finally:
        await listener.stop()
        server.close()
        await server.wait_closed()
    assert logins >= 2
    assert "no answer" in listener.stats.last_error


@pytest.mark.asyncio
async def test_refused_login_is_retried_not_fatal() -> None:
    cap = Capture.of(b"Asterisk Call Manager/11.0.0", [member_status(1795600000.0, 1)])
    server = ReplayServer(cap, speed=0, username="hotline", secret="right")
    host, port = await server.start()
    listener = AmiListener(host, port, "hotline", "wrong", FAST)
    await listener.start()
    try:
        await wait_until(lambda: server.connections >= 2, what="a retried login")
        assert not listener.connected.is_set()
        assert "Login refused" in listener.stats.last_error
    finally:
        await listener.stop()
        await server.close()


@pytest.mark.asyncio
async def test_events_async_iterator_and_no_server() -> None:
    listener = AmiListener("127.0.0.1", 1, "u", "p", FAST)  # nothing listens on port 1
    await listener.start()
    await wait_until(lambda: bool(listener.stats.last_error), what="the refused connection")
    assert not listener.connected.is_set()
    await listener.stop()

    cap = Capture.of(
        b"Asterisk Call Manager/11.0.0",
        [member_status(1795600000.0, 1), member_status(1795600000.1, 2)],
    )
    server = ReplayServer(cap, speed=0)
    host, port = await server.start()
    listener = AmiListener(host, port, "u", "p", FAST)
    stream = listener.events()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await listener.start()
    try:
        event = await asyncio.wait_for(first, 5)
        assert isinstance(event, (ev.Connected, ev.QueueMemberStatus, ev.Resync))
    finally:
        await stream.aclose()
        await listener.stop()
        await server.close()
