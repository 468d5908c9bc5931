"""The FastAGI server over real TCP: every recorded transcript replayed byte for byte, and one
session's garbage, over-long line, silence or crash leaving the others untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest

from ivr.agi.client import (
    SimulatedChannel,
    environment,
    read_transcript,
    replay,
    run_channel,
    server_lines,
)
from ivr.agi.protocol import Reply
from ivr.agi.server import AgiSession, FastAgiServer
from tests.conftest import shared_path, wait_until


async def closed(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection (a reset when our unread bytes were still queued)."""
    try:
        return await asyncio.wait_for(reader.read(), 5) == b""
    except ConnectionResetError:
        return True


TRACES = sorted(shared_path("agi-traces").glob("*.agi"))


@pytest.fixture
async def script_server() -> AsyncIterator[tuple[FastAgiServer, dict[str, list[Reply]]]]:
    """A server whose handler sends the recorded server's lines of the transcript named by the
    session's extension (1001 menu.agi...), keeping the replies it parsed."""
    replies: dict[str, list[Reply]] = {}
    scripts = {read_transcript(p)[3].text.split("/")[1].split("@")[0]: p for p in TRACES}

    async def handler(session: AgiSession) -> None:
        path = scripts[session.env.extension]
        got = replies.setdefault(path.name, [])
        for line in server_lines(read_transcript(path)):
            got.append(await session.send(line, timeout=15))

    server = FastAgiServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        yield server, replies
    finally:
        await server.stop()


def test_there_are_transcripts() -> None:
    assert {p.name for p in TRACES} >= {
        "menu.agi",
        "hangup_during_get_data.agi",
        "hangup_before_answer_commands.agi",
        "timeout_then_partial.agi",
    }


@pytest.mark.parametrize("path", TRACES, ids=lambda p: Path(p).stem)
async def test_every_transcript_replays_byte_for_byte(
    script_server: tuple[FastAgiServer, dict[str, list[Reply]]], path: Path
) -> None:
    server, replies = script_server
    steps = read_transcript(path)
    await replay(steps, "127.0.0.1", server.bound_port)
    got = replies[path.name]
    assert len(got) == len(server_lines(steps))
    assert server.counters.completed == 1 and server.counters.active == 0


