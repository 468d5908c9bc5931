"""The pure interpreter against random replies (any shape Asterisk sends, any digits, in any
order): it never fails, never asks for an unknown prompt, and every call ends."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from ivr.agi.protocol import ReplyReader
from ivr.flows import FlowStore
from ivr.interpreter import (
    Agi,
    CallFacts,
    Finish,
    LeaveCallback,
    LookupProgress,
    ProgressAnswer,
    Saved,
    SaveSurvey,
    start,
    start_survey,
    step,
)

FLOW = FlowStore.packaged().flow
REPLIES = [
    "200 result=0",
    "200 result=0 endpos=8000",
    "200 result=-1",
    "200 result=-1 endpos=0",
    "200 result= (timeout)",
    "510 Invalid or unknown command",
    "511 Command Not Permitted on a dead channel or intercept routine",
    "200 result=1",
    "200 result=49 endpos=100",
    "200 result=2026120 (timeout)",
]
KEYS = ["0", "1", "2", "3", "4", "8", "9", "*", "12", "202612010042", "1234", "13800138000"]


def random_reply(rng: random.Random) -> object:
    if rng.random() < 0.5:
        return ReplyReader().feed(f"200 result={rng.choice(KEYS)}")
    if rng.random() < 0.1:
        reader = ReplyReader()
        reader.feed("HANGUP")
        return reader.feed(REPLIES[6])
    return ReplyReader().feed(rng.choice(REPLIES))


@pytest.mark.parametrize("seed", range(300))
def test_random_calls_always_end(seed: int) -> None:
    rng = random.Random(seed)
    entry = rng.choice(list(FLOW.entries.values()))
    facts = CallFacts(
        f"1.{seed}",
        rng.choice(["", "13800131001", "unknown"]),
        entry,
        rng.choice(["open", "night", "holiday"]),
        rng.choice([None, 0, 500]),
    )
    state, out = (start_survey if seed % 4 == 0 else start)(FLOW, facts)
    for _ in range(400):
        if isinstance(out, Finish):
            assert out.action in ("queue", "hangup")
            if out.action == "queue":
                assert out.queue in (FLOW.person_queue, FLOW.default_queue)
            return
        if isinstance(out, Agi):
            assert "\n" not in out.line and out.timeout > 0
            for verb in ("STREAM FILE hotline/", "GET DATA hotline/"):
                if out.line.startswith(verb):
                    assert out.line[len(verb) :].split(" ")[0] in FLOW.prompts, out.line
            result = random_reply(rng)
        elif isinstance(out, LookupProgress):
            result = ProgressAnswer(
                rng.choice(["found", "not_found", "locked"]),
                rng.choice(["signed", "nonsense", ""]),
                rng.choice([None, dt.date(2026, 12, 31)]),
            )
        else:
            assert isinstance(out, (LeaveCallback, SaveSurvey))
            result = Saved()
        state, out = step(FLOW, state, result)  # type: ignore[arg-type]
    pytest.fail(f"call did not end in 400 steps (node {state.node})")
