"""The `hotline` command in-process. These run on a SQLite file of their own in both suite
runs: they test the command plumbing; the services beneath are tested on both backends."""

import io
import json
import sys

import pytest
from alembic.script import ScriptDirectory

from hotline.db import alembic_config

from hotline.cli import main
from tests.conftest import shared_path


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def test_units_import_users_and_tokens(env, capsys, monkeypatch):
    assert main(["units", "import", str(shared_path("units", "units.json"))]) == 0
    assert "60 created" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    assert (
        main(
            [
                "users",
                "add",
                "zhang",
                "--role",
                "unit_handler",
                "--unit",
                "ZZ-GJJ",
                "--name",
                "张三",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert "created user zhang (unit_handler, ZZ-GJJ)" in capsys.readouterr().out
    assert main(["users", "token", "zhang"]) == 0
    assert capsys.readouterr().out.startswith("hl_")
    assert main(["users", "list"]) == 0
    assert "zhang" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert capsys.readouterr().out.strip() == ",".join(sorted(heads))


def test_bad_units_file_reports_lines_and_imports_nothing(env, capsys):
    bad = env / "bad.json"
    rows = [{"code": "A", "name": "甲", "kind": "municipal_bureau"}, {"code": "B", "kind": "x"}]
    bad.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    assert main(["units", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:7: name is required" in err and "nothing imported" in err
    assert main(["units", "import", str(env / "missing.json")]) == 2
    assert main(["users", "list"]) == 0


def test_user_errors_exit_2_with_a_message(env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "add", "li", "--role", "agent", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("long-enough-pw\n"))
    assert (
        main(["users", "add", "li", "--role", "unit_handler", "--unit", "NOPE", "--password-stdin"])
        == 2
    )
    assert "unit NOPE does not exist" in capsys.readouterr().err


def test_feature_commands_are_wired(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("kb", "dispatch", "ami", "sla"):
        assert command in out
    assert (
        main(["sla", "report", "--ami-capture", str(shared_path("ami-traces", "calm")), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    expected = json.loads(shared_path("ami-traces", "calm", "expected.json").read_text())
    assert report["connect_rate"] == expected["connect_rate"]
    assert report["offered"] == expected["offered"]
