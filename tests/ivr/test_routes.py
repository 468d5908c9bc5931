"""The entry and category the IVR gives each queued call, stored by the call's Uniqueid for the
agent's screen pop (ivr.routes, the kernel's IVR_ROUTES port), on both databases: the menu
choice on the main number, the preset category of a merged legacy number, none for a person;
nothing for a caller who hangs up in the menu; a storage failure never holds the call back."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hotline import bootstrap
from hotline.config import Settings
from hotline.db import Database
from hotline.ports import IVR_ROUTES
from ivr.routes import RouteStore
from tests.ivr.conftest import WORKDAY_MORNING, Rig


async def test_each_queued_call_keeps_its_entry_and_category(rig: Rig, db: Database) -> None:
    routes = RouteStore(db, clock=lambda: WORKDAY_MORNING)
    rig.ivr.routes = routes
    complaint = await rig.call(["2"])  # 1796284796.1: main menu, 投诉举报
    legacy = await rig.call(["1"], dnid="12315")  # .2: the legacy number's preset category
    person = await rig.call(["0"])  # .3: a person, no category
    gone = await rig.call([], hangup_after=1)  # .4: hung up in the menu
    assert complaint.variables["IVR_CATEGORY"] == "投诉举报"
    assert legacy.variables["IVR_CATEGORY"] == "市场监管"
    assert person.variables["IVR_ACTION"] == "queue" and "IVR_ACTION" not in gone.variables

    got = await routes.route_of("1796284796.1")
    assert got is not None
    assert (got.entry, got.category, got.queue, got.at) == (
        "12345",
        "投诉举报",
        "hotline",
        WORKDAY_MORNING,
    )
    assert (await routes.route_of("1796284796.2")).category == "市场监管"  # type: ignore[union-attr]
    assert (await routes.route_of("1796284796.3")).category == ""  # type: ignore[union-attr]
    assert await routes.route_of("1796284796.4") is None
    assert await routes.route_of("no-such-call") is None
    many = await routes.routes_of(["1796284796.1", "1796284796.2", "1796284796.4"])
    assert sorted(many) == ["1796284796.1", "1796284796.2"]
    assert await routes.routes_of([]) == {}

    # The IVR run again on the same channel: the newer route replaces the first.
    await routes.record("1796284796.1", "12345", "求助", "hotline")
    assert (await routes.route_of("1796284796.1")).category == "求助"  # type: ignore[union-attr]


async def test_a_route_not_stored_never_holds_the_call_back(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def record(self, uniqueid: str, entry: str, category: str, queue: str) -> None:
            raise OSError("database away")

    rig.ivr.routes = Broken()
    with caplog.at_level(logging.WARNING, logger="ivr.session"):
        call = await rig.call(["2"])
    assert call.variables["IVR_ACTION"] == "queue"
    assert call.variables["IVR_CATEGORY"] == "投诉举报"
    assert any("route of 1796284796.1 not stored" in r.getMessage() for r in caplog.records)


async def test_the_port_is_provided(settings: Settings, db: Database) -> None:
    services: Any = await bootstrap.build(settings, db=db)
    assert isinstance(services[IVR_ROUTES], RouteStore)
