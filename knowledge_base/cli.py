"""`hotline kb ...`: import and export articles, batch search and search-quality evaluation
against the configured database's published articles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, TextIO

from hotline.commands import report_import, run_with_services
from hotline.errors import NotFound
from knowledge_base.models import ARTICLE_STATUSES

if TYPE_CHECKING:
    from knowledge_base.answering import Thresholds
    from knowledge_base.search import Hit, SearchIndex


def register(subparsers: Any) -> None:
    kb = subparsers.add_parser("kb", help="knowledge base (知识库)").add_subparsers(
        dest="kb_command", required=True
    )

    p = kb.add_parser("import", help="import articles from a JSON Lines file ('-' = stdin)")
    p.add_argument("file", nargs="?")
    p.add_argument(
        "--sample",
        action="store_true",
        help="the packaged sample articles (240 办事指南) instead of a file; existing ones kept",
    )
    p.add_argument("--partial", action="store_true", help="import good rows, report bad ones")
    p.add_argument(
        "--draft",
        action="store_true",
        help="rows without a status become drafts (default: published)",
    )
    p.set_defaults(func=cmd_import)

    p = kb.add_parser("export", help="write articles as JSON Lines to stdout")
    p.add_argument("--status", choices=("all", *ARTICLE_STATUSES), default="all")
    p.set_defaults(func=cmd_export)

    p = kb.add_parser("search", help="search the published articles")
    p.add_argument(
        "queries",
        nargs="*",
        metavar="QUERY",
        help="queries to run; '-' reads one query per line from stdin",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='one JSON line per query: {"q", "results": [{"id", "score"}]}',
    )
    p.add_argument("--limit", type=int, default=5, help="hits per query (default 5)")
    p.add_argument("--category", help="only articles of this category")
    p.set_defaults(func=cmd_search)

    p = kb.add_parser("eval", help="search quality on labelled queries (queries-dev.jsonl format)")
    p.add_argument("--queries", required=True, help='JSON Lines: {"q", "expected": [ids], "kind"}')
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--misses", action="store_true", help="also list the queries missed")
    p.add_argument(
        "--cross-check",
        action="store_true",
        help="also tune the answer thresholds on one half of the queries and report "
        "the other half, both ways",
    )
    p.set_defaults(func=cmd_eval)

    p = kb.add_parser("gaps", help="most frequent queries the knowledge base did not answer")
    p.add_argument("--limit", type=int, default=30)
    p.add_argument(
        "--grouped",
        action="store_true",
        help="group queries that ask the same (by meaning), largest group first",
    )
    p.set_defaults(func=cmd_gaps)


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------- import / export


def cmd_import(args: argparse.Namespace) -> int:
    from knowledge_base.importer import import_articles, load_sample_articles

    if args.sample == bool(args.file):
        print("give a FILE ('-' = stdin) or --sample, not both", file=sys.stderr)
        return 2
    if args.sample:
        return report_import(
            "sample",
            lambda: run_with_services(args, lambda s: load_sample_articles(s.db, "cli")),
            _import_summary,
            noun="line",
        )
    try:
        text = _read_text(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    status = "draft" if args.draft else "published"
    return report_import(
        str(args.file),
        lambda: run_with_services(
            args,
            lambda services: import_articles(
                services.db, "cli", text, partial=args.partial, default_status=status
            ),
        ),
        _import_summary,
        noun="line",
    )


def _import_summary(r: Any) -> str:
    return (
        f"articles: {len(r.created)} created, {len(r.updated)} updated, "
        f"{r.unchanged} unchanged, {len(r.skipped)} skipped"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from knowledge_base.importer import export_lines

    statuses = ARTICLE_STATUSES if args.status == "all" else (args.status,)
    lines = run_with_services(args, lambda services: export_lines(services.db, statuses))
    out = sys.stdout
    for line in lines:
        out.write(line + "\n")
    out.flush()
    return 0


# ---------------------------------------------------------------------- search / eval


class _Searcher:
    """The index as the web search uses it: queries cleaned the same way."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    @property
    def thresholds(self) -> Thresholds:
        return self.index.thresholds

    @thresholds.setter
    def thresholds(self, value: Thresholds) -> None:
        self.index.thresholds = value

    def search(self, query: str, *, limit: int = 5, category: str | None = None) -> list[Hit]:
        from knowledge_base.service import clean_query
        from knowledge_base.text import RAW_QUERY_LIMIT

        return self.index.search(
            clean_query(query, RAW_QUERY_LIMIT), limit=limit, category=category
        )


