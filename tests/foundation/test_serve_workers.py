"""`hotline serve --workers N` as an operator runs it: on PostgreSQL two processes share the
port and both answer, the background roles run once, SIGTERM stops them all cleanly; on
SQLite (the single-process embedded default) the command refuses in one line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.foundation.test_serve import ROOT, free_port


def service_env(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(ROOT),
            "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_PORT": str(port),
        }
    )
    return env


def test_several_workers_on_sqlite_are_refused_in_one_line(tmp_path):
    env = service_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/one.db", free_port())
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "SQLite is the single-process embedded default" in done.stderr
    assert "PostgreSQL" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "hotline", "serve", "--workers", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "not a number of processes" in bad.stderr


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> str:
    name = f"hl_workers_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as resp:  # a new connection each time
        resp.read()
        return resp.status


@pytest.mark.skipif(
    not PG_URL,
    reason="several workers need PostgreSQL: the PostgreSQL run "
    "of the suite serves them (on SQLite the refusal above)",
)
def test_two_workers_share_the_port_and_stop_cleanly(tmp_path, pg_database):
    port = free_port()
    env = service_env(tmp_path, pg_database, port)
    server = subprocess.Popen(
        [sys.executable, "-m", "hotline", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = server.stdout.readline()
        assert "hotline serving on" in ready and "2 workers" in ready, ready
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # the second worker may still be loading
            try:
                if get(base + "/healthz") == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        statuses = [get(base + path) for _ in range(30) for path in ("/healthz", "/login")]
        assert set(statuses) == {200}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, log = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, log = server.communicate()
            pytest.fail(f"serve --workers 2 did not stop within 60 s:\n{log[-6000:]}")
    assert server.returncode == 0, log[-3000:]
    children = set(
        re.findall(r"\[(\d+)\] hotline\.bootstrap: worker kb-index \(web\) started", log)
    )
    answered = set(re.findall(r'\[(\d+)\] aiohttp\.access: \S+ "GET /(?:healthz|login)" 200', log))
    assert len(children) == 2 and answered == children  # both processes answered
    assert str(server.pid) not in children
    # Background roles once: the follow-up pump and the outbox courier in one worker only.
    assert len(re.findall(r"worker followup-pump \(pump\) started", log)) == 1
    assert len(re.findall(r"worker outbox-courier \(pump\) started", log)) == 1
    assert len(re.findall(r"worker kb-index stopped", log)) == 2  # both stopped gracefully
    assert " ERROR " not in log and "Traceback" not in log


def _sleeps_after_sigterm(settings, roles, sock, message):  # type: ignore[no-untyped-def]
    os.kill(os.getpid(), signal.SIGTERM)  # as the parent's stop, while the app is being built
    time.sleep(30)


def test_a_stop_that_arrives_while_a_worker_starts_ends_it_at_once(tmp_path):
    """The parent's own SIGTERM handler is inherited by the fork: left in place, it swallowed a
    stop that came before aiohttp installed its handler, and the worker served on until the
    parent killed it 30 s later."""
    import multiprocessing
    import socket as socket_module

    from hotline import prefork
    from hotline.config import Settings

    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # what the parent installs
    try:
        with socket_module.create_server(("127.0.0.1", 0)) as sock:
            proc = multiprocessing.get_context("fork").Process(
                target=prefork._worker,
                args=(
                    Settings(data_dir=tmp_path),
                    frozenset({"web"}),
                    1,
                    2,
                    sock,
                    _sleeps_after_sigterm,
                ),
            )
            started = time.monotonic()
            proc.start()
            proc.join(20)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert proc.exitcode == 0
    assert time.monotonic() - started < 20
