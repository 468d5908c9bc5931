"""The IVR flow file (`ivr/data/flows.toml`), read into frozen values and validated at load.

Every mistake is reported with its line (`FlowError.line`): a bad file is refused whole, and
`FlowStore.load` keeps the flow that was running. Pure: parsing and checks, no I/O beyond
reading the text handed in.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

PROMPT_ID = re.compile(r"[a-z][a-z0-9_]*")
ACTIONS = ("queue", "progress", "callback", "person")
# Prompts the interpreter itself plays (beyond greetings and menus the file names).
REQUIRED_PROMPTS = (
    "night",
    "holiday",
    "invalid",
    "no_input",
    "transfer",
    "callback_offer",
    "callback_saved",
    "callback_ask_number",
    "progress_ask_number",
    "progress_ask_last4",
    "progress_not_found",
    "progress_locked",
    "progress_status",
    "progress_due",
    "progress_no_due",
    "progress_more",
    "survey_ask",
    "survey_thanks",
    "goodbye",
)
REQUIRED_WORDS = (*(f"digit_{n}" for n in range(10)), "ten", "year", "month", "day", "status_other")
CLOSED_MENU = "closed"
# tomllib's messages (Python 3.11), the usual ones in Chinese; others are shown as they are.
TOML_ZH = (
    ("Invalid value", "值无效（字符串须加引号）"),
    ("Expected '=' after a key", "键名之后缺少 ="),
    ("Cannot overwrite a value", "同一个键赋值两次"),
    ("Cannot declare", "同一个表声明两次"),
    ("Unterminated string", "字符串缺少结束的引号"),
    ("Illegal character", "含有非法字符"),
    ("Invalid statement", "无法识别的语句"),
    ("Expected newline or end of document", "一条语句之后须换行"),
    ("Invalid initial character for a key part", "键名的首字符无效"),
    ("Unclosed array", "数组缺少 ]"),
    ("Unclosed inline table", "内联表缺少 }"),
    ("Invalid key", "键名无效"),
)
KIND_ZH = {int: "整数", str: "字符串", dict: "表", bool: "true 或 false"}


class FlowError(ValueError):
    """A flow file mistake, with the 1-based line it is on (0 when the file is unreadable),
    in English (`message`, logs and the CLI) and in Chinese (`zh`, the admin page)."""

    def __init__(self, line: int, message: str, zh: str = "") -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message
        self.zh = zh or message

    @property
    def message_zh(self) -> str:
        return f"第 {self.line} 行：{self.zh}" if self.line else self.zh


class _Invalid(ValueError):
    """A value's mistake in English and in Chinese, placed on its line by the checker."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # one of ACTIONS
    category: str = ""  # queue: the category tag ("" = the entry's)

    @classmethod
    def parse(cls, text: str) -> "Action":
        kind, _, category = text.partition(":")
        if kind not in ACTIONS or (category and kind != "queue"):
            raise _Invalid(
                f"unknown action {text!r}; actions: queue, queue:<category>, "
                "progress, callback, person",
                f"未知的动作 {text!r}，可用：queue、queue:<分类>、progress、callback、person",
            )
        return cls(kind, category.strip())


@dataclass(frozen=True, slots=True)
class Menu:
    name: str
    prompt: str
    keys: Mapping[str, Action]


@dataclass(frozen=True, slots=True)
class Entry:
    number: str
    name: str
    greeting: str
    category: str
    menu: str


@dataclass(frozen=True, slots=True)
class Hours:
    """Opening hours of one kind of day; None: closed all day."""

    opens: dt.time | None
    closes: dt.time | None

    def open_at(self, moment: dt.time) -> bool:
        if self.opens is None or self.closes is None:
            return False
        return self.opens <= moment < self.closes


