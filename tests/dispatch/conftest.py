"""Shared fixtures of the dispatch tests: the shared units folder (read-only test data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.routing import Router, load_units
from dispatch.routing_eval import RoutingCase, case_from_mapping

SHARED_UNITS = Path(__file__).resolve().parents[2].parent / "shared" / "units"
OWN_CASES = Path(__file__).with_name("routing_own_cases.jsonl")


def shared_file(name: str) -> Path:
    path = SHARED_UNITS / name
    if not path.is_file():
        raise FileNotFoundError(
            f"test data {path} is missing: the dispatch tests need the shared folder "
            f"(../shared/units/) beside the checkout"
        )
    return path


def read_cases(path: Path) -> list[RoutingCase]:
    return [
        case_from_mapping(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="session")
def dev_cases() -> list[RoutingCase]:
    return read_cases(shared_file("routing-dev.jsonl"))


@pytest.fixture(scope="session")
def own_cases() -> list[RoutingCase]:
    return read_cases(OWN_CASES)


@pytest.fixture(scope="session")
def router() -> Router:
    return Router.build(load_units())
