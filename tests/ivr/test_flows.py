"""The flow file: the packaged one is valid; each mistake is refused with its line, and the
running flow stays."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.flows import FlowError, FlowStore, packaged_flow_text, parse_flow
from ivr.session import mode_at
from sla.calendar import WorkCalendar

TEXT = packaged_flow_text()


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def test_the_packaged_flow() -> None:
    flow = parse_flow(TEXT)
    assert flow.main_entry.number == "12345"
    assert set(flow.entries) == {"12345", "12315", "12319", "12369", "12333"}
    assert all(m.keys["0"].kind == "person" for m in flow.menus.values())
    assert flow.entry_for("", "12315").category == "市场监管"


def _broken(old: str, new: str) -> tuple[str, int]:
    """The text with `old` replaced by `new`, and the line of the last line of `new`."""
    assert old in TEXT, old
    at = TEXT.index(old)
    text = TEXT[:at] + new + TEXT[at + len(old) :]
    return text, text[: at + len(new)].count("\n") + 1


@pytest.mark.parametrize(
    "old,new,words",
    [
        (
            '4 = "queue:意见建议", 8 = "progress"',
            '4 = "queue:意见建议", 8 = "progres"',
            "unknown action",
        ),
        (
            'keys = { 1 = "queue", 8 = "progress", 0 = "person" }',
            'keys = { 1 = "queue", 8 = "progress" }',
            "key 0 must be",
        ),
        ('menu = "legacy"', 'menu = "legasy"', "not defined"),
        ('greeting = "welcome_12319"', 'greeting = "welcome_9"', "not in [prompts]"),
        ('workday = "08:00-20:00"', 'workday = "20:00-08:00"', "closes before it opens"),
        ('restday = "09:00-17:00"', 'restday = "9 to 5"', "HH:MM"),
        ('number = "12369"', 'number = "12315"', "two entries"),
        ("retries = 2 ", "retries = -1 ", "at least 0"),
        ("menu_timeout_ms = 5000", 'menu_timeout_ms = "5000"', "must be a int"),
        ('goodbye = "感谢您的来电，再见。"', 'goodbye = ""', "needs its text"),
        ('person = "hotline"', 'person = "hot line"', "queue name"),
        ("[prompts]\nwelcome =", "[prompts]\nwelcome = = ", "not TOML"),
    ],
)
def test_mistakes_name_their_line(old: str, new: str, words: str) -> None:
    text, line = _broken(old, new)
    with pytest.raises(FlowError) as err:
        parse_flow(text)
    assert words in err.value.message
    assert err.value.line == line, str(err.value)


def test_a_missing_required_prompt_names_the_table() -> None:
    text = TEXT.replace('goodbye = "感谢您的来电，再见。"\n', "")
    with pytest.raises(FlowError) as err:
        parse_flow(text)
    assert err.value.line == line_of(text, "[prompts]") and "goodbye" in str(err.value)


def test_a_bad_flow_is_refused_and_the_running_one_stays() -> None:
    store = FlowStore.packaged()
    running = store.flow
    with pytest.raises(FlowError):
        store.load(TEXT.replace('menu = "legacy"', 'menu = "nope"', 1))
    assert store.flow is running
    new = store.load(
        TEXT.replace("version = 1", "version = 3").replace(
            "callback_wait_seconds = 120", "callback_wait_seconds = 60"
        )
    )
    assert store.flow is new and new.version == 3 and new.callback_wait_seconds == 60
    with pytest.raises(FlowError, match="older"):
        store.load(TEXT.replace("version = 1", "version = 2"))
    assert store.flow is new


SH = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    "moment,mode",
    [
        (dt.datetime(2026, 12, 2, 7, 59, tzinfo=SH), "night"),
        (dt.datetime(2026, 12, 2, 8, 0, tzinfo=SH), "open"),
        (dt.datetime(2026, 12, 2, 20, 0, tzinfo=SH), "night"),
        (dt.datetime(2026, 12, 6, 12, 0, tzinfo=SH), "open"),  # Sunday
        (dt.datetime(2026, 2, 17, 12, 0, tzinfo=SH), "holiday"),  # Spring Festival
        (dt.datetime(2026, 2, 14, 12, 0, tzinfo=SH), "open"),  # a make-up working Saturday
        (dt.datetime(2026, 2, 14, 19, 0, tzinfo=SH), "open"),  # ... with working-day hours
        (dt.datetime(2099, 1, 5, 12, 0, tzinfo=SH), "open"),  # a year the calendar lacks
    ],
)
def test_modes_by_calendar_and_hours(moment: dt.datetime, mode: str) -> None:
    assert mode_at(parse_flow(TEXT), WorkCalendar.default(), moment) == mode
