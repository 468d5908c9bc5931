"""The IVR as the product wires it: the `agi` worker when `ivr.enabled`, its counters on
/metrics, surveys stored against the call and the agent (SQLite and PostgreSQL), and the CLI:
dialplan, simulate, prompts, check."""

from __future__ import annotations

import os
import argparse
import datetime as dt
import socket
import wave
from pathlib import Path
from typing import Any

import pytest

from hotline import bootstrap
from hotline.config import IvrSettings, Settings
from hotline.db import Database
from hotline.policy import Policy
from ivr import cli as ivr_cli
from ivr.agi.client import SimulatedChannel, environment, run_channel, variables_set
from ivr.prompts import MANIFEST, render, spoken, tools
from ivr.surveys import SurveyStore, SurveyTally
from ivr.wiring import AGI_SERVER, SURVEYS
from tests.conftest import login
from tests.ivr.conftest import WORKDAY_MORNING


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline")
    p.add_argument("--config")
    sub = p.add_subparsers(dest="command", required=True)
    ivr_cli.register(sub)
    return p


async def test_no_agi_worker_unless_enabled(settings: Settings, db: Database) -> None:
    services = await bootstrap.build(settings, db=db)
    assert bootstrap.workers(services, {"agi"}) == []


async def test_the_agi_worker_serves_calls_and_stores_the_survey(
    settings: Settings, db: Database
) -> None:
    port = free_port()
    settings = settings.replace(ivr=IvrSettings(port=port, enabled=True))
    services = await bootstrap.build(settings, db=db, clock=lambda: WORKDAY_MORNING)
    running = bootstrap.Running()
    await running.start(bootstrap.workers(services, {"agi"}))
    try:
        assert services[AGI_SERVER].bound_port == port
        trace = await run_channel(
            SimulatedChannel(["1"]), environment("1796284796.1"), "127.0.0.1", port
        )
        assert variables_set(trace)["IVR_ACTION"] == "queue"
        for uniqueid, keys in (("1796284796.1", ["2"]), ("1796284796.2", [])):
            await run_channel(
                SimulatedChannel(keys),
                environment(uniqueid, script="survey?agent=坐席1&queue=hotline"),
                "127.0.0.1",
                port,
            )
    finally:
        await running.stop()
    stored = services[SURVEYS]
    row = await stored.get("1796284796.1")
    assert row is not None and (row.agent, row.queue, row.score) == ("坐席1", "hotline", 2)
    silent = await stored.get("1796284796.2")
    assert silent is not None and silent.score is None


async def test_a_survey_answer_is_never_overwritten_by_no_answer(db: Database) -> None:
    at = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)
    store = SurveyStore(db, clock=lambda: at)
    await store.record("u1", "坐席1", "hotline", None)
    await store.record("u1", "坐席1", "hotline", 3)  # the AGI ran again: the score wins
    await store.record("u1", "坐席1", "hotline", None)
    await store.record("u2", "坐席1", "hotline", 1)
    await store.record("u3", "坐席2", "hotline", None)
    assert (await store.get("u1")).score == 3  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        await store.record("u4", "坐席1", "hotline", 4)
    tallies = await store.tallies(at - dt.timedelta(days=1), at + dt.timedelta(days=1))
    assert tallies == [
        SurveyTally("坐席1", dt.date(2026, 12, 2), 1, 0, 1, 0),
        SurveyTally("坐席2", dt.date(2026, 12, 2), 0, 0, 0, 1),
    ]


async def test_metrics_count_agi_connections(
    aiohttp_client: Any, settings: Settings, db: Database, accounts: Any
) -> None:
    from hotline.web.app import create_app

    port = free_port()
    settings = settings.replace(ivr=IvrSettings(port=port, enabled=True))
    client = await aiohttp_client(create_app(settings, database=db))
    await run_channel(SimulatedChannel(["0"]), environment("1.1"), "127.0.0.1", port)
    await login(client, "boss")
    text = await (await client.get("/metrics")).text()
    assert "hotline_agi_connections_total 1.0" in text
    assert "hotline_agi_sessions_completed_total 1.0" in text
    assert "hotline_agi_sessions_active 0.0" in text


