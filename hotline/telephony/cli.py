"""`ami` subcommands: `ami replay CAPTURE` serves a recorded capture as an AMI server."""

from __future__ import annotations

import argparse
import asyncio
import logging


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ami = subparsers.add_parser("ami", help="Asterisk Manager Interface tools")
    commands = ami.add_subparsers(dest="ami_command", required=True)
    replay = commands.add_parser(
        "replay", help="serve a recorded AMI capture (ami.raw or its folder) as an AMI server")
    replay.add_argument("capture", help="path to ami.raw or to a folder holding it")
    replay.add_argument("--host", default="127.0.0.1")
    replay.add_argument("--port", type=int, default=5038)
    replay.add_argument("--speed", type=float, default=1.0,
                        help="1.0 = real time, 10 = ten times faster, 0 = as fast as possible")
    replay.add_argument("--loop", action="store_true",
                        help="start over at the end, with shifted times and fresh Uniqueids")
    replay.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from hotline.telephony.replay import serve

    if args.speed < 0:
        raise SystemExit("--speed must be >= 0")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args.capture, args.host, args.port, args.speed, args.loop))
    except KeyboardInterrupt:
        pass
    return 0
