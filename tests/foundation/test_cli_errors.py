"""The operator's first hour: every mistake in the set-up is one line on stderr and a non-zero
exit code, never a traceback. In-process through main() where that suffices; `serve` runs as a
subprocess, since it owns the process (socket, event loop, signals)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hotline.cli import main
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("HOTLINE_") and not name.startswith("HOTLINE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("hotline: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err + captured.out
    return err


def test_unknown_setting_in_the_file_is_named(env, capsys):
    cfg = env / "hotline.toml"
    cfg.write_text("prot = 8081\n")
    assert main(["--config", str(cfg), "db", "current"]) == 2
    assert "unknown setting 'prot' (did you mean 'port'?)" in one_line(capsys)
    cfg.write_text("[ami]\nhots = 'pbx'\n")
    assert main(["--config", str(cfg), "db", "current"]) == 2
    assert "unknown setting 'ami.hots'" in one_line(capsys)


def test_unknown_environment_variable_is_named(env, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_PROT", "8081")
    assert main(["db", "current"]) == 2
    assert "unknown setting 'HOTLINE_PROT'" in one_line(capsys)


def test_bad_log_level_lists_the_allowed_ones(env, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_LOG_LEVEL", "verbose")
    assert main(["db", "current"]) == 2
    assert (
        "'verbose' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        in one_line(capsys)
    )


def test_config_file_that_does_not_parse(env, capsys):
    cfg = env / "broken.toml"
    cfg.write_text("port = \n")
    assert main(["--config", str(cfg), "db", "current"]) == 2
    assert "broken.toml" in one_line(capsys)
    assert main(["--config", str(env), "db", "current"]) == 2  # a folder, not a file
    assert "cannot read it" in one_line(capsys)


def test_bad_database_url(env, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql+asyncpg://u:pw@db:fivefour/x")
    assert main(["db", "upgrade"]) == 2
    err = one_line(capsys)
    assert "database_url: not a valid database URL" in err and "pw" not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_down(env, capsys, monkeypatch):
    # Nothing listens on a port just freed: connection refused, at once.
    monkeypatch.setenv(
        "HOTLINE_DATABASE_URL",
        f"postgresql+asyncpg://hotline:s3cret@127.0.0.1:{free_port()}/hotline",
    )
    assert main(["db", "upgrade"]) == 1
    err = one_line(capsys)
    assert "cannot connect to the database postgresql+asyncpg://hotline:***@127.0.0.1" in err
    assert "s3cret" not in err


def test_database_missing(env, capsys, monkeypatch):
    if PG_URL:
        missing = make_url(PG_URL).set(database="hotline_no_such_database")
        monkeypatch.setenv("HOTLINE_DATABASE_URL", missing.render_as_string(hide_password=False))
        assert main(["db", "current"]) == 1
        assert 'database "hotline_no_such_database" does not exist' in one_line(capsys)
    # A SQLite file whose folder cannot exist (its parent is a file).
    (env / "plain-file").write_text("")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{env}/plain-file/x.db")
    assert main(["users", "list"]) == 1
    assert "cannot open the database" in one_line(capsys)


def run_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    clean.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
            "PYTHONPATH": str(ROOT),
        },
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "hotline", "serve", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hotline: "), result.stderr
    return lines[0]


def test_serve_port_in_use_stops_before_touching_the_database(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(tmp_path, "--port", str(port))
    assert result.returncode == 1
    line = assert_one_line(result)
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in line
    # Bound first: neither migrated nor generated anything.
    assert not (tmp_path / "serve.db").exists() and not (tmp_path / "var").exists()


def test_serve_with_the_database_down(tmp_path):
    result = run_serve(
        tmp_path,
        "--port",
        str(free_port()),
        HOTLINE_DATABASE_URL=f"postgresql+asyncpg://x@127.0.0.1:{free_port()}/x",
    )
    assert result.returncode == 1
    assert "cannot connect to the database" in assert_one_line(result)


def test_serve_without_upgrade_on_an_empty_database(tmp_path):
    result = run_serve(tmp_path, "--port", str(free_port()), "--no-upgrade")
    assert result.returncode == 2
    assert "the database has no schema: run `hotline db upgrade`" in assert_one_line(result)
