"""Malformed input on the wire is logged and skipped; the listener keeps running and the
numbers of the real calls are untouched."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from calls.ami.offline import track_capture
from calls.ami.replay import Capture
from sla.metrics import compute

from .conftest import expected


def garbage(k: int) -> list[bytes]:
    """The malformed frames, their Timestamps distinct per `k` (identical ones are deduplicated)."""
    return [
        frame.replace(b"Timestamp: T", b"Timestamp: %d" % (1795600000 + 100 * k))
        for frame in _GARBAGE
    ]


_GARBAGE = [
    b"\x00\xff\xfe\x80 not a frame \x81\r\n\r\n",  # garbage bytes
    b"Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: T0.5\r\nQueue: hot\r\n\r\n",  # truncated
    b"Event: AgentComplete\r\nTimestamp: T1.0\r\nQueue: hotline\r\nMemberName: \xe5\x9d\r\n"
    b"HoldTime: \xff\xfe\r\nTalkTime: 3\r\n\r\n",  # invalid UTF-8 in a number
    b"Event: VarSet\r\nVariable: BIG\r\nValue: " + b"x" * 1_000_000 + b"\r\n\r\n",  # a 1 MB line
    b"y" * 1_000_000 + b"\r\n\r\n",  # 1 MB without a colon
    b"Event: MadeUpEvent\r\nFoo: bar\r\n\r\n",  # unknown event
    b"Event: \xc3\x28\xa0\xa1\r\nFoo: \xff\r\n\r\n",  # invalid UTF-8 name
    b"Event: QueueCallerJoin\r\nTimestamp: T2.0\r\nQueue: hotline\r\n\r\n",  # fields missing
    b"Event: Hangup\r\nTimestamp: T5.0e999\r\nUniqueid: 1.1\r\n\r\n",  # bad Timestamp
    b"Event: AgentRingNoAnswer\r\nTimestamp: T3.0\r\nQueue: hotline\r\nUniqueid: 9.9\r\n"
    b"MemberName: x\r\nRingTime: fifteen\r\n\r\n",  # bad number
    b"Response: Success\r\nActionID: nobody-asked\r\n\r\n",  # unsolicited response
    b"Event: QueueCallerLeave\r\nTimestamp: T4.0\r\nQueue: hotline\r\nUniqueid: 404.1\r\n\r\n",  # unknown call
]
PARSE_ERRORS = 5  # the truncated, invalid-number, fields-missing, nan and bad-number frames


@pytest.mark.asyncio
async def test_malformed_frames_are_skipped_and_the_stream_goes_on(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cap = Capture.load(capture_dir)
    spots = [0, len(cap.frames) // 3, len(cap.frames) // 2, len(cap.frames) - 1]
    inject = {n: garbage(k) for k, n in enumerate(spots)}
    with caplog.at_level(logging.WARNING, logger="calls.ami.listener"):
        tracker, listener = await track_capture(cap, inject=inject)
    stats = listener.stats
    assert stats.connects == 1, stats.last_error
    assert stats.parse_errors == PARSE_ERRORS * len(spots)
    assert stats.unknown_packs >= 2 * len(spots)
    assert "AMI event skipped" in caplog.text
    want = expected(capture_dir)
    records = tracker.all_records()
    assert {r.uniqueid: r.summary() for r in records} == want.pop("calls")
    assert compute(records).as_dict() == want


@pytest.mark.expect_errors("calls.ami.listener")
@pytest.mark.asyncio
async def test_a_failing_subscriber_does_not_stop_the_others(busy_dir: Path) -> None:
    from calls.ami import events as ev
    from calls.ami.listener import AmiListener, ListenerOptions
    from calls.ami.replay import ReplayServer
    import asyncio

    server = ReplayServer(Capture.load(busy_dir), speed=0)
    host, port = await server.start()
    listener = AmiListener(host, port, "u", "p", ListenerOptions(backoff_initial_s=0.05))
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("subscriber bug")

    listener.subscribe(broken)
    listener.subscribe(seen.append)
    await listener.start()
    try:
        await asyncio.wait_for(server.finished.wait(), 30)
        await listener.wait_connected(5)
        await listener.sync()
    finally:
        await listener.stop()
        await server.close()
    assert listener.stats.handler_errors == len(seen) > 0
    assert sum(isinstance(e, ev.QueueCallerJoin) for e in seen) == expected(busy_dir)["offered"]
