"""Fixtures of the report tests: the services exactly as the product builds them
(hotline.bootstrap) with a clock the test moves, and the sample accounts."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from hotline.bootstrap import Services, build
from hotline.db import Database
from tests.workorders.conftest import Clock

__all__ = ["Clock"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(
    settings: Any, db: Database, units: None, clock: Clock
) -> AsyncIterator[Services]:
    built = await build(settings, db=db, clock=clock)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def app_client(aiohttp_client: Any, settings: Any, db: Database, accounts: Any) -> Any:
    """The real app as the product wires it (its clock is the real one)."""
    from hotline.web import app as web_app

    return await aiohttp_client(web_app.create_app(settings, database=db))
