"""The Asterisk side of FastAGI, for tests, the simulator and the benchmark: a recorded
transcript replayed byte for byte, or a simulated channel that answers commands exactly as
Asterisk 22 does in the recordings (the shared folder's agi-traces) and res_agi.c.

Transcript lines: `<seconds> << <line>` what Asterisk sent, `<seconds> >> <line>` what the
server sent, `<seconds> .. <note>` the server closed the socket.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

_LINE = re.compile(r"\s*(?P<at>\d+\.\d+) (?P<dir><<|>>|\.\.) ?(?P<text>.*)")


@dataclass(frozen=True, slots=True)
class Step:
    at: float
    direction: str  # "<<" from Asterisk, ">>" from the server, ".." the server closes
    text: str


def read_transcript(path: str | Path) -> list[Step]:
    steps = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise ValueError(f"{path}:{n}: not a transcript line: {line[:60]!r}")
        steps.append(Step(float(m["at"]), m["dir"], m["text"]))
    return steps


def server_lines(steps: Iterable[Step]) -> list[str]:
    """What the recorded server sent, in order."""
    return [s.text for s in steps if s.direction == ">>"]


async def read_server_line(reader: asyncio.StreamReader, timeout: float) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\n"), timeout)


async def replay(steps: Sequence[Step], host: str, port: int, *, timeout: float = 5.0) -> None:
    """Plays Asterisk's part of a transcript over TCP: sends its lines byte for byte, checks
    every line the server sends is the recorded one byte for byte, and that the server closes
    the socket where the recording says it did. AssertionError on the first difference."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for step in steps:
            if step.direction == "<<":
                writer.write(step.text.encode() + b"\n")
                await writer.drain()
            elif step.direction == ">>":
                try:
                    got = await read_server_line(reader, timeout)
                except asyncio.IncompleteReadError as exc:
                    raise AssertionError(
                        f"server closed before sending {step.text!r} (sent {exc.partial!r})"
                    ) from None
                want = step.text.encode() + b"\n"
                assert got == want, f"at {step.at:.3f}: server sent {got!r}, recorded {want!r}"
            else:
                rest = await asyncio.wait_for(reader.read(), timeout)
                assert rest == b"", f"server sent {rest[:80]!r} instead of closing"
    finally:
        writer.close()


# --- a simulated channel ------------------------------------------------------------------------

HANGUP = "h"  # a caller input: hang up while this reading command waits
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE = (
    "520-Invalid command syntax.  Proper usage follows:",
    "Stream the given <replaceable>file</replaceable>, and receive DTMF data.",
    "Returns the digits received from the channel at the other end.",
    "520 End of proper usage.",
)
# Commands Asterisk still runs on a dead channel (res_agi.c, the `dead` column).
_DEAD_OK = (
    "EXEC",
    "GET FULL VARIABLE",
    "GET VARIABLE",
    "NOOP",
    "SET VARIABLE",
    "VERBOSE",
    "DATABASE",
    "ASYNCAGI BREAK",
)
_KNOWN = (
    "ANSWER",
    "CHANNEL STATUS",
    "CONTROL STREAM FILE",
    "GET DATA",
    "GET OPTION",
    "HANGUP",
    "SAY DIGITS",
    "SAY NUMBER",
    "STREAM FILE",
    "WAIT FOR DIGIT",
    *_DEAD_OK,
)


def environment(
    uniqueid: str,
    *,
    dnid: str = "unknown",
    extension: str = "s",
    callerid: str = "13800131001",
    script: str = "ivr",
    context: str = "hotline-ivr",
) -> list[str]:
    """An environment block shaped like the recorded ones (a Local channel's)."""
    return [
        "agi_network: yes",
        f"agi_network_script: {script}",
        f"agi_request: agi://127.0.0.1:4573/{script}",
        f"agi_channel: PJSIP/trunk-{uniqueid}",
        "agi_language: zh",
        "agi_type: PJSIP",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.10.1",
        f"agi_callerid: {callerid or 'unknown'}",
        "agi_calleridname: Citizen",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        f"agi_dnid: {dnid}",
        "agi_rdnis: unknown",
        f"agi_context: {context}",
        f"agi_extension: {extension}",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 139907555624640",
        "",
    ]