def _load_searcher(args: argparse.Namespace) -> _Searcher:
    from knowledge_base.service import build_index

    index = run_with_services(args, lambda services: build_index(services.db))
    if not len(index):
        # An empty knowledge base answers nothing: measuring it would print zeros, not a fault.
        raise NotFound(
            "no published articles in the database; run `hotline kb import FILE` first "
            "(the sample articles: `hotline kb import --sample`)"
        )
    return _Searcher(index)


def _query_lines(queries: list[str], stdin: TextIO) -> Iterable[str]:
    for q in queries:
        if q == "-":
            for number, line in enumerate(stdin):
                line = line.rstrip("\r\n")
                yield line.lstrip("\ufeff") if number == 0 else line
        else:
            yield q


def cmd_search(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        print("--limit must be between 1 and 1000", file=sys.stderr)
        return 2
    if not args.queries:
        print("give queries, or '-' to read one per line from stdin", file=sys.stderr)
        return 2
    searcher = _load_searcher(args)
    out = sys.stdout
    for q in _query_lines(args.queries, sys.stdin):
        hits = searcher.search(q, limit=args.limit, category=args.category)
        if args.json:
            out.write(
                json.dumps(
                    {"q": q, "results": [{"id": h.id, "score": h.score} for h in hits]},
                    ensure_ascii=False,
                )
            )
            out.write("\n")
        else:
            out.write(f"{q}\n")
            for h in hits:
                out.write(f"  {h.id}  {h.score:5.1f}  {h.title}\n")
            if not hits:
                out.write("  (no result)\n")
        out.flush()  # a caller may feed queries one at a time through a pipe
    return 0


def _parse_labelled(text: str, name: str) -> tuple[list[Any], list[str]]:
    from knowledge_base.evaluation import LabelledQuery

    queries, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("q"), str):
                raise ValueError('expected an object with a string "q"')
            expected = record.get("expected") or []
            if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
                raise ValueError('"expected" must be a list of article ids')
            queries.append(
                LabelledQuery(
                    q=record["q"],
                    expected=tuple(expected),
                    kind=str(record.get("kind") or "unknown"),
                )
            )
        except (json.JSONDecodeError, ValueError) as exc:
            errors.append(f"{name}:{number}: {exc}")
    return queries, errors


def cmd_eval(args: argparse.Namespace) -> int:
    from knowledge_base.evaluation import cross_check, evaluate, format_report

    try:
        text = _read_text(args.queries)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.queries}: {exc}", file=sys.stderr)
        return 2
    queries, errors = _parse_labelled(text, args.queries)
    if errors:
        for err in errors:
            print(err, file=sys.stderr)
        return 2
    searcher = _load_searcher(args)
    result = evaluate(searcher, queries)
    checks = cross_check(searcher, queries) if args.cross_check else []
    if args.json:
        if checks:
            result = {**result, "cross_check": checks}
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(format_report(result))
    for check in checks:
        t = check["thresholds"]
        print(
            f"\ncross-check: tuned on the {check['tuned_on']} half (confident "
            f"{t['confident']:g}, answer {t['answer']:g}, max missing {t['max_missing']:g}), "
            f"measured on the other half:"
        )
        print(format_report(check["result"]))
    if args.misses:
        for miss in result["misses"]:
            got = ", ".join(f"{i} {s}" for i, s in miss["got"]) or "nothing"
            print(
                f"[{miss['kind']}] {miss['q']} — expected {miss['expected'] or 'no answer'}, "
                f"got {got}"
            )
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    from knowledge_base.service import list_gaps, local_iso

    gaps = run_with_services(
        args, lambda services: list_gaps(services.db, limit=max(1, args.limit))
    )
    if args.grouped and gaps:
        from knowledge_base.learning import group_gaps

        for group in group_gaps(gaps):
            others = "；".join(f"{g.sample}（{g.count}）" for g in group.gaps[1:])
            print(f"{group.count:>5}  {group.sample}" + (f"  — {others}" if others else ""))
        return 0
    for g in gaps:
        print(f"{g.count:>5}  {(local_iso(g.last_seen) or '')[:16]}  {g.sample}")
    if not gaps:
        print("no unanswered queries recorded")
    return 0
