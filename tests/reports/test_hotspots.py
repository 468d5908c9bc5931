"""热点诉求: a burst of water-main tickets in one district is a hot spot the same day, with
the tickets behind it; a category that is always this busy is not; the page and its API are
for managers only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dispatch.wiring import TICKETS
from hotline.bootstrap import Services
from reports.wiring import REPORTS
from tests.conftest import login
from tests.workorders.conftest import AGENT, Clock, wages_ticket

WATER = "二七区某小区自来水主管爆裂，整栋楼停水，请尽快抢修。"


async def burst(services: Services, clock: Clock) -> list[str]:
    """28 days of steady wage complaints (2 a day) and one water ticket, then within the last
    hours 5 wage complaints (as usual) and 6 water tickets in 二七区."""
    tickets = services[TICKETS]
    end = clock.now + dt.timedelta(days=29)
    clock.now = end - dt.timedelta(days=29)
    for day in range(28):
        for hour in (1, 5):
            clock.now = end - dt.timedelta(days=29 - day, hours=-hour)
            await tickets.create(AGENT, wages_ticket())
    clock.now = end - dt.timedelta(days=10)
    await tickets.create(
        AGENT,
        wages_ticket(content=WATER, category="供水供电供气", district="二七区", unit_code="ZZ-ZLS"),
    )
    water = []
    for i in range(6):
        clock.now = end - dt.timedelta(hours=6 - i)
        water.append(
            (
                await tickets.create(
                    AGENT,
                    wages_ticket(
                        content=WATER,
                        category="供水供电供气",
                        district="二七区",
                        unit_code="ZZ-ZLS",
                    ),
                )
            ).ticket.number
        )
        if i < 5:
            await tickets.create(AGENT, wages_ticket())
    clock.now = end
    return water


async def test_a_burst_is_a_hot_spot_with_its_tickets(services: Services, clock: Clock):
    water = await burst(services, clock)
    report = await services[REPORTS].hot_spots()
    spots, since, now = report.spots, report.since, report.now
    assert now - since == dt.timedelta(hours=24)
    found = {(h.kind, h.key): h for h in spots}
    assert set(found) == {
        ("category", "供水供电供气"),
        ("district", "二七区"),
        ("pair", "二七区 · 供水供电供气"),
    }
    spot = found["category", "供水供电供气"]
    assert spot.recent == 6 and spot.baseline == round(1 / 28, 2)
    assert [t.number for t in spot.tickets] == water[::-1]  # newest first
    assert spot.tickets[0].summary.startswith("二七区某小区") and spot.tickets[0].status_label


async def test_hotspot_page_for_managers(services: Services, clock: Clock, app_client: Any):
    await login(app_client, "boss")
    page = await app_client.get("/reports/hotspots")
    assert page.status == 200 and "目前没有突增的热点诉求" in await page.text()
    # The app reads the real clock: the burst ends a minute ago.
    clock.now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=29, minutes=1)
    water = await burst(services, clock)
    html = await (await app_client.get("/reports/hotspots")).text()
    assert "诉求分类：供水供电供气" in html and "区县：二七区" in html
    assert all(f'href="/tickets/{n}"' in html for n in water)
    api = await (await app_client.get("/api/v1/reports/hotspots")).json()
    assert {(h["kind"], h["key"]) for h in api["hotspots"]} == {
        ("category", "供水供电供气"),
        ("district", "二七区"),
        ("pair", "二七区 · 供水供电供气"),
    }
    await login(app_client, "rsj")
    assert (await app_client.get("/reports/hotspots")).status == 403
    assert (await app_client.get("/api/v1/reports/hotspots")).status == 403