def test_dialplan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_SERVICE_LEVEL_SECONDS", "20")
    args = parser().parse_args(["ivr", "dialplan", "--host", "10.0.0.5", "--port", "4600"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for number in ("12345", "12315", "12319", "12369", "12333"):
        assert f"exten => {number},1," in out
    assert out.count("AGI(agi://10.0.0.5:4600/ivr?entry=${EXTEN})") == 5
    assert out.count(" same => n,Queue(${IVR_QUEUE},c)") == 5
    assert out.count('GotoIf($["${QUEUESTATUS}" != "CONTINUE"]?done)') == 5
    assert (
        "AGI(agi://10.0.0.5:4600/survey?agent=${URIENCODE(${MEMBERNAME})}"
        "&queue=${URIENCODE(${IVR_QUEUE})})"
    ) in out
    assert "[hotline]\nstrategy = rrmemory\nservicelevel = 20\nsetinterfacevar = yes" in out
    monkeypatch.delenv("HOTLINE_SERVICE_LEVEL_SECONDS")
    args = parser().parse_args(["ivr", "dialplan", "--out", str(tmp_path)])
    assert args.func(args) == 0
    assert f"servicelevel = {Policy().service_level_seconds}" in (
        tmp_path / "queues_hotline.conf"
    ).read_text(encoding="utf-8")
    assert (tmp_path / "extensions_hotline.conf").read_text(encoding="utf-8").startswith("; ")


def test_simulate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    args = parser().parse_args(
        [
            "ivr",
            "simulate",
            "--dnid",
            "12345",
            "--digits",
            "2,1",
            "--at",
            "2026-12-02T10:00",
            "--wait",
            "300",
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "GET DATA hotline/menu_main 5000 1   「政策咨询请按1" in out
    assert "[call-back request: 13800138000, reason wait (simulated: not stored)]" in out
    assert out.strip().endswith("result: IVR_ACTION=hangup, IVR_ENTRY=12345")


def test_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = parser().parse_args(["ivr", "check"])
    assert args.func(args) == 0 and "valid" in capsys.readouterr().out
    from ivr.flows import packaged_flow_text

    bad = tmp_path / "flows.toml"
    text = packaged_flow_text().replace('menu = "legacy"', 'menu = "x"', 1)
    bad.write_text(text, encoding="utf-8")
    line = text.split("\n").index('menu = "x"') + 1
    args = parser().parse_args(["ivr", "check", str(bad)])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:{line}: menu 'x' is not defined"), err


def need_voice_tools() -> None:
    """espeak-ng and sox, as scripts/test installs them: their absence fails the test where
    they are required (HOTLINE_TEST_REQUIRE_VOICE=1, as in scripts/test), else skips it."""
    try:
        tools()
    except RuntimeError as exc:
        if os.environ.get("HOTLINE_TEST_REQUIRE_VOICE") == "1":
            pytest.fail(f"espeak-ng and sox are required (scripts/test installs them): {exc}")
        pytest.skip(f"espeak-ng or sox is not installed here: {exc}")


def test_prompts_render_8khz_mono_and_keep_recordings(tmp_path: Path) -> None:
    need_voice_tools()
    (tmp_path / "welcome.wav").write_bytes(b"RIFF recorded by a person")
    done = render({"welcome": "您好", "digit_1": "一", "goodbye": "再见"}, tmp_path)
    assert done.recorded == ("welcome",) and set(done.written) == {"digit_1", "goodbye"}
    with wave.open(str(tmp_path / "goodbye.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 800  # some speech, not silence of zero length
    assert (tmp_path / "welcome.wav").read_bytes() == b"RIFF recorded by a person"
    again = render({"welcome": "您好", "digit_1": "一", "goodbye": "再见。"}, tmp_path)
    assert again.unchanged == ("digit_1",) and again.written == ("goodbye",)
    assert (tmp_path / MANIFEST).exists()


def test_prompts_command_renders_every_prompt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_voice_tools()
    args = parser().parse_args(["ivr", "prompts", "--out", str(tmp_path)])
    assert args.func(args) == 0
    from ivr.flows import FlowStore

    prompts = FlowStore.packaged().flow.prompts
    assert {p.stem for p in tmp_path.glob("*.wav")} == set(prompts)
    assert f"{len(prompts)} rendered" in capsys.readouterr().out


async def test_survey_scores_per_agent_and_day_for_managers(
    client: Any, db: Database, accounts: Any
) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    store = SurveyStore(db, clock=lambda: now)
    for n, (agent, score) in enumerate([("坐席1", 1), ("坐席1", 3), ("坐席1", None), ("坐席2", 2)]):
        await store.record(f"u{n}", agent, "hotline", score)
    await login(client, "agent1")
    assert (await client.get("/api/v1/ivr/surveys")).status == 403
    await login(client, "boss")
    body = await (await client.get("/api/v1/ivr/surveys?days=1")).json()
    assert [
        (r["agent"], r["satisfied"], r["fairly_satisfied"], r["unsatisfied"], r["no_answer"])
        for r in body["rows"]
    ] == [("坐席1", 1, 0, 1, 1), ("坐席2", 0, 1, 0, 0)]
    bad = await client.get("/api/v1/ivr/surveys?days=1000")
    assert bad.status == 400 and "error" in await bad.json()
    page = await (await client.get("/dashboard")).text()
    assert 'id="ivr-surveys"' in page and "/ivr/static/surveys.js" in page
    assert (await client.get("/ivr/static/surveys.js")).status == 200


def test_numbers_are_spoken_as_on_the_phone() -> None:
    assert spoken("欢迎致电12345热线，请按1") == "欢迎致电幺二三四五热线，请按1"
    assert spoken("原12315热线，按0转人工") == "原幺二三幺五热线，按0转人工"
