"""`hotline dispatch ...`: unit suggestions in bulk, the dispatch catalogue, the follow-up pump.

    hotline dispatch suggest --json FILE|-     # JSON lines {"text", "district", "category"} in,
                                               # one {"units": [best, ...]} line out per request
    hotline dispatch catalogue list | add CATEGORY UNIT [--district D] | delete ID
    hotline dispatch followups                 # process the follow-ups due now, once (cron)

`suggest` uses the configured database: its units, its catalogue rules and its answered
tickets (history), exactly as the agents' desk does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any, Iterable, Iterator

from dispatch import catalogue
from dispatch.routing import RoutingRequest
from hotline.commands import run_with_services
from hotline.errors import NotFound


def _requests(lines: Iterable[str]) -> Iterator[tuple[RoutingRequest | None, str | None]]:
    """(request, None) per good line, (None, error) per bad one; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
                raise ValueError("expected an object with a text string")
            district, category = raw.get("district"), raw.get("category")
            for name, value in (("district", district), ("category", category)):
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{name} must be a string or null")
            yield RoutingRequest(raw["text"], district or None, category or None), None
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            yield None, f"line {number}: {exc}"


async def suggest_stream(
    db: Any, lines: Iterable[str], out: IO[str], as_json: bool, limit: int
) -> int:
    """Writes one answer per request; returns the number of bad lines."""
    async with db.read() as s:
        data = await catalogue.routing_data(s)
    if not data.units:
        raise NotFound("no units in the database; run `hotline units import` first")
    router = catalogue.build_router(data)
    bad = 0
    for request, error in _requests(lines):
        if request is None:
            bad += 1
            print(error, file=sys.stderr)
            out.write(json.dumps({"error": error}, ensure_ascii=False) + "\n" if as_json else "\n")
            continue
        units = [s.unit_code for s in catalogue.suggest(router, data.rules, request, limit)]
        out.write(
            json.dumps({"units": units}, ensure_ascii=False) + "\n"
            if as_json
            else " ".join(units) + "\n"
        )
    out.flush()
    return bad


def cmd_suggest(args: argparse.Namespace) -> int:
    source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    try:
        bad = run_with_services(
            args,
            lambda services: suggest_stream(services.db, source, sys.stdout, args.json, args.limit),
        )
    finally:
        if source is not sys.stdin:
            source.close()
    return 1 if bad else 0


def cmd_catalogue_list(args: argparse.Namespace) -> int:
    for r in run_with_services(args, lambda services: catalogue.list_rules(services.db)):
        print(f"{r.id:>5}  {r.category:<12} {r.district or '(全市)':<10} {r.unit_code}")
    return 0


def cmd_catalogue_add(args: argparse.Namespace) -> int:
    rule = run_with_services(
        args,
        lambda services: catalogue.add_rule(
            services.db, "cli", args.category, args.district, args.unit, args.note
        ),
    )
    print(f"rule {rule.id}: {rule.category} / {rule.district or '全市'} -> {rule.unit_code}")
    return 0


def cmd_catalogue_delete(args: argparse.Namespace) -> int:
    run_with_services(args, lambda services: catalogue.delete_rule(services.db, "cli", args.id))
    print(f"rule {args.id} deleted")
    return 0


def cmd_followups(args: argparse.Namespace) -> int:
    from dispatch.followups import FollowupPump

    count = run_with_services(
        args, lambda services: FollowupPump(services.db, clock=services.clock).run_once()
    )
    print(f"follow-ups processed: {count}")
    return 0


def register(subparsers: Any) -> None:
    dispatch = subparsers.add_parser("dispatch", help="work orders: routing, catalogue, follow-ups")
    sub = dispatch.add_subparsers(dest="dispatch_command", required=True)

    p = sub.add_parser("suggest", help="suggest units for JSON-lines requests")
    p.add_argument("file", help="JSON lines {text, district, category}; - for standard input")
    p.add_argument(
        "--json",
        action="store_true",
        help='write {"units": [...]} JSON lines (default: unit codes separated by spaces)',
    )
    p.add_argument("--limit", type=int, default=5, help="units per request, best first")
    p.set_defaults(func=cmd_suggest)

    cat = sub.add_parser("catalogue", help="the dispatch catalogue (派单目录)").add_subparsers(
        dest="catalogue_command", required=True
    )
    cat.add_parser("list", help="explicit rules").set_defaults(func=cmd_catalogue_list)
    p = cat.add_parser("add", help="requests of CATEGORY (in --district) go to UNIT")
    p.add_argument("category")
    p.add_argument("unit")
    p.add_argument("--district")
    p.add_argument("--note")
    p.set_defaults(func=cmd_catalogue_add)
    p = cat.add_parser("delete", help="delete a rule by id")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_catalogue_delete)

    sub.add_parser("followups", help="process the follow-ups due now, once").set_defaults(
        func=cmd_followups
    )
