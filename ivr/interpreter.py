"""The IVR as a pure state machine: `start(flow, facts)` and `step(flow, state, result)` each
return the next state and one output. Outputs are AGI command lines (`Agi`) or requests for the
adapter (`LookupProgress`, `LeaveCallback`, `SaveSurvey`) or the end (`Finish`: the channel
variables the dialplan acts on). Results are the AGI `Reply` of the last command or the
adapter's answer (`ProgressAnswer`, `Saved`). No I/O, no clock: the adapter (ivr.session)
decides the mode and estimated wait before the call starts.

Prompts are sound files `hotline/<prompt id>` in the channel's language directory
(`hotline ivr prompts` renders them). GET DATA stops a prompt at the first key, so every
menu can be answered before it ends; key 0 reaches a person at every step (GB/T 33358).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Union

from ivr.agi.protocol import Reply, command
from ivr.flows import CLOSED_MENU, Action, Entry, Flow

SOUND_DIR = "hotline"
PLAY_TIMEOUT = 120.0  # the longest prompt, with margin
READ_MARGIN = 120.0  # GET DATA: the prompt plays before its digit timeout starts


@dataclass(frozen=True, slots=True)
class CallFacts:
    uniqueid: str
    callerid: str
    entry: Entry
    mode: str = "open"  # "open", "night" or "holiday"
    wait_seconds: float | None = None  # estimated wait in the queue, None: unknown


# --- outputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agi:
    line: str
    timeout: float


@dataclass(frozen=True, slots=True)
class LookupProgress:
    number: str
    phone_last4: str
    by_callerid: bool


@dataclass(frozen=True, slots=True)
class LeaveCallback:
    phone: str
    reason: str  # "night", "holiday", "wait" or "menu"


@dataclass(frozen=True, slots=True)
class SaveSurvey:
    score: int | None  # 1 满意, 2 基本满意, 3 不满意; None no answer


@dataclass(frozen=True, slots=True)
class Finish:
    action: str  # "queue" or "hangup"
    queue: str = ""
    category: str = ""


Output = Union[Agi, LookupProgress, LeaveCallback, SaveSurvey, Finish]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgressAnswer:
    outcome: str  # "found", "not_found" or "locked"
    status: str = ""
    due: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Saved:
    ok: bool = True


Result = Union[Reply, ProgressAnswer, Saved]


@dataclass(frozen=True, slots=True)
class State:
    node: str
    facts: CallFacts
    menu: str = ""
    retries: int = 0
    queue_prompts: tuple[str, ...] = ()  # prompts still to play before `after`
    after: str = ""
    pending: Action | None = None  # the queue action a call-back offer holds
    escape: str = ""  # keys that stop the prompts being played
    ticket: str = ""
    by_callerid: bool = False
    dead: bool = False


Step = tuple[State, Output]

SURVEY_SCORES = {"1": 1, "2": 2, "3": 3}


def start(flow: Flow, facts: CallFacts) -> Step:
    return State("answer", facts, menu=facts.entry.menu), Agi(command("ANSWER"), 10.0)


def start_survey(flow: Flow, facts: CallFacts) -> Step:
    """After the agent hung up (Queue's `c` option): the caller's channel is still up."""
    return _enter(flow, State("survey", facts, menu="survey"))


def step(flow: Flow, state: State, result: Result) -> Step:
    if isinstance(result, Reply) and (result.dead or result.failed and state.node != "play"):
        # `result=-1` from STREAM FILE is also a missing prompt file (`endpos=0`): the call
        # goes on, and if the caller did hang up, the next command says so (HANGUP, 511).
        return _hung_up(state)
    handler = _HANDLERS[state.node]
    return handler(flow, state, result)


# --- helpers ------------------------------------------------------------------------------------


def _sound(prompt: str) -> str:
    return f"{SOUND_DIR}/{prompt}"


def _ask(
    flow: Flow, state: State, node: str, prompt: str, max_digits: int, timeout_ms: int
) -> Step:
    line = command("GET DATA", _sound(prompt), timeout_ms, max_digits)
    return dataclasses.replace(state, node=node), Agi(line, READ_MARGIN + timeout_ms / 1000)


def _play(
    state: State, prompts: tuple[str, ...], after: str, escape: str = "0", **changes: object
) -> Step:
    """Play `prompts`, then enter `after`. A key of `escape` stops them (STREAM FILE reports
    it): 0 is a person; before a menu, that menu's keys choose at once."""
    first, *rest = prompts
    fields: dict[str, Any] = {
        "node": "play",
        "queue_prompts": tuple(rest),
        "after": after,
        "escape": escape,
        **changes,
    }
    new = dataclasses.replace(state, **fields)
    return new, Agi(command("STREAM FILE", _sound(first), escape), PLAY_TIMEOUT)


def _menu_keys(flow: Flow, menu: str) -> str:
    return "".join(sorted(flow.menus[menu].keys))


def _finish_queue(flow: Flow, state: State, action: Action) -> Step:
    if action.kind == "person":
        return state, Finish("queue", flow.person_queue, state.facts.entry.category)
    return state, Finish("queue", flow.default_queue, action.category or state.facts.entry.category)


def _hung_up(state: State) -> Step:
    dead = dataclasses.replace(state, dead=True)
    if state.menu == "survey":  # a hang-up before scoring is recorded as no answer
        return dataclasses.replace(dead, node="saving", menu="unscored"), SaveSurvey(None)
    return dead, Finish("hangup")


def _retry(flow: Flow, state: State, prompt: str, node: str) -> Step:
    """Invalid key or silence: say so and ask again, up to `retries`; then a person."""
    if state.retries >= flow.retries:
        if node == "survey":
            return dataclasses.replace(state, node="saving", menu="unscored"), SaveSurvey(None)
        return _person(state)
    escape = "" if node == "survey" else _menu_keys(flow, state.menu) if node == "menu" else "0"
    return _play(state, (prompt,), node, escape, retries=state.retries + 1)


def _person(state: State) -> Step:
    return _play(state, ("transfer",), "person", "")


def _enter(flow: Flow, state: State) -> Step:
    """Start the node named by `state.node` (after any prompts were played)."""
    node = state.node
    if node == "route":
        if state.facts.mode != "open":
            return _play(
                state,
                (state.facts.mode,),
                "menu",
                _menu_keys(flow, CLOSED_MENU),
                menu=CLOSED_MENU,
                retries=0,
            )
        return _enter(flow, dataclasses.replace(state, node="menu"))
    if node == "menu":
        prompt = flow.menus[state.menu].prompt
        return _ask(flow, state, "menu", prompt, 1, flow.menu_timeout_ms)
    if node == "progress_number":
        # Ticket numbers are keyed as their digits (12 to 14), `#` ends.
        return _ask(flow, state, node, "progress_ask_number", 14, flow.number_timeout_ms)
    if node == "progress_last4":
        return _ask(flow, state, node, "progress_ask_last4", 4, flow.number_timeout_ms)
    if node == "progress_more":
        return _ask(flow, state, node, "progress_more", 1, flow.menu_timeout_ms)
    if node == "callback_number":
        return _ask(flow, state, node, "callback_ask_number", 20, flow.number_timeout_ms)
    if node == "callback_offer":
        return _ask(flow, state, node, "callback_offer", 1, flow.menu_timeout_ms)
    if node == "survey":
        return _ask(flow, state, node, "survey_ask", 1, flow.menu_timeout_ms)
    if node == "person":
        return _finish_queue(flow, state, Action("person"))
    if node == "queue":
        assert state.pending is not None
        return _finish_queue(flow, state, state.pending)
    if node == "hangup":
        return state, Finish("hangup")
    raise ValueError(f"no such node {node!r}")


def _goto(flow: Flow, state: State, node: str, **changes: object) -> Step:
    return _enter(flow, dataclasses.replace(state, node=node, **changes))  # type: ignore[arg-type]


def _digits(result: Result) -> str:
    assert isinstance(result, Reply)
    return result.digits if result.ok else ""


# --- handlers: the reply to what `state.node` asked ---------------------------------------------


def _first_menu(state: State) -> str:
    return CLOSED_MENU if state.facts.mode != "open" else state.facts.entry.menu


def _on_answer(flow: Flow, state: State, result: Result) -> Step:
    # Callers who know the menu may key their choice during the greeting.
    return _play(
        state, (state.facts.entry.greeting,), "route", _menu_keys(flow, _first_menu(state))
    )


def _on_play(flow: Flow, state: State, result: Result) -> Step:
    key = result.key if isinstance(result, Reply) else None
    if key is not None and key in state.escape:
        if key == "0":
            return _person(state)
        if state.after in ("route", "menu"):
            menu = _first_menu(state) if state.after == "route" else state.menu
            action = flow.menus[menu].keys.get(key)
            if action is not None:
                return _act(flow, dataclasses.replace(state, menu=menu), action)
    if state.queue_prompts:
        return _play(state, state.queue_prompts, state.after, state.escape)
    return _goto(flow, state, state.after, queue_prompts=())


def _act(flow: Flow, state: State, action: Action) -> Step:
    state = dataclasses.replace(state, retries=0)
    if action.kind == "person":
        return _person(state)
    if action.kind == "progress":
        return _goto(flow, state, "progress_number")
    if action.kind == "callback":
        return _callback(flow, state, state.facts.mode if state.facts.mode != "open" else "menu")
    wait = state.facts.wait_seconds
    if wait is not None and wait > flow.callback_wait_seconds and state.facts.mode == "open":
        return _goto(flow, state, "callback_offer", pending=action)
    return _finish_queue(flow, state, action)


def _callback(flow: Flow, state: State, reason: str) -> Step:
    phone = state.facts.callerid
    if len(phone) >= 7 and phone.isdigit():
        return dataclasses.replace(state, node="leaving", ticket=reason), LeaveCallback(
            phone, reason
        )
    return _goto(flow, state, "callback_number", ticket=reason)


def _on_menu(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    menu = flow.menus[state.menu]
    if keyed and keyed[0] in menu.keys:
        return _act(flow, state, menu.keys[keyed[0]])
    return _retry(flow, state, "invalid" if keyed else "no_input", "menu")


def _on_callback_offer(flow: Flow, state: State, result: Result) -> Step:
    if _digits(result) == "1":
        return _callback(flow, state, "wait")
    assert state.pending is not None
    return _finish_queue(flow, state, state.pending)


def _on_callback_number(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    if keyed == "0":
        return _person(state)
    if 7 <= len(keyed) <= 20 and keyed.isdigit():
        return dataclasses.replace(state, node="leaving"), LeaveCallback(keyed, state.ticket)
    return _retry(flow, state, "invalid" if keyed else "no_input", "callback_number")


def _on_left(flow: Flow, state: State, result: Result) -> Step:
    return _play(state, ("callback_saved",), "hangup", "")


def _on_progress_number(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    if keyed == "0":
        return _person(state)
    if 12 <= len(keyed) <= 14 and keyed.isdigit():
        number = f"{keyed[:8]}-{keyed[8:]}"
        caller = state.facts.callerid
        if len(caller) >= 4 and caller.isdigit():
            return (
                dataclasses.replace(state, node="looking", ticket=number, by_callerid=True),
                LookupProgress(number, caller[-4:], True),
            )
        return _goto(flow, state, "progress_last4", ticket=number)
    return _retry(flow, state, "invalid" if keyed else "no_input", "progress_number")


def _on_progress_last4(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    if keyed == "0":
        return _person(state)
    if len(keyed) == 4 and keyed.isdigit():
        return (
            dataclasses.replace(state, node="looking", by_callerid=False),
            LookupProgress(state.ticket, keyed, False),
        )
    return _retry(flow, state, "invalid" if keyed else "no_input", "progress_last4")


def _on_progress(flow: Flow, state: State, result: Result) -> Step:
    assert isinstance(result, ProgressAnswer)
    if result.outcome == "locked":
        return _play(state, ("progress_locked", "transfer"), "person", "")
    if result.outcome == "not_found":
        if state.by_callerid:  # not the number this call comes from: ask for the last 4
            return _goto(flow, state, "progress_last4")
        if state.retries >= flow.retries:
            return _play(state, ("progress_not_found", "transfer"), "person", "")
        return _play(state, ("progress_not_found",), "progress_number", retries=state.retries + 1)
    status = f"status_{result.status}"
    words: list[str] = ["progress_status", status if status in flow.prompts else "status_other"]
    if result.due is None:
        words.append("progress_no_due")
    else:
        words.append("progress_due")
        words += [f"digit_{d}" for d in str(result.due.year)] + ["year"]
        words += _number_words(result.due.month) + ["month"]
        words += _number_words(result.due.day) + ["day"]
    return _play(state, tuple(words), "progress_more", retries=0)


def _number_words(n: int) -> list[str]:
    """1..99 as spoken Mandarin: 十二 is ten-two, 二十一 two-ten-one."""
    tens, ones = divmod(n, 10)
    out = [] if tens == 0 else (["ten"] if tens == 1 else [f"digit_{tens}", "ten"])
    if ones or not out:
        out.append(f"digit_{ones}")
    return out


def _on_progress_more(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    if keyed == "1":
        return _goto(flow, state, "progress_number", retries=0)
    if keyed == "0":
        return _person(state)
    return _play(state, ("goodbye",), "hangup")


def _on_survey(flow: Flow, state: State, result: Result) -> Step:
    keyed = _digits(result)
    if keyed in SURVEY_SCORES:
        return (
            dataclasses.replace(state, node="saving", menu="scored"),
            SaveSurvey(SURVEY_SCORES[keyed]),
        )
    return _retry(flow, state, "invalid" if keyed else "no_input", "survey")


def _on_saved(flow: Flow, state: State, result: Result) -> Step:
    if state.dead:
        return state, Finish("hangup")
    return _play(state, ("survey_thanks" if state.menu == "scored" else "goodbye",), "hangup", "")


_HANDLERS = {
    "answer": _on_answer,
    "play": _on_play,
    "menu": _on_menu,
    "callback_offer": _on_callback_offer,
    "callback_number": _on_callback_number,
    "leaving": _on_left,
    "progress_number": _on_progress_number,
    "progress_last4": _on_progress_last4,
    "looking": _on_progress,
    "progress_more": _on_progress_more,
    "survey": _on_survey,
    "saving": _on_saved,
}
