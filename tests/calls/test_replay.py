"""The replay server speaks enough AMI for a listener: login, Ping, QueueStatus, CoreShowChannels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from calls.ami import parse as ami_parse
from calls.ami.replay import Capture, ReplayServer, shift_frame


async def action(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str, until: bytes
) -> list[dict[str, str]]:
    writer.write(text.encode() + b"\r\n")
    frames = []
    while True:
        frame = ami_parse.parse_frame((await reader.readuntil(b"\r\n\r\n"))[:-4])
        if "Response" in frame or frame.get("ActionID") == "t":
            frames.append(frame)
        if frame.get("Event", frame.get("Response")) == until.decode():
            return frames


@pytest.mark.asyncio
async def test_queue_status_reflects_the_replay_position(busy_dir: Path) -> None:
    cap = Capture.load(busy_dir)
    # Stop after the first three callers joined (none answered yet in this capture).
    joins = [i for i, f in enumerate(cap.frames) if f.startswith(b"Event: QueueCallerJoin")]
    server = ReplayServer(
        cap, speed=0, drop_at=[joins[2] + 1], username="hotline", secret="s", resume_delay_s=5.0
    )
    host, port = await server.start()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        assert (await reader.readline()).startswith(b"Asterisk Call Manager/")
        [resp] = await action(
            reader,
            writer,
            "Action: Login\r\nUsername: hotline\r\nSecret: s\r\nActionID: t\r\n",
            b"Success",
        )
        assert resp["ActionID"] == "t"
        await asyncio.wait_for(reader.read(), 5)  # stream up to the drop, then EOF
        writer.close()
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()
        await action(
            reader,
            writer,
            "Action: Login\r\nUsername: hotline\r\nSecret: s\r\nActionID: t\r\n",
            b"Success",
        )
        frames = await action(
            reader, writer, "Action: QueueStatus\r\nActionID: t\r\n", b"QueueStatusComplete"
        )
        entries = [f for f in frames if f.get("Event") == "QueueEntry"]
        assert len(entries) >= 1 and all(int(f["Wait"]) >= 0 for f in entries)
        assert frames[0]["EventList"] == "start" and frames[-1]["EventList"] == "Complete"
        assert int(frames[-1]["ListItems"]) == len(frames) - 2
        chans = await action(
            reader,
            writer,
            "Action: CoreShowChannels\r\nActionID: t\r\n",
            b"CoreShowChannelsComplete",
        )
        ids = {f["Uniqueid"] for f in chans if f.get("Event") == "CoreShowChannel"}
        assert {f["Uniqueid"] for f in entries} <= ids
        [pong] = await action(reader, writer, "Action: Ping\r\nActionID: t\r\n", b"Success")
        assert pong["Ping"] == "Pong"
    finally:
        writer.close()
        await server.close()


@pytest.mark.asyncio
async def test_wrong_secret_is_refused(busy_dir: Path) -> None:
    server = ReplayServer(Capture.load(busy_dir), speed=0, username="hotline", secret="s")
    host, port = await server.start()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await reader.readline()
        [resp] = await action(
            reader,
            writer,
            "Action: Login\r\nUsername: hotline\r\nSecret: x\r\nActionID: t\r\n",
            b"Error",
        )
        assert resp["Message"] == "Authentication failed"
    finally:
        writer.close()
        await server.close()


def test_loop_shift_moves_times_and_uniqueids_only() -> None:
    frame = (
        b"Event: AgentConnect\r\nTimestamp: 1795639920.289940\r\nUniqueid: 1795639917.1\r\n"
        b"Linkedid: 1795639917.0\r\nDestUniqueid: 1795639918.2\r\nBridgeUniqueid: 1795639917.9\r\n"
        b"HoldTime: 2"
    )
    h = ami_parse.parse_frame(shift_frame(frame, 1000))
    assert h["Timestamp"] == "1795640920.289940" and h["Uniqueid"] == "1795640917.1"
    assert h["Linkedid"] == "1795640917.0" and h["DestUniqueid"] == "1795640918.2"
    assert h["BridgeUniqueid"] == "1795639917.9" and h["HoldTime"] == "2"
