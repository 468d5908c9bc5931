"""Fixtures of the call-tracking tests: the shared AMI captures (read-only test data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "ami-traces"


def capture_dirs() -> list[Path]:
    if not TRACES.is_dir():
        raise FileNotFoundError(
            f"test data {TRACES} is missing: the call-tracking tests need the shared folder "
            f"(../shared/ami-traces/) beside the checkout")
    dirs = sorted(p for p in TRACES.iterdir() if (p / "ami.raw").is_file() and (p / "expected.json").is_file())
    if not dirs:
        raise FileNotFoundError(f"no capture (ami.raw + expected.json) under {TRACES}")
    return dirs


def expected(folder: Path) -> dict:
    return json.loads((folder / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(params=capture_dirs(), ids=lambda p: p.name)
def capture_dir(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def busy_dir() -> Path:
    dirs = capture_dirs()
    return next((d for d in dirs if d.name == "busy"), dirs[0])
