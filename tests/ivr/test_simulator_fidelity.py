"""The simulated channel the flow tests use answers only in shapes the recorded Asterisk 22
sessions show (../shared/agi-traces): every reply line of every flow path, reduced to its
shape (numbers and values blanked), is one of the recorded shapes."""

from __future__ import annotations

import re

from ivr.agi.client import HANGUP, read_transcript
from tests.conftest import shared_path
from tests.ivr.conftest import Rig


def shape(line: str) -> str:
    """`200 result=49 endpos=13120` -> `200 result=N endpos=N`; values in parentheses
    (but `timeout`) -> `(value)`; usage text lines are kept as they are."""
    if not line.startswith("200 "):
        return line
    rest = re.sub(r"\((?!timeout\))[^)]*\)", "(value)", line[4:])
    return "200 " + re.sub(r"-?\d+", "N", rest)


def recorded_shapes() -> set[str]:
    shapes = set()
    for path in shared_path("agi-traces").glob("*.agi"):
        steps = read_transcript(path)
        env_end = next(i for i, s in enumerate(steps) if s.direction == "<<" and s.text == "")
        shapes |= {shape(s.text) for s in steps[env_end + 1 :] if s.direction == "<<"}
    return shapes


async def test_every_simulated_reply_has_a_recorded_shape(rig: Rig) -> None:
    known = recorded_shapes()
    assert {
        "200 result=N",
        "200 result=N (timeout)",
        "200 result= (timeout)",
        "200 result=N endpos=N",
        "200 result=N (value)",
        "HANGUP",
    } <= known
    rig.progress.add("20261201-0042", "13700001234", "signed", None)
    rig.wait.seconds = 300
    paths = [
        ["1"],
        ["!2"],
        ["7", "", "0"],
        ["8", "202612010042", "1234", "1", "12", HANGUP],
        ["2", "1"],
        ["2", "9"],
    ]
    seen: set[str] = set()
    for inputs in paths:
        for hangup_after in (None, 1, 3):
            call = await rig.call(inputs, hangup_after=hangup_after)
            seen |= {shape(line) for _, reply in call.trace for line in reply}
    survey = await rig.call(["3"], script="survey?agent=a&queue=q")
    seen |= {shape(line) for _, reply in survey.trace for line in reply}
    assert seen - known == set(), f"shapes Asterisk was never seen sending: {seen - known}"
