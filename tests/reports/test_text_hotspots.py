"""热点诉求 by similar text (reports.textclusters): eight differently categorised complaints
about one burst water main in the last hours form one hot cluster; scattered everyday tickets
do not; a topic that is always this frequent is held back by its baseline; the page and its
API show the cluster with its tickets."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from dispatch.wiring import TICKETS
from hotline.bootstrap import Services
from hotline.policy import Policy
from reports import textclusters
from reports.hotspots import window
from reports.textclusters import text_clusters
from tests.conftest import login
from tests.reports import texts
from tests.reports.texts import CATEGORIES, record, scattered, water_main
from tests.workorders.conftest import AGENT, Clock, wages_ticket

NOW = dt.datetime(2026, 11, 23, 2, tzinfo=dt.timezone.utc)
POLICY = Policy()
SINCE, RECENT, _ = window(NOW, POLICY)


def everyday(seed: int) -> list[Any]:
    """40 everyday tickets a day over the baseline and the recent window."""
    rng = random.Random(seed)
    days = POLICY.hotspot_baseline_days
    return scattered(rng, SINCE, RECENT, 40 * days) + scattered(rng, RECENT, NOW, 40, 10**5)


def burst(seed: int, street: str = "建设路") -> list[Any]:
    rng = random.Random(seed)
    return [
        record(
            2 * 10**5 + i,
            NOW - dt.timedelta(hours=6 - i / 2),
            water_main(rng, street),
            CATEGORIES[i % len(CATEGORIES)],
            None,
        )
        for i in range(8)
    ]


def test_a_burst_under_many_categories_is_one_hot_cluster():
    for seed in range(3):
        water = burst(seed)
        assert len({r.category for r in water}) >= 6  # the categories do not group them
        result = text_clusters(everyday(seed) + water, SINCE, RECENT, NOW, POLICY)
        assert len(result.hot) == 1, [c.key for c in result.hot]
        (hot,) = result.hot
        assert {t.number for t in hot.tickets} == {r.number for r in water}
        assert [t.created_at for t in hot.tickets] == sorted(
            (t.created_at for t in hot.tickets), reverse=True
        )
        assert hot.baseline < 0.5 and hot.recent == 8
        # Labelled by what the callers share, not by one caller's details.
        assert any("停水" in t for t in hot.terms) and hot.excerpt in [r.summary for r in water]
        assert result.clustered == result.window_total == 48 and not result.capped


def test_scattered_everyday_tickets_are_no_hot_spot():
    for seed in range(3):
        result = text_clusters(everyday(seed), SINCE, RECENT, NOW, POLICY)
        assert result.hot == []
        # They do cluster (the everyday topics recur): held back by their baselines.
        assert all(c.baseline > 0 for c in result.clusters)


def test_the_baseline_holds_back_a_topic_that_is_always_frequent():
    """The same burst wording, eight a day every day of the baseline: not a hot spot; fewer
    than Policy.hotspot_min_tickets of a new topic: not one either."""
    rng = random.Random(5)
    usual = [
        record(
            3 * 10**5 + d * 8 + i,
            RECENT - dt.timedelta(days=d, hours=i + 1),
            water_main(rng, "建设路"),
            None,
            None,
        )
        for d in range(POLICY.hotspot_baseline_days)
        for i in range(8)
    ]
    result = text_clusters(everyday(5) + usual + burst(5), SINCE, RECENT, NOW, POLICY)
    water = [c for c in result.clusters if any(t.number.startswith("T02") for t in c.tickets)]
    assert len(water) == 1 and water[0].recent == 8 and water[0].baseline >= 8 / 3
    assert water[0] not in result.hot and result.hot == []
    few = text_clusters(everyday(5) + burst(5)[:4], SINCE, RECENT, NOW, POLICY)
    assert few.hot == []


def test_only_the_newest_tickets_of_a_busy_window_are_clustered(monkeypatch: Any):
    monkeypatch.setattr(textclusters, "CLUSTER_CAP", 30)
    result = text_clusters(everyday(1) + burst(1), SINCE, RECENT, NOW, POLICY)
    assert result.capped and result.clustered == 30 and result.window_total == 48
    # The burst is in the last six hours: the newest 30 still hold it.
    assert [c.recent for c in result.hot] == [8]


def test_shingles_ignore_numbers_punctuation_and_width():
    assert textclusters.shingles("建设路１２号，停水！ＡＢＣ") == {
        "建设",
        "设路",
        "号",
        "停水",
        "abc",
    }


async def water_burst(services: Services, clock: Clock) -> list[str]:
    """Two weeks of everyday requests through the real tickets, then six water tickets each
    under another category (or none) in the last hours (the app's clock is the real one)."""
    tickets = services[TICKETS]
    end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    rng = random.Random(0)
    for hour in range(0, 14 * 24, 4):
        clock.now = end - dt.timedelta(hours=hour + 0.5)
        await tickets.create(AGENT, wages_ticket(content=texts.everyday(rng)))
    water = []
    for i, category in enumerate(
        ["供水供电供气", "交通出行", "住房公积金", None, "生态环境", None]
    ):
        clock.now = end - dt.timedelta(hours=6 - i)
        text = water_main(rng, "建设路")
        created = await tickets.create(AGENT, wages_ticket(content=text, category=category))
        water.append(created.ticket.number)
    return water


async def test_text_hotspot_page_and_api(services: Services, clock: Clock, app_client: Any):
    await login(app_client, "boss")
    html = await (await app_client.get("/reports/hotspots")).text()
    assert "目前没有突增的相似诉求" in html
    water = await water_burst(services, clock)
    html = await (await app_client.get("/reports/hotspots")).text()
    assert "相似诉求：" in html and "停水" in html
    assert all(f'href="/tickets/{n}"' in html for n in water)
    api = await (await app_client.get("/api/v1/reports/hotspots")).json()
    (cluster,) = api["text_clusters"]
    assert sorted(cluster["tickets"]) == sorted(water) and cluster["recent"] == 6
    assert api["text_window"] == {"tickets": 12, "clustered": 12, "capped": False}
    await login(app_client, "rsj")
    assert (await app_client.get("/api/v1/reports/hotspots")).status == 403


async def test_text_hotspots_fit_the_screen(
    services: Services, clock: Clock, app_client: Any, browser: Any
):
    from tests.reports.test_reports_browser import HEIGHT, fits, open_as

    water = await water_burst(services, clock)
    base = str(app_client.make_url("")).rstrip("/")
    page, problems = await open_as(browser, base, "boss")
    await page.goto(base + "/reports/hotspots")
    cluster = page.get_by_test_id("text-hotspot")
    assert await cluster.count() == 1
    assert await cluster.locator("tbody tr").count() == len(water)
    await fits(page)
    # Below the category spots: the head of the page links it.
    await page.get_by_test_id("hotspot-summary").get_by_text("相似诉求 1 个").click()
    box = await cluster.locator("h2").bounding_box()
    assert box is not None and 0 <= box["y"] < HEIGHT
    assert problems == []
