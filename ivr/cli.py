"""`hotline ivr ...`: the FastAGI server, Asterisk configuration, a simulated call, prompts.

hotline ivr serve [--host H] [--port P]       # the FastAGI server alone (default 127.0.0.1:4573)
hotline ivr dialplan [--host H] [--port P] [--out DIR]   # extensions.conf + queues.conf
hotline ivr simulate --dnid 12345 --digits 2,1 [--callerid N] [--at ISO] [--survey]
hotline ivr prompts --out DIR                  # 8 kHz mono WAV of every prompt (espeak-ng, sox)
hotline ivr check [FILE]                       # validate a flow file (the configured one)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ivr = subparsers.add_parser("ivr", help="the IVR (FastAGI)")
    commands = ivr.add_subparsers(dest="ivr_command", required=True)

    p = commands.add_parser("serve", help="run the FastAGI server (the agi role) alone")
    p.add_argument("--host", help="default: ivr.host (127.0.0.1)")
    p.add_argument("--port", type=int, help="default: ivr.port (4573)")
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser(
        "dialplan", help="print Asterisk's extensions.conf and queues.conf for the flow"
    )
    p.add_argument("--host", help="where Asterisk reaches the FastAGI server (ivr.host)")
    p.add_argument("--port", type=int, help="ivr.port")
    p.add_argument("--out", help="write extensions_hotline.conf and queues_hotline.conf here")
    p.set_defaults(func=cmd_dialplan)

    p = commands.add_parser(
        "simulate", help="play a call against the flow over TCP, printing each step"
    )
    p.add_argument("--dnid", default="12345", help="the dialled number")
    p.add_argument(
        "--digits",
        default="",
        help="the caller's keys per question, comma-separated: `2,1`; an empty "
        "item is silence, `h` hangs up",
    )
    p.add_argument("--callerid", default="13800138000")
    p.add_argument("--at", help="local time of the call (ISO, Asia/Shanghai); default now")
    p.add_argument("--wait", type=float, help="estimated queue wait in seconds")
    p.add_argument("--survey", action="store_true", help="the post-call survey instead")
    p.set_defaults(func=cmd_simulate)

    p = commands.add_parser("prompts", help="render every prompt to 8 kHz mono WAV")
    p.add_argument("--out", required=True, help="e.g. /var/lib/asterisk/sounds/zh/hotline")
    p.add_argument("--voice", default="cmn", help="espeak-ng voice (default cmn)")
    p.set_defaults(func=cmd_prompts)

    p = commands.add_parser("check", help="validate a flow file")
    p.add_argument("file", nargs="?", help="default: ivr.flow_file or the packaged flow")
    p.set_defaults(func=cmd_check)


def _flow(args: argparse.Namespace) -> Any:
    from hotline.commands import settings_from
    from ivr.wiring import load_store

    return load_store(settings_from(args).ivr.flow_file).flow


def cmd_serve(args: argparse.Namespace) -> int:
    import signal

    from hotline import bootstrap
    from hotline.commands import settings_from, setup_logging
    from ivr.wiring import agi_worker

    settings = settings_from(args)
    setup_logging(settings.log_level)
    host, port = args.host or settings.ivr.host, args.port or settings.ivr.port

    async def run() -> None:
        services = await bootstrap.build(settings)
        running = bootstrap.Running()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await running.start([agi_worker(services, host, port)])
            print(f"hotline ivr listening on {host}:{port}", flush=True)
            await stop.wait()
        finally:
            await running.stop()
            await services.close()

    asyncio.run(run())
    return 0


def cmd_dialplan(args: argparse.Namespace) -> int:
    from hotline.commands import settings_from
    from ivr.dialplan import extensions_conf, queues_conf
    from ivr.wiring import load_store

    settings = settings_from(args)
    flow = load_store(settings.ivr.flow_file).flow
    host, port = args.host or settings.ivr.host, args.port or settings.ivr.port
    extensions = extensions_conf(flow, host, port)
    queues = queues_conf(flow, settings.policy.service_level_seconds)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "extensions_hotline.conf").write_text(extensions, encoding="utf-8")
        (out / "queues_hotline.conf").write_text(queues, encoding="utf-8")
        print(f"wrote {out / 'extensions_hotline.conf'} and {out / 'queues_hotline.conf'}")
        return 0
    print(";; ---- extensions.conf ----")
    print(extensions)
    print(";; ---- queues.conf ----")
    print(queues)
    return 0


def _moment(text: str | None) -> dt.datetime:
    from hotline.localtime import SHANGHAI

    if not text:
        return dt.datetime.now(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"--at {text!r}: not an ISO date and time (2026-12-02T21:30)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def cmd_simulate(args: argparse.Namespace) -> int:
    from hotline import bootstrap
    from hotline.commands import settings_from
    from ivr.simulate import simulate_call

    settings = settings_from(args)
    inputs = [d.strip() for d in args.digits.split(",")] if args.digits else []
    moment = _moment(args.at)

    async def run() -> int:
        services = await bootstrap.build(settings)
        try:
            return await simulate_call(
                services,
                dnid=args.dnid,
                inputs=inputs,
                callerid=args.callerid,
                at=moment,
                wait=args.wait,
                survey=args.survey,
                out=sys.stdout,
            )
        finally:
            await services.close()

    return asyncio.run(run())


def cmd_prompts(args: argparse.Namespace) -> int:
    from ivr.prompts import ToolMissing, render

    flow = _flow(args)
    try:
        done = render(flow.prompts, Path(args.out), voice=args.voice)
    except ToolMissing as exc:
        print(f"hotline ivr prompts: {exc}", file=sys.stderr)
        return 1
    print(
        f"{len(done.written)} rendered, {len(done.unchanged)} unchanged, "
        f"{len(done.recorded)} recorded kept"
        + (f" ({', '.join(done.recorded)})" if done.recorded else "")
        + f" in {args.out}"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from hotline.commands import settings_from
    from ivr.flows import FlowError, parse_flow
    from ivr.wiring import flow_text

    path = args.file or settings_from(args).ivr.flow_file
    try:
        text = Path(path).read_text(encoding="utf-8") if args.file else flow_text(path)
        flow = parse_flow(text)
    except FlowError as exc:
        print(f"{path or 'packaged flow'}:{exc.line}: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(
        f"{path or 'packaged flow'}: version {flow.version}, {len(flow.entries)} entries, "
        f"{len(flow.menus)} menus, {len(flow.prompts)} prompts: valid"
    )
    return 0