@dataclass
class SimulatedChannel:
    """Answers AGI commands the way Asterisk does, with the caller's keys scripted.

    `inputs` are consumed by the reading commands (GET DATA, GET OPTION, WAIT FOR DIGIT), one
    each: a string of digits (`#` ends GET DATA early, as Asterisk does), `""` for silence
    until the timeout, `HANGUP` for the caller hanging up while it waits; `!k` is key k
    pressed during the next STREAM FILE that has k among its escape digits. When the inputs run
    out the caller stays silent. `hangup_after` hangs up during that command (0-based) whatever
    it is. `variables` answer GET VARIABLE; SET VARIABLE writes them."""

    inputs: list[str] = field(default_factory=list)
    hangup_after: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    dead: bool = False
    notice_sent: bool = False
    commands: list[str] = field(default_factory=list)

    def answer(self, line: str) -> list[str]:
        n = len(self.commands)
        self.commands.append(line)
        words = shlex.split(line) if line.count('"') % 2 == 0 else line.split()
        upper = [w.upper() for w in words]
        name = next(
            (
                k
                for k in sorted(_KNOWN, key=len, reverse=True)
                if upper[: len(k.split())] == k.split()
            ),
            None,
        )
        if name is None:
            return ["510 Invalid or unknown command"]
        args = words[len(name.split()) :]
        if self.dead:
            notice = [] if self.notice_sent else ["HANGUP"]
            self.notice_sent = True
            if name not in _DEAD_OK:
                return [*notice, DEAD]
            return [*notice, self._alive(name, args)]
        if self.hangup_after is not None and n >= self.hangup_after:
            self.dead = True
            if name in _DEAD_OK:  # runs anyway; the HANGUP notice comes with the next
                return [self._alive(name, args)]
            return ["200 result=-1"]
        return [self._alive(name, args)]

    def _next_input(self) -> str:
        return self.inputs.pop(0) if self.inputs else ""

    def _alive(self, name: str, args: list[str]) -> str:
        if name == "GET DATA":
            if not args:
                return "\n".join(USAGE)
            keyed = self._next_input()
            if keyed == HANGUP:
                self.dead = True
                return "200 result=-1"
            limit = int(args[2]) if len(args) > 2 else 1024
            digits = keyed.split("#", 1)[0][:limit]
            if "#" in keyed or len(digits) >= limit:
                return f"200 result={digits}"
            return f"200 result={digits} (timeout)"
        if name in ("GET OPTION", "WAIT FOR DIGIT"):
            keyed = self._next_input()
            if keyed == HANGUP:
                self.dead = True
                return "200 result=-1"
            code = ord(keyed[0]) if keyed else 0
            return f"200 result={code}" + (" endpos=2400" if name == "GET OPTION" else "")
        if name in ("STREAM FILE", "CONTROL STREAM FILE"):
            # `!k`: the caller presses k during this prompt (when k is an escape digit)
            escape = args[1] if len(args) > 1 else ""
            if (
                self.inputs
                and self.inputs[0].startswith("!")
                and self.inputs[0][1:2] in escape
                and len(self.inputs[0]) == 2
            ):
                return f"200 result={ord(self.inputs.pop(0)[1])} endpos=1200"
            return "200 result=0 endpos=8000"
        if name in ("GET VARIABLE", "GET FULL VARIABLE"):
            key = args[0] if args else ""
            return (
                f"200 result=1 ({self.variables[key]})" if key in self.variables else "200 result=0"
            )
        if name == "SET VARIABLE":
            if len(args) >= 2:
                self.variables[args[0]] = args[1]
            return "200 result=1"
        if name == "HANGUP":
            self.dead = True
            return "200 result=1"
        if name == "CHANNEL STATUS":
            return "200 result=6"
        if name == "VERBOSE":
            return "200 result=1"
        return "200 result=0"


async def run_channel(
    channel: SimulatedChannel,
    env: Sequence[str],
    host: str,
    port: int,
    *,
    timeout: float = 10.0,
    observe: Callable[[str, list[str]], None] | None = None,
) -> list[tuple[str, list[str]]]:
    """Connects as Asterisk would, sends `env`, answers every command through `channel` until
    the server closes the socket. Returns (command, reply lines) in order."""
    reader, writer = await asyncio.open_connection(host, port)
    out: list[tuple[str, list[str]]] = []
    try:
        writer.write("".join(line + "\n" for line in env).encode())
        await writer.drain()
        while True:
            try:
                raw = await read_server_line(reader, timeout)
            except (asyncio.IncompleteReadError, ConnectionResetError):
                return out  # the server closed (a reset when our lines were unread)
            line = raw[:-1].decode()
            reply = channel.answer(line)
            out.append((line, reply))
            if observe is not None:
                observe(line, reply)
            writer.write("".join(r + "\n" for r in reply).encode())
            await writer.drain()
    finally:
        writer.close()


def variables_set(trace: Sequence[tuple[str, list[str]]]) -> Mapping[str, str]:
    """The channel variables the session set, last value wins."""
    out: dict[str, str] = {}
    for command, _ in trace:
        if command.upper().startswith("SET VARIABLE "):
            words = shlex.split(command)
            if len(words) >= 4:
                out[words[2]] = words[3]
    return out
