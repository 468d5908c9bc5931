"""An IVR served over real TCP with fakes for the ports it asks (hotline.ports), and a caller
that speaks AGI as the recorded Asterisk does (ivr.agi.client)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import AsyncIterator, Mapping

import pytest

from hotline.ports import ProgressLocked, PublicProgress
from ivr.agi.client import SimulatedChannel, environment, run_channel, variables_set
from ivr.agi.server import FastAgiServer
from ivr.flows import FlowStore
from ivr.session import Ivr

# A Wednesday, 10:00 in Shanghai: open hours on a working day.
WORKDAY_MORNING = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)


@dataclass
class FakeProgress:
    tickets: dict[str, tuple[str, str, PublicProgress]] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, number: str, phone: str, status: str, due: dt.datetime | None) -> None:
        self.tickets[number] = (number, phone, PublicProgress(number, status, status, due))

    async def progress(self, number: str, phone_last4: str, client: str) -> PublicProgress | None:
        self.asked.append((number, phone_last4, client))
        if number in self.locked:
            raise ProgressLocked(60)
        found = self.tickets.get(number)
        if found is None or not found[1].endswith(phone_last4):
            return None
        return found[2]


@dataclass
class FakeCallbacks:
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    async def request_callback(self, phone: str, *, uniqueid: str, reason: str) -> None:
        self.requests.append((phone, uniqueid, reason))


@dataclass
class FakeWait:
    seconds: float | None = None

    def estimated_wait(self, queue: str) -> float | None:
        return self.seconds


@dataclass
class FakeSurveys:
    rows: list[tuple[str, str, str, int | None]] = field(default_factory=list)

    async def record(self, uniqueid: str, agent: str, queue: str, score: int | None) -> None:
        self.rows.append((uniqueid, agent, queue, score))


@dataclass
class Call:
    trace: list[tuple[str, list[str]]]

    @property
    def commands(self) -> list[str]:
        return [c for c, _ in self.trace]

    @property
    def variables(self) -> Mapping[str, str]:
        return variables_set(self.trace)

    @property
    def prompts(self) -> list[str]:
        """Sound files played or asked with, in order (without the `hotline/` folder)."""
        out = []
        for c in self.commands:
            for verb in ("STREAM FILE hotline/", "GET DATA hotline/"):
                if c.startswith(verb):
                    out.append(c[len(verb) :].split(" ", 1)[0])
        return out


@dataclass
class Rig:
    ivr: Ivr
    server: FastAgiServer
    progress: FakeProgress
    callbacks: FakeCallbacks
    wait: FakeWait
    surveys: FakeSurveys
    now: list[dt.datetime]
    calls: int = 0

    async def call(
        self,
        inputs: list[str] | None = None,
        *,
        dnid: str = "12345",
        extension: str = "s",
        callerid: str = "13800131001",
        script: str = "ivr",
        hangup_after: int | None = None,
    ) -> Call:
        self.calls += 1
        channel = SimulatedChannel(list(inputs or []), hangup_after)
        env = environment(
            f"1796284796.{self.calls}",
            dnid=dnid,
            extension=extension,
            callerid=callerid,
            script=script,
        )
        return Call(await run_channel(channel, env, "127.0.0.1", self.server.bound_port))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    now = [WORKDAY_MORNING]
    progress, callbacks, wait, surveys = FakeProgress(), FakeCallbacks(), FakeWait(), FakeSurveys()
    ivr = Ivr(
        FlowStore.packaged(),
        clock=lambda: now[0],
        progress=progress,
        callbacks=callbacks,
        queue_wait=wait,
        surveys=surveys,
    )
    server = FastAgiServer(ivr, "127.0.0.1", 0)
    await server.start()
    try:
        yield Rig(ivr, server, progress, callbacks, wait, surveys, now)
    finally:
        await server.stop()
