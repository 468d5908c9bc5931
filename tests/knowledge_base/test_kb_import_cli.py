"""JSON Lines import and export (service and API on both databases) and the `hotline kb`
commands in-process on a SQLite file of their own (the command plumbing)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from hotline.cli import main
from knowledge_base import importer, service
from knowledge_base.importer import ImportRejected, import_articles
from tests.conftest import login, shared_path

GOOD = {
    "id": "KB-5001",
    "title": "测试文章",
    "questions": ["怎么测试"],
    "answer": "这样测试。",
    "category": "测试",
    "unit": None,
    "basis": None,
    "time_limit": None,
    "materials": [],
    "fee": None,
    "contact": None,
    "updated_at": "2026-03-01T09:00:00+08:00",
}


def jsonl(*rows) -> str:
    return (
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n"
    )


BAD_FILE = jsonl(
    GOOD,  # 1 good
    "{not json",  # 2
    {**GOOD, "id": "KB-5002", "title": ""},  # 3
    "",  # 4 blank: skipped
    {**GOOD, "id": "KB-5003", "materials": "身份证"},  # 5
    {**GOOD},  # 6 duplicate id
    {**GOOD, "id": "KB-5004", "colour": "red"},  # 7
    [1, 2],  # 8
    {**GOOD, "id": "KB-5005", "status": "archived"},  # 9
    {**GOOD, "id": "KB-5006", "updated_at": "March"},  # 10
    {**GOOD, "id": "KB 5007"},  # 11
    {**GOOD, "id": "KB-5008", "status": "draft"},  # 12 good
)
BAD_LINES = [2, 3, 5, 6, 7, 8, 9, 10, 11]


async def test_bad_lines_are_reported_and_nothing_is_imported(db):
    with pytest.raises(ImportRejected) as info:
        await import_articles(db, "test", BAD_FILE)
    assert [e.line for e in info.value.errors] == BAD_LINES
    messages = {e.line: e.message for e in info.value.errors}
    assert "invalid JSON" in messages[2] and "title is required" in messages[3]
    assert "duplicate id KB-5001 (first on line 1)" == messages[6]
    assert "unknown field(s): colour" == messages[7] and "status must be" in messages[9]
    assert await importer.export_lines(db) == []

    result = await import_articles(db, "test", BAD_FILE, partial=True)
    assert result.created == ["KB-5001", "KB-5008"]
    assert [e.line for e in result.skipped] == BAD_LINES
    exported = [json.loads(line) for line in await importer.export_lines(db)]
    assert [(r["id"], r["status"]) for r in exported] == [
        ("KB-5001", "published"),
        ("KB-5008", "draft"),
    ]


async def test_sample_import_round_trips_and_is_idempotent(db):
    text = shared_path("kb", "articles.jsonl").read_text("utf-8")
    result = await import_articles(db, "test", text)
    assert len(result.created) == 240 and not result.updated
    again = await import_articles(db, "test", text)
    assert again.unchanged == 240 and not again.created and not again.updated

    exported = [json.loads(line) for line in await importer.export_lines(db)]
    original = [json.loads(line) for line in text.splitlines()]
    assert [{k: r[k] for k in importer.EXCHANGE_FIELDS} for r in exported] == original
    assert {r["status"] for r in exported} == {"published"}
    # An export imports back without a change.
    assert (
        await import_articles(
            db, "test", "\n".join(json.dumps(r, ensure_ascii=False) for r in exported)
        )
    ).unchanged == 240

    # A changed row is a new version by the importer; a retired row leaves search.
    changed = dict(original[0], fee="收取工本费20元")
    retired = dict(original[1], status="retired")
    result = await import_articles(db, "test", jsonl(changed, retired))
    assert result.updated == ["KB-0001", "KB-0002"]
    versions = await service.list_versions(db, "KB-0001")
    assert [(v.version, v.action, v.author) for v in versions] == [
        (2, "import", "test"),
        (1, "import", "test"),
    ]
    docs = {d.id for d in await service.published_docs(db)}
    assert "KB-0002" not in docs and "KB-0001" in docs


async def test_demo_loader_keeps_edits_made_in_the_demo(db):
    await importer.load_sample_articles(db)
    article = (await service.published_docs(db))[0]
    content = service.parse_input({"title": "改过的标题", "answer": "改过", "category": "测试"})
    await service.update_article(db, "editor", article.id, content, 1)
    result = await importer.load_sample_articles(db)
    assert result.unchanged == 240 and not result.created
    docs = {d.id: d for d in await service.published_docs(db)}
    assert docs[article.id].title == "改过的标题"


async def test_import_and_export_over_http(client, accounts):
    csrf = await login(client, "editor")
    resp = await client.post(
        "/api/v1/kb/import", data=BAD_FILE.encode(), headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert [e["line"] for e in error["details"]["errors"]] == BAD_LINES
    resp = await client.post(
        "/api/v1/kb/import?partial=1", data=BAD_FILE.encode(), headers={"X-CSRF-Token": csrf}
    )
    body = await resp.json()
    assert (body["created"], len(body["skipped"])) == (2, 9)
    resp = await client.post("/api/v1/kb/import", data=b"\xff\xfe", headers={"X-CSRF-Token": csrf})
    assert resp.status == 400
    resp = await client.get("/api/v1/kb/export?status=draft")
    assert resp.content_type == "application/x-ndjson"
    assert [json.loads(x)["id"] for x in (await resp.text()).splitlines()] == ["KB-5008"]
    assert (await client.get("/api/v1/kb/export?status=gone")).status == 400
    # The imported published article is searchable at once.
    search = await (await client.get("/api/v1/kb/search", params={"q": "怎么测试"})).json()
    assert search["hits"][0]["id"] == "KB-5001"


# ---------------------------------------------------------------------- the command


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def test_cli_import_export_search_and_eval(env, capsys, monkeypatch):
    articles = shared_path("kb", "articles.jsonl")
    assert main(["kb", "import", str(articles)]) == 0
    assert "240 created" in capsys.readouterr().out
    assert main(["kb", "import", str(articles)]) == 0
    assert "240 unchanged" in capsys.readouterr().out

    assert main(["kb", "export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 240 and json.loads(lines[0])["id"] == "KB-0001"

    queries = "社保卡丢了\n\ngongjijin tiqu\n社\n我家水龙头拧开就细细一股\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(queries))
    assert main(["kb", "search", "--json", "-"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["q"] for o in out] == [
        "社保卡丢了",
        "",
        "gongjijin tiqu",
        "社",
        "我家水龙头拧开就细细一股",
    ]
    first = out[0]["results"]
    assert first[0]["id"] in ("KB-0001", "KB-0003") and len(first) <= 5
    assert set(first[0]) == {"id", "score"}
    assert [r["score"] for r in first] == sorted((r["score"] for r in first), reverse=True)
    assert out[1]["results"] == [] and out[3]["results"] == []

    monkeypatch.setattr(sys, "stdin", io.StringIO("社保卡丢了\n"))
    assert main(["kb", "search", "--json", "--limit", "2", "-"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 2
    assert main(["kb", "search", "社保卡丢了"]) == 0
    assert "KB-0001" in capsys.readouterr().out

    assert main(["kb", "eval", "--queries", str(shared_path("kb", "queries-dev.jsonl"))]) == 0
    report = capsys.readouterr().out
    for word in ("top1", "top3", "mrr", "no-ans", "OVERALL", "typo", "no_answer"):
        assert word in report
    assert (
        main(["kb", "eval", "--json", "--queries", str(shared_path("kb", "queries-dev.jsonl"))])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    lines = [
        line
        for line in shared_path("kb", "queries-dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert result["overall"]["queries"] == len(lines) and result["overall"]["top3"] > 0.5

    # Thresholds tuned on one half of the queries, measured on the other, both ways.
    assert (
        main(
            [
                "kb",
                "eval",
                "--cross-check",
                "--queries",
                str(shared_path("kb", "queries-dev.jsonl")),
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "cross-check: tuned on the first half" in report
    assert "cross-check: tuned on the second half" in report and report.count("OVERALL") == 3
    assert main(["kb", "gaps", "--grouped"]) == 0
    assert "no unanswered queries recorded" in capsys.readouterr().out


def test_cli_reports_bad_files(env, capsys):
    bad = env / "bad.jsonl"
    bad.write_text(BAD_FILE, encoding="utf-8")
    assert main(["kb", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    for line in BAD_LINES:
        assert f"{bad}:{line}: " in err
    assert "9 bad line(s); nothing imported" in err
    assert main(["kb", "import", "--partial", str(bad)]) == 0
    captured = capsys.readouterr()
    assert "2 created" in captured.out and f"{bad}:2: skipped" in captured.err
    assert main(["kb", "import", str(env / "missing.jsonl")]) == 2

    queries = env / "queries.jsonl"
    queries.write_text(
        '{"q": "社保卡", "expected": ["KB-0001"]}\n{"q": 1}\nnot json\n', encoding="utf-8"
    )
    assert main(["kb", "eval", "--queries", str(queries)]) == 2
    err = capsys.readouterr().err
    assert f"{queries}:2:" in err and f"{queries}:3:" in err
    assert main(["kb", "search", "--limit", "0", "x"]) == 2
    assert main(["kb", "search"]) == 2


def test_cli_on_an_empty_knowledge_base_says_so_and_imports_the_sample(env, capsys, monkeypatch):
    """A fresh install has no articles: measuring it would print zeros as if search failed."""
    queries = str(shared_path("kb", "queries-dev.jsonl"))
    assert main(["kb", "eval", "--queries", queries]) == 2
    assert "no published articles in the database" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("社保卡丢了\n"))
    assert main(["kb", "search", "--json", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "hotline kb import --sample" in captured.err

    assert main(["kb", "import", "--sample", "x.jsonl"]) == 2
    assert main(["kb", "import"]) == 2
    assert capsys.readouterr().err.count("give a FILE") == 2
    assert main(["kb", "import", "--sample"]) == 0
    assert "240 created" in capsys.readouterr().out
    assert main(["kb", "import", "--sample"]) == 0
    assert "240 unchanged" in capsys.readouterr().out
    assert main(["kb", "eval", "--json", "--queries", queries]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["top3"] > 0.9