async def test_a_finished_session_leaves_one_line_in_the_log(
    script_server: tuple[FastAgiServer, dict[str, list[Reply]]], caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's trace of a call on our side, by the Uniqueid Asterisk logs too."""
    server, _ = script_server
    caplog.set_level("INFO", logger="ivr.agi.server")
    path = next(p for p in TRACES if Path(p).name == "menu.agi")
    await replay(read_transcript(path), "127.0.0.1", server.bound_port)
    done = [r.getMessage() for r in caplog.records if r.getMessage().endswith(": done")]
    assert len(done) == 1 and done[0].startswith("AGI session ")


async def test_what_the_server_read_from_the_menu_transcript(
    script_server: tuple[FastAgiServer, dict[str, list[Reply]]],
) -> None:
    server, replies = script_server
    await replay(
        read_transcript(shared_path("agi-traces", "menu.agi")), "127.0.0.1", server.bound_port
    )
    r = replies["menu.agi"]
    assert r[1].data == "13800131001"
    assert r[3].data == "zh 1001"
    assert r[4].key == "1" and r[4].endpos == 13120
    assert r[5].digits == "2026120" and r[5].timed_out
    assert r[6].digits == "" and r[6].timed_out
    assert r[7].key == "#" and r[8].key is None
    assert r[9].failed and r[9].endpos == 0  # missing prompt
    assert r[14].value == -2  # unknown application
    assert r[15].value == 6  # channel status: up
    assert [x.code for x in r[-2:]] == [510, 520] and len(r[-1].usage) == 2
    assert not any(x.dead for x in r)


async def test_hang_ups_in_the_transcripts(
    script_server: tuple[FastAgiServer, dict[str, list[Reply]]],
) -> None:
    server, replies = script_server
    for name in (
        "hangup_during_get_data.agi",
        "hangup_before_answer_commands.agi",
        "timeout_then_partial.agi",
    ):
        await replay(
            read_transcript(shared_path("agi-traces", name)), "127.0.0.1", server.bound_port
        )
    during = replies["hangup_during_get_data.agi"]
    assert during[1].failed and not during[1].dead
    assert during[2].dead and during[2].hangup_notice and during[2].code == 511
    assert during[3].code == 511 and not during[3].hangup_notice
    assert during[4].ok and during[4].data == "13800131002"
    before = replies["hangup_before_answer_commands.agi"]
    assert before[1].failed and before[2].hangup_notice
    partial = replies["timeout_then_partial.agi"]
    assert partial[0].ok and partial[1].digits == "" and partial[1].timed_out
    assert partial[2].digits == "12" and partial[2].timed_out
    assert partial[3].key == "2" and partial[3].endpos == 2400
    assert partial[4].value == 1 and partial[5].dead


async def _echo_server(**kwargs: float) -> FastAgiServer:
    async def handler(session: AgiSession) -> None:
        reply = await session.send("ANSWER", timeout=kwargs.get("command_timeout", 5))
        await session.send(f"SET VARIABLE DONE {reply.result}")

    server = FastAgiServer(handler, "127.0.0.1", 0, env_timeout=kwargs.get("env_timeout", 5))
    await server.start()
    return server


async def _good_call(port: int, n: int) -> list[tuple[str, list[str]]]:
    return await run_channel(SimulatedChannel(), environment(f"1700000000.{n}"), "127.0.0.1", port)


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\n\n",
        b"agi_uniqueid: 1\n\xff\xfe\n\n",
        b"x" * (1 << 20) + b"\n",
        b"agi_uniqueid: 1\nagi_channel: x\n" + b"y" * (1 << 20) + b"\n",
    ],
)
async def test_garbage_in_one_session_leaves_the_others_alone(garbage: bytes) -> None:
    server = await _echo_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        writer.write(garbage)
        good = await asyncio.gather(*(_good_call(server.bound_port, n) for n in range(5)))
        assert await closed(reader)
        writer.close()
        assert all(trace[-1][0] == "SET VARIABLE DONE 0" for trace in good)
        assert server.counters.protocol_errors == 1 and server.counters.completed == 5
    finally:
        await server.stop()