@dataclass(frozen=True, slots=True)
class Flow:
    version: int
    language: str
    menu_timeout_ms: int
    number_timeout_ms: int
    retries: int
    callback_wait_seconds: int
    hours: Mapping[str, Hours]  # "workday", "restday", "holiday"
    person_queue: str
    default_queue: str
    entries: Mapping[str, Entry]  # by dialled number
    menus: Mapping[str, Menu]
    prompts: Mapping[str, str]  # id -> Mandarin text (prompts and words alike)

    @property
    def main_entry(self) -> Entry:
        return next(iter(self.entries.values()))

    def entry_for(self, *numbers: str) -> Entry:
        """The entry of the first of `numbers` the flow knows; the main (first) entry else."""
        for number in numbers:
            if number in self.entries:
                return self.entries[number]
        return self.main_entry


class _Lines:
    """Where a table or key is in the TOML text: enough to name the line of a mistake."""

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"\s*(\"[^\"]*\"|[A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.at: dict[tuple[str, str], int] = {}
        table, counts = "", {}  # type: str, dict[str, int]
        for n, line in enumerate(text.split("\n"), 1):
            m = self._HEADER.match(line)
            if m:
                name = m[2].replace('"', "")
                if m[1] == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    name = f"{name}[{counts[name]}]"
                table = name
                self.at.setdefault((table, ""), n)
                continue
            k = self._KEY.match(line)
            if k:
                self.at.setdefault((table, k[1].strip('"')), n)

    def of(self, table: str, key: str = "") -> int:
        return self.at.get((table, key)) or self.at.get((table, "")) or 0


def _zh(exc: ValueError) -> str:
    return exc.zh if isinstance(exc, _Invalid) else str(exc)


def _time_range(text: str) -> Hours:
    if text.strip() == "":
        return Hours(None, None)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise _Invalid(
            f'{text!r} is not HH:MM-HH:MM (or "" for closed)',
            f'{text!r} 不是 HH:MM-HH:MM 格式的时段（全天不开放写 ""）',
        )
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    try:
        opens, closes = dt.time(h1, m1), dt.time(h2, m2)
    except ValueError:
        raise _Invalid(
            f"{text!r} is not a time of day range", f"{text!r} 不是一天之内的时段"
        ) from None
    if closes <= opens:
        raise _Invalid(f"{text!r} closes before it opens", f"{text!r} 的结束时间早于开始时间")
    return Hours(opens, closes)


