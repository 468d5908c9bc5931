"""Knowledge-base search benchmark: our index vs rapidfuzz WRatio vs SQLite FTS5 trigram.

    cd /work/main && PYTHONPATH=. .venv/bin/python benchmarks/kb_search.py
    (options: --sizes 240,20000,100000  --queries /path/queries-dev.jsonl)

The sample corpus (240 articles) is grown to the requested sizes with realistic variants of real
articles: a district or year in the title, questions recombined and reworded with the synonym
list, the answer localised to a district. A hit on a variant counts as a hit on the article it
was made from. Each size runs in its own process so that memory figures are not mixed up.

Quality: top-1 / top-3 over answerable dev queries, and the share of no-answer queries that
return nothing. Latency: per query over the dev queries, and per keystroke over every prefix of
them (what the agent's page sends); each query is timed TIMING_ROUNDS times and its fastest run
kept, so that other work on the machine does not pass for search cost. Memory: growth of the
process RSS while building, each engine in a fresh process, after the libraries' dictionaries
are loaded (a warm-up build over a few articles).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from knowledge_base.evaluation import LabelledQuery, parse_queries
from knowledge_base.search import ArticleDoc, SearchIndex, default_articles
from knowledge_base.synonyms import Synonyms, default_synonyms

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared" / "kb" / "queries-dev.jsonl"
DISTRICTS = (
    "金水区",
    "二七区",
    "中原区",
    "管城回族区",
    "惠济区",
    "郑东新区",
    "高新区",
    "经开区",
    "航空港区",
    "上街区",
    "巩义市",
    "荥阳市",
    "新密市",
    "新郑市",
    "登封市",
    "中牟县",
)
WRATIO_QUERY_CAP = 60  # WRatio at 100k costs ~0.2 s per query; a sample is enough
TIMING_ROUNDS = 3
ENGINES = ("ours", "wratio", "fts5")


def base_id(article_id: str) -> str:
    return article_id.split("~", 1)[0]


def _swap_synonyms(text: str, synonyms: Synonyms, rng: random.Random, rate: float) -> str:
    out = text
    for span in reversed(synonyms.find(text)):
        if span.aliases and rng.random() < rate:
            alias = rng.choice(span.aliases)
            out = out[: span.start] + alias + out[span.end :]
    return out


def grow_corpus(
    base: list[ArticleDoc], size: int, synonyms: Synonyms, seed: int = 7
) -> list[ArticleDoc]:
    """The base articles plus variants of them until there are `size` documents."""
    rng = random.Random(seed)
    docs = list(base[:size])
    k = 0
    while len(docs) < size:
        src = base[k % len(base)]
        n = k // len(base)
        k += 1
        district = DISTRICTS[(n + rng.randrange(len(DISTRICTS))) % len(DISTRICTS)]
        year = 2019 + rng.randrange(8)
        title = _swap_synonyms(src.title, synonyms, rng, 0.3)
        title = rng.choice(
            (
                f"{district}{title}",
                f"{title}（{district}）",
                f"{year}年{district}{title}",
                f"{district}{title}（{year}年版）",
            )
        )
        questions = [_swap_synonyms(q, synonyms, rng, 0.4) for q in src.questions]
        rng.shuffle(questions)
        questions = questions[: rng.randint(2, max(2, len(questions)))]
        if questions and rng.random() < 0.5:
            questions[0] = f"在{district}{questions[0]}"
        sentences = [s for s in re.split(r"(?<=。)", src.answer) if s]
        if len(sentences) > 2 and rng.random() < 0.5:
            sentences.pop(rng.randrange(1, len(sentences)))
        answer = "".join(sentences).replace("郑州市", f"郑州市{district}", 1)
        answer = _swap_synonyms(answer, synonyms, rng, 0.2)
        docs.append(
            ArticleDoc(
                id=f"{src.id}~{n:04d}",
                title=title,
                questions=tuple(questions),
                answer=answer,
                category=src.category,
            )
        )
    return docs


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "max": ordered[-1]}


def _quality(search, queries: list[LabelledQuery]) -> dict[str, float]:
    top1 = top3 = answerable = empty = no_answer = 0
    for q in queries:
        ids = [base_id(i) for i in search(q.q)]
        if q.expected:
            answerable += 1
            top1 += bool(ids[:1]) and ids[0] in q.expected
            top3 += any(i in q.expected for i in ids[:3])
        else:
            no_answer += 1
            empty += not ids
    return {
        "top1": top1 / answerable,
        "top3": top3 / answerable,
        "no_answer": empty / no_answer if no_answer else float("nan"),
    }


def _timed(search, texts: list[str], rounds: int = TIMING_ROUNDS) -> dict[str, float]:
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            t = time.perf_counter()
            search(text)
            best[i] = min(best[i], (time.perf_counter() - t) * 1000)
    return _percentiles(best)


def _keystrokes(queries: list[LabelledQuery]) -> list[str]:
    return [q.q[:i] for q in queries for i in range(1, min(len(q.q), 24) + 1)]


def run_ours(docs, queries) -> dict:
    SearchIndex.build(docs[:20], default_synonyms())  # loads rjieba / pypinyin / zhconv tables
    gc.collect()
    rss0 = _rss_mb()
    t = time.perf_counter()
    index = SearchIndex.build(docs, default_synonyms())
    build_s = time.perf_counter() - t
    gc.collect()
    rss = _rss_mb() - rss0
    search = lambda text: [h.id for h in index.search(text, limit=3)]  # noqa: E731
    for q in queries[:20]:
        search(q.q)
    return {
        "build_s": build_s,
        "rss_mb": rss,
        "query_ms": _timed(search, [q.q for q in queries]),
        "keystroke_ms": _timed(search, _keystrokes(queries)),
        **_quality(search, queries),
    }


def run_wratio(docs, queries, cap: int | None) -> dict:
    from rapidfuzz import fuzz, process

    gc.collect()
    rss0 = _rss_mb()
    t = time.perf_counter()
    choices = [d.title + " " + " ".join(d.questions) for d in docs]
    ids = [d.id for d in docs]
    build_s = time.perf_counter() - t
    rss = _rss_mb() - rss0

    def search(text: str) -> list[str]:
        return [ids[i] for _, _, i in process.extract(text, choices, scorer=fuzz.WRatio, limit=3)]

    sample = queries if cap is None else queries[:: max(1, len(queries) // cap)]
    return {
        "build_s": build_s,
        "rss_mb": rss,
        "query_ms": _timed(search, [q.q for q in sample], rounds=1 if cap else TIMING_ROUNDS),
        "keystroke_ms": None,
        **_quality(search, queries if cap is None else sample),
        "sampled": cap is not None,
    }


def run_fts5(docs, queries) -> dict:
    gc.collect()
    rss0 = _rss_mb()
    t = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE kb USING fts5(id UNINDEXED, title, questions, answer, tokenize='trigram')"
    )
    db.executemany(
        "INSERT INTO kb VALUES (?, ?, ?, ?)",
        ((d.id, d.title, " ".join(d.questions), d.answer) for d in docs),
    )
    db.commit()
    build_s = time.perf_counter() - t
    rss = _rss_mb() - rss0

    def search(text: str) -> list[str]:
        # Plain use of FTS5: every whitespace-separated token as a quoted phrase, OR-ed.
        tokens = [tok.replace('"', '""') for tok in text.split()]
        if not tokens:
            return []
        match = " OR ".join(f'"{tok}"' for tok in tokens)
        rows = db.execute(
            "SELECT id FROM kb WHERE kb MATCH ? ORDER BY bm25(kb, 0, 10.0, 5.0, 1.0) LIMIT 3",
            (match,),
        ).fetchall()
        return [r[0] for r in rows]

    return {
        "build_s": build_s,
        "rss_mb": rss,
        "query_ms": _timed(search, [q.q for q in queries]),
        "keystroke_ms": _timed(search, _keystrokes(queries)),
        **_quality(search, queries),
    }


def worker(size: int, engine: str, queries_path: Path) -> dict:
    queries = parse_queries(queries_path.read_text("utf-8").splitlines())
    docs = grow_corpus(default_articles(), size, default_synonyms())
    if engine == "ours":
        result = run_ours(docs, queries)
    elif engine == "fts5":
        result = run_fts5(docs, queries)
    else:
        result = run_wratio(docs, queries, WRATIO_QUERY_CAP if size > 50_000 else None)
    return {"size": len(docs), "engine": engine, **result}


def _fmt_ms(d: dict | None, key: str) -> str:
    return "-" if not d else f"{d[key]:.2f}"


def print_table(results: list[dict]) -> None:
    head = (
        f"{'articles':>8}  {'engine':<8} {'build s':>8} {'RSS MB':>7} {'q p50':>7} {'q p95':>7} "
        f"{'key p50':>8} {'key p95':>8} {'top1':>6} {'top3':>6} {'no-ans':>6}"
    )
    print(head)
    print("-" * len(head))
    for e in results:
        note = f" (sample of {WRATIO_QUERY_CAP} queries)" if e.get("sampled") else ""
        print(
            f"{e['size']:>8}  {e['engine']:<8} {e['build_s']:>8.2f} {e['rss_mb']:>7.1f} "
            f"{e['query_ms']['p50']:>7.2f} {e['query_ms']['p95']:>7.2f} "
            f"{_fmt_ms(e['keystroke_ms'], 'p50'):>8} {_fmt_ms(e['keystroke_ms'], 'p95'):>8} "
            f"{100 * e['top1']:>5.1f}% {100 * e['top3']:>5.1f}% {100 * e['no_answer']:>5.1f}%{note}"
        )
    print(
        "latencies in ms (fastest of repeated runs per query); q = whole dev queries, "
        "key = every prefix of them (per keystroke)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="240,20000,100000")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--worker", nargs=2, metavar=("SIZE", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        size, engine = args.worker
        print(json.dumps(worker(int(size), engine, args.queries)))
        return
    if not args.queries.exists():
        sys.exit(f"query file not found: {args.queries} (pass --queries)")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        for engine in args.engines.split(","):
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                str(size),
                engine,
                "--queries",
                str(args.queries),
            ]
            proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"... {size} articles, {engine} done", file=sys.stderr)
    print_table(results)


if __name__ == "__main__":
    main()