async def test_garbage_reply_and_huge_reply_end_only_that_session() -> None:
    server = await _echo_server()
    try:
        for bad in (b"what?\n", b"200 result=0 " + b"z" * (1 << 20) + b"\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
            writer.write("".join(x + "\n" for x in environment("1.1")).encode())
            assert await reader.readline() == b"ANSWER\n"
            writer.write(bad)
            assert await closed(reader)
            writer.close()
        assert server.counters.protocol_errors == 2
        assert (await _good_call(server.bound_port, 9))[-1][0] == "SET VARIABLE DONE 0"
    finally:
        await server.stop()


async def test_silence_past_the_timeouts() -> None:
    server = await _echo_server(env_timeout=0.3, command_timeout=0.3)
    try:
        r1, w1 = await asyncio.open_connection("127.0.0.1", server.bound_port)
        w1.write(b"agi_uniqueid: 1\n")  # never finishes the environment
        r2, w2 = await asyncio.open_connection("127.0.0.1", server.bound_port)
        w2.write("".join(x + "\n" for x in environment("1.2")).encode())
        assert await r2.readline() == b"ANSWER\n"  # ... and never answers
        good = await _good_call(server.bound_port, 3)
        assert good[-1][0] == "SET VARIABLE DONE 0"
        assert await closed(r1)
        assert await closed(r2)
        w1.close()
        w2.close()
        assert server.counters.timeouts == 1 and server.counters.protocol_errors == 1
    finally:
        await server.stop()


@pytest.mark.expect_errors("ivr.agi.server")
async def test_a_handler_crash_is_logged_and_the_socket_closed() -> None:
    async def handler(session: AgiSession) -> None:
        if session.env.uniqueid == "boom":
            raise RuntimeError("bug")
        await session.send("NOOP")

    server = FastAgiServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        traces = await asyncio.gather(
            *(
                run_channel(SimulatedChannel(), environment(u), "127.0.0.1", server.bound_port)
                for u in ("boom", "a", "b")
            )
        )
        assert traces[0] == [] and traces[1] == [("NOOP", ["200 result=0"])]
        assert server.counters.handler_errors == 1 and server.counters.completed == 2
    finally:
        await server.stop()


async def test_stop_ends_open_sessions() -> None:
    started = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        started.set()
        await session.send("GET DATA beep 60000 4", timeout=120)

    server = FastAgiServer(handler, "127.0.0.1", 0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    writer.write("".join(x + "\n" for x in environment("1.3")).encode())
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(server.stop(), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b"GET DATA beep 60000 4\n"
    writer.close()
    assert server.counters.active == 0


async def test_stop_lets_a_session_finish_its_own_work_but_sends_nothing_more() -> None:
    """A caller's keypad score being stored when the service stops is stored, not cut off
    mid-write; the next command is not sent to Asterisk."""
    working, release = asyncio.Event(), asyncio.Event()
    stored: list[str] = []

    async def handler(session: AgiSession) -> None:
        await session.send("ANSWER")
        working.set()
        await release.wait()  # stands for the database write of what the caller pressed
        stored.append(session.env.uniqueid)
        await session.send('STREAM FILE thanks ""')

    server = FastAgiServer(handler, "127.0.0.1", 0, stop_grace=5)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    writer.write("".join(x + "\n" for x in environment("1.4")).encode())
    assert await asyncio.wait_for(reader.readline(), 5) == b"ANSWER\n"
    writer.write(b"200 result=0\n")
    await asyncio.wait_for(working.wait(), 5)
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert stored == ["1.4"]
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert server.counters.active == 0 and server.counters.handler_errors == 0


async def test_stop_cancels_own_work_that_outlasts_the_grace() -> None:
    started = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        started.set()
        await asyncio.sleep(3600)

    server = FastAgiServer(handler, "127.0.0.1", 0, stop_grace=0.1)
    await server.start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    writer.write("".join(x + "\n" for x in environment("1.5")).encode())
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(server.stop(), 5)
    writer.close()
    assert server.counters.active == 0


async def test_connections_beyond_the_limit_are_refused() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        started.set()
        await release.wait()
        await session.send("NOOP")

    server = FastAgiServer(handler, "127.0.0.1", 0, max_sessions=1)
    await server.start()
    try:
        first = asyncio.create_task(
            run_channel(SimulatedChannel(), environment("1.1"), "127.0.0.1", server.bound_port)
        )
        await asyncio.wait_for(started.wait(), 5)
        refused = await run_channel(
            SimulatedChannel(), environment("1.2"), "127.0.0.1", server.bound_port
        )
        assert refused == [] and server.counters.refused == 1
        release.set()
        assert (await first) == [("NOOP", ["200 result=0"])]
    finally:
        await server.stop()


async def test_asterisk_closing_mid_session_is_not_an_error() -> None:
    server = await _echo_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        writer.write("".join(x + "\n" for x in environment("1.1")).encode())
        assert await reader.readline() == b"ANSWER\n"
        writer.write(b"HANGUP\n")  # the notice, then the socket closes (older Asterisk)
        writer.close()
        await wait_until(lambda: server.counters.closed_by_peer == 1, what="the close")
        assert server.counters.protocol_errors == 0 and server.counters.active == 0
    finally:
        await server.stop()
