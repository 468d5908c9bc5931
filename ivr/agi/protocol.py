"""The FastAGI wire format, parsed into frozen values. Pure: no I/O.

What Asterisk 22 sends (recorded in the shared folder's agi-traces, checked against res_agi.c):
- On connect, the environment: `agi_<name>: <value>` lines, then one empty line.
- For each command the server sends (one line, ending in a newline), one reply:
  `200 result=<value>[ (<data>)][ endpos=<n>]`; `510 Invalid or unknown command`;
  `511 Command Not Permitted on a dead channel or intercept routine`; or a usage block whose
  first line starts `520-` and whose last line starts `520 `.
- Once the channel hangs up, a bare `HANGUP` line comes before the reply of the next command
  (never on its own): it is a notice, not a reply.
- Reading commands report keys differently: `GET DATA` gives the digits themselves
  (`result=12`, `result= (timeout)` when nothing was keyed), while `STREAM FILE`, `GET OPTION`,
  `WAIT FOR DIGIT` give the key's ASCII code (`result=49` is "1", `0` no key, `-1` hung up or
  a missing file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping
from urllib.parse import unquote

# Longest line we accept from Asterisk. Its own AGI buffer is 2 KB for commands; replies carry
# at most a variable's value. Anything longer is garbage or an attack on this one session.
MAX_LINE = 8192
# The environment block has about 22 lines plus agi_arg_N; bound it too.
MAX_ENV_LINES = 256

HANGUP_NOTICE = "HANGUP"
DEAD_CHANNEL = 511


class AgiProtocolError(ValueError):
    """What the peer sent is not FastAGI; the session it came on is closed."""


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The `agi_*` block Asterisk sends on connect. `dnid` is `unknown` on Local channels (a
    trunk gives the dialled number); `uniqueid` is the channel's AMI Uniqueid;
    `network_script` is the path and query of the AGI URL (`ivr?entry=12345`)."""

    values: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def callerid(self) -> str:
        value = self.get("callerid")
        return "" if value == "unknown" else value

    @property
    def dnid(self) -> str:
        value = self.get("dnid")
        return "" if value == "unknown" else value

    @property
    def extension(self) -> str:
        return self.get("extension")

    @property
    def network_script(self) -> str:
        return self.get("network_script")

    @property
    def script(self) -> str:
        """The AGI URL's path without its query: `ivr`, `survey`."""
        return self.network_script.split("?", 1)[0].strip("/")

    @property
    def query(self) -> dict[str, str]:
        """The AGI URL's query, `a=1&b=2` -> {"a": "1", "b": "2"}, %-decoded as UTF-8: the
        dialplan passes names through URIENCODE (ivr.dialplan), so an agent's name may hold
        `&`, `=` or spaces; a plain word passes unchanged."""
        _, _, query = self.network_script.partition("?")
        out: dict[str, str] = {}
        for part in query.split("&"):
            if part:
                key, _, value = part.partition("=")
                out[unquote(key)] = unquote(value)
        return out

    @property
    def args(self) -> tuple[str, ...]:
        """`agi_arg_1`.. in order (the AGI application's extra arguments)."""
        out = []
        n = 1
        while f"arg_{n}" in self.values:
            out.append(self.values[f"arg_{n}"])
            n += 1
        return tuple(out)


