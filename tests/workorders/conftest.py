"""Fixtures of the work-order tests: a service with a clock the test moves, principals of the
sample accounts, and an HTTP client of the real app with the work-order feature on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from dispatch.service import NewTicket, TicketService
from dispatch.tickets import TicketType
from hotline.auth import Principal
from hotline.config import Policy
from hotline.db import Database
from hotline.models import Role

# Monday 2026-11-23, 10:00 in Zhengzhou.
MONDAY_10H = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.timezone.utc)

AGENT = Principal(1, "agent1", "agent1", Role.AGENT)
MANAGER = Principal(2, "boss", "boss", Role.MANAGER)
RSJ = Principal(5, "rsj", "rsj", Role.UNIT_HANDLER, "ZZ-RSJ")
GJJ = Principal(6, "gjj", "gjj", Role.UNIT_HANDLER, "ZZ-GJJ")

WAGES = (
    "来电人反映在金水区某公司工作半年，公司拖欠三个月工资共计一万二千元，"
    "多次讨要未果，要求劳动监察部门督促支付。"
)


@dataclass
class Clock:
    now: dt.datetime = MONDAY_10H

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(db: Database, units: None, clock: Clock) -> TicketService:
    return TicketService(db, Policy(), clock=clock)


def wages_ticket(**changes: Any) -> NewTicket:
    values: dict[str, Any] = dict(
        content=WAGES,
        type=TicketType.COMPLAINT,
        category="劳动就业",
        district="金水区",
        caller_name="张三",
        caller_phone="13812345678",
        unit_code="ZZ-RSJ",
    )
    values.update(changes)
    return NewTicket(**values)


@pytest.fixture
async def wo_client(aiohttp_client: Any, settings: Any, db: Database, accounts: Any) -> Any:
    """The real app exactly as the product wires it: no feature is added here, so a feature
    missing from the app's list fails these tests."""
    from hotline.web import app as web_app

    return await aiohttp_client(web_app.create_app(settings, database=db))
