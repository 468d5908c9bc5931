"""Fixtures of the call-tracking tests: the shared AMI captures (read-only test data)."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from hotline.config import Settings
from hotline.db import Database
from calls.ami.replay import Capture, ReplayServer

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "ami-traces"


def capture_dirs() -> list[Path]:
    if not TRACES.is_dir():
        raise FileNotFoundError(
            f"test data {TRACES} is missing: the call-tracking tests need the shared folder "
            f"(../shared/ami-traces/) beside the checkout"
        )
    dirs = sorted(
        p
        for p in TRACES.iterdir()
        if (p / "ami.raw").is_file()
        and (p / "expected.json").is_file()
        and not (p / "outage.json").is_file()
    )
    if not dirs:
        raise FileNotFoundError(f"no capture (ami.raw + expected.json) under {TRACES}")
    return dirs


def outage_dirs() -> list[Path]:
    """Captures recorded by a listener that was down for a while (`outage.json` gives the gap):
    the stream alone misses what ended in the gap, so only a reconciliation with Asterisk's
    queue_log can equal the ground truth."""
    return sorted(p for p in TRACES.iterdir() if (p / "outage.json").is_file())


def expected(folder: Path) -> dict:
    return json.loads((folder / "expected.json").read_text(encoding="utf-8"))


def owed_callbacks(folder: Path) -> dict[str, int]:
    """From the ground truth: callers who never got through after missing, and how often they
    missed (withheld numbers cannot be called back)."""
    from calls.callbacks import diallable

    owed: dict[str, int] = {}
    for call in sorted(expected(folder)["calls"].values(), key=lambda c: c["enter"]):
        if not diallable(call["caller"]):
            continue
        if call["outcome"] in ("abandoned", "timed_out"):
            owed[call["caller"]] = owed.get(call["caller"], 0) + 1
        elif call["outcome"] == "answered":
            owed.pop(call["caller"], None)
    return owed


@pytest.fixture(params=capture_dirs(), ids=lambda p: p.name)
def capture_dir(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def busy_dir() -> Path:
    dirs = capture_dirs()
    return next((d for d in dirs if d.name == "busy"), dirs[0])


# --- the app following a replayed PBX ---------------------------------------------------------

AMI_USER, AMI_SECRET = "hotline", "test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pbx_port() -> int:
    return free_port()


@pytest.fixture
async def app_client(
    aiohttp_client: Any, settings: Settings, db: Database, accounts: Any, pbx_port: int
) -> Any:
    ami = replace(
        settings.ami,
        host="127.0.0.1",
        port=pbx_port,
        username=AMI_USER,
        secret=AMI_SECRET,
        enabled=True,
    )
    from hotline.web.app import create_app

    return await aiohttp_client(create_app(settings.replace(ami=ami), database=db))


async def start_pbx(folder: Path, port: int, **options: Any) -> ReplayServer:
    options.setdefault("speed", 0)
    server = ReplayServer(
        Capture.load(folder), username=AMI_USER, secret=AMI_SECRET, static_members=True, **options
    )
    await server.start("127.0.0.1", port)
    return server


async def caught_up(client: Any, server: ReplayServer) -> None:
    """Every event of the replay handled and stored."""
    from calls.web import CENTER

    center = client.server.app[CENTER]
    await asyncio.wait_for(server.finished.wait(), 60)
    await center.listener.wait_connected(30)
    await center.listener.sync()
    assert await center.store.flush()


@pytest.fixture
async def followed(app_client: Any, busy_dir: Path, pbx_port: int) -> AsyncIterator[Any]:
    """The app having followed the whole busy capture (the replayed PBX stays up)."""
    server = await start_pbx(busy_dir, pbx_port)
    try:
        await caught_up(app_client, server)
        yield app_client
    finally:
        await server.close()