def parse_environment(lines: Iterable[str]) -> AgiEnvironment:
    """The environment block's lines (without the closing empty line and line ends)."""
    values: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        name, sep, value = line.partition(": ")
        if not sep and line.endswith(":"):  # `agi_accountcode:` when a peer trims spaces
            name, sep, value = line[:-1], ":", ""
        if not sep or not name.startswith("agi_") or not re.fullmatch(r"agi_\w+", name):
            raise AgiProtocolError(
                f"environment line {n} is not `agi_<name>: <value>`: {line[:80]!r}"
            )
        values[name[4:]] = value
    if "uniqueid" not in values or "channel" not in values:
        raise AgiProtocolError("environment without agi_uniqueid or agi_channel")
    return AgiEnvironment(values)


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply to one command.

    `code` 200 success, 510 unknown command, 511 dead channel, 520 usage (with `usage`).
    `result` is the raw text after `result=` (`""` for `GET DATA` with nothing keyed),
    `data` the text in parentheses (a variable's value, or `timeout`), `endpos` the sample
    position a playback reached. `hangup_notice` is set when a `HANGUP` line came first."""

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    usage: tuple[str, ...] = ()
    text: str = ""
    hangup_notice: bool = False

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def value(self) -> int | None:
        """`result` as an integer, None when it is not one (digits of GET DATA are text)."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def timed_out(self) -> bool:
        """GET DATA ended by its timeout (with fewer than `max` digits, maybe none)."""
        return self.data == "timeout"

    @property
    def digits(self) -> str:
        """What GET DATA read: the digits, `""` for none or a failure."""
        if self.code != 200 or self.result.startswith("-"):
            return ""
        return self.result

    @property
    def key(self) -> str | None:
        """The key STREAM FILE / GET OPTION / WAIT FOR DIGIT reported (ASCII code), None for
        none, a failure or a hang-up."""
        v = self.value
        if self.code != 200 or v is None or not 0 < v < 128:
            return None
        return chr(v)

    @property
    def failed(self) -> bool:
        """`result=-1`: the channel hung up (or a prompt file is missing: `endpos=0`)."""
        return self.code == 200 and self.result == "-1"

    @property
    def dead(self) -> bool:
        """The channel is gone: 511, or a HANGUP notice came with this reply."""
        return self.code == DEAD_CHANNEL or self.hangup_notice


_RESULT = re.compile(r"200 result=(?P<result>\S*)(?P<rest>.*)")
_ENDPOS = re.compile(r"\s*endpos=(?P<endpos>-?\d+)\s*$")


def parse_status_line(line: str) -> Reply:
    """One single-line reply (200, 510, 511 or another code)."""
    m = _RESULT.fullmatch(line)
    if m:
        rest = m["rest"]
        endpos = None
        e = _ENDPOS.search(rest)
        if e:
            endpos = int(e["endpos"])
            rest = rest[: e.start()]
        rest = rest.strip()
        data = None
        if rest.startswith("(") and rest.endswith(")"):
            data = rest[1:-1]
        elif rest:
            raise AgiProtocolError(f"unreadable 200 reply: {line[:80]!r}")
        return Reply(200, m["result"], data, endpos, text=line)
    code, sep, _ = line.partition(" ")
    if not (code.isdigit() and len(code) == 3) or code == "200":
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    return Reply(int(code), text=line)


@dataclass(slots=True)
class ReplyReader:
    """Assembles replies from lines: feed each line (without its newline); a complete Reply
    comes back, None while a `520-` block or a `HANGUP` notice awaits the rest."""

    _usage: list[str] | None = None
    _hangup: bool = False
    _first: str = field(default="")

    def feed(self, line: str) -> Reply | None:
        if self._usage is not None:
            if line.startswith("520 "):
                usage, self._usage = tuple(self._usage), None
                return self._done(Reply(520, usage=usage, text=self._first))
            if len(self._usage) >= MAX_ENV_LINES:
                raise AgiProtocolError("520 usage block without its end")
            self._usage.append(line)
            return None
        if line == HANGUP_NOTICE:
            self._hangup = True
            return None
        if line.startswith("520-"):
            self._usage, self._first = [], line
            return None
        return self._done(parse_status_line(line))

    def _done(self, reply: Reply) -> Reply:
        if self._hangup:
            self._hangup = False
            return Reply(
                reply.code,
                reply.result,
                reply.data,
                reply.endpos,
                reply.usage,
                reply.text,
                hangup_notice=True,
            )
        return reply


# --- commands ---------------------------------------------------------------------------------

_BARE = re.compile(r"[^\s\"\\]+")


def quote(arg: str) -> str:
    """One command argument as Asterisk's parser reads it: bare when it can be, otherwise in
    double quotes with `"` and `\\` escaped. A line end can never be part of a command."""
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise ValueError("an AGI argument cannot hold a line end or NUL")
    if _BARE.fullmatch(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(*words: str | int) -> str:
    """`command("STREAM FILE", "welcome", "")` -> `STREAM FILE welcome ""` (no line end).
    The first word is the command's name and is sent as is."""
    name, *args = words
    return " ".join([str(name), *(quote(str(a)) for a in args)])
