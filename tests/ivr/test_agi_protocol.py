"""The FastAGI wire format: every reply shape the recorded Asterisk 22 sessions hold."""

from __future__ import annotations

import pytest

from ivr.agi.client import read_transcript
from ivr.agi.protocol import (
    AgiProtocolError,
    ReplyReader,
    command,
    parse_environment,
    parse_status_line,
    quote,
)
from tests.conftest import shared_path


def _env_lines(name: str) -> list[str]:
    steps = read_transcript(shared_path("agi-traces", name))
    lines = []
    for s in steps:
        if s.direction != "<<" or s.text == "":
            break
        lines.append(s.text)
    return lines


def test_environment_of_a_recorded_session() -> None:
    env = parse_environment(_env_lines("menu.agi"))
    assert env.uniqueid == "1796284796.1"
    assert env.channel == "Local/1001@agirec-00000000;2"
    assert env.callerid == "13800131001"
    assert env.dnid == ""  # `unknown` on Local channels
    assert env.extension == "1001"
    assert env.script == "ivr" and env.query == {"mode": ""}
    assert env.get("accountcode") == "" and env.get("version") == "22.10.1"
    assert env.args == ()


@pytest.mark.parametrize(
    "lines",
    [
        ["agi_uniqueid 1"],
        ["hello: x"],
        ["agi_channel: x"],
        ["agi_a-b: 1", "agi_uniqueid: 1"],
    ],
)
def test_a_bad_environment_is_refused(lines: list[str]) -> None:
    with pytest.raises(AgiProtocolError):
        parse_environment(lines)


def test_arguments_and_query() -> None:
    env = parse_environment(
        [
            "agi_uniqueid: 1.2",
            "agi_channel: SIP/x",
            "agi_network_script: survey?agent=坐席1&queue=q",
            "agi_arg_1: a",
            "agi_arg_2: b c",
        ]
    )
    assert env.script == "survey" and env.query == {"agent": "坐席1", "queue": "q"}
    assert env.args == ("a", "b c")


def test_a_uriencoded_member_name_arrives_whole() -> None:
    """What the generated dialplan sends for the member `坐席 1&2+3`: URIENCODE (func_uri,
    ast_uri_http) %-encodes every byte but letters, digits and -_.!~*'() (main/utils.c)."""
    encoded = "%E5%9D%90%E5%B8%AD%201%262%2B3"
    env = parse_environment(
        [
            "agi_uniqueid: 1.2",
            "agi_channel: Local/12345@hotline-ivr-1;2",
            f"agi_network_script: survey?agent={encoded}&queue=hotline",
        ]
    )
    assert env.query == {"agent": "坐席 1&2+3", "queue": "hotline"}


@pytest.mark.parametrize(
    "line,result,data,endpos,digits,key",
    [
        ("200 result=0", "0", None, None, "0", None),
        ("200 result=49 endpos=13120", "49", None, 13120, "49", "1"),
        ("200 result=35", "35", None, None, "35", "#"),
        ("200 result=2026120 (timeout)", "2026120", "timeout", None, "2026120", None),
        ("200 result= (timeout)", "", "timeout", None, "", None),
        ("200 result=-1 endpos=0", "-1", None, 0, "", None),
        ("200 result=0 endpos=-1", "0", None, -1, "0", None),
        ("200 result=1 (zh 1001)", "1", "zh 1001", None, "1", None),
        ("200 result=-2", "-2", None, None, "", None),
        ("200 result=50 endpos=2400", "50", None, 2400, "50", "2"),
    ],
)
def test_200_replies(
    line: str, result: str, data: str | None, endpos: int | None, digits: str, key: str | None
) -> None:
    r = parse_status_line(line)
    assert (r.code, r.result, r.data, r.endpos, r.digits) == (200, result, data, endpos, digits)
    if key is not None:
        assert r.key == key
    assert r.timed_out == (data == "timeout")


def test_failure_codes_and_hangup_notice() -> None:
    reader = ReplyReader()
    r = reader.feed("510 Invalid or unknown command")
    assert r is not None and r.code == 510 and not r.ok and not r.dead
    assert reader.feed("HANGUP") is None
    r = reader.feed("511 Command Not Permitted on a dead channel or intercept routine")
    assert r is not None and r.code == 511 and r.dead and r.hangup_notice
    r = reader.feed("200 result=1 (13800131002)")  # variable reads work on a dead channel
    assert r is not None and r.ok and r.data == "13800131002" and not r.hangup_notice
    assert parse_status_line("200 result=-1").failed


def test_usage_block() -> None:
    reader = ReplyReader()
    assert reader.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert (
        reader.feed("Stream the given <replaceable>file</replaceable>, and receive DTMF data.")
        is None
    )
    assert reader.feed("Returns the digits received from the channel at the other end.") is None
    r = reader.feed("520 End of proper usage.")
    assert r is not None and r.code == 520 and len(r.usage) == 2


@pytest.mark.parametrize(
    "line", ["", "hello", "200 result=1 junk", "20 x", "2000 x", "200 result=1 (unclosed"]
)
def test_garbage_is_refused(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        ReplyReader().feed(line)


def test_command_quoting() -> None:
    assert command("STREAM FILE", "beep", "") == 'STREAM FILE beep ""'
    assert command("GET DATA", "beep", 10000, 4) == "GET DATA beep 10000 4"
    assert command("SET VARIABLE", "X", 'a "b" c\\') == 'SET VARIABLE X "a \\"b\\" c\\\\"'
    assert quote("0123456789*#") == "0123456789*#"
    with pytest.raises(ValueError):
        quote("a\nHANGUP")
