"""Parsing raw header mappings into typed events."""

from __future__ import annotations

import pytest

from calls.ami import events as ev
from calls.ami import parse as ami_parse

CONNECT = {
    "Event": "AgentConnect",
    "Timestamp": "1795639920.289940",
    "Queue": "hotline",
    "Uniqueid": "1795639917.1",
    "CallerIDNum": "16702419103",
    "DestUniqueid": "1795639918.2",
    "MemberName": "坐席1",
    "Interface": "Local/8001@agents/n",
    "RingTime": "2",
    "HoldTime": "2",
}


def test_agent_connect_units_are_seconds() -> None:
    e = ami_parse.parse_event(CONNECT)
    assert isinstance(e, ev.AgentConnect)
    assert (e.ts, e.ring_time_s, e.hold_time_s, e.member_name) == (1795639920.28994, 2, 2, "坐席1")


def test_ring_no_answer_is_milliseconds() -> None:
    e = ami_parse.parse("AgentRingNoAnswer", dict(CONNECT, RingTime="15000"))
    assert isinstance(e, ev.AgentRingNoAnswer) and e.ring_time_ms == 15000


def test_unknown_event_is_none() -> None:
    assert ami_parse.parse("VarSet", {"Variable": "X"}) is None
    assert ami_parse.parse_event({"Foo": "bar"}) is None


@pytest.mark.parametrize(
    "change",
    [
        {"Uniqueid": None},
        {"HoldTime": "two"},
        {"Timestamp": "x"},
        {"Timestamp": "inf"},
        {"Timestamp": None},
    ],
)
def test_missing_or_bad_fields_raise_parse_error(change: dict) -> None:
    headers = {k: v for k, v in {**CONNECT, **change}.items() if v is not None}
    with pytest.raises(ev.ParseError) as info:
        ami_parse.parse_event(headers)
    assert info.value.event == "AgentConnect"


def test_list_items_take_the_time_they_were_received() -> None:
    e = ami_parse.parse(
        "QueueEntry",
        {
            "Queue": "hotline",
            "Uniqueid": "1.2",
            "Wait": "12",
            "Position": "1",
            "CallerIDNum": "139",
            "ActionID": "a",
        },
        99.5,
    )
    assert isinstance(e, ev.QueueEntry) and (e.ts, e.wait_s, e.action_id) == (99.5, 12, "a")
    member = ami_parse.parse(
        "QueueMember",
        {
            "Queue": "hotline",
            "Name": "坐席3",
            "Location": "PJSIP/8003",
            "Status": "1",
            "Paused": "1",
            "PausedReason": "培训",
        },
        1.0,
    )
    assert isinstance(member, ev.QueueMember)
    assert (member.member_name, member.interface, member.paused, member.paused_reason) == (
        "坐席3",
        "PJSIP/8003",
        True,
        "培训",
    )


def test_complete_without_channel_fields_is_accepted() -> None:
    e = ami_parse.parse(
        "AgentComplete",
        {
            "Timestamp": "1.5",
            "Queue": "hotline",
            "MemberName": "坐席2",
            "Interface": "PJSIP/8002",
            "HoldTime": "64",
            "TalkTime": "41",
            "Reason": "agent",
        },
    )
    assert isinstance(e, ev.AgentComplete) and e.uniqueid == "" and e.talk_time_s == 41


def test_parse_frame_replaces_invalid_utf8() -> None:
    h = ami_parse.parse_frame(
        b"Event: QueueMemberPause\r\nMemberName: \xe5\x9d\x90\xe5\xb8\r\nnocolon\r\n"
    )
    assert h == {"Event": "QueueMemberPause", "MemberName": "坐\ufffd"}
