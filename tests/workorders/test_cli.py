"""`hotline dispatch ...` in-process, and the routing bar on routing-dev through the CLI path:
top-1 (expected or acceptable unit) >= 90 %."""

from __future__ import annotations

import io
import json
import sys

import pytest

from dispatch.cli import suggest_stream
from hotline.cli import main
from tests.conftest import shared_path

BAR = 0.90


def dev_cases() -> list[dict]:
    path = shared_path("units", "routing-dev.jsonl")
    cases = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(cases) >= 100, f"{path} looks truncated"
    return cases


def requests_text(cases: list[dict]) -> str:
    return "".join(
        json.dumps(
            {"text": c["text"], "district": c["district"], "category": c["category"]},
            ensure_ascii=False,
        )
        + "\n"
        for c in cases
    )


def top1(cases: list[dict], answers: list[dict]) -> float:
    assert len(answers) == len(cases)
    hits = sum(
        bool(a["units"]) and a["units"][0] in {c["expected_unit"], *c.get("acceptable_units", [])}
        for c, a in zip(cases, answers)
    )
    return hits / len(cases)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def test_dispatch_suggest_cli_on_routing_dev(env, capsys):
    assert main(["units", "import", str(shared_path("units", "units.json"))]) == 0
    capsys.readouterr()
    cases = dev_cases()
    requests = env / "requests.jsonl"
    requests.write_text(requests_text(cases), encoding="utf-8")
    assert main(["dispatch", "suggest", "--json", str(requests)]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    score = top1(cases, answers)
    print(f"hotline dispatch suggest on routing-dev: top-1 {score:.1%} of {len(cases)}")
    assert score >= BAR
    assert all(len(a["units"]) <= 5 for a in answers)


def test_dispatch_suggest_reads_standard_input_and_reports_bad_lines(env, capsys, monkeypatch):
    assert main(["units", "import", str(shared_path("units", "units.json"))]) == 0
    capsys.readouterr()
    lines = (
        '{"text": "公积金贷款额度怎么计算", "district": null, "category": null}\n'
        "\n"
        "not json\n"
        '{"text": 5}\n'
        '{"text": "小区路灯不亮", "district": "金水区", "category": "城市管理"}\n'
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert main(["dispatch", "suggest", "--json", "--limit", "2", "-"]) == 1
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert len(out) == 4 and out[0]["units"][0] == "ZZ-GJJ" and len(out[0]["units"]) <= 2
    assert "line 3" in out[1]["error"] and "line 4" in out[2]["error"]
    assert 1 <= len(out[3]["units"]) <= 2
    assert "line 3" in captured.err


def test_dispatch_suggest_without_units_says_so(env, capsys):
    (env / "one.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    assert main(["dispatch", "suggest", "--json", str(env / "one.jsonl")]) == 2
    assert "units import" in capsys.readouterr().err


def test_catalogue_and_followups_commands(env, capsys):
    assert main(["units", "import", str(shared_path("units", "units.json"))]) == 0
    assert (
        main(["dispatch", "catalogue", "add", "住房公积金", "ZZ-RSJ", "--district", "金水区"]) == 0
    )
    assert main(["dispatch", "catalogue", "list"]) == 0
    out = capsys.readouterr().out
    assert "住房公积金" in out and "ZZ-RSJ" in out
    assert main(["dispatch", "catalogue", "add", "不存在", "ZZ-RSJ"]) == 2
    assert main(["dispatch", "catalogue", "delete", "1"]) == 0
    assert main(["dispatch", "followups"]) == 0
    assert "follow-ups processed: 0" in capsys.readouterr().out


async def test_suggest_stream_on_either_backend(db, units):
    cases = dev_cases()
    out = io.StringIO()
    assert await suggest_stream(db, io.StringIO(requests_text(cases)), out, True, 3) == 0
    assert top1(cases, [json.loads(line) for line in out.getvalue().splitlines()]) >= BAR
