"""`sla` subcommands: `sla report --ami-capture PATH --json`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sla = subparsers.add_parser("sla", help="service-level metrics of queue calls")
    commands = sla.add_subparsers(dest="sla_command", required=True)
    report = commands.add_parser(
        "report", help="metrics of a recorded AMI capture, through the real listener over TCP")
    report.add_argument("--ami-capture", required=True, metavar="PATH",
                        help="ami.raw or the folder holding it")
    report.add_argument("--json", action="store_true", help="one JSON object on stdout")
    report.add_argument("--all", action="store_true",
                        help="also longest wait, short abandons and per-agent ring compliance")
    report.add_argument("--service-level-seconds", type=int, default=15)
    report.add_argument("--short-abandon-seconds", type=int, default=0)
    report.add_argument("--ring-target-seconds", type=int, default=15)
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from hotline.telephony.offline import track_capture
    from sla.metrics import compute

    tracker, _ = asyncio.run(track_capture(args.ami_capture))
    metrics = compute(tracker.all_records(), service_level_s=args.service_level_seconds,
                      short_abandon_s=args.short_abandon_seconds,
                      ring_target_s=args.ring_target_seconds)
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
