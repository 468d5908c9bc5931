"""`hotline serve` as an operator runs it: a real process on a SQLite file of its own, with the
commands beside it (`db upgrade`, `users add|password`, `kb import|gaps`) working on the same
database. A password changed by the CLI ends the server's sessions at once (another process);
the server shuts down cleanly on SIGTERM and its log holds no ERROR, traceback or query string."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hotline(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Browser:
    """Just enough of a browser: a cookie jar, the login form, the CSRF token of the page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, username: str, password: str) -> int:
        _, page = self.get("/login")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "_csrf": csrf}
        ).encode()
        try:
            with self.opener.open(self.base + "/login", data=data, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code


def test_serve_upgrade_users_password_and_gaps_as_commands(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(ROOT),
            "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
            "HOTLINE_PORT": str(port),
        }
    )
    assert hotline(env, "db", "upgrade").returncode == 0
    current = hotline(env, "db", "current").stdout.strip()
    assert current and "0006" in current
    assert hotline(env, "units", "import", str(shared_path("units", "units.json"))).returncode == 0
    added = hotline(
        env,
        "users",
        "add",
        "agent7",
        "--role",
        "agent",
        "--name",
        "坐席七",
        "--password-stdin",
        stdin="first-password\n",
    )
    assert added.returncode == 0, added.stderr
    assert hotline(env, "kb", "import", str(shared_path("kb", "articles.jsonl"))).returncode == 0

    server = subprocess.Popen(
        [sys.executable, "-m", "hotline", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:
                    assert json.loads(resp.read()) == {"status": "ok"}
                    break
            except OSError:  # not listening yet, or busy building its indexes
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.1)

        desk = Browser(base)
        assert desk.login("agent7", "first-password") == 200
        status, _ = desk.get(
            "/api/v1/kb/search?q=%E6%9A%96%E6%B0%94%E4%B8%8D%E7%83%AD&phone=13812345678"
        )
        assert status == 200
        assert desk.get("/api/v1/me")[0] == 200
        # The CLI is another process: the server sees the change on its next request.
        changed = hotline(
            env, "users", "password", "agent7", "--password-stdin", stdin="second-password\n"
        )
        assert changed.returncode == 0 and "sessions ended" in changed.stdout
        assert desk.get("/api/v1/me")[0] == 401
        assert Browser(base).login("agent7", "second-password") == 200

        gaps = hotline(env, "kb", "gaps")
        assert gaps.returncode == 0, gaps.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            out, err = server.communicate()
            raise AssertionError(f"serve did not stop within 15 s of SIGTERM:\n{err}")
    assert server.returncode == 0, err
    assert f"hotline serving on http://127.0.0.1:{port}" in out
    assert "Traceback" not in err and " ERROR " not in err, err
    assert "/api/v1/kb/search" in err and "13812345678" not in err, err
