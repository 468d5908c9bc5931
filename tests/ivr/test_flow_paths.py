"""Every path of the packaged flow, over real TCP, against a caller that speaks AGI as the
recorded Asterisk 22 does: menus, night and holiday mode, invalid keys, silence, the call-back
offer, the progress lookup, the survey and a hang-up at every step."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from ivr.agi.client import HANGUP
from tests.ivr.conftest import Rig

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "key,category", [("1", "咨询"), ("2", "投诉举报"), ("3", "求助"), ("4", "意见建议")]
)
async def test_main_menu_to_a_queue_with_a_category(rig: Rig, key: str, category: str) -> None:
    call = await rig.call([key])
    assert call.commands[0] == "ANSWER"
    assert call.prompts == ["welcome", "menu_main"]
    assert call.commands[2] == "GET DATA hotline/menu_main 5000 1"
    assert call.variables == {
        "IVR_ACTION": "queue",
        "IVR_ENTRY": "12345",
        "IVR_QUEUE": "hotline",
        "IVR_CATEGORY": category,
    }
    assert rig.server.counters.completed == 1


async def test_zero_is_a_person(rig: Rig) -> None:
    call = await rig.call(["0"])
    assert call.prompts == ["welcome", "menu_main", "transfer"]
    assert call.variables["IVR_ACTION"] == "queue" and call.variables["IVR_CATEGORY"] == ""


@pytest.mark.parametrize(
    "dnid,extension,entry,category",
    [
        ("12315", "s", "12315", "市场监管"),
        ("unknown", "12369", "12369", "生态环境"),  # Local channels: agi_dnid is `unknown`
        ("99999", "88888", "12345", ""),  # an unknown number: the main entry
    ],
)
async def test_entry_points_by_dialled_number(
    rig: Rig, dnid: str, extension: str, entry: str, category: str
) -> None:
    call = await rig.call(["1"], dnid=dnid, extension=extension)
    greeting = "welcome" if entry == "12345" else f"welcome_{entry}"
    assert call.prompts[0] == greeting
    assert call.variables["IVR_ENTRY"] == entry
    if entry != "12345":
        assert call.prompts[1] == "menu_legacy" and call.variables["IVR_CATEGORY"] == category


async def test_invalid_keys_then_a_person(rig: Rig) -> None:
    call = await rig.call(["7", "9", "5"])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "invalid",
        "menu_main",
        "invalid",
        "menu_main",
        "transfer",
    ]
    assert call.variables["IVR_ACTION"] == "queue"


async def test_invalid_then_a_valid_key(rig: Rig) -> None:
    call = await rig.call(["*", "2"])
    assert call.prompts == ["welcome", "menu_main", "invalid", "menu_main"]
    assert call.variables["IVR_CATEGORY"] == "投诉举报"


async def test_silence_then_a_person(rig: Rig) -> None:
    call = await rig.call([])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "no_input",
        "menu_main",
        "no_input",
        "menu_main",
        "transfer",
    ]
    assert call.variables["IVR_ACTION"] == "queue"


@pytest.mark.parametrize(
    "moment,mode",
    [
        (at(2026, 12, 2, 20, 30), "night"),  # a working day after hours
        (at(2026, 12, 5, 18, 0), "night"),  # Saturday after its shorter hours
        (at(2026, 10, 1, 10, 0), "holiday"),  # National Day
    ],
)
async def test_closed_modes_take_a_callback_request(
    rig: Rig, moment: dt.datetime, mode: str
) -> None:
    rig.now[0] = moment
    call = await rig.call(["1"], callerid="13912345678")
    assert call.prompts == ["welcome", mode, "menu_closed", "callback_saved"]
    assert rig.callbacks.requests == [("13912345678", call_uniqueid(rig), mode)]
    assert call.variables == {"IVR_ACTION": "hangup", "IVR_ENTRY": "12345"}


def call_uniqueid(rig: Rig) -> str:
    return f"1796284796.{rig.calls}"


async def test_saturday_morning_is_open(rig: Rig) -> None:
    rig.now[0] = at(2026, 12, 5, 10, 0)
    assert (await rig.call(["1"])).prompts == ["welcome", "menu_main"]


async def test_closed_mode_without_caller_id_asks_for_a_number(rig: Rig) -> None:
    rig.now[0] = at(2026, 12, 2, 23, 0)
    call = await rig.call(["1", "12", "02588886666#"], callerid="")
    assert call.prompts == [
        "welcome",
        "night",
        "menu_closed",
        "callback_ask_number",
        "invalid",
        "callback_ask_number",
        "callback_saved",
    ]
    assert rig.callbacks.requests[0][0] == "02588886666"


async def test_closed_mode_still_reaches_a_person(rig: Rig) -> None:
    rig.now[0] = at(2026, 12, 2, 23, 0)
    call = await rig.call(["0"])
    assert call.variables["IVR_ACTION"] == "queue"


@pytest.mark.parametrize("key,queued", [("1", False), ("2", True), ("", True)])
async def test_callback_offer_when_the_wait_is_long(rig: Rig, key: str, queued: bool) -> None:
    rig.wait.seconds = 300
    call = await rig.call(["2", key])
    assert call.prompts[:3] == ["welcome", "menu_main", "callback_offer"]
    if queued:
        assert call.variables["IVR_CATEGORY"] == "投诉举报" and not rig.callbacks.requests
    else:
        assert call.variables["IVR_ACTION"] == "hangup"
        assert rig.callbacks.requests[0][2] == "wait"


async def test_no_offer_when_the_wait_is_short(rig: Rig) -> None:
    rig.wait.seconds = 30
    assert "callback_offer" not in (await rig.call(["2"])).prompts


async def test_progress_by_caller_id(rig: Rig) -> None:
    rig.progress.add("20261201-0042", "13800131001", "signed", at(2026, 12, 11, 23, 59))
    call = await rig.call(["8", "202612010042#", "2"])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "progress_ask_number",
        "progress_status",
        "status_signed",
        "progress_due",
        "digit_2",
        "digit_0",
        "digit_2",
        "digit_6",
        "year",
        "ten",
        "digit_2",
        "month",
        "ten",
        "digit_1",
        "day",
        "progress_more",
        "goodbye",
    ]
    assert rig.progress.asked == [("20261201-0042", "1001", "ivr:13800131001")]
    assert call.variables["IVR_ACTION"] == "hangup"


async def test_progress_other_phone_asks_last_four_digits(rig: Rig) -> None:
    rig.progress.add("20261201-0042", "13700002222", "replied", None)
    call = await rig.call(["8", "202612010042", "2222", "1", "202612010042", "0000", "0"])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "progress_ask_number",
        "progress_ask_last4",
        "progress_status",
        "status_replied",
        "progress_no_due",
        "progress_more",
        "progress_ask_number",
        "progress_ask_last4",
        "progress_not_found",
        "progress_ask_number",
        "transfer",
    ]
    assert call.variables["IVR_ACTION"] == "queue"


async def test_progress_locked_out_goes_to_a_person(rig: Rig) -> None:
    rig.progress.locked.add("20261201-0042")
    call = await rig.call(["8", "202612010042"])
    assert call.prompts[-2:] == ["progress_locked", "transfer"]
    assert call.variables["IVR_ACTION"] == "queue"


async def test_progress_bad_numbers_and_silence(rig: Rig) -> None:
    call = await rig.call(["8", "123", "", "99"])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "progress_ask_number",
        "invalid",
        "progress_ask_number",
        "no_input",
        "progress_ask_number",
        "transfer",
    ]
    assert not rig.progress.asked


@pytest.mark.parametrize(
    "inputs,score,prompts",
    [
        (["1"], 1, ["survey_ask", "survey_thanks"]),
        (["2"], 2, ["survey_ask", "survey_thanks"]),
        (["3"], 3, ["survey_ask", "survey_thanks"]),
        (["9", "3"], 3, ["survey_ask", "invalid", "survey_ask", "survey_thanks"]),
        ([], None, ["survey_ask", "no_input", "survey_ask", "no_input", "survey_ask", "goodbye"]),
        ([HANGUP], None, ["survey_ask"]),
    ],
)
async def test_survey(rig: Rig, inputs: list[str], score: int | None, prompts: list[str]) -> None:
    call = await rig.call(inputs, script="survey?agent=坐席1&queue=hotline")
    assert call.prompts == prompts
    assert call.commands[0].startswith("GET DATA hotline/survey_ask")
    assert rig.surveys.rows == [(call_uniqueid(rig), "坐席1", "hotline", score)]


PATHS = [
    (["1"], "ivr"),
    (["8", "202612010042", "1234", "2"], "ivr"),
    (["7", "0"], "ivr"),
    (["2", "1"], "ivr"),
    (["3"], "survey"),
]


@pytest.mark.parametrize("inputs,script", PATHS)
async def test_a_hang_up_at_every_step(rig: Rig, inputs: list[str], script: str) -> None:
    rig.wait.seconds = 300
    rig.progress.add("20261201-0042", "13700001234", "closed", None)
    full = await rig.call(inputs, script=script)
    # every step up to the end of the flow (the channel variables come after)
    steps = next(i for i, c in enumerate(full.commands) if c.startswith("SET VARIABLE"))
    for k in range(steps):
        surveys = len(rig.surveys.rows)
        call = await rig.call(inputs, script=script, hangup_after=k)
        # the command at k gets result=-1; the session stops there (after a prompt, at the
        # next command, which brings the HANGUP notice), sets no queue and closes
        extra = 1 if call.commands[k].startswith("STREAM FILE") else 0
        assert len(call.commands) == k + 1 + extra, (k, call.commands)
        assert extra == 0 or call.trace[-1][1][0] == "HANGUP"
        assert "IVR_QUEUE" not in call.variables
        if script == "survey" and call.commands[k].startswith("GET DATA hotline/survey_ask"):
            assert rig.surveys.rows[surveys:] == [(call_uniqueid(rig), "", "", None)]
    assert rig.server.counters.protocol_errors == 0 and rig.server.counters.handler_errors == 0


async def test_caller_keys_ending_with_hash_and_partial_entries(rig: Rig) -> None:
    rig.progress.add("20261201-004201", "13800131001", "closed", None)
    call = await rig.call(["8", "20261201004201"])
    assert "status_closed" in call.prompts
    assert rig.progress.asked[0][0] == "20261201-004201"


async def test_withheld_numbers_share_one_lock_out_key(rig: Rig) -> None:
    await rig.call(["8", "202612010042", "1234"], callerid="")
    await rig.call(["8", "202612010042", "1234"], callerid="")
    assert [a[2] for a in rig.progress.asked] == ["ivr:withheld", "ivr:withheld"]


async def test_keys_during_the_greeting_choose_at_once(rig: Rig) -> None:
    call = await rig.call(["!2"])
    assert call.commands[1] == "STREAM FILE hotline/welcome 012348"
    assert call.prompts == ["welcome"] and call.variables["IVR_CATEGORY"] == "投诉举报"
    assert (await rig.call(["!0"])).prompts == ["welcome", "transfer"]
    rig.now[0] = at(2026, 12, 2, 23, 0)
    night = await rig.call(["!1"])
    assert night.prompts == ["welcome", "callback_saved"] and rig.callbacks.requests


async def test_zero_during_any_prompt_reaches_a_person(rig: Rig) -> None:
    rig.progress.add("20261201-0042", "13800131001", "signed", None)
    call = await rig.call(["8", "202612010042", "!0"])
    assert call.prompts == [
        "welcome",
        "menu_main",
        "progress_ask_number",
        "progress_status",
        "transfer",
    ]
    assert call.variables["IVR_ACTION"] == "queue"
    # ... but not while already being transferred, nor in the survey
    assert 'STREAM FILE hotline/transfer ""' in call.commands
    survey = await rig.call(["1"], script="survey?agent=a&queue=q")
    assert survey.commands[1] == 'STREAM FILE hotline/survey_thanks ""'


async def test_two_hundred_calls_at_once(rig: Rig) -> None:
    keys = ["1", "2", "3", "4", "0"]
    calls = await asyncio.gather(*(rig.call([keys[n % 5]]) for n in range(200)))
    categories = {"1": "咨询", "2": "投诉举报", "3": "求助", "4": "意见建议", "0": ""}
    for n, call in enumerate(calls):
        assert call.variables["IVR_CATEGORY"] == categories[keys[n % 5]]
    c = rig.server.counters
    assert (c.connections, c.completed, c.active) == (200, 200, 0)