def parse_flow(text: str) -> Flow:
    """The flow file's text -> Flow; FlowError names the line of the first mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)(?:, column (\d+))?", str(exc))
        where = f"（第 {m[2]} 列）" if m and m[2] else ""
        reason = re.sub(r" \(at .*\)$", "", str(exc))
        zh = next((z for en, z in TOML_ZH if reason.startswith(en)), reason)
        raise FlowError(
            int(m[1]) if m else 0, f"not TOML: {exc}", f"不是合法的 TOML 格式{where}：{zh}"
        ) from None
    except RecursionError:  # tomllib descends once per nested array or inline table
        raise FlowError(
            0, "not TOML: nested too deeply", "不是合法的 TOML 格式：嵌套层数过多"
        ) from None
    return _Checker(data, _Lines(text)).flow()


class _Checker:
    def __init__(self, data: dict[str, Any], lines: _Lines) -> None:
        self.data = data
        self.lines = lines

    def fail(self, table: str, key: str, message: str, zh: str) -> FlowError:
        return FlowError(self.lines.of(table, key), message, zh)

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise self.fail("", name, f"[{name}] is missing or not a table", f"缺少 [{name}] 表")
        return value

    def value(
        self,
        table: str,
        section: Mapping[str, Any],
        key: str,
        kind: type,
        *,
        low: int | None = None,
    ) -> Any:
        if key not in section:
            raise self.fail(
                table,
                "",
                f"{table or 'the file'} lacks {key!r}",
                f"[{table}] 缺少 {key}" if table else f"文件缺少 {key}",
            )
        v: Any = section[key]
        if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
            raise self.fail(
                table, key, f"{key} must be a {kind.__name__}", f"{key} 须为{KIND_ZH[kind]}"
            )
        if low is not None and isinstance(v, int) and v < low:
            raise self.fail(table, key, f"{key} must be at least {low}", f"{key} 不能小于 {low}")
        return v

    def flow(self) -> Flow:
        version = self.value("", self.data, "version", int, low=1)
        language = self.value("", self.data, "language", str)
        timing = self.table("timing")
        hours_t = self.table("hours")
        hours = {}
        for kind in ("workday", "restday", "holiday"):
            try:
                hours[kind] = _time_range(self.value("hours", hours_t, kind, str))
            except ValueError as exc:
                raise self.fail("hours", kind, str(exc), f"{kind}：{_zh(exc)}") from None
        queues = self.table("queues")
        prompts = self.prompts()
        menus = self.menus(prompts)
        entries = self.entries(prompts, menus)
        return Flow(
            version=version,
            language=language,
            menu_timeout_ms=self.value("timing", timing, "menu_timeout_ms", int, low=1000),
            number_timeout_ms=self.value("timing", timing, "number_timeout_ms", int, low=1000),
            retries=self.value("timing", timing, "retries", int, low=0),
            callback_wait_seconds=self.value("timing", timing, "callback_wait_seconds", int, low=0),
            hours=hours,
            person_queue=self.queue_name(queues, "person"),
            default_queue=self.queue_name(queues, "default"),
            entries=entries,
            menus=menus,
            prompts=prompts,
        )

    def queue_name(self, queues: Mapping[str, Any], key: str) -> str:
        name: str = self.value("queues", queues, key, str)
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise self.fail(
                "queues",
                key,
                f"queue name {name!r}: letters, digits, - and _ only",
                f"队列名 {name!r} 只能含字母、数字、- 和 _",
            )
        return name

    def prompts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for table in ("prompts", "words"):
            for key, text in self.table(table).items():
                if not PROMPT_ID.fullmatch(key):
                    raise self.fail(
                        table,
                        key,
                        f"prompt id {key!r}: lower-case letters, "
                        "digits and _ only (it names a sound file)",
                        f"提示音标识 {key!r} 只能含小写字母、数字和 _（它是声音文件名）",
                    )
                if not isinstance(text, str) or not text.strip():
                    raise self.fail(
                        table, key, f"prompt {key!r} needs its text", f"提示音 {key} 缺少文字"
                    )
                if key in out:
                    raise self.fail(
                        table, key, f"prompt {key!r} is defined twice", f"提示音 {key} 重复定义"
                    )
                out[key] = text
        for key in REQUIRED_PROMPTS:
            if key not in out:
                raise self.fail(
                    "prompts", "", f"[prompts] lacks {key!r}", f"[prompts] 缺少提示音 {key}"
                )
        for key in REQUIRED_WORDS:
            if key not in out:
                raise self.fail("words", "", f"[words] lacks {key!r}", f"[words] 缺少词语 {key}")
        return out

    def menus(self, prompts: Mapping[str, str]) -> dict[str, Menu]:
        out = {}
        for name, section in self.table("menus").items():
            table = f"menus.{name}"
            if not isinstance(section, dict):
                raise self.fail(
                    "menus", name, f"menu {name!r} must be a table", f"菜单 {name} 须为表"
                )
            prompt = self.value(table, section, "prompt", str)
            if prompt not in prompts:
                raise self.fail(
                    table,
                    "prompt",
                    f"prompt {prompt!r} is not in [prompts]",
                    f"提示音 {prompt} 不在 [prompts] 中",
                )
            keys_t = self.value(table, section, "keys", dict)
            keys = {}
            for key, action in keys_t.items():
                if not re.fullmatch(r"[0-9*#]", key):
                    raise self.fail(
                        table,
                        "keys",
                        f"menu {name}: {key!r} is not a phone key",
                        f"菜单 {name}：{key!r} 不是电话按键（0-9、*、#）",
                    )
                if not isinstance(action, str):
                    raise self.fail(
                        table,
                        "keys",
                        f"menu {name}: key {key} needs an action",
                        f"菜单 {name}：按键 {key} 缺少动作",
                    )
                try:
                    keys[key] = Action.parse(action)
                except ValueError as exc:
                    raise self.fail(
                        table,
                        "keys",
                        f"menu {name}, key {key}: {exc}",
                        f"菜单 {name}，按键 {key}：{_zh(exc)}",
                    ) from None
            if keys.get("0") != Action("person"):
                # GB/T 33358: a way out to a person at every step.
                raise self.fail(
                    table,
                    "keys",
                    f'menu {name}: key 0 must be "person"',
                    f'菜单 {name}：按键 0 须为 "person"（每一步都能转人工）',
                )
            out[name] = Menu(name, prompt, keys)
        if CLOSED_MENU not in out:
            raise self.fail(
                "menus",
                "",
                f"[menus.{CLOSED_MENU}] (night and holiday mode) is missing",
                f"缺少 [menus.{CLOSED_MENU}]（非工作时间和节假日的菜单）",
            )
        return out

    def entries(self, prompts: Mapping[str, str], menus: Mapping[str, Menu]) -> dict[str, Entry]:
        items = self.data.get("entries")
        if not isinstance(items, list) or not items:
            raise self.fail(
                "",
                "entries",
                "the flow needs at least one [[entries]]",
                "至少需要一个 [[entries]] 接入号码",
            )
        out: dict[str, Entry] = {}
        for i, section in enumerate(items):
            table = f"entries[{i}]"
            if not isinstance(section, dict):
                raise self.fail(
                    "",
                    "entries",
                    "entries must be [[entries]] tables",
                    "entries 须为 [[entries]] 表",
                )
            number = self.value(table, section, "number", str)
            if not re.fullmatch(r"\d{3,20}", number):
                raise self.fail(
                    table,
                    "number",
                    f"{number!r} is not a dialled number",
                    f"{number!r} 不是拨入号码（3 到 20 位数字）",
                )
            if number in out:
                raise self.fail(
                    table,
                    "number",
                    f"number {number} has two entries",
                    f"号码 {number} 重复定义",
                )
            greeting = self.value(table, section, "greeting", str)
            if greeting not in prompts:
                raise self.fail(
                    table,
                    "greeting",
                    f"prompt {greeting!r} is not in [prompts]",
                    f"欢迎语提示音 {greeting} 不在 [prompts] 中",
                )
            menu = self.value(table, section, "menu", str)
            if menu not in menus:
                raise self.fail(
                    table, "menu", f"menu {menu!r} is not defined", f"菜单 {menu} 未定义"
                )
            out[number] = Entry(
                number,
                self.value(table, section, "name", str),
                greeting,
                self.value(table, section, "category", str),
                menu,
            )
        return out


def line_of_version(text: str) -> int:
    """The line of the top-level `version` key (1 when the text lacks it)."""
    return _Lines(text).of("", "version") or 1


def packaged_flow_text() -> str:
    return resources.files("ivr").joinpath("data/flows.toml").read_text(encoding="utf-8")


class FlowStore:
    """The flow that runs, and its text (what the admin page offers to edit). `load(text)`
    swaps in a new one only when it is valid; a bad text raises FlowError and the running
    flow stays."""

    def __init__(self, flow: Flow, text: str = "") -> None:
        self.flow = flow
        self.text = text

    @classmethod
    def packaged(cls) -> "FlowStore":
        text = packaged_flow_text()
        return cls(parse_flow(text), text)

    def load(self, text: str) -> Flow:
        flow = self.check(text)
        self.flow, self.text = flow, text
        return flow

    def check(self, text: str) -> Flow:
        """`text` as a flow that may replace the running one (FlowError if not)."""
        flow = parse_flow(text)
        if flow.version < self.flow.version:
            raise FlowError(
                line_of_version(text),
                f"version {flow.version} is older than the running {self.flow.version}",
                f"版本号 {flow.version} 低于正在运行的版本 {self.flow.version}",
            )
        return flow
