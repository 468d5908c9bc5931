"""`hotline ivr serve` and `hotline run --role agi` as processes: a call over TCP, a flow file
changed under the running server (a bad one refused, a good one loaded), SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ivr.agi.client import SimulatedChannel, environment, run_channel, variables_set
from ivr.flows import FlowStore, packaged_flow_text
from ivr.wiring import FlowWatch
from tests.ivr.test_wiring import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT), **extra}
    return env


async def _wait_for_port(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the FastAGI server did not listen in 60 s"
            await asyncio.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not stop within 15 s of SIGTERM:\n{err}")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and " ERROR " not in err, err
    return out, err


@pytest.mark.parametrize("how", ["ivr serve", "run --role agi"])
async def test_the_server_as_a_process(tmp_path: Path, how: str) -> None:
    port = free_port()
    flow = tmp_path / "flows.toml"
    flow.write_text(packaged_flow_text(), encoding="utf-8")
    env = _env(
        tmp_path,
        HOTLINE_IVR_FLOW_FILE=str(flow),
        HOTLINE_IVR_ENABLED="true",
        HOTLINE_IVR_PORT=str(port),
    )
    args = ["ivr", "serve", "--port", str(port)] if how == "ivr serve" else how.split()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await _wait_for_port(proc, port)
        trace = await run_channel(SimulatedChannel(["0"]), environment("1.1"), "127.0.0.1", port)
        assert variables_set(trace)["IVR_ACTION"] in ("queue", "hangup")  # day or night
    finally:
        _, err = _stop(proc)
    assert f"FastAGI listening on 127.0.0.1:{port}" in err


def test_flow_watch_loads_a_changed_file_or_keeps_the_running_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flows.toml"
    path.write_text(packaged_flow_text(), encoding="utf-8")
    store = FlowStore.packaged()
    watch = FlowWatch(store, str(path))
    running = store.flow
    watch.check()
    assert store.flow is running  # unchanged file: nothing loaded
    bad = (
        packaged_flow_text()
        .replace("version = 1", "version = 2")
        .replace('menu = "legacy"', 'menu = "nope"', 1)
    )
    path.write_text(bad, encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    with caplog.at_level(logging.WARNING, "ivr.wiring"):
        watch.check()
    assert store.flow is running
    assert "refused, version 1 keeps running: line" in caplog.text
    path.write_text(bad.replace('menu = "nope"', 'menu = "legacy"'), encoding="utf-8")
    os.utime(path, (time.time() + 10, time.time() + 10))
    watch.check()
    assert store.flow.version == 2
