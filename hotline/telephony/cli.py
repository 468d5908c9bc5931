"""`ami` subcommands: `ami replay CAPTURE` serves a recorded capture as an AMI server;
`ami recompute` rebuilds the call records from the stored raw events and compares them with the
stored records."""

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

    recompute = commands.add_parser(
        "recompute", help="rebuild call records from the stored raw AMI events and compare them "
                          "with the stored records (exit 1 when they differ)")
    recompute.add_argument("--source", help="only this PBX (host:port as configured)")
    recompute.add_argument("--json", action="store_true", help="one JSON object on stdout")
    recompute.set_defaults(func=cmd_recompute)


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


def cmd_recompute(args: argparse.Namespace) -> int:
    import json
    import sys

    from hotline.cli import _with_db, settings_from
    from hotline.telephony import store

    async def work(db: object) -> dict[str, object]:
        rebuilt = {r.uniqueid: r for r in await store.recompute(db, args.source)}  # type: ignore[arg-type]
        stored = {r.uniqueid: r for r in await store.load_records(db, args.source)}  # type: ignore[arg-type]
        differ = sorted(u for u in rebuilt.keys() & stored.keys() if rebuilt[u] != stored[u])
        return {"events": (await store.counts(db))["events"],  # type: ignore[arg-type]
                "recomputed": len(rebuilt), "stored": len(stored),
                "only_recomputed": sorted(rebuilt.keys() - stored.keys()),
                "only_stored": sorted(stored.keys() - rebuilt.keys()),
                "different": differ}

    result = asyncio.run(_with_db(settings_from(args), work))
    same = not (result["only_recomputed"] or result["only_stored"] or result["different"])
    result["same"] = same
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(f"{result['events']} stored AMI events -> {result['recomputed']} call records; "
              f"{result['stored']} stored: {'identical' if same else 'DIFFERENT'}")
        for key in ("only_recomputed", "only_stored", "different"):
            if result[key]:
                print(f"  {key}: {', '.join(result[key][:20])}")  # type: ignore[index]
    return 0 if same else 1
