"""`ami` subcommands: `ami replay CAPTURE` serves a recorded capture as an AMI server;
`ami recompute` rebuilds the call records from the stored raw events and compares them with the
stored records (`--archive DIR`: with the archived events before them); `ami archive` moves
old raw events to month files (calls/archive.py). `sla report --ami-capture PATH`: the
service-level measures (sla.metrics) of a recorded capture, tracked through the real
listener."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ami = subparsers.add_parser("ami", help="Asterisk Manager Interface tools")
    commands = ami.add_subparsers(dest="ami_command", required=True)
    replay = commands.add_parser(
        "replay", help="serve a recorded AMI capture (ami.raw or its folder) as an AMI server"
    )
    replay.add_argument("capture", help="path to ami.raw or to a folder holding it")
    replay.add_argument("--host", default="127.0.0.1")
    replay.add_argument("--port", type=int, default=5038)
    replay.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="1.0 = real time, 10 = ten times faster, 0 = as fast as possible",
    )
    replay.add_argument(
        "--loop",
        action="store_true",
        help="start over at the end, with shifted times and fresh Uniqueids",
    )
    replay.set_defaults(func=cmd_replay)

    recompute = commands.add_parser(
        "recompute",
        help="rebuild call records from the stored raw AMI events and compare them "
        "with the stored records (exit 1 when they differ)",
    )
    recompute.add_argument("--source", help="only this PBX (host:port as configured)")
    recompute.add_argument("--json", action="store_true", help="one JSON object on stdout")
    recompute.add_argument(
        "--archive",
        metavar="DIR",
        help="also the events archived to this folder (ami archive), before the stored ones",
    )
    recompute.set_defaults(func=cmd_recompute)

    archive = commands.add_parser(
        "archive",
        help="move the raw AMI events received before a date to gzip JSON Lines files, one "
        "per month (verified before they leave the table)",
    )
    archive.add_argument(
        "--before", required=True, help="local date YYYY-MM-DD (midnight) or local time"
    )
    archive.add_argument("--out", required=True, metavar="DIR", help="folder of the month files")
    archive.add_argument(
        "--batch", type=int, default=5000, help="rows per read and per delete transaction"
    )
    archive.add_argument("--json", action="store_true", help="one JSON object on stdout")
    archive.set_defaults(func=cmd_archive)

    sla = subparsers.add_parser("sla", help="service-level metrics of queue calls")
    commands = sla.add_subparsers(dest="sla_command", required=True)
    report = commands.add_parser(
        "report", help="metrics of a recorded AMI capture, through the real listener over TCP"
    )
    report.add_argument(
        "--ami-capture", required=True, metavar="PATH", help="ami.raw or the folder holding it"
    )
    report.add_argument("--json", action="store_true", help="one JSON object on stdout")
    report.add_argument(
        "--all",
        action="store_true",
        help="also longest wait, short abandons and per-agent ring compliance",
    )
    report.add_argument("--service-level-seconds", type=int, default=15)
    report.add_argument("--short-abandon-seconds", type=int, default=0)
    report.add_argument("--ring-target-seconds", type=int, default=15)
    report.set_defaults(func=cmd_report)


def cmd_replay(args: argparse.Namespace) -> int:
    from calls.ami.replay import serve

    if args.speed < 0:
        raise SystemExit("--speed must be >= 0")
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        asyncio.run(serve(args.capture, args.host, args.port, args.speed, args.loop))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    from calls import recompute, records
    from hotline.bootstrap import Services
    from hotline.commands import run_with_services

    archive_dir = Path(args.archive) if args.archive else None
    if archive_dir is not None and not archive_dir.is_dir():
        raise SystemExit(f"--archive: {args.archive} is not a folder")

    async def work(services: Services) -> dict[str, Any]:
        db = services.db
        rebuilt = {r.uniqueid: r for r in await recompute.recompute(db, args.source, archive_dir)}
        stored = {r.uniqueid: r for r in await records.load_records(db, args.source)}
        differ = sorted(u for u in rebuilt.keys() & stored.keys() if rebuilt[u] != stored[u])
        return {
            "events": (await recompute.counts(db))["events"],
            "recomputed": len(rebuilt),
            "stored": len(stored),
            "only_recomputed": sorted(rebuilt.keys() - stored.keys()),
            "only_stored": sorted(stored.keys() - rebuilt.keys()),
            "different": differ,
        }

    result = run_with_services(args, work)
    same = not (result["only_recomputed"] or result["only_stored"] or result["different"])
    result["same"] = same
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(
            f"{result['events']} stored AMI events -> {result['recomputed']} call records; "
            f"{result['stored']} stored: {'identical' if same else 'DIFFERENT'}"
        )
        for key in ("only_recomputed", "only_stored", "different"):
            if result[key]:
                print(f"  {key}: {', '.join(result[key][:20])}")
    return 0 if same else 1


def cmd_archive(args: argparse.Namespace) -> int:
    from calls import archive
    from hotline.bootstrap import Services
    from hotline.commands import run_with_services

    try:
        before = archive.cutoff(args.before)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if args.batch < 1:
        raise SystemExit("--batch must be at least 1")
    out = Path(args.out)

    async def work(services: Services) -> list[archive.MonthFile]:
        return await archive.archive(services.db, before, out, args.batch)

    try:
        files = run_with_services(args, work)
    except archive.ArchiveError as exc:
        print(f"ami archive: {exc}", file=sys.stderr)
        return 1
    result = {
        "files": [
            {"month": f.month, "file": str(f.path), "events": f.events, "deleted": f.deleted}
            for f in files
        ],
        "events": sum(f.events for f in files),
        "deleted": sum(f.deleted for f in files),
    }
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for f in files:
            print(f"{f.month}: {f.events} events -> {f.path} ({f.deleted} deleted from the table)")
        if not files:
            print("no stored AMI events before that date")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from calls.ami.offline import track_capture
    from sla.metrics import compute

    tracker, _ = asyncio.run(track_capture(args.ami_capture))
    metrics = compute(
        tracker.all_records(),
        service_level_s=args.service_level_seconds,
        short_abandon_s=args.short_abandon_seconds,
        ring_target_s=args.ring_target_seconds,
    )
    data = metrics.as_dict(extended=args.all)
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, sub in value.items():
                print(f"  {name}: {sub}")
        else:
            print(f"{key}: {'-' if value is None else value}")
    return 0
