"""`sla report --ami-capture PATH --json` and `ami replay` through a tiny argparse."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from calls import cli as calls_cli

from .conftest import expected

ROOT = Path(__file__).resolve().parents[2]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline")
    sub = p.add_subparsers(dest="command", required=True)
    calls_cli.register(sub)
    return p


def test_sla_report_json_equals_expected(capture_dir: Path, capsys: pytest.CaptureFixture) -> None:
    args = parser().parse_args(["sla", "report", "--ami-capture", str(capture_dir), "--json"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    want = expected(capture_dir)
    want.pop("calls")
    assert report == want


def test_ami_replay_serves_a_capture(busy_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import argparse,sys;from calls import cli;p=argparse.ArgumentParser();"
        "s=p.add_subparsers();cli.register(s);a=p.parse_args(sys.argv[1:]);sys.exit(a.func(a))"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "ami",
            "replay",
            str(busy_dir / "ami.raw"),
            "--port",
            str(port),
            "--speed",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def fetch() -> bytes:
            for _ in range(100):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            banner = await reader.readline()
            writer.write(b"Action: Login\r\nUsername: a\r\nSecret: b\r\nActionID: 1\r\n\r\n")
            data = await reader.readuntil(b"Event: QueueCallerJoin")
            writer.close()
            return banner + data

        data = asyncio.run(asyncio.wait_for(fetch(), 20))
        assert data.startswith(b"Asterisk Call Manager/")
        assert b"Message: Authentication accepted" in data
    finally:
        proc.terminate()
        proc.wait(5)


def test_ami_recompute_compares_stored_records_with_the_raw_events(
    busy_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from hotline.db import Database, upgrade
    from calls.ami.offline import track_capture
    from calls.store import CallStore
    from calls.tracker import CallTracker

    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"

    async def follow() -> None:
        db = Database.from_url(url)
        await upgrade(db)
        store = CallStore(db, "pbx:5038")
        await track_capture(
            busy_dir, tracker=CallTracker(on_record=store.on_record), raw=store.on_raw
        )
        assert await store.flush()
        await db.dispose()

    async def tamper() -> None:
        db = Database.from_url(url)
        async with db.write() as s:
            await s.execute(
                text(
                    "UPDATE calls SET talk_s = talk_s + 1 WHERE uniqueid = "
                    "(SELECT MIN(uniqueid) FROM calls WHERE talk_s IS NOT NULL)"
                )
            )
        await db.dispose()

    asyncio.run(follow())
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    args = parser().parse_args(["ami", "recompute", "--json"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["same"] is True and report["recomputed"] == report["stored"] > 30
    assert report["events"] > 500

    asyncio.run(tamper())
    assert args.func(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["same"] is False and len(report["different"]) == 1
