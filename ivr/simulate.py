"""`hotline ivr simulate`: one call against the flow over real TCP, each step printed: the
IVR's command, the prompt's text, the channel's reply. Progress lookups ask the real port;
call-back requests and survey scores are printed, not stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TextIO

from hotline.bootstrap import Services
from ivr.agi.client import SimulatedChannel, environment, run_channel, variables_set
from ivr.agi.server import FastAgiServer
from ivr.wiring import IVR


@dataclasses.dataclass
class _PrintedCallbacks:
    out: TextIO

    async def request_callback(self, phone: str, *, uniqueid: str, reason: str) -> None:
        print(
            f"   [call-back request: {phone}, reason {reason} (simulated: not stored)]",
            file=self.out,
        )


@dataclasses.dataclass
class _PrintedSurveys:
    out: TextIO

    async def record(self, uniqueid: str, agent: str, queue: str, score: int | None) -> None:
        print(
            f"   [survey score: {score if score is not None else 'no answer'} "
            f"(simulated: not stored)]",
            file=self.out,
        )


@dataclasses.dataclass
class _FixedWait:
    seconds: float | None

    def estimated_wait(self, queue: str) -> float | None:
        return self.seconds


async def simulate_call(
    services: Services,
    *,
    dnid: str,
    inputs: list[str],
    callerid: str,
    at: dt.datetime,
    wait: float | None,
    survey: bool,
    out: TextIO,
) -> int:
    base = services[IVR]
    ivr = dataclasses.replace(
        base,
        clock=lambda: at,
        callbacks=_PrintedCallbacks(out),
        surveys=_PrintedSurveys(out),
        queue_wait=_FixedWait(wait) if wait is not None else base.queue_wait,
    )
    prompts = base.flows.flow.prompts
    server = FastAgiServer(ivr, "127.0.0.1", 0)
    await server.start()
    try:
        script = "survey?agent=simulated&queue=hotline" if survey else "ivr"
        env = environment(
            "1796284796.1", dnid=dnid, extension=dnid, callerid=callerid, script=script
        )
        print(
            f"call to {dnid} from {callerid or 'unknown'} at {at.isoformat()} "
            f"(flow version {base.flows.flow.version}) over 127.0.0.1:{server.bound_port}",
            file=out,
        )
        steps = 0

        def show(command: str, reply: list[str]) -> None:
            nonlocal steps
            steps += 1
            text = ""
            for verb in ("STREAM FILE hotline/", "GET DATA hotline/"):
                if command.startswith(verb):
                    text = prompts.get(command[len(verb) :].split(" ", 1)[0], "")
            print(f"{steps:3} >> {command}" + (f"   「{text}」" if text else ""), file=out)
            for line in reply:
                print(f"    << {line}", file=out)

        trace = await run_channel(
            SimulatedChannel(list(inputs)), env, "127.0.0.1", server.bound_port, observe=show
        )
    finally:
        await server.stop()
    variables = variables_set(trace)
    print("result: " + (", ".join(f"{k}={v}" for k, v in variables.items()) or "hung up"), file=out)
    return 0
